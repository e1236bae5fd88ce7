/**
 * Stream queues (x-queue-type: stream) through real clients: RabbitMQ 3.10's declare and consume
 * rules and texts, x-stream-offset specs, the x-stream-offset header, acks as credit, readers far
 * behind the tail (disk reads across segments), retention by size and age, and the management API.
 */
import { AMQPClient } from '@cloudamqp/amqp-client'
import type { Channel, ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { brokerSuite, channelError, type AmqpError } from '../helpers/suite.js'

const s = brokerSuite('st')

const STREAM = { 'x-queue-type': 'stream' }

async function stream(ch: Channel, name: string, args: Record<string, unknown> = {}): Promise<void> {
  await ch.assertQueue(name, { durable: true, arguments: { ...STREAM, ...args } })
}

async function publish(ch: Channel, q: string, from: number, to: number, size = 0): Promise<void> {
  const pad = 'x'.repeat(size)
  for (let i = from; i < to; i++) ch.sendToQueue(q, Buffer.from(`m${i}${pad}`))
  // the next offset, not the stored count: retention may already have deleted old segments
  const log = (s.queue(q) as unknown as { streamLog: { nextOffset: number } }).streamLog
  await waitFor(() => log.nextOffset >= to, 20000, 'published')
}

/** Consumes with prefetch and auto-ack by the client; returns the bodies and offsets received. */
async function collect(ch: Channel, q: string, args: Record<string, unknown>, n: number): Promise<{ bodies: string[]; offsets: number[]; msgs: ConsumeMessage[] }> {
  const bodies: string[] = []
  const offsets: number[] = []
  const msgs: ConsumeMessage[] = []
  await ch.prefetch(50)
  const { consumerTag } = await ch.consume(
    q,
    (m) => {
      if (m === null) return
      bodies.push(m.content.toString().replace(/x+$/, ''))
      offsets.push(Number(m.properties.headers!['x-stream-offset']))
      msgs.push(m)
      ch.ack(m)
    },
    { arguments: args },
  )
  await waitFor(() => bodies.length >= n, 10000, `${n} deliveries (got ${bodies.length})`)
  await ch.cancel(consumerTag)
  return { bodies, offsets, msgs }
}

describe('declare', () => {
  it('is durable only, with RabbitMQ texts for exclusive, auto-delete and non-durable', async () => {
    const conn = await s.amqplibConn()
    const q = s.uniq('props')
    const where = `for queue '${q}' in vhost '/'`
    let e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, exclusive: true, arguments: STREAM }))
    expect([e.code, e.message]).toEqual([406, expect.stringContaining(`invalid property 'exclusive-owner' ${where}`)])
    e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, autoDelete: true, arguments: STREAM }))
    expect(e.message).toContain(`invalid property 'auto-delete' ${where}`)
    e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: false, arguments: STREAM }))
    expect(e.message).toContain(`invalid property 'non-durable' ${where}`)
    e = await channelError(conn, (ch) => ch.assertQueue('', { durable: true, arguments: STREAM }))
    expect(e.message).toContain('Cannot declare a server-named queue for type rabbit_stream_queue')
  })

  it('refuses other queue types’ arguments and bad retention values as RabbitMQ does', async () => {
    const conn = await s.amqplibConn()
    const q = s.uniq('args')
    const where = `for queue '${q}' in vhost '/'`
    for (const arg of ['x-message-ttl', 'x-dead-letter-exchange', 'x-max-length', 'x-max-priority', 'x-expires', 'x-delivery-limit']) {
      const e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, arguments: { ...STREAM, [arg]: arg === 'x-dead-letter-exchange' ? 'dlx' : 1000 } }))
      expect([e.code, e.message]).toEqual([406, expect.stringContaining(`invalid arg '${arg}' ${where} of queue type rabbit_stream_queue`)])
    }
    let e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '10x' } }))
    expect(e.message).toContain(`invalid arg 'x-max-age' ${where}: invalid_max_age`)
    e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': 10 } }))
    expect(e.message).toContain(`invalid arg 'x-max-age' ${where}: {unacceptable_type,long}`)
    e = await channelError(conn, (ch) => ch.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-stream-max-segment-size-bytes': 4_000_000_000 } }))
    expect(e.message).toContain('Exceeded max value for x-stream-max-segment-size-bytes')
    const { ch } = await s.amqplibChannel()
    await stream(ch, q, { 'x-max-age': '7D', 'x-max-length-bytes': 1_000_000 })
    // redeclare: the stream's own arguments must match
    e = await channelError(conn, (c) => c.assertQueue(q, { durable: true, arguments: { ...STREAM, 'x-max-age': '1D', 'x-max-length-bytes': 1_000_000 } }))
    expect(e.message).toContain(`inequivalent arg 'x-max-age' ${where}`)
  })
})

