/**
 * Stream consumer groups (x-stream-consumer-name): the broker keeps each group's committed offset
 * (highest contiguously acked), a named consumer without x-stream-offset resumes after it, one
 * member per name is active with x-single-active-consumer and the next takes over at the committed
 * offset; offsets, messages and retention survive a restart and a kill -9 of the real CLI.
 */
import amqp, { type Channel, type ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { exited, startChild } from '../helpers/cli-child.js'
import { apiClient } from '../helpers/http.js'
import { boot, connect, dataDir, halt } from '../helpers/restart.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('sg')
const STREAM = { 'x-queue-type': 'stream' }

/** A consumer that records offsets and acks only what `ackWhile` allows. */
async function member(ch: Channel, q: string, args: Record<string, unknown>, ackWhile: (offset: number) => boolean = () => true): Promise<{ tag: string; offsets: number[] }> {
  const offsets: number[] = []
  const { consumerTag } = await ch.consume(
    q,
    (m: ConsumeMessage | null) => {
      if (m === null) return
      const o = Number(m.properties.headers!['x-stream-offset'])
      offsets.push(o)
      if (ackWhile(o)) ch.ack(m)
    },
    { arguments: args },
  )
  return { tag: consumerTag, offsets }
}

async function publishConfirmed(ch: amqp.ConfirmChannel, q: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`m${i}`))
  await ch.waitForConfirms()
}

describe('stored offsets', () => {
  it('a named consumer without x-stream-offset resumes right after the committed offset', async () => {
    const pub = await s.confirmChannel()
    const q = s.uniq('resume')
    await pub.assertQueue(q, { durable: true, arguments: STREAM })
    await publishConfirmed(pub, q, 30)
    const { ch } = await s.amqplibChannel()
    await ch.prefetch(100)
    // acks 0..11 only: 12 and later stay unacked, so the committed offset is 11
    const a = await member(ch, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'g1' }, (o) => o < 12)
    await waitFor(() => a.offsets.length === 30)
    await ch.close()
    const { ch: ch2 } = await s.amqplibChannel()
    await ch2.prefetch(100)
    const b = await member(ch2, q, { 'x-stream-consumer-name': 'g1' })
    await waitFor(() => b.offsets.length === 18)
    expect(b.offsets[0]).toBe(12)
    // another group name has no committed offset: it starts at next, like any consumer
    const c = await member(ch2, q, { 'x-stream-consumer-name': 'g2' })
    await publishConfirmed(pub, q, 1)
    await waitFor(() => c.offsets.length === 1)
    expect(c.offsets).toEqual([30])
  })

  it('out-of-order acks commit only the contiguous prefix', async () => {
    const pub = await s.confirmChannel()
    const q = s.uniq('contig')
    await pub.assertQueue(q, { durable: true, arguments: STREAM })
    await publishConfirmed(pub, q, 10)
    const { ch } = await s.amqplibChannel()
    await ch.prefetch(10)
    const msgs: ConsumeMessage[] = []
    await ch.consume(q, (m) => m !== null && msgs.push(m), { arguments: { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'oo' } })
    await waitFor(() => msgs.length === 10)
    for (const i of [0, 1, 3, 4, 5]) ch.ack(msgs[i])
    const stream = s.queue(q) as unknown as { offsets: { committed: Map<string, number> } }
    await waitFor(() => stream.offsets.committed.get('oo') === 1)
    ch.ack(msgs[2])
    await waitFor(() => stream.offsets.committed.get('oo') === 5)
  })

  it('x-single-active-consumer: one member per name receives, the next takes over at the committed offset', async () => {
    const pub = await s.confirmChannel()
    const q = s.uniq('sac')
    await pub.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-single-active-consumer': true } })
    await publishConfirmed(pub, q, 20)
    const conn1 = await s.amqplibConn()
    const ch1 = await conn1.createChannel()
    await ch1.prefetch(50)
    const first = await member(ch1, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'workers' }, (o) => o < 7)
    const { ch: ch2 } = await s.amqplibChannel()
    await ch2.prefetch(50)
    const second = await member(ch2, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'workers' })
    // a member of another group is active on its own
    const other = await member(ch2, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'audit' })
    await waitFor(() => first.offsets.length === 20 && other.offsets.length === 20)
    expect(second.offsets).toEqual([])
    // the active member goes away with 7..19 unacked: the second resumes at 7
    await conn1.close()
    await waitFor(() => second.offsets.length === 13)
    expect(second.offsets[0]).toBe(7)
    expect(second.offsets[12]).toBe(19)
  })
})

