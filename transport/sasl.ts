/**
 * SASL mechanisms of connection.start-ok, as RabbitMQ offers them: PLAIN and AMQPLAIN (user and
 * password checked by the user store) and, on TLS connections, EXTERNAL (the client certificate's
 * CN, rabbitmq_auth_mechanism_ssl). Refusals keep RabbitMQ's reasons for the log.
 */
import type { Broker } from '../core/broker.js'
import { ConnectionError, ReplyCode } from '../core/errors.js'
import type { AuthResult } from '../core/users.js'
import { Decoder } from '../core/wire/field-table.js'
import { externalLogin, tlsConfigured, type TlsPeer } from './tls.js'

/** A login attempt's outcome; a refusal keeps the user name it was for, for the log. */
export type LoginResult = Extract<AuthResult, { ok: true }> | { ok: false; reason: string; username: string | undefined }

/** The mechanisms connection.start lists: EXTERNAL on every TLS connection (RabbitMQ's should_offer). */
export function offeredMechanisms(tls: TlsPeer | null): string {
  return tls === null ? 'PLAIN AMQPLAIN' : 'PLAIN AMQPLAIN EXTERNAL'
}

/** RabbitMQ's close text for a refused login: the reason is only in the broker log. */
export function loginRefused(mechanism: string): ConnectionError {
  return new ConnectionError(
    ReplyCode.ACCESS_REFUSED,
    `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
  )
}

/**
 * Checks start-ok's credentials with the chosen mechanism. Throws a ConnectionError for a mechanism
 * that is not offered (503, as rabbit_reader) or a malformed PLAIN response (403).
 */
export function saslLogin(broker: Broker, tls: TlsPeer | null, peerHost: string, mechanism: string, response: Buffer): LoginResult {
  let username: string
  let password: string
  if (mechanism === 'PLAIN') {
    // RFC 4616: [authzid] NUL authcid NUL passwd
    const parts = response.toString('utf8').split('\u0000')
    if (parts.length !== 3) throw loginRefused(mechanism)
    username = parts[1]
    password = parts[2]
  } else if (mechanism === 'AMQPLAIN') {
    // a field table without its length prefix: LOGIN and PASSWORD
    const wrapped = Buffer.allocUnsafe(4 + response.length)
    wrapped.writeUInt32BE(response.length, 0)
    response.copy(wrapped, 4)
    const t = new Decoder(wrapped, 0, wrapped.length).table()
    username = String(t.LOGIN ?? '')
    password = String(t.PASSWORD ?? '')
  } else if (mechanism === 'EXTERNAL' && tls !== null) {
    // the user is the verified client certificate's CN; the response is not used (nor by RabbitMQ)
    const r = externalLogin(broker.users, tls, peerHost)
    return r.ok ? r : { ...r, username: tls.commonName }
  } else if (mechanism === 'EXTERNAL' && tlsConfigured(broker.config)) {
    // rabbit_reader: a known mechanism that this (plain) connection was not offered
    throw new ConnectionError(ReplyCode.COMMAND_INVALID, `invalid authentication mechanism '${mechanism}'`)
  } else {
    throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unknown authentication mechanism '${mechanism}'`)
  }
  const r = broker.users.authenticate(username, password, peerHost)
  return r.ok ? r : { ...r, username }
}
