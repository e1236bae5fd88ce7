/**
 * Deduplication windows across restarts: a durable exchange's window is replayed from its log and a
 * durable queue's from its recovered messages, after a clean stop and after kill -9 of a broker
 * process (the real CLI from dist/). A producer that retries everything it sent after the crash
 * never stores a message twice, and every message confirmed before the crash is there.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp, { type ConfirmChannel } from 'amqplib'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { boot, connect, dataDir, drain, halt } from '../helpers/restart.js'

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'transport', 'cli.js')
const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const DEDUP_X = { 'x-message-deduplication': true, 'x-cache-size': 1000 }
const hdr = (k: string): amqp.Options.Publish => ({ persistent: true, headers: { 'x-deduplication-header': k } })

async function topology(ch: ConfirmChannel, xArgs: Record<string, unknown> = DEDUP_X): Promise<void> {
  await ch.assertExchange('dx', 'direct', { durable: true, arguments: xArgs })
  await ch.assertQueue('dq', { durable: true })
  await ch.bindQueue('dq', 'dx', 'k')
  await ch.assertQueue('qq', { durable: true, arguments: { 'x-message-deduplication': true } })
}

describe('clean restart', () => {
  it('a durable exchange keeps its window; x-cache-persistence memory does not; an expired key stays expired', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    let ch = await (await connect(b)).createConfirmChannel()
    await topology(ch)
    await ch.assertExchange('mx', 'fanout', { durable: true, arguments: { ...DEDUP_X, 'x-cache-persistence': 'memory' } })
    await ch.bindQueue('dq', 'mx', '')
    for (const k of ['a', 'b']) ch.publish('dx', 'k', Buffer.from(k), hdr(k))
    ch.publish('dx', 'k', Buffer.from('short'), { ...hdr('short'), headers: { 'x-deduplication-header': 'short', 'x-cache-ttl': 1 } })
    ch.publish('mx', '', Buffer.from('m'), hdr('m'))
    await ch.waitForConfirms()
    await halt(b)
    b = await boot(dir)
    ch = await (await connect(b)).createConfirmChannel()
    for (const k of ['a', 'b', 'c', 'short']) ch.publish('dx', 'k', Buffer.from(`${k}2`), hdr(k))
    ch.publish('mx', '', Buffer.from('m2'), hdr('m'))
    await ch.waitForConfirms()
    expect((await drain(b, 'dq')).map((m) => m.content.toString())).toEqual(['a', 'b', 'short', 'm', 'c2', 'short2', 'm2'])
  })

  it('a durable queue keeps its window: the keys of its recovered messages', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    let ch = await (await connect(b)).createConfirmChannel()
    await topology(ch)
    for (const k of ['a', 'b']) ch.sendToQueue('qq', Buffer.from(k), hdr(k))
    ch.sendToQueue('qq', Buffer.from('t'), { persistent: false, headers: { 'x-deduplication-header': 't' } })
    await ch.waitForConfirms()
    await halt(b)
    b = await boot(dir)
    ch = await (await connect(b)).createConfirmChannel()
    // a and b are in the queue: duplicates; the transient t did not survive, so its key is free
    for (const k of ['a', 'b', 't']) ch.sendToQueue('qq', Buffer.from(`${k}2`), hdr(k))
    await ch.waitForConfirms()
    expect((await drain(b, 'qq')).map((m) => m.content.toString())).toEqual(['a', 'b', 't2'])
    // acknowledged: free again
    ch = await (await connect(b)).createConfirmChannel()
    ch.sendToQueue('qq', Buffer.from('a3'), hdr('a'))
    await ch.waitForConfirms()
    expect((await drain(b, 'qq')).map((m) => m.content.toString())).toEqual(['a3'])
  })

  it('the window log stays bounded: compacted to the live keys', async () => {
    const dir = dataDir()
    const b = await boot(dir)
    const ch = await (await connect(b)).createConfirmChannel()
    await ch.assertExchange('small', 'fanout', { durable: true, arguments: { 'x-message-deduplication': true, 'x-cache-size': 10 } })
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 1000; i++) ch.publish('small', '', Buffer.from('x'), hdr(`${round}-${i}`))
      await ch.waitForConfirms()
    }
    const files = readdirSync(path.join(dir, 'dedup'))
    expect(files.length).toBe(1)
    // 10,000 keys of ~30 bytes went through; the file holds at most 4096 + 10 records
    expect(statSync(path.join(dir, 'dedup', files[0])).size).toBeLessThan(4200 * 30)
    await ch.deleteExchange('small')
    await waitFor(() => readdirSync(path.join(dir, 'dedup')).length === 0)
  })
})

/** Starts the CLI on `dir` and resolves with its AMQP port (read from the listening log line). */
function startChild(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CLI, '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--bind', '127.0.0.1', '--data-dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /"protocol":"amqp","port":(\d+)/.exec(out)
      if (m !== null) resolve({ child, port: Number(m[1]) })
    })
    child.on('exit', (code) => reject(new Error(`broker exited with ${code}: ${out}`)))
  })
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))
}