describe('restart', () => {
  it('keeps messages, offsets and committed group offsets across a clean restart', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    let c = await connect(b)
    const pub = await c.createConfirmChannel()
    await pub.assertQueue('rs', { durable: true, arguments: { ...STREAM, 'x-stream-max-segment-size-bytes': 2000 } })
    await publishConfirmed(pub, 'rs', 100)
    let ch = await c.createChannel()
    await ch.prefetch(100)
    const a = await member(ch, 'rs', { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'r' }, (o) => o < 40)
    await waitFor(() => a.offsets.length === 100)
    // (amqplib sends connection.close ahead of acks it has not written yet: wait for them)
    const before = b.broker.vhost('/')!.queues.get('rs') as unknown as { offsets: { committed: Map<string, number> } }
    await waitFor(() => before.offsets.committed.get('r') === 39)
    // stopped right away: the commits still waiting for their flush are written at close
    await halt(b)
    b = await boot(dir)
    c = await connect(b)
    const q = b.broker.vhost('/')!.queues.get('rs')!
    expect(q.messageCount).toBe(100)
    ch = await c.createChannel()
    await ch.prefetch(100)
    const r = await member(ch, 'rs', { 'x-stream-consumer-name': 'r' })
    await waitFor(() => r.offsets.length === 60, 3000, '60 deliveries')
    expect(r.offsets[0]).toBe(40)
    // offsets go on from where they were
    const p2 = await c.createConfirmChannel()
    await publishConfirmed(p2, 'rs', 1)
    await waitFor(() => r.offsets.length === 61)
    expect(r.offsets[60]).toBe(100)
  })
})

describe('kill -9', () => {
  it('confirmed messages, retention and committed offsets survive kill -9', async () => {
    const dir = dataDir()
    const first = await startChild(dir, true)
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${first.port}`)
    conn.on('error', () => undefined)
    const pub = await conn.createConfirmChannel()
    pub.on('error', () => undefined)
    // 300 messages of ~100 bytes in 4000-byte segments, at most 8000 bytes kept: old segments go
    await pub.assertQueue('k9', { durable: true, arguments: { ...STREAM, 'x-stream-max-segment-size-bytes': 4000, 'x-max-length-bytes': 8000 } })
    for (let i = 0; i < 300; i++) pub.sendToQueue('k9', Buffer.from(`m${i}`.padEnd(100, '.')))
    await pub.waitForConfirms()
    // retention deletes the segments it may once they are on disk
    const api = apiClient({ httpPort: first.httpPort })
    await waitFor(async () => (await api.get('/api/queues/%2F/k9')).body.first_offset > 0, 5000, 'retention')
    const ch = await conn.createChannel()
    ch.on('error', () => undefined)
    await ch.prefetch(500)
    const a = await member(ch, 'k9', { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'k' }, (o) => o < 290)
    await waitFor(() => a.offsets.length > 0 && a.offsets[a.offsets.length - 1] === 299, 5000)
    const kept = a.offsets.length
    expect(kept).toBeLessThan(300)
    // commits reach the disk within 100 ms
    await new Promise((r) => setTimeout(r, 400))
    first.child.kill('SIGKILL')
    await exited(first.child)
    const second = await startChild(dir)
    const c2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${second.port}`)
    c2.on('error', () => undefined)
    const ch2 = await c2.createChannel()
    await ch2.prefetch(500)
    const r = await member(ch2, 'k9', { 'x-stream-consumer-name': 'k' })
    await waitFor(() => r.offsets.length === 10)
    expect(r.offsets[0]).toBe(290)
    const all = await member(ch2, 'k9', { 'x-stream-offset': 'first' })
    await waitFor(() => all.offsets.length > 0 && all.offsets[all.offsets.length - 1] === 299)
    // no deleted segment came back (retention runs again at boot and may trim further)
    expect(all.offsets[0]).toBeGreaterThanOrEqual(300 - kept)
    expect(all.offsets.every((o, i) => i === 0 || o === all.offsets[i - 1] + 1)).toBe(true)
    await c2.close()
    await conn.close().catch(() => undefined)
  })
})