describe('consume', () => {
  it('needs a prefetch and manual acks; basic.get, purge and nack are 540 as in RabbitMQ 3.10', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('rules')
    await stream(ch, q)
    const rs = `queue '${q}' in vhost '/'`
    const conn = await s.amqplibConn()
    const e = await channelError(conn, (c) => c.consume(q, () => undefined))
    expect([e.code, e.message]).toEqual([406, expect.stringContaining(`consumer prefetch count is not set for '${rs}'`)])
    const connErr = async (fn: (c: Channel) => Promise<unknown>): Promise<AmqpError> => {
      const c = await (await s.amqplibConn()).createChannel()
      await c.prefetch(10)
      const conn = (c as unknown as { connection: { once(e: string, f: (err: AmqpError) => void): void } }).connection
      const closed = new Promise<AmqpError>((resolve) => conn.once('error', resolve))
      fn(c).catch(() => undefined)
      return closed
    }
    let ce = await connErr((c) => c.consume(q, () => undefined, { noAck: true }))
    expect([ce.code, ce.message]).toEqual([540, expect.stringContaining(`automatic acknowledgement not supported by stream queues ${rs}`)])
    ce = await connErr((c) => c.get(q))
    expect([ce.code, ce.message]).toEqual([540, expect.stringContaining(`basic.get not supported by stream queues ${rs}`)])
    ce = await connErr((c) => c.purgeQueue(q))
    expect([ce.code, ce.message]).toEqual([540, expect.stringContaining(`queue.purge not supported by stream queues ${rs}`)])
    ch.sendToQueue(q, Buffer.from('one'))
    ce = await connErr(async (c) => {
      await c.consume(q, (m) => m !== null && c.nack(m), { arguments: { 'x-stream-offset': 'first' } })
    })
    expect([ce.code, ce.message]).toEqual([540, expect.stringContaining(`basic.nack and basic.reject not supported by stream queues ${rs}`)])
    const bad = await channelError(conn, async (c) => {
      await c.prefetch(1)
      return c.consume(q, () => undefined, { arguments: { 'x-stream-offset': 'soon' } })
    })
    expect(bad.message).toContain(`invalid arg 'x-stream-offset' for ${rs}: {invalid_stream_offset_arg,{longstr,<<"soon">>}}`)
  })

  it('does not remove what it delivers: every delivery carries x-stream-offset, acks only move credit', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('append')
    await stream(ch, q)
    await publish(ch, q, 0, 120)
    const a = await collect(ch, q, { 'x-stream-offset': 'first' }, 120)
    expect(a.bodies).toEqual(Array.from({ length: 120 }, (_, i) => `m${i}`))
    expect(a.offsets).toEqual(Array.from({ length: 120 }, (_, i) => i))
    expect(s.queue(q).messageCount).toBe(120)
    // a second reader gets them all again
    const b = await collect(ch, q, { 'x-stream-offset': 'first' }, 120)
    expect(b.offsets[119]).toBe(119)
  })

  it('starts at first, last, next, an offset, a timestamp or an interval (amqp-client.js)', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('specs')
    await stream(ch, q)
    await publish(ch, q, 0, 10)
    const client = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${s.b.amqpPort}`).connect()
    s.cleanups.push(() => client.close())
    const firstOffset = async (offset: unknown): Promise<number> => {
      const c = await client.channel()
      await c.prefetch(5)
      const got: number[] = []
      const sub = await c.basicConsume(q, { noAck: false, args: { 'x-stream-offset': offset } }, (m) => {
        got.push(Number(m.properties.headers!['x-stream-offset']))
        void m.ack()
      })
      await waitFor(() => got.length > 0, 3000, `a delivery for ${String(offset)}`)
      await sub.cancel()
      await c.close()
      return got[0]
    }
    expect(await firstOffset('first')).toBe(0)
    expect(await firstOffset('last')).toBe(9)
    expect(await firstOffset(4)).toBe(4)
    expect(await firstOffset(new Date(Date.now() - 3_600_000))).toBe(0)
    expect(await firstOffset('1h')).toBe(0)
    // next: only what is published after the consumer started
    const c = await client.channel()
    await c.prefetch(5)
    const got: number[] = []
    await c.basicConsume(q, { noAck: false, args: { 'x-stream-offset': 'next' } }, (m) => {
      got.push(Number(m.properties.headers!['x-stream-offset']))
      void m.ack()
    })
    await publish(ch, q, 10, 11)
    await waitFor(() => got.length === 1)
    expect(got).toEqual([10])
  })

  it('reads far behind the tail from disk, across segments, while the tail keeps being served', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('behind')
    // 1 MB segments; 3000 messages of ~4 KiB (12 MB) go past the tail cache (8 MiB)
    await stream(ch, q, { 'x-stream-max-segment-size-bytes': 1_000_000 })
    await publish(ch, q, 0, 3000, 4000)
    const sq = s.queue(q) as unknown as { streamLog: { segments: unknown[] } }
    expect(sq.streamLog.segments.length).toBeGreaterThan(10)
    const r = await collect(ch, q, { 'x-stream-offset': 'first' }, 3000)
    expect(r.offsets.every((o, i) => o === i)).toBe(true)
    expect(r.bodies[2999]).toBe('m2999')
    const mid = await collect(ch, q, { 'x-stream-offset': 2210 }, 10)
    expect(mid.offsets.slice(0, 3)).toEqual([2210, 2211, 2212])
    expect(mid.bodies[0]).toBe('m2210')
  })
})

describe('retention', () => {
  it('x-max-length-bytes deletes whole old segments; readers from first start at the oldest kept', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('maxbytes')
    await stream(ch, q, { 'x-stream-max-segment-size-bytes': 20_000, 'x-max-length-bytes': 100_000 })
    await publish(ch, q, 0, 1000, 500)
    const sq = s.queue(q)
    const log = (sq as unknown as { streamLog: { bytes: number; firstOffset: number } }).streamLog
    // a segment is deleted once the group commit has written it: poll
    await waitFor(() => log.firstOffset > 0 && log.bytes <= 100_000 + 20_000, 3000, 'old segments deleted by size')
    expect(sq.messageCount).toBe(1000 - log.firstOffset)
    const r = await collect(ch, q, { 'x-stream-offset': 'first' }, 5)
    expect(r.offsets[0]).toBe(log.firstOffset)
  })

  it('x-max-age deletes segments whose messages are all older, on a timer', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('maxage')
    await stream(ch, q, { 'x-stream-max-segment-size-bytes': 4000, 'x-max-age': '1s' })
    await publish(ch, q, 0, 100, 100)
    const log = (s.queue(q) as unknown as { streamLog: { firstOffset: number } }).streamLog
    expect(log.firstOffset).toBe(0)
    await waitFor(() => log.firstOffset > 0, 4000, 'old segments deleted by age')
    // the newest segment with messages is kept: offsets go on from there
    expect(s.queue(q).messageCount).toBeGreaterThan(0)
  })
})

describe('management API', () => {
  it('lists a stream with its stored count, offsets and consumer groups with lag', async () => {
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('mgmt')
    await stream(ch, q)
    await publish(ch, q, 0, 30)
    await collect(ch, q, { 'x-stream-offset': 'first', 'x-stream-consumer-name': 'billing' }, 30)
    const api = apiClient(s.b)
    const res = await waitFor(async () => {
      const r = await api.get(`/api/queues/%2F/${q}`)
      return r.body.consumer_groups?.[0]?.committed_offset === 29 ? r : undefined
    })
    expect(res.body).toMatchObject({ type: 'stream', messages: 30, messages_ready: 30, first_offset: 0, next_offset: 30 })
    expect(res.body.consumer_groups).toEqual([{ name: 'billing', committed_offset: 29, lag_messages: 0, lag_bytes: 0, consumers: 0, active_consumer: null }])
    await publish(ch, q, 30, 40)
    const after = await api.get(`/api/queues/%2F/${q}`)
    expect(after.body.consumer_groups[0].lag_messages).toBe(10)
    expect(after.body.consumer_groups[0].lag_bytes).toBeGreaterThan(10 * 4)
    const list = await api.get('/api/queues/%2F')
    expect(list.body.find((x: { name: string }) => x.name === q).messages).toBe(40)
  })
})
