/**
 * MessageStore: the queue-facing API. Round trips of every message field, FIFO with requeue,
 * acks and purge that survive a reopen, persistent vs transient, the redelivered watermark,
 * segment deletion once everything in a segment is acked, the bounded head cache, durability
 * waiters (one call per batch), and recovery of damaged stores.
 */
import { closeSync, existsSync, openSync, readdirSync, statSync, truncateSync, write as fsWrite, writeSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import type { Message } from '../../core/message.js'
import { ackFileName } from '../../core/store/ack-log.js'
import { MessageStore, type DurableWaiter } from '../../core/store/message-store.js'
import { RECORD_HEADER } from '../../core/store/record-format.js'
import { locOffset, locSegment, newLogStats, segmentFileName, type BatchIo } from '../../core/store/segment-log.js'
import { captureLogger, makeMessage, settle, tempDir } from './store-helpers.js'

function open(dir: string, opts: Partial<Parameters<typeof MessageStore.open>[0]> = {}) {
  const cap = captureLogger()
  const store = MessageStore.open({ dir, log: cap.log, ...opts })
  return { store, ...cap }
}

function drain(store: MessageStore): { body: string; redelivered: boolean; ref: number }[] {
  const out: { body: string; redelivered: boolean; ref: number }[] = []
  for (let m = store.shift(); m !== undefined; m = store.shift()) {
    out.push({ body: m.body.toString(), redelivered: store.shiftedRedelivered, ref: store.shiftedRef })
  }
  return out
}

describe('MessageStore', () => {
  test('a message comes back with every field intact, from the cache and from disk', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    const m = makeMessage('héllo wörld', { exchange: 'ex.ü', rk: 'a.b.c', ttl: 60000, priority: 7 })
    const ref = store.append(m)
    const check = (x: Message): void => {
      expect(x.exchange).toBe('ex.ü')
      expect(x.routingKey).toBe('a.b.c')
      expect(x.body.toString()).toBe('héllo wörld')
      expect(x.props.equals(m.props)).toBe(true)
      expect(x.deliveryMode).toBe(2)
      expect(x.priority).toBe(7)
      expect(x.ttl).toBe(60000)
      expect(x.headersAt).toBe(-1)
      expect(x.timestamp).toBe(m.timestamp)
    }
    check(store.read(ref)) // from the batch buffer
    await settle(() => store.durableSeq === store.lastSeq)
    check(store.read(ref)) // from the file
    expect(store.count).toBe(1)
    expect(store.bytes).toBe(m.bodySize)
    await store.close()
    const { store: s2 } = open(dir)
    check(s2.shift()!)
    expect(s2.shiftedRef).toBe(ref)
    await s2.close()
  })

  test('FIFO; acked messages stay gone after a reopen, unacked ones come back in order', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 10; i++) store.append(makeMessage(`m${i}`))
    const got = drain(store).slice(0, 6)
    expect(got.map((g) => g.body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5'])
    for (const g of got.slice(0, 4)) store.ack(g.ref, 2)
    expect(store.count).toBe(6)
    await store.close()
    const { store: s2 } = open(dir)
    expect(s2.count).toBe(6)
    expect(s2.recovery).toMatchObject({ messages: 6, acked: 4 })
    expect(drain(s2).map((g) => g.body)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9'])
    await s2.close()
  })

  test('only persistent messages survive a reopen (RabbitMQ drops transient ones)', async () => {
    const dir = tempDir()
    const stats = newLogStats()
    const { store } = open(dir, { stats })
    store.append(makeMessage('p1'))
    store.append(makeMessage('t1', { mode: 1 }))
    store.append(makeMessage('p2'))
    store.append(makeMessage('t2', { mode: 0 }))
    expect(store.count).toBe(4)
    await store.close()
    const { store: s2 } = open(dir)
    expect(drain(s2).map((g) => g.body)).toEqual(['p1', 'p2'])
    expect(s2.recovery.transient).toBe(2)
    await s2.close()
  })

  test('messages delivered before the restart come back redelivered, the others do not', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 6; i++) store.append(makeMessage(`m${i}`))
    const a = store.shift()!
    const aRef = store.shiftedRef
    store.shift()
    store.shift()
    store.ack(aRef, a.bodySize) // m0 acked; m1, m2 delivered and unacked at the "crash"
    await store.close()
    const { store: s2 } = open(dir)
    expect(drain(s2).map((g) => `${g.body}:${g.redelivered}`)).toEqual(['m1:true', 'm2:true', 'm3:false', 'm4:false', 'm5:false'])
    expect(s2.recovery.redelivered).toBe(2)
    await s2.close()
  })

  test('requeue puts a message back in its original place, marked redelivered', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 5; i++) store.append(makeMessage(`m${i}`))
    const m0 = store.shift()!
    const r0 = store.shiftedRef
    const m1 = store.shift()!
    const r1 = store.shiftedRef
    store.requeue(r1, m1.bodySize, m1)
    store.requeue(r0, m0.bodySize) // without the object: read back from disk
    expect(store.readyCount).toBe(5)
    expect(drain(store).map((g) => `${g.body}:${g.redelivered}`)).toEqual(['m0:true', 'm1:true', 'm2:false', 'm3:false', 'm4:false'])
    await store.close()
  })

  test('purge acks every ready message durably; unacked ones stay', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 100; i++) store.append(makeMessage(`m${i}`))
    store.shift()
    expect(store.purge()).toBe(99)
    expect(store.readyCount).toBe(0)
    expect(store.count).toBe(1)
    await store.close()
    const { store: s2 } = open(dir)
    expect(drain(s2).map((g) => g.body)).toEqual(['m0'])
    await s2.close()
  })

  test('a segment whose messages are all acked is deleted with its ack file', async () => {
    const dir = tempDir()
    const { store } = open(dir, { segmentSize: 1024 })
    for (let i = 0; i < 100; i++) store.append(makeMessage(`message ${i}`.padEnd(50, '.')))
    await settle(() => store.durableSeq === store.lastSeq)
    const segsBefore = store.segmentCount
    expect(segsBefore).toBeGreaterThan(5)
    const diskBefore = store.diskBytes
    const delivered = drain(store)
    const firstSeg = locSegment(delivered[0].ref)
    for (const d of delivered.slice(0, 50)) store.ack(d.ref, 50)
    await settle(() => !existsSync(path.join(dir, segmentFileName(firstSeg))))
    expect(existsSync(path.join(dir, ackFileName(firstSeg)))).toBe(false)
    expect(store.segmentCount).toBeLessThan(segsBefore)
    expect(store.diskBytes).toBeLessThan(diskBefore)
    for (const d of delivered.slice(50)) store.ack(d.ref, 50)
    // everything acked: only the segment being appended to is left
    expect(store.segmentCount).toBe(1)
    await store.close()
    const { store: s2 } = open(dir)
    expect(s2.count).toBe(0)
    expect(s2.recovery.deletedSegments).toBe(1)
    expect(readdirSync(dir).filter((f) => f.startsWith('msgs.') || f.startsWith('acks.'))).toEqual([])
    await s2.close()
  })

  test('a deep queue keeps only a bounded cache; the rest is read back from disk', async () => {
    const dir = tempDir()
    const { store } = open(dir, { cacheBytes: 10 * 1024 })
    const n = 5000
    for (let i = 0; i < n; i++) store.append(makeMessage(`body-${i}`.padEnd(100, '#')))
    await settle(() => store.durableSeq === store.lastSeq)
    const got = drain(store)
    expect(got).toHaveLength(n)
    expect(got.every((g, i) => g.body === `body-${i}`.padEnd(100, '#'))).toBe(true)
    expect(store.indexBytes).toBeLessThan(1024) // drained: the index gave its blocks back
    await store.close()
  })

  test('durability waiters are called once per batch with the durable sequence', async () => {
    const dir = tempDir()
    const stats = newLogStats()
    const { store } = open(dir, { stats })
    const calls: number[] = []
    const w: DurableWaiter = {
      storeDurable: (_s, seq) => calls.push(seq),
      storeFailed: () => undefined,
    }
    for (let i = 0; i < 500; i++) {
      store.append(makeMessage(`m${i}`))
      store.addWaiter(w) // a channel registers after each publish: idempotent within a batch
    }
    const seq = store.lastSeq
    await settle(() => calls.length > 0)
    expect(calls).toEqual([seq])
    expect(stats.syncs).toBe(1)
    // transient messages: no fdatasync, the waiter still hears about the batch
    store.append(makeMessage('t', { mode: 1 }))
    store.addWaiter(w)
    await settle(() => calls.length === 2)
    expect(stats.syncs).toBe(1)
    await store.close()
  })

  test('a non-durable store never syncs and starts empty', async () => {
    const dir = tempDir()
    const stats = newLogStats()
    const { store } = open(dir, { durable: false, stats })
    for (let i = 0; i < 100; i++) store.append(makeMessage(`m${i}`))
    await settle(() => store.durableSeq === store.lastSeq)
    expect(stats.syncs).toBe(0)
    expect(drain(store)).toHaveLength(100)
    await store.close()
    const { store: s2 } = open(dir, { durable: false })
    expect(s2.count).toBe(0)
    await s2.destroy()
    expect(existsSync(dir)).toBe(false)
  })

  test('torn tail in a store: the unconfirmed last message is dropped, the rest recovered', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 50; i++) store.append(makeMessage(`m${i}`))
    await store.close()
    const file = path.join(dir, segmentFileName(1))
    truncateSync(file, statSync(file).size - 3)
    const { store: s2, warnings } = open(dir)
    expect(drain(s2).map((g) => g.body)).toEqual(Array.from({ length: 49 }, (_, i) => `m${i}`))
    expect(warnings()).toHaveLength(1)
    await s2.close()
  })

  test('a corrupt message in the middle is skipped and reported; the rest is recovered', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    const refs: number[] = []
    for (let i = 0; i < 50; i++) refs.push(store.append(makeMessage(`message ${i}`)))
    await store.close()
    const fd = openSync(path.join(dir, segmentFileName(1)), 'r+')
    writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, locOffset(refs[20]) + RECORD_HEADER + 40)
    closeSync(fd)
    const { store: s2, warnings } = open(dir)
    const bodies = drain(s2).map((g) => g.body)
    expect(bodies).toHaveLength(49)
    expect(bodies).not.toContain('message 20')
    expect(bodies.at(-1)).toBe('message 49')
    expect(warnings().some((w) => /damaged/.test(w.msg))).toBe(true)
    await s2.close()
  })

  test('a torn ack entry (partial u32) is cut; the message it named comes back once', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 3; i++) store.append(makeMessage(`m${i}`))
    const got = drain(store)
    for (const g of got) store.ack(g.ref, 2)
    await store.close()
    const acks = path.join(dir, ackFileName(1))
    expect(statSync(acks).size).toBe(12)
    truncateSync(acks, 10)
    const { store: s2 } = open(dir)
    expect(drain(s2).map((g) => `${g.body}:${g.redelivered}`)).toEqual(['m2:true'])
    expect(statSync(acks).size).toBe(8)
    await s2.close()
  })

  test('peek and shiftRef let the queue look at and drop the head without delivering it', async () => {
    const dir = tempDir()
    const { store } = open(dir, { cacheBytes: 0 })
    for (let i = 0; i < 3; i++) store.append(makeMessage(`m${i}`, { ttl: 10 }))
    await settle(() => store.durableSeq === store.lastSeq)
    expect(store.peek()!.body.toString()).toBe('m0')
    expect(store.peek()!.body.toString()).toBe('m0')
    const ref = store.shiftRef()
    store.ack(ref, store.shiftedSize)
    expect(store.shift()!.body.toString()).toBe('m1')
    expect(store.count).toBe(2)
    await store.close()
  })

  test('a disk failure reaches the waiters as storeFailed, never as durable', async () => {
    const dir = tempDir()
    const { store } = open(dir, {
      io: {
        write: ((fd: number, b: Buffer, o: number, l: number, p: number, cb: (e: Error | null, n: number) => void) =>
          fsWrite(fd, b, o, l, p, cb)) as unknown as BatchIo['write'],
        fdatasync: ((_fd: number, cb: (e: Error | null) => void) => {
          setImmediate(() => cb(new Error('EIO')))
        }) as unknown as BatchIo['fdatasync'],
      },
    })
    const events: string[] = []
    store.addWaiter({ storeDurable: () => events.push('durable'), storeFailed: (_s, e) => events.push(`failed ${e.message}`) })
    store.append(makeMessage('m'))
    await settle(() => events.length > 0)
    expect(events).toEqual(['failed EIO'])
    expect(store.durableSeq).toBe(0)
    // the next append reopens the log (the disk may be back): accepted, and its batch fails again here
    store.addWaiter({ storeDurable: () => events.push('durable'), storeFailed: (_s, e) => events.push(`failed ${e.message}`) })
    store.append(makeMessage('n'))
    await settle(() => events.length > 1)
    expect(events).toEqual(['failed EIO', 'failed EIO'])
    // reopening is tried at most once a second: meanwhile appends are refused, the store lives on
    expect(() => store.append(makeMessage('o'))).toThrow(/cannot write: EIO/)
    await store.close()
  })

  test('acks of recovered messages go to the old segment and hold across another restart', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 5; i++) store.append(makeMessage(`m${i}`))
    await store.close()
    const { store: s2 } = open(dir)
    const got = drain(s2).slice(0, 2)
    for (const g of got) s2.ack(g.ref, 2)
    s2.append(makeMessage('m5'))
    await s2.close()
    const { store: s3 } = open(dir)
    expect(drain(s3).map((g) => `${g.body}:${g.redelivered}`)).toEqual(['m2:true', 'm3:true', 'm4:true', 'm5:false'])
    await s3.close()
  })

  test('a crash without close (kill -9): what was synced and acked before it is what comes back', async () => {
    const dir = tempDir()
    const { store } = open(dir)
    for (let i = 0; i < 10; i++) store.append(makeMessage(`m${i}`))
    await settle(() => store.durableSeq === store.lastSeq) // confirms could go out now
    for (const g of drain(store).slice(0, 3)) store.ack(g.ref, 2)
    await new Promise((r) => setImmediate(r)) // the turn in which acks are written
    // "restart" on the same files while the first process never closed anything
    const { store: s2 } = open(dir)
    expect(drain(s2).map((g) => `${g.body}:${g.redelivered}`)).toEqual(
      ['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'].map((b) => `${b}:true`),
    )
    await s2.close()
    await store.close()
  })
})
