/**
 * Test certificates made at test time with the `openssl` command: a CA, server certificates for
 * localhost / 127.0.0.1 and client certificates with a chosen CN, all as PEM files in a temp dir.
 * EC P-256 keys keep generation to a few milliseconds; a private config file keeps the system's
 * openssl.cnf out of it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** A key pair's PEM files. */
export interface CertFiles {
  cert: string
  key: string
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
`

/** A throw-away CA in a temp dir that issues server and client certificates. */
export class TestCa implements CertFiles {
  readonly dir: string
  readonly cert: string
  readonly key: string
  private readonly config: string
  private serial = 1

  constructor(name = 'Warren Test CA', dir = mkdtempSync(path.join(tmpdir(), 'warren-tls-'))) {
    this.dir = dir
    this.config = path.join(dir, 'openssl.cnf')
    writeFileSync(this.config, CONFIG)
    const base = name.replace(/\W+/g, '-').toLowerCase()
    this.cert = path.join(dir, `${base}.pem`)
    this.key = path.join(dir, `${base}.key`)
    openssl(['req', '-x509', '-new', ...newKey(this.key), '-subj', `/CN=${name}`, '-days', '2', '-config', this.config, '-extensions', 'ca', '-out', this.cert])
  }

  /** A server certificate for CN=localhost with SAN DNS:localhost, IP:127.0.0.1. */
  server(file = 'server'): CertFiles {
    return this.issue(file, '/CN=localhost', 'server')
  }

  /** A client certificate whose subject is `subject` (e.g. `/CN=alice/O=Warren`). */
  client(subject: string, file = `client-${this.serial}`): CertFiles {
    return this.issue(file, subject, 'client')
  }

  /** PEM text of a file in this CA's dir. */
  read(file: string): Buffer {
    return readFileSync(file)
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }

  private issue(file: string, subject: string, extensions: string): CertFiles {
    const key = path.join(this.dir, `${file}.key`)
    const csr = path.join(this.dir, `${file}.csr`)
    const cert = path.join(this.dir, `${file}.pem`)
    openssl(['req', '-new', ...newKey(key), '-subj', subject, '-config', this.config, '-out', csr])
    const serial = String(this.serial++ + Date.now() * 100)
    openssl(['x509', '-req', '-in', csr, '-CA', this.cert, '-CAkey', this.key, '-set_serial', serial, '-days', '2', '-extfile', this.config, '-extensions', extensions, '-out', cert])
    return { cert, key }
  }
}

function newKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile]
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
}
