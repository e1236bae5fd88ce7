/**
 * The store-backed ready lists a queue uses: publisher flow control on a store's pending batch,
 * delivery counts that survive a reopen, the record keeping the enqueue time, the per-level stores
 * of a durable priority queue, the transient pager, and bounded listings (page()).
 */
import { write as fsWrite } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import type { Message } from '../../core/message.js'
import type { Envelope, FlowWaiter } from '../../core/queue.js'
import { MessageStore } from '../../core/store/message-store.js'
import { PagedList, pagingLimits } from '../../core/store/paged-list.js'
import { PriorityStoreList } from '../../core/store/priority-store.js'
import { StoreList } from '../../core/store/queue-store.js'
import type { BatchIo } from '../../core/store/segment-log.js'
import { storeFlow } from '../../core/store/stored-list.js'
import { captureLogger, makeMessage, settle, tempDir } from './store-helpers.js'

const settings = { messageTtl: -1 }
let seq = 0
/** A stand-in for the queue's Envelope: what the lists read of it. */
function env(message: Message, expiresAt = 0): Envelope {
  return { message, expiresAt, ref: -1, seq: seq++, deliveryCount: 0, redelivered: false, state: 0, queue: { settings }, get priority() { return message.priority } } as unknown as Envelope
}
const make = (m: Message, ref: number, redelivered: boolean, count: number): Envelope => {
  const e = env(m)
  e.ref = ref
  e.redelivered = redelivered
  e.deliveryCount = count
  return e
}
function list(dir: string, opts: Partial<Parameters<typeof MessageStore.open>[0]> = {}): StoreList {
  return new StoreList(MessageStore.open({ dir, log: captureLogger().log, ...opts }), make, [])
}
const bodies = (es: (Envelope | undefined)[]): string[] => es.map((e) => e!.message.body.toString())

const saved = { ...storeFlow, ...pagingLimits }
afterEach(() => {
  storeFlow.high = saved.high
  storeFlow.low = saved.low
  pagingLimits.maxMessages = saved.maxMessages
  pagingLimits.maxBytes = saved.maxBytes
})

