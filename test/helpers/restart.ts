/**
 * Restart tests: brokers started and stopped on one data directory (a temp dir removed after the
 * test), and small amqplib helpers to publish and drain.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp, { type ChannelModel, type GetMessage } from 'amqplib'
import { afterEach } from 'vitest'
import type { StartOptions } from '../../transport/server.js'
import { startTestBroker, type TestBroker } from './broker.js'
import { killAndWait, killChildren } from './cli-child.js'

const dirs: string[] = []
const running: TestBroker[] = []
const conns: ChannelModel[] = []
const children: ChildProcess[] = []
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'transport', 'cli.js')

afterEach(async () => {
  for (const c of conns.splice(0)) await c.close().catch(() => undefined)
  await Promise.all(children.splice(0).map(killAndWait))
  await killChildren()
  for (const b of running.splice(0)) await b.stop().catch(() => undefined)
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 })
})

/** A fresh data directory, deleted after the test. */
export function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-dur-'))
  dirs.push(d)
  return d
}

/** Starts a broker on `dir` (stopped after the test unless stopped before). */
export async function boot(dir: string, options: StartOptions = {}): Promise<TestBroker> {
  const b = await startTestBroker({ httpPort: -1, prometheusPort: -1, ...options, dataDir: dir })
  running.push(b)
  return b
}

/** Stops a broker started with boot() (keeping its data directory). */
export async function halt(b: TestBroker): Promise<void> {
  const i = running.indexOf(b)
  if (i >= 0) running.splice(i, 1)
  for (const c of conns.splice(0)) await c.close().catch(() => undefined)
  await b.stop()
}

/** An amqplib connection, closed after the test (or at halt). */
export async function connect(b: TestBroker): Promise<ChannelModel> {
  const c = await amqp.connect(b.url)
  c.on('error', () => undefined)
  conns.push(c)
  return c
}

/** Publishes `bodies` to queue `q` with confirms; persistent unless told otherwise. */
export async function publishConfirmed(b: TestBroker, q: string, bodies: string[], persistent = true, props: amqp.Options.Publish = {}): Promise<void> {
  const c = await connect(b)
  const ch = await c.createConfirmChannel()
  for (const body of bodies) ch.sendToQueue(q, Buffer.from(body), { persistent, ...props })
  await ch.waitForConfirms()
  await ch.close()
}

/** Takes every ready message of `q` with basic.get and acks them. */
export async function drain(b: TestBroker, q: string, ack = true): Promise<GetMessage[]> {
  const c = await connect(b)
  const ch = await c.createChannel()
  const out: GetMessage[] = []
  for (;;) {
    const m = await ch.get(q, { noAck: false })
    if (m === false) break
    out.push(m)
  }
  if (ack && out.length > 0) ch.ackAll()
  await ch.close()
  return out
}

/** Message bodies as strings. */
export function bodies(ms: GetMessage[]): string[] {
  return ms.map((m) => m.content.toString())
}

/**
 * The real CLI (dist/, built by the global setup) in a child process on `dir`, for kill -9 tests;
 * killed after the test. Resolves once it listens, with its AMQP URL.
 */
export function spawnBroker(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [CLI, '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--bind', '127.0.0.1', '--data-dir', dir]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((ok, fail) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /"protocol":"amqp","port":(\d+)/.exec(out)
      if (m !== null) ok({ child, url: `amqp://guest:guest@127.0.0.1:${m[1]}` })
    })
    child.on('exit', (code) => fail(new Error(`broker exited with ${code}: ${out}`)))
  })
}

/** Kills a spawned broker with SIGKILL and waits for it to be gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  for (const c of conns.splice(0)) c.close().catch(() => undefined)
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((ok) => child.once('exit', () => ok()))
  child.kill('SIGKILL')
  await gone
}

/** An amqplib connection to a URL, closed after the test. */
export async function connectUrl(url: string): Promise<ChannelModel> {
  const c = await amqp.connect(url)
  c.on('error', () => undefined)
  conns.push(c)
  return c
}
