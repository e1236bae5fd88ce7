/**
 * Deep queues with a TTL (issue 4, "Memory stays bounded"): messages with an expiry are not held in
 * memory as envelopes while they sit in a store. A queue TTL is decided at the head from the
 * record's enqueue time; per-message expirations are tracked by (expiry, ref) only. They still
 * expire on time, in order, dead-lettered with x-death reason expired, across a restart too.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ConsumeMessage } from 'amqplib'
import type { Queue } from '../../core/queue.js'
import { pagingLimits } from '../../core/store/paged-list.js'
import { waitFor } from '../helpers/broker.js'
import { boot, connect, dataDir, halt, publishConfirmed } from '../helpers/restart.js'
import type { TestBroker } from '../helpers/broker.js'

const saved = { ...pagingLimits }
afterEach(() => {
  pagingLimits.maxMessages = saved.maxMessages
  pagingLimits.maxBytes = saved.maxBytes
})

const DLX = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' }

/** Envelopes a queue holds in memory for its ready messages: pinned in the store, plus the expiry heap's. */
function liveEnvelopes(q: Queue): { pinned: number; heapEnvelopes: number; heapEntries: number } {
  let pinned = 0
  if (q.store !== null) for (const _ of q.store.pinnedEnvelopes()) pinned++
  const expiry = (q as unknown as { expiry: { envelopes: number; length: number } }).expiry
  return { pinned, heapEnvelopes: expiry.envelopes, heapEntries: expiry.length }
}

/** Consumes (noAck) every message of `q` until `n` arrived. */
async function consumeAll(b: TestBroker, q: string, n: number, ms = 20_000): Promise<ConsumeMessage[]> {
  const ch = await (await connect(b)).createChannel()
  const out: ConsumeMessage[] = []
  await ch.consume(q, (m) => void (m !== null && out.push(m)), { noAck: true })
  await waitFor(() => out.length >= n, ms, `${n} messages from ${q}`)
  return out
}