describe('store flow control', () => {
  test('pauses a publisher while the pending batch is over the mark, resumes once written', async () => {
    const held: (() => void)[] = []
    const io: BatchIo = {
      write: ((fd: number, b: Buffer, o: number, l: number, p: number, cb: (e: Error | null, n: number) => void) =>
        fsWrite(fd, b, o, l, p, cb)) as unknown as BatchIo['write'],
      fdatasync: ((_fd: number, cb: (e: Error | null) => void) => void held.push(() => cb(null))) as unknown as BatchIo['fdatasync'],
    }
    storeFlow.high = 64 * 1024
    storeFlow.low = 1024
    const l = list(tempDir(), { io })
    const calls: string[] = []
    const pub: FlowWaiter = { blockFlow: () => calls.push('block'), resumeFlow: () => calls.push('resume') }
    const big = Buffer.alloc(10_000, 1)
    for (let i = 0; i < 20; i++) l.push(env(makeMessage(big)))
    expect(l.pendingBytes).toBeGreaterThan(storeFlow.high)
    l.throttle(pub)
    l.throttle(pub) // once per publisher
    expect(calls).toEqual(['block'])
    await settle(() => held.length > 0)
    while (calls.length < 2) {
      held.splice(0).forEach((f) => f())
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(calls).toEqual(['block', 'resume'])
    expect(l.pendingBytes).toBeLessThanOrEqual(storeFlow.low)
    held.splice(0).forEach((f) => f())
    await l.close()
  })

  test('does nothing under the mark', async () => {
    const l = list(tempDir())
    const calls: string[] = []
    l.push(env(makeMessage('x')))
    l.throttle({ blockFlow: () => calls.push('block'), resumeFlow: () => calls.push('resume') })
    expect(calls).toEqual([])
    await l.close()
  })
})

describe('what a store keeps across a reopen', () => {
  test('delivery counts of returned persistent messages, forgotten once acked', async () => {
    const dir = tempDir()
    let l = list(dir)
    for (const b of ['a', 'b', 'c']) l.push(env(makeMessage(b)))
    const a = l.shift()!
    const b = l.shift()!
    a.deliveryCount = 2
    l.requeue(a)
    b.deliveryCount = 1
    l.requeue(b)
    const again = l.shift()!
    l.ack(again) // a is gone: its count must not come back
    await l.close()
    l = list(dir)
    const got = [l.shift()!, l.shift()!]
    expect(bodies(got)).toEqual(['b', 'c'])
    expect(got.map((e) => e.deliveryCount)).toEqual([1, 0])
    expect(got[0].redelivered).toBe(true)
    await l.close()
  })

  test('the enqueue time, not the publish time, for a message with an expiry', async () => {
    const dir = tempDir()
    let l = list(dir)
    const m = makeMessage('t', { ttl: 5000 }) // published at 1_700_000_000_123
    l.push(env(m, 1_800_000_005_000)) // entered the queue at 1_800_000_000_000
    l.push(env(makeMessage('u')))
    await l.close()
    // a priority level store pins them: the queue's heap and its head are one object
    l = new StoreList(MessageStore.open({ dir, log: captureLogger().log, expiring: 'own-ttl' }), make, [], true)
    let exp = l.recoverExpiring()
    expect(bodies(exp)).toEqual(['t'])
    expect(exp[0].message.timestamp).toBe(1_800_000_000_000)
    expect(l.shift()).toBe(exp[0])
    await l.close()
    // a FIFO store does not: the queue tracks them by ref, the head is made again from the record
    l = list(dir, { expiring: 'own-ttl' })
    exp = l.recoverExpiring()
    expect(l.expiresByRef).toBe(true)
    expect(l.isReadyRef(exp[0].ref)).toBe(true)
    const head = l.shift()!
    expect(head).not.toBe(exp[0])
    expect(head.message.timestamp).toBe(1_800_000_000_000)
    expect(l.isReadyRef(exp[0].ref)).toBe(false)
    await l.close()
  })
})

describe('bounded listings', () => {
  test('page() reads only the requested window; persistentCount needs no read at all', async () => {
    const l = list(tempDir())
    for (let i = 0; i < 100; i++) l.push(env(makeMessage(`m${i}`, { mode: i % 2 === 0 ? 2 : 1 })))
    expect(l.persistentCount).toBe(50)
    const s = l.store
    let reads = 0
    const orig = s.read.bind(s)
    s.read = (ref: number) => (reads++, orig(ref))
    expect(bodies(l.page(90, 5))).toEqual(['m90', 'm91', 'm92', 'm93', 'm94'])
    expect(l.page(98, 10).length).toBe(2)
    expect(reads).toBe(7)
    const first = l.shift()!
    expect(l.persistentCount).toBe(49)
    l.requeue(first)
    expect(l.persistentCount).toBe(50)
    await l.close()
  })
})

describe('PriorityStoreList', () => {
  test('serves the highest level first, keeps each level on disk, and pages across levels', async () => {
    const dir = tempDir()
    const open = (): PriorityStoreList => new PriorityStoreList(dir, 5, (_, d) => list(d))
    let p = open()
    const prios = [1, 5, 3, 9, 0, 5]
    prios.forEach((pr, i) => p.push(env(makeMessage(`m${i}p${pr}`, { priority: pr }))))
    expect(p.length).toBe(6)
    expect(bodies(p.page(1, 3))).toEqual(['m3p9', 'm5p5', 'm2p3'])
    const first = p.shift()!
    expect(first.message.body.toString()).toBe('m1p5')
    p.requeue(first)
    await p.close()
    p = open()
    expect(p.messageStores().length).toBe(4) // levels 0, 1, 3, 5 (9 counts as 5)
    const out: Envelope[] = []
    for (let e = p.shift(); e !== undefined; e = p.shift()) out.push(e)
    expect(bodies(out)).toEqual(['m1p5', 'm3p9', 'm5p5', 'm2p3', 'm0p1', 'm4p0'])
    expect(out[0].redelivered).toBe(true)
    for (const e of out) p.ack(e)
    await p.destroy()
  })

  test('shiftOldest takes from the lowest level', async () => {
    const p = new PriorityStoreList(tempDir(), 3, (_, d) => list(d))
    for (const pr of [3, 0, 1]) p.push(env(makeMessage(`p${pr}`, { priority: pr })))
    expect(bodies([p.shiftOldest()])).toEqual(['p0'])
    await p.destroy()
  })
})

describe('PagedList', () => {
  test('keeps a shallow queue in memory and pages the rest, in order, with requeues in place', async () => {
    pagingLimits.maxMessages = 3
    const root = tempDir()
    let opened = 0
    const p = new PagedList(() => {
      opened++
      return list(path.join(root, 'page'), { durable: false })
    })
    for (let i = 0; i < 8; i++) p.push(env(makeMessage(`m${i}`)))
    expect(opened).toBe(1)
    expect(p.pagedCount).toBe(5)
    expect(p.length).toBe(8)
    expect(bodies(p.page(2, 3))).toEqual(['m2', 'm3', 'm4'])
    const got = [p.shift(), p.shift(), p.shift(), p.shift()]
    expect(bodies(got)).toEqual(['m0', 'm1', 'm2', 'm3'])
    p.requeue(got[3]!) // from the store
    p.requeue(got[1]!) // from memory
    p.push(env(makeMessage('m8'))) // the store still holds messages: goes after them
    const rest: Envelope[] = []
    for (let e = p.shift(); e !== undefined; e = p.shift()) rest.push(e)
    expect(bodies(rest)).toEqual(['m1', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
    for (const e of [got[0], got[2], ...rest]) p.ack(e!)
    expect(p.pagedCount).toBe(0)
    p.push(env(makeMessage('m9'))) // drained: memory again
    expect(p.pagedCount).toBe(0)
    expect(p.length).toBe(1)
    await p.destroy()
  })
})
