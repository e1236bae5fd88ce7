/**
 * TLS for the AMQPS and HTTPS/WSS listeners, as RabbitMQ's ssl_options and
 * rabbitmq_auth_mechanism_ssl do it: certificate files read at start and again on SIGHUP, TLS 1.2
 * and later only, optional client certificates verified against --tls-ca (verify_peer, with
 * fail_if_no_peer_cert off unless asked), and the EXTERNAL mechanism's user taken from the CN of
 * the verified client certificate.
 */
import { readFileSync } from 'node:fs'
import https from 'node:https'
import tls, { type SecureContextOptions, type TLSSocket } from 'node:tls'
import type { RequestListener } from 'node:http'
import type { Logger } from 'pino'
import type { BrokerConfig } from '../core/config.js'
import type { ConnectionTls } from '../core/connections.js'
import { isLoopback, type AuthResult, type UserStore } from '../core/users.js'

/** The oldest protocol accepted: RabbitMQ's default versions are TLS 1.2 and 1.3. */
export const TLS_MIN_VERSION = 'TLSv1.2'

/** True when a certificate and key are configured: the AMQPS and HTTPS listeners then open. */
export function tlsConfigured(config: BrokerConfig): boolean {
  return config.tlsCert !== '' && config.tlsKey !== ''
}

/** A certificate, key or CA file that cannot be read or used; the message names the file. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError'
}

/**
 * The checks parseConfig makes, for embedders who call startBroker directly: half a key pair, or
 * required client certificates without a CA, would otherwise quietly leave TLS off or open.
 */
export function checkTlsOptions(config: BrokerConfig): void {
  if ((config.tlsCert === '') !== (config.tlsKey === '')) throw new TlsConfigError('TLS needs both tlsCert and tlsKey')
  if (config.tlsFailIfNoPeerCert && config.tlsCa === '') throw new TlsConfigError('tlsFailIfNoPeerCert needs tlsCa')
}

/**
 * Reads the configured files into secure-context options. Everything that must survive a reload
 * (the minimum version) is in here, because setSecureContext replaces the whole context.
 */
export function loadSecureContext(config: BrokerConfig): SecureContextOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw new TlsConfigError(`cannot read the TLS ${what} '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const options: SecureContextOptions = {
    cert: read(config.tlsCert, 'certificate'),
    key: read(config.tlsKey, 'key'),
    minVersion: TLS_MIN_VERSION,
  }
  if (config.tlsCa !== '') options.ca = read(config.tlsCa, 'CA file')
  try {
    // a key that does not match the certificate, or a file that is not PEM, fails here, not per client
    tls.createSecureContext(options)
  } catch (err) {
    throw new TlsConfigError(`invalid TLS certificate, key or CA (${config.tlsCert}, ${config.tlsKey}${config.tlsCa !== '' ? `, ${config.tlsCa}` : ''}): ${(err as Error).message}`)
  }
  return options
}

/**
 * Server options: client certificates are requested only when there is a CA to verify them
 * against (RabbitMQ's verify_peer; without a CA it is verify_none and no certificate is asked for).
 * With fail_if_no_peer_cert the handshake itself refuses clients without a valid certificate;
 * otherwise the handshake completes and {@link admitPeer} drops clients whose certificate did not
 * verify, so clients without one can still log in with PLAIN.
 */
export function tlsServerOptions(config: BrokerConfig, context: SecureContextOptions): tls.TlsOptions {
  const verify = config.tlsCa !== ''
  // a TLS handshake that stalls counts against the same budget as an AMQP handshake (Node's default is 120 s)
  return {
    ...context,
    requestCert: verify,
    rejectUnauthorized: verify && config.tlsFailIfNoPeerCert,
    handshakeTimeout: config.handshakeTimeout,
  }
}

/** After the handshake: false (drop the socket) when a client certificate was presented and did not verify. */
export function admitPeer(socket: TLSSocket): boolean {
  if (socket.authorized) return true
  return !hasPeerCertificate(socket)
}

function hasPeerCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate()
  return cert !== null && cert !== undefined && Object.keys(cert).length > 0
}

/** What a Connection knows of its TLS session: for the EXTERNAL mechanism and the management API. */
export interface TlsPeer extends ConnectionTls {
  /** CN of the verified client certificate, when one was presented and verified */
  readonly commonName: string | undefined
  /** why EXTERNAL cannot log in on this connection (RabbitMQ's refusal reasons), when it cannot */
  readonly externalRefusal: string | undefined
}

/** Reads the session and the client certificate of a TLS socket (once, when the connection starts). */
export function tlsPeer(socket: TLSSocket): TlsPeer {
  const cipher = socket.getCipher()
  let commonName: string | undefined
  let externalRefusal: string | undefined
  if (!hasPeerCertificate(socket) || !socket.authorized) {
    externalRefusal = 'connection peer presented no TLS (x.509) certificate'
  } else {
    const cn = socket.getPeerCertificate().subject?.CN as string | string[] | undefined
    const first = Array.isArray(cn) ? cn[0] : cn
    if (first === undefined || first === '') externalRefusal = 'no name found'
    else commonName = first
  }
  return { protocol: socket.getProtocol(), cipher: cipher?.name ?? null, commonName, externalRefusal }
}

/**
 * The EXTERNAL mechanism (rabbit_auth_mechanism_ssl with ssl_cert_login_from = common_name): the
 * user named by the certificate's CN must exist; no password is checked. The loopback rule for
 * users such as guest applies as for PLAIN (rabbit_reader checks it after any mechanism).
 */
export function externalLogin(users: UserStore, peer: TlsPeer, peerAddress: string): AuthResult {
  if (peer.commonName === undefined) return { ok: false, reason: peer.externalRefusal ?? 'no name found' }
  const user = users.get(peer.commonName)
  if (user === undefined) return { ok: false, reason: `user '${peer.commonName}' - invalid credentials` }
  if (user.loopbackOnly && !isLoopback(peerAddress)) {
    return { ok: false, reason: `user '${user.name}' can only connect via localhost` }
  }
  return { ok: true, user }
}

/** The HTTPS server for the management API and WSS, with the same handler as the HTTP port. */
export function createHttpsServer(config: BrokerConfig, context: SecureContextOptions, handler: RequestListener): https.Server {
  const server = https.createServer(tlsServerOptions(config, context), handler)
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!admitPeer(socket)) socket.destroy()
  })
  return server
}

/**
 * The TLS servers that share the certificate files, so SIGHUP can swap their certificates: new
 * connections get the new context, open ones keep theirs (as RabbitMQ's ssl:clear_pem_cache).
 */
export class TlsReloader {
  readonly servers: tls.Server[] = []

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
  ) {}

  /** Reads the files again; on an error the old certificates stay in use and the error is returned. */
  reload(): Error | null {
    let context: SecureContextOptions
    try {
      context = loadSecureContext(this.config)
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'TLS certificates not reloaded; the previous ones stay in use')
      return err as Error
    }
    for (const s of this.servers) s.setSecureContext(context)
    this.log.info({ cert: this.config.tlsCert }, 'TLS certificates reloaded')
    return null
  }
}