/** Publishes keys 0.. with confirms until killed; returns what was sent and what was confirmed. */
async function publishUntilKilled(port: number, send: (ch: ConfirmChannel, key: string, cb: (err: unknown) => void) => void): Promise<{ sent: number; confirmed: Set<string> }> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)
  conn.on('error', () => undefined)
  const ch = await conn.createConfirmChannel()
  ch.on('error', () => undefined)
  const confirmed = new Set<string>()
  let sent = 0
  let dead = false
  conn.on('close', () => (dead = true))
  while (!dead && sent < 50_000) {
    const batch: Promise<void>[] = []
    for (let i = 0; i < 100; i++) {
      const key = `k${sent++}`
      batch.push(new Promise((resolve) => send(ch, key, (err) => (err == null && confirmed.add(key), resolve()))))
    }
    await Promise.race([Promise.all(batch), new Promise((r) => setTimeout(r, 200))])
  }
  return { sent, confirmed }
}

describe('kill -9', () => {
  for (const level of ['exchange', 'queue'] as const) {
    it(`a producer retrying after a crash never stores a message twice (${level} window)`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'warren-dedup-'))
      dirs.push(dir)
      const first = await startChild(dir)
      const setup = await amqp.connect(`amqp://guest:guest@127.0.0.1:${first.port}`)
      await topology(await setup.createConfirmChannel(), { 'x-message-deduplication': true, 'x-cache-size': 100_000 })
      await setup.close()
      const send = (ch: ConfirmChannel, key: string, cb: (err: unknown) => void): void => {
        if (level === 'exchange') ch.publish('dx', 'k', Buffer.from(key), hdr(key), cb)
        else ch.sendToQueue('qq', Buffer.from(key), hdr(key), cb)
      }
      const publishing = publishUntilKilled(first.port, send)
      // kill once some confirms are back and a batch is in flight
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 400))
      first.child.kill('SIGKILL')
      await exited(first.child)
      const { sent, confirmed } = await publishing
      expect(confirmed.size).toBeGreaterThan(0)
      // the producer retries everything it sent, confirmed or not
      const second = await startChild(dir)
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${second.port}`)
      const ch = await conn.createConfirmChannel()
      for (let i = 0; i < sent; i++) send(ch, `k${i}`, () => undefined)
      await ch.waitForConfirms()
      const q = level === 'exchange' ? 'dq' : 'qq'
      const seen = new Map<string, number>()
      const done = new Promise<void>((resolve) => {
        let n = 0
        void ch.consume(q, (m) => {
          if (m === null) return
          const k = m.content.toString()
          seen.set(k, (seen.get(k) ?? 0) + 1)
          if (++n === sent) resolve()
        }, { noAck: true })
      })
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))])
      const twice = [...seen].filter(([, n]) => n > 1)
      expect(twice).toEqual([])
      for (const k of confirmed) expect(seen.has(k)).toBe(true)
      // every retried key got stored once: none lost to a key without its message
      expect(seen.size).toBe(sent)
      await conn.close()
    })
  }
})
