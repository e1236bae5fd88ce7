/**
 * TLS through the real CLI (`node dist/transport/cli.js`, built by test/global-setup.ts): the
 * certificate files are reloaded on SIGHUP (new connections on the AMQPS and HTTPS ports see the new
 * certificate, open connections go on, a broken file keeps the old one).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { TestCa } from '../helpers/certs.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')

const ca = new TestCa()
const dirs: string[] = [ca.dir]
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'warren-tls-cli-'))
  dirs.push(d)
  return d
}

/** The environment without the caller's WARREN_* variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARREN_')))
}

interface LogLine {
  msg: string
  port?: number
  protocol?: string
}

/** The CLI on loopback with every port picked by the OS; its JSON log lines as they come. */
function startCli(args: string[]): { child: ChildProcess; lines: () => LogLine[]; output: () => string } {
  const base = ['--bind', '127.0.0.1', '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--amqps-port', '0', '--https-port', '0']
  const child = spawn(process.execPath, [CLI, ...base, '--data-dir', tmp(), ...args], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const lines = (): LogLine[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine)
  return { child, lines, output: () => out }
}

/** The SHA-256 fingerprint of the certificate the server presents on `port`. */
function serverFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.read(ca.cert) }, () => {
      resolve(s.getPeerCertificate().fingerprint256)
      s.destroy()
    })
    s.once('error', reject)
  })
}

/** The SHA-256 fingerprint of a certificate file, in the form getPeerCertificate() gives it. */
function fingerprintOf(certFile: string): string {
  return new X509Certificate(ca.read(certFile)).fingerprint256
}

describe('SIGHUP reloads the certificate files', () => {
  it('new AMQPS and HTTPS connections get the new certificate; open ones go on; a broken file keeps the old one', async () => {
    const dir = tmp()
    const certFile = path.join(dir, 'cert.pem')
    const keyFile = path.join(dir, 'key.pem')
    const first = ca.server('first')
    copyFileSync(first.cert, certFile)
    copyFileSync(first.key, keyFile)
    const cli = startCli(['--tls-cert', certFile, '--tls-key', keyFile, '--tls-ca', ca.cert])
    const amqpsPort = (await waitFor(() => cli.lines().find((l) => l.protocol === 'amqp/ssl' && l.port), 15_000, `AMQPS listening:\n${cli.output()}`)).port!
    const httpsPort = (await waitFor(() => cli.lines().find((l) => l.protocol === 'https' && l.port), 5000, 'HTTPS listening')).port!
    expect(await serverFingerprint(amqpsPort)).toBe(fingerprintOf(first.cert))

    const open = await amqp.connect(`amqps://guest:guest@127.0.0.1:${amqpsPort}`, { ca: [ca.read(ca.cert)], servername: 'localhost' })
    try {
      const second = ca.server('second')
      copyFileSync(second.cert, certFile)
      copyFileSync(second.key, keyFile)
      cli.child.kill('SIGHUP')
      await waitFor(() => cli.lines().some((l) => l.msg === 'TLS certificates reloaded'), 5000, 'the reload log line')
      expect(await serverFingerprint(amqpsPort)).toBe(fingerprintOf(second.cert))
      expect(await serverFingerprint(httpsPort)).toBe(fingerprintOf(second.cert))
      // the connection opened before the reload still works
      const ch = await open.createChannel()
      await ch.checkQueue((await ch.assertQueue('', { exclusive: true })).queue)

      // a file that is not a certificate: logged, and the certificate in use stays
      writeFileSync(certFile, 'not a certificate\n')
      cli.child.kill('SIGHUP')
      await waitFor(() => cli.lines().some((l) => l.msg.startsWith('TLS certificates not reloaded')), 5000, 'the reload error')
      expect(await serverFingerprint(amqpsPort)).toBe(fingerprintOf(second.cert))
      expect(cli.child.exitCode).toBeNull()
    } finally {
      await open.close()
    }
    const exited = new Promise<number | null>((resolve) => cli.child.once('exit', (code) => resolve(code)))
    cli.child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it('without TLS, SIGHUP does not stop the broker', async () => {
    const cli = startCli([])
    await waitFor(() => cli.lines().some((l) => l.protocol === 'amqp' && l.port), 15_000, 'AMQP listening')
    cli.child.kill('SIGHUP')
    await waitFor(() => cli.lines().some((l) => l.msg === 'no TLS listener: nothing to reload'), 5000, 'the SIGHUP log line')
    expect(cli.child.exitCode).toBeNull()
    const exited = new Promise<number | null>((resolve) => cli.child.once('exit', (code) => resolve(code)))
    cli.child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
