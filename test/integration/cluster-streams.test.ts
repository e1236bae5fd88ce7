/**
 * Streams used through another node (issue 13): a stream lives on one node, and a client on the
 * other publishes to it with confirms and consumes it with every stream consume argument
 * (x-stream-offset first / last / next / a number / a timestamp, x-stream-consumer-name with
 * single-active-consumer) as if it were local, with amqplib and @cloudamqp/amqp-client. The stream's
 * own refusals (basic.get, no prefetch, automatic acks, x-priority, a bad offset) reach the client on
 * the other node with RabbitMQ's codes. Two nodes in the test process joined through a private etcd.
 */
import { AMQPClient } from '@cloudamqp/amqp-client'
import type { Channel, ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { clusterPairSuite } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'

const STREAM = { 'x-queue-type': 'stream' }

/** A consumer recording offsets and bodies; acks what `ackWhile` allows. */
async function reader(ch: Channel, q: string, args: Record<string, unknown>, ackWhile: (offset: number) => boolean = () => true) {
  const offsets: number[] = []
  const bodies: string[] = []
  const { consumerTag } = await ch.consume(
    q,
    (m: ConsumeMessage | null) => {
      if (m === null) return
      const o = Number(m.properties.headers!['x-stream-offset'])
      offsets.push(o)
      bodies.push(m.content.toString())
      if (ackWhile(o)) ch.ack(m)
    },
    { arguments: args },
  )
  return { tag: consumerTag, offsets, bodies }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)

describe.skipIf(!hasEtcd)(hasEtcd ? 'streams across cluster nodes' : 'streams across cluster nodes: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  const s = clusterPairSuite('cstream')
  const { uniq, conn } = s

  /** A stream living on n1 with `n` confirmed messages published through n2. */
  async function streamOnN1(n: number): Promise<string> {
    const q = uniq('st')
    await s.homedQueue(s.n1, s.n2, q, STREAM, true)
    const pub = await (await conn(s.n2)).createConfirmChannel()
    for (let i = 0; i < n; i++) pub.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true })
    await pub.waitForConfirms()
    return q
  }

  it('publishes confirmed through the other node and consumes from first, a number, last and next there', async () => {
    const q = await streamOnN1(20)
    expect(s.homeQueue(s.n1, q).messageCount).toBe(20)
    const ch = await (await conn(s.n2)).createChannel()
    await ch.prefetch(50)
    const first = await reader(ch, q, { 'x-stream-offset': 'first' })
    const fromTen = await reader(ch, q, { 'x-stream-offset': 10 })
    const last = await reader(ch, q, { 'x-stream-offset': 'last' })
    const next = await reader(ch, q, { 'x-stream-offset': 'next' })
    await waitFor(() => first.offsets.length === 20 && fromTen.offsets.length === 10 && last.offsets.length === 1)
    expect(first.offsets).toEqual(range(0, 20))
    expect(first.bodies[7]).toBe('m7')
    expect(fromTen.offsets).toEqual(range(10, 20))
    expect(last.offsets).toEqual([19])
    expect(next.offsets).toEqual([])
    // a new message reaches every reader, with its offset
    const pub = await (await conn(s.n1)).createConfirmChannel()
    pub.sendToQueue(q, Buffer.from('late'))
    await pub.waitForConfirms()
    await waitFor(() => next.offsets.length === 1 && first.offsets.length === 21 && last.offsets.length === 2)
    expect(next.offsets).toEqual([20])
    expect(next.bodies).toEqual(['late'])
  })

  it('a timestamp or an interval offset (amqp-client.js) starts at the messages published since', async () => {
    const q = await streamOnN1(5)
    await new Promise((r) => setTimeout(r, 1100)) // timestamps are in seconds
    const since = new Date()
    const pub = await (await conn(s.n2)).createConfirmChannel()
    for (let i = 0; i < 3; i++) pub.sendToQueue(q, Buffer.from(`new${i}`))
    await pub.waitForConfirms()
    const client = new AMQPClient(s.n2.url)
    const c = await client.connect()
    s.cleanups.push(() => client.close())
    const bodies = async (offset: unknown, n: number): Promise<string[]> => {
      const ch = await c.channel()
      await ch.prefetch(10)
      const got: string[] = []
      await ch.basicConsume(q, { noAck: false, args: { 'x-stream-offset': offset } }, (m) => {
        got.push(m.bodyToString()!)
        void m.ack()
      })
      await waitFor(() => got.length >= n)
      await ch.close()
      return got
    }
    expect(await bodies(since, 3)).toEqual(['new0', 'new1', 'new2'])
    expect(await bodies('1h', 8)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'new0', 'new1', 'new2'])
  })

  it('@cloudamqp/amqp-client consumes through the other node from an offset, within its prefetch', async () => {
    const q = await streamOnN1(30)
    const client = new AMQPClient(s.n2.url)
    const c = await client.connect()
    s.cleanups.push(() => client.close())
    const ch = await c.channel()
    await ch.prefetch(5)
    const got: { offset: number; tag: number }[] = []
    await ch.basicConsume(q, { noAck: false, args: { 'x-stream-offset': 25 } }, (m) => {
      got.push({ offset: Number(m.properties.headers!['x-stream-offset']), tag: m.deliveryTag })
    })
    await waitFor(() => got.length === 5)
    // within prefetch: nothing more until acks
    await new Promise((r) => setTimeout(r, 200))
    expect(got.map((g) => g.offset)).toEqual(range(25, 30))
    await ch.basicAck(got[4]!.tag, true)
    const pub = await (await conn(s.n1)).createConfirmChannel()
    pub.sendToQueue(q, Buffer.from('x'))
    await pub.waitForConfirms()
    await waitFor(() => got.length === 6)
    expect(got[5]!.offset).toBe(30)
  })

  it('a named consumer group with single-active-consumer spans both nodes and hands over at the committed offset', async () => {
    const q = uniq('sac')
    await s.homedQueue(s.n1, s.n2, q, { ...STREAM, 'x-single-active-consumer': true }, true)
    const pub = await (await conn(s.n1)).createConfirmChannel()
    for (let i = 0; i < 10; i++) pub.sendToQueue(q, Buffer.from(`m${i}`))
    await pub.waitForConfirms()
    // the first member, on n2 (through the link), acks 0..5 only
    const ch2 = await (await conn(s.n2)).createChannel()
    await ch2.prefetch(20)
    const a = await reader(ch2, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'g' }, (o) => o <= 5)
    // the second member, on n1 (local to the stream), waits while the first is active
    const ch1 = await (await conn(s.n1)).createChannel()
    await ch1.prefetch(20)
    const b = await reader(ch1, q, { 'x-stream-consumer-name': 'g' })
    await waitFor(() => a.offsets.length === 10)
    await new Promise((r) => setTimeout(r, 200))
    expect(b.offsets).toEqual([])
    // the active member leaves: the other resumes right after the committed offset (5)
    await ch2.cancel(a.tag)
    await waitFor(() => b.offsets.length === 4)
    expect(b.offsets).toEqual(range(6, 10))
  })

  it('a super stream with partitions on both nodes: single-active groups split the partitions between channels alike on every node', async () => {
    const ss = uniq('ss')
    const a = await (await conn(s.n1)).createChannel()
    const b = await (await conn(s.n2)).createChannel()
    await a.assertExchange(ss, 'x-consistent-hash', { durable: true, arguments: { 'x-super-stream': true } })
    const sac = { ...STREAM, 'x-single-active-consumer': true }
    await s.homedQueue(s.n1, s.n2, `${ss}-0`, sac, true)
    await s.homedQueue(s.n2, s.n1, `${ss}-1`, sac, true)
    await a.bindQueue(`${ss}-0`, ss, '1', { 'x-stream-partition-order': 0 })
    await a.bindQueue(`${ss}-1`, ss, '1', { 'x-stream-partition-order': 1 })
    await a.prefetch(10)
    await b.prefetch(10)
    const group = { 'x-stream-consumer-name': 'g', 'x-stream-offset': 'first' }
    // each channel joins its own node's partition first, then the other's: a node that ranked
    // channels by when it saw them would put the other node's channel last on both partitions
    const got = { a: new Set<string>(), b: new Set<string>() }
    const on = (ch: Channel, who: 'a' | 'b', part: string) =>
      ch.consume(part, (m) => {
        if (m === null) return
        got[who].add(part)
        ch.ack(m)
      }, { arguments: group })
    await on(a, 'a', `${ss}-0`)
    await on(b, 'b', `${ss}-1`)
    await on(b, 'b', `${ss}-0`)
    await on(a, 'a', `${ss}-1`)
    const pub = await (await conn(s.n1)).createConfirmChannel()
    for (let i = 0; i < 4; i++) for (const p of [`${ss}-0`, `${ss}-1`]) pub.sendToQueue(p, Buffer.from(`${p}:${i}`))
    await pub.waitForConfirms()
    await waitFor(() => got.a.size + got.b.size >= 2)
    await new Promise((r) => setTimeout(r, 200))
    // RabbitMQ's rule: partition i goes to member i mod n, members in the order their channels first joined
    expect([...got.a]).toEqual([`${ss}-0`])
    expect([...got.b]).toEqual([`${ss}-1`])
  })

  it("the stream's refusals reach the client on the other node with RabbitMQ's codes", async () => {
    const q = await streamOnN1(1)
    /** the close a channel (or its connection) ends with after `act` */
    const closedBy = async (act: (ch: Channel) => Promise<unknown>): Promise<string> => {
      const c = await conn(s.n2)
      const ch = await c.createChannel()
      ch.on('error', () => undefined)
      let connClosed: string | null = null
      c.on('close', (e: Error | undefined) => (connClosed = `connection closed: ${e?.message ?? ''}`))
      // a connection close ends the channel first: look at the connection a moment later
      const closed = new Promise<void>((resolve) => ch.on('close', () => resolve())).then(() => new Promise((r) => setTimeout(r, 100))).then(() => connClosed ?? 'channel closed')
      const err = await act(ch).then(
        () => null,
        (e: Error) => e.message,
      )
      const how = await closed
      return `${err ?? ''} | ${how}`
    }
    // no prefetch: 406 on the channel
    expect(await closedBy((ch) => ch.consume(q, () => undefined))).toMatch(/406 \(PRECONDITION-FAILED\).*consumer prefetch count is not set/)
    // x-priority: 406
    expect(await closedBy(async (ch) => (await ch.prefetch(1), ch.consume(q, () => undefined, { arguments: { 'x-priority': 3 } })))).toMatch(/406.*x-priority/)
    // a bad offset: 406
    expect(await closedBy(async (ch) => (await ch.prefetch(1), ch.consume(q, () => undefined, { arguments: { 'x-stream-offset': 'nowhere' } })))).toMatch(/406.*x-stream-offset/)
    // automatic acks and basic.get close the connection with 540, as on the stream's own node
    expect(await closedBy(async (ch) => (await ch.prefetch(1), ch.consume(q, () => undefined, { noAck: true })))).toMatch(/connection closed.*540.*automatic acknowledgement not supported/)
    expect(await closedBy((ch) => ch.get(q))).toMatch(/connection closed.*540.*basic.get not supported by stream queues/)
    expect(await closedBy((ch) => ch.purgeQueue(q))).toMatch(/connection closed.*540.*queue.purge not supported by stream queues/)
    // the nodes serve on
    const ch = await (await conn(s.n2)).createChannel()
    await ch.prefetch(5)
    const r = await reader(ch, q, { 'x-stream-offset': 'first' })
    await waitFor(() => r.offsets.length === 1)
  })
})
