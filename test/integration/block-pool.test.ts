/**
 * The block pool (transport/block-pool.ts, transport/pooled-deliveries.ts): large bodies reuse the
 * blocks of acknowledged messages. Every body must still arrive byte for byte, whatever happens to
 * the other messages around it: fanout to several queues, requeues, rejects, slow consumers,
 * basic.get, and a client that acks deliveries it has not read yet.
 */
import { randomBytes } from 'node:crypto'
import amqp from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { methodFrame, RawAmqp } from '../helpers/raw-amqp.js'
import { brokerSuite } from '../helpers/suite.js'
import { blockPool } from '../../transport/block-pool.js'

const s = brokerSuite('pool')

/** A body that names itself: message id in the first 4 bytes, then random bytes. */
function body(id: number, size: number): Buffer {
  const b = randomBytes(size)
  b.writeUInt32BE(id, 0)
  return b
}

describe('block pool', () => {
  it('many large messages to several queues and consumers, with requeues, rejects, slow consumers and basic.get, arrive byte for byte', async () => {
    const conn = await s.amqplibConn()
    const pub = await conn.createConfirmChannel()
    const fan = s.uniq('fan')
    const [qa, qb, qc] = [s.uniq('a'), s.uniq('b'), s.uniq('c')]
    await pub.assertExchange(fan, 'fanout', { durable: false })
    for (const q of [qa, qb, qc]) await pub.assertQueue(q, { durable: false })
    s.cleanups.push(async () => {
      const ch = await conn.createChannel()
      for (const q of [qa, qb, qc]) await ch.deleteQueue(q)
      await ch.deleteExchange(fan)
    })
    await pub.bindQueue(qa, fan, '')
    await pub.bindQueue(qb, fan, '')
    const sent = new Map<number, Buffer>()
    const bad: string[] = []
    const check = (where: string, content: Buffer): number => {
      const id = content.readUInt32BE(0)
      if (!sent.get(id)?.equals(content)) bad.push(`${where}: message ${id} (${content.length} bytes)`)
      return id
    }
    // qa: two consumers; one requeues every first delivery of an odd id, one rejects a few
    const seenA = new Set<number>()
    const chA1 = await conn.createChannel()
    await chA1.prefetch(3)
    await chA1.consume(qa, (m) => {
      if (m === null) return
      const id = check('qa/1', m.content)
      if (id % 2 === 1 && !m.fields.redelivered) return chA1.nack(m, false, true)
      seenA.add(id)
      chA1.ack(m)
    })
    const conn2 = await s.amqplibConn()
    const chA2 = await conn2.createChannel()
    await chA2.prefetch(5)
    await chA2.consume(qa, (m) => {
      if (m === null) return
      const id = check('qa/2', m.content)
      if (id % 7 === 0 && !m.fields.redelivered) return chA2.reject(m, true)
      seenA.add(id)
      chA2.ack(m)
    })
    // qb: a slow consumer with a small window, acking in batches from a timer
    const seenB = new Set<number>()
    let ackedB = 0
    const chB = await conn2.createChannel()
    await chB.prefetch(4)
    await chB.consume(qb, (m) => {
      if (m === null) return
      seenB.add(check('qb', m.content))
      setTimeout(() => {
        chB.ack(m)
        ackedB++
      }, 3)
    })
    const sizes = [1_048_576, 200_000, 1_048_576 + 3, 70_000, 600_000, 1_300_000]
    const n = 36
    for (let i = 1; i <= n; i++) {
      const b = body(i, sizes[i % sizes.length])
      sent.set(i, b)
      if (i % 3 === 0) pub.sendToQueue(qc, b)
      else pub.publish(fan, '', b)
      if (i % 10 === 0) await pub.waitForConfirms()
    }
    await pub.waitForConfirms()
    // qc: drained with basic.get, acked one by one while more publishes reuse the blocks
    const chC = await conn.createChannel()
    const seenC = new Set<number>()
    for (let got = await chC.get(qc); got !== false || seenC.size < n / 3; got = await chC.get(qc)) {
      if (got === false) continue
      seenC.add(check('qc', got.content))
      chC.ack(got)
      const extra = body(n + seenC.size, 1_048_576)
      sent.set(n + seenC.size, extra)
      pub.publish(fan, '', extra)
    }
    const fanned = [...sent.keys()].filter((id) => id > n || id % 3 !== 0)
    await waitFor(() => seenA.size === fanned.length && ackedB === fanned.length, 20000, 'every fanned-out message')
    expect(bad).toEqual([])
    expect(seenC.size).toBe(n / 3)
    // the direct queue's messages were acked after basic.get: their blocks were reused
    expect(blockPool.hits).toBeGreaterThan(0)
    await conn2.close()
  })

  it('a block is not reused while its delivery still waits in the socket, even when the client acked it', async () => {
    const q = s.uniq('early')
    const other = s.uniq('other')
    const raw = await RawAmqp.open(s.b.amqpPort)
    s.cleanups.push(async () => raw.destroy())
    raw.write(methodFrame(1, 50, 10, [0, q, false, false, false, true, false, {}]))
    await raw.expectMethod(50, 11)
    // stop reading: what the broker sends piles up in the kernel, then in the broker's socket
    raw.socket.pause()
    raw.write(methodFrame(1, 60, 20, [0, q, 'early', false, false, false, false, {}]))
    const { ch } = await s.amqplibChannel()
    await ch.assertQueue(other, { exclusive: true })
    const sent: Buffer[] = []
    for (let i = 1; i <= 16; i++) {
      sent.push(body(i, 1_048_576))
      ch.sendToQueue(q, sent[i - 1])
    }
    const queue = await waitFor(() => s.maybeQueue(q), 5000, 'the queue')
    // deliveries stop once the socket is full: wait for every message, then for the count to settle
    let last = -1
    await waitFor(
      () => {
        const u = queue.unackedCount
        const settled = u > 0 && u === last && u + queue.messageCount === sent.length
        last = u
        return settled
      },
      10000,
      'deliveries to stop at a full socket',
    )
    expect(queue.messageCount).toBeGreaterThan(0)
    const hitsBefore = blockPool.hits
    // ack everything delivered so far (multiple, tag 0), though most of it was never read
    raw.write(methodFrame(1, 60, 80, [0, true]))
    await waitFor(() => queue.unackedCount === 0, 5000, 'the ack')
    // more large messages now, each taking a block from the pool when there is one
    const got: Buffer[] = []
    await ch.consume(other, (m) => m && got.push(m.content), { noAck: true })
    const others = Array.from({ length: 16 }, (_, i) => body(1000 + i, 1_048_576))
    for (const b of others) ch.sendToQueue(other, b)
    await waitFor(() => got.length === others.length, 10000, 'the other messages')
    expect(got.every((b, i) => b.equals(others[i]))).toBe(true)
    // blocks of deliveries the socket had written (into the kernel) were reused
    expect(blockPool.hits).toBeGreaterThan(hitsBefore)
    // now read everything: every delivery to the raw client carries its own body
    const chunks: Buffer[] = []
    raw.socket.removeAllListeners('data')
    raw.socket.on('data', (d: Buffer) => chunks.push(d))
    const bodies = (): Buffer[] => parseBodies(Buffer.concat([raw.received, ...chunks]))
    raw.socket.resume()
    let delivered: Buffer[] = []
    await waitFor(
      () => {
        delivered = bodies()
        return delivered.length === 16
      },
      20000,
      'all 16 deliveries',
    )
    const wrong = delivered.map((b, i) => (b.equals(sent[i]) ? -1 : i)).filter((i) => i >= 0)
    expect(wrong).toEqual([])
  })
})

/** Bodies of the deliveries in a received byte stream (body frames following each content header). */
function parseBodies(r: Buffer): Buffer[] {
  const out: Buffer[] = []
  let parts: Buffer[] | null = null
  let left = 0
  for (let p = 0; p + 7 <= r.length; ) {
    const size = r.readUInt32BE(p + 3)
    if (p + 8 + size > r.length) break
    const type = r[p]
    if (type === 2) {
      left = r.readUInt32BE(p + 7 + 4) * 2 ** 32 + r.readUInt32BE(p + 7 + 8)
      parts = []
    } else if (type === 3 && parts !== null) {
      parts.push(r.subarray(p + 7, p + 7 + size))
      left -= size
      if (left === 0) {
        out.push(Buffer.concat(parts))
        parts = null
      }
    }
    p += size + 8
  }
  return out
}