const names = (n: number, p = 'm'): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`)

function expectExpiredInOrder(got: ConsumeMessage[], want: string[], queue: string): void {
  expect(got.map((m) => m.content.toString())).toEqual(want)
  for (const m of [got[0], got[got.length - 1]]) {
    const death = (m.properties.headers?.['x-death'] as { reason: string; queue: string }[])[0]
    expect(death.reason).toBe('expired')
    expect(death.queue).toBe(queue)
  }
}

describe('a deep durable queue with x-message-ttl', () => {
  it('keeps no envelope per message, expires on time and in order across a restart', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: true })
    await ch.assertQueue('deep-ttl', { durable: true, arguments: { 'x-message-ttl': 4000, ...DLX } })
    const n = 30_000
    const t0 = Date.now()
    await publishConfirmed(b, 'deep-ttl', names(n))
    const t1 = Date.now()
    let q = b.broker.vhost('/')!.queues.get('deep-ttl')!
    expect(q.messageCount).toBe(n)
    let live = liveEnvelopes(q)
    expect(live.heapEntries).toBe(0)
    expect(live.pinned).toBeLessThanOrEqual(1)
    // restart in the middle: the TTL still counts from the original enqueue
    await halt(b)
    b = await boot(dir)
    q = b.broker.vhost('/')!.queues.get('deep-ttl')!
    expect(q.messageCount).toBe(n)
    live = liveEnvelopes(q)
    expect(live.heapEntries).toBe(0)
    expect(live.pinned).toBeLessThanOrEqual(1)
    const dead = b.broker.vhost('/')!.queues.get('dead')!
    // nothing before its time (the first message entered at t0 or later)
    const early = t0 + 4000 - 300 - Date.now()
    if (early > 0) {
      await new Promise((r) => setTimeout(r, early))
      expect(dead.messageCount).toBe(0)
    }
    await waitFor(() => dead.messageCount === n, 15_000, 'every message dead-lettered')
    // on time: within about a second of the last one's expiry, with no consumer
    expect(Date.now() - (t1 + 4000)).toBeLessThan(1500)
    expect(q.messageCount).toBe(0)
    expectExpiredInOrder(await consumeAll(b, 'dead', n), names(n), 'deep-ttl')
  }, 60_000)
})

describe('a deep queue of messages with their own expiration', () => {
  it('transient, paged: tracked by ref, expired where they sit, the rest kept in order', async () => {
    pagingLimits.maxMessages = 100
    const b = await boot(dataDir())
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: false })
    await ch.assertQueue('deep-own', { durable: false, arguments: DLX })
    const n = 30_000
    // alternating: a message that expires soon behind one that does not expire
    const c = await connect(b)
    const cc = await c.createConfirmChannel()
    for (let i = 0; i < n; i++) cc.sendToQueue('deep-own', Buffer.from(`m${i}`), i % 2 === 1 ? { expiration: '2000' } : {})
    await cc.waitForConfirms()
    const q = b.broker.vhost('/')!.queues.get('deep-own')!
    const live = liveEnvelopes(q)
    // only the in-memory head part (pagingLimits.maxMessages) has envelopes in the heap
    expect(live.heapEnvelopes).toBeLessThanOrEqual(50)
    expect(live.heapEntries).toBe(n / 2)
    expect(live.pinned).toBeLessThanOrEqual(101)
    const dead = b.broker.vhost('/')!.queues.get('dead')!
    await waitFor(() => dead.messageCount === n / 2, 10_000, 'the expiring half dead-lettered')
    expect(q.messageCount).toBe(n / 2)
    expectExpiredInOrder(await consumeAll(b, 'dead', n / 2), names(n).filter((_, i) => i % 2 === 1), 'deep-own')
    const rest = await consumeAll(b, 'deep-own', n / 2)
    expect(rest.map((m) => m.content.toString())).toEqual(names(n).filter((_, i) => i % 2 === 0))
    expect(liveEnvelopes(q).heapEntries).toBe(0)
  }, 60_000)

  it('durable: recovered by ref after a restart, expired on time', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: true })
    await ch.assertQueue('deep-own', { durable: true, arguments: DLX })
    const n = 10_000
    const c = await connect(b)
    const cc = await c.createConfirmChannel()
    for (let i = 0; i < n; i++) cc.sendToQueue('deep-own', Buffer.from(`m${i}`), i % 2 === 1 ? { expiration: '3000', persistent: true } : { persistent: true })
    await cc.waitForConfirms()
    const t1 = Date.now()
    expect(liveEnvelopes(b.broker.vhost('/')!.queues.get('deep-own')!)).toMatchObject({ heapEnvelopes: 0, heapEntries: n / 2 })
    await halt(b)
    b = await boot(dir)
    const q = b.broker.vhost('/')!.queues.get('deep-own')!
    expect(liveEnvelopes(q)).toMatchObject({ heapEnvelopes: 0, heapEntries: n / 2 })
    expect(liveEnvelopes(q).pinned).toBeLessThanOrEqual(1)
    const dead = b.broker.vhost('/')!.queues.get('dead')!
    await waitFor(() => dead.messageCount === n / 2, 10_000, 'the expiring half dead-lettered')
    expect(Date.now() - (t1 + 3000)).toBeLessThan(1500)
    expect(q.messageCount).toBe(n / 2)
    expectExpiredInOrder(await consumeAll(b, 'dead', n / 2), names(n).filter((_, i) => i % 2 === 1), 'deep-own')
    const rest = await consumeAll(b, 'deep-own', n / 2)
    expect(rest.map((m) => m.content.toString())).toEqual(names(n).filter((_, i) => i % 2 === 0))
  }, 60_000)
})

describe('a deep priority queue with x-message-ttl', () => {
  it('durable: tracked by (ref, level), not envelopes, across a restart; expires every level', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: true })
    await ch.assertQueue('deep-pq', { durable: true, arguments: { 'x-message-ttl': 3000, 'x-max-priority': 3, ...DLX } })
    const n = 4000
    const c = await connect(b)
    const cc = await c.createConfirmChannel()
    for (let i = 0; i < n; i++) cc.sendToQueue('deep-pq', Buffer.from(`m${i}`), { persistent: true, priority: i % 4 })
    await cc.waitForConfirms()
    let q = b.broker.vhost('/')!.queues.get('deep-pq')!
    expect(liveEnvelopes(q)).toMatchObject({ heapEnvelopes: 0, heapEntries: n })
    expect(liveEnvelopes(q).pinned).toBeLessThanOrEqual(1)
    await halt(b)
    b = await boot(dir)
    q = b.broker.vhost('/')!.queues.get('deep-pq')!
    expect(q.messageCount).toBe(n)
    expect(liveEnvelopes(q)).toMatchObject({ heapEnvelopes: 0, heapEntries: n })
    const dead = b.broker.vhost('/')!.queues.get('dead')!
    await waitFor(() => dead.messageCount === n, 10_000, 'every message dead-lettered')
    expect(q.messageCount).toBe(0)
    const got = (await consumeAll(b, 'dead', n)).map((m) => m.content.toString())
    expect(got.sort()).toEqual(names(n).sort())
  }, 60_000)

  it('transient, paged per level: only the in-memory part keeps envelopes', async () => {
    pagingLimits.maxMessages = 100
    const b = await boot(dataDir())
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: false })
    await ch.assertQueue('deep-tpq', { durable: false, arguments: { 'x-max-priority': 3, ...DLX } })
    const n = 30_000
    const c = await connect(b)
    const cc = await c.createConfirmChannel()
    for (let i = 0; i < n; i++) cc.sendToQueue('deep-tpq', Buffer.from(`m${i}`), i % 2 === 1 ? { expiration: '2000', priority: i % 4 } : { priority: i % 4 })
    await cc.waitForConfirms()
    const q = b.broker.vhost('/')!.queues.get('deep-tpq')!
    const live = liveEnvelopes(q)
    expect(live.heapEnvelopes).toBeLessThanOrEqual(50)
    expect(live.heapEntries).toBe(n / 2)
    expect(live.pinned).toBeLessThanOrEqual(101)
    const dead = b.broker.vhost('/')!.queues.get('dead')!
    await waitFor(() => dead.messageCount === n / 2, 10_000, 'the expiring half dead-lettered')
    expect(q.messageCount).toBe(n / 2)
    const rest = (await consumeAll(b, 'deep-tpq', n / 2)).map((m) => m.content.toString())
    const want = names(n)
      .map((s, i) => [s, i] as const)
      .filter(([, i]) => i % 2 === 0)
      .sort((x, y) => (y[1] % 4) - (x[1] % 4) || x[1] - y[1])
      .map(([s]) => s)
    expect(rest).toEqual(want)
  }, 60_000)
})
