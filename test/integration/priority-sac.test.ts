/**
 * Ordering and consumer selection over real TCP: priority queues (x-max-priority: higher first, FIFO
 * within a priority, priorities above the maximum count as the maximum, requeue keeps the order),
 * single active consumer (one consumer at a time, takeover on cancel or disconnect with every message
 * delivered exactly once), and consumer priorities (the x-priority consume argument).
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('ord')
const { uniq, maybeQueue, queue, amqplibConn, amqplibChannel, clientConn } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})

type AmqpError = Error & { code?: number }

const body = (m: { content: Buffer }): string => m.content.toString()

async function drainBodies(ch: Channel, qn: string): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const m = await ch.get(qn, { noAck: true })
    if (m === false) return out
    out.push(body(m))
  }
}

async function channelError(conn: ChannelModel, fn: (ch: Channel) => Promise<unknown>): Promise<AmqpError> {
  const ch = await conn.createChannel()
  const closed = new Promise<AmqpError>((resolve) => ch.once('error', resolve))
  await fn(ch).catch(() => undefined)
  return closed
}

describe('priority queues (x-max-priority)', () => {
  it('higher priorities first, FIFO within a priority; no priority counts as 0, above the maximum as the maximum', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('prio')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-priority': 5 } })
    const sends: [string, number | undefined][] = [
      ['a-none', undefined],
      ['b-2', 2],
      ['c-5', 5],
      ['d-0', 0],
      ['e-200', 200], // treated as 5: after c-5, by arrival
      ['f-2', 2],
      ['g-6', 6], // treated as 5
      ['h-none', undefined],
      ['i-5', 5],
    ]
    for (const [text, priority] of sends) ch.sendToQueue(qn, Buffer.from(text), priority === undefined ? {} : { priority })
    await waitFor(() => queue(qn).messageCount === sends.length)
    expect(await drainBodies(ch, qn)).toEqual(['c-5', 'e-200', 'g-6', 'i-5', 'b-2', 'f-2', 'a-none', 'd-0', 'h-none'])
  })

  it('a consumer with a small prefetch receives in priority order; the priority property is delivered unchanged', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('prio-consume')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-priority': 10 } })
    for (let i = 0; i < 30; i++) ch.sendToQueue(qn, Buffer.from(`${i % 3}:${i}`), { priority: i % 3 })
    await waitFor(() => queue(qn).messageCount === 30)
    const c = await (await amqplibConn()).createChannel()
    await c.prefetch(1)
    const got: ConsumeMessage[] = []
    await c.consume(qn, (m) => {
      if (m === null) return
      got.push(m)
      c.ack(m)
    })
    await waitFor(() => got.length === 30, 3000, '30 deliveries')
    const expected = [2, 1, 0].flatMap((p) => Array.from({ length: 10 }, (_, k) => `${p}:${k * 3 + p}`))
    expect(got.map(body)).toEqual(expected)
    expect(got.map((m) => m.properties.priority)).toEqual(expected.map((t) => Number(t[0])))
  })

  it('requeued messages go back in order within their priority, ahead of newer ones', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('prio-requeue')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-priority': 3 } })
    const conn = await clientConn()
    const cch = await conn.channel()
    for (const [text, p] of [['l1', 1], ['h1', 3], ['l2', 1], ['h2', 3]] as const) {
      await cch.basicPublish('', qn, text, { priority: p })
    }
    await waitFor(() => queue(qn).messageCount === 4)
    // take all four (h1 h2 l1 l2), publish newer ones of each priority, then requeue the four
    const taken = []
    for (let i = 0; i < 4; i++) taken.push((await cch.basicGet(qn, { noAck: false }))!)
    expect(taken.map((m) => m.bodyToString())).toEqual(['h1', 'h2', 'l1', 'l2'])
    await cch.basicPublish('', qn, 'l3', { priority: 1 })
    await cch.basicPublish('', qn, 'h3', { priority: 3 })
    for (const m of [taken[3], taken[0], taken[2], taken[1]]) await m.nack(true)
    await waitFor(() => queue(qn).messageCount === 6)
    expect(await drainBodies(ch, qn)).toEqual(['h1', 'h2', 'h3', 'l1', 'l2', 'l3'])
  })

  it('x-max-priority above 255 or negative is refused with 406 (RabbitMQ check_max_priority_arg)', async () => {
    const conn = await amqplibConn()
    for (const [value, problem] of [
      [256, '{max_value_exceeded,256}'],
      [-1, '{value_negative,-1}'],
    ] as const) {
      const qn = uniq('bad-prio')
      const err = await channelError(conn, (x) => x.assertQueue(qn, { durable: false, arguments: { 'x-max-priority': value } }))
      expect(err.code).toBe(406)
      expect(/with message "(.*)"$/s.exec(err.message)?.[1]).toBe(
        `PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${qn}' in vhost '/': ${problem}`,
      )
      expect(maybeQueue(qn)).toBeUndefined()
    }
    const { ch } = await amqplibChannel()
    const ok = uniq('prio-255')
    await ch.assertQueue(ok, { durable: false, arguments: { 'x-max-priority': 255 } })
    ch.sendToQueue(ok, Buffer.from('low'), { priority: 1 })
    ch.sendToQueue(ok, Buffer.from('top'), { priority: 255 })
    await waitFor(() => queue(ok).messageCount === 2)
    expect(await drainBodies(ch, ok)).toEqual(['top', 'low'])
  })
})

describe('single active consumer (x-single-active-consumer)', () => {
  it('only the first consumer receives; when it cancels, the next takes over; every message exactly once', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('sac')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-single-active-consumer': true } })
    const received = new Map<string, string[]>()
    const consumers: { ch: Channel; tag: string; name: string }[] = []
    for (const name of ['one', 'two', 'three']) {
      const c = await (await amqplibConn()).createChannel()
      await c.prefetch(5)
      received.set(name, [])
      const { consumerTag } = await c.consume(qn, (m) => {
        if (m === null) return
        received.get(name)!.push(body(m))
        c.ack(m)
      })
      consumers.push({ ch: c, tag: consumerTag, name })
    }
    expect(queue(qn).activeConsumer!.tag).toBe(consumers[0].tag)
    for (let i = 0; i < 20; i++) ch.sendToQueue(qn, Buffer.from(`a${i}`))
    await waitFor(() => received.get('one')!.length === 20, 3000, 'one got them all')
    expect(received.get('two')).toEqual([])
    expect(received.get('three')).toEqual([])

    await consumers[0].ch.cancel(consumers[0].tag)
    expect(queue(qn).activeConsumer!.tag).toBe(consumers[1].tag)
    for (let i = 0; i < 20; i++) ch.sendToQueue(qn, Buffer.from(`b${i}`))
    await waitFor(() => received.get('two')!.length === 20, 3000, 'two got the next ones')
    expect(received.get('one')).toHaveLength(20)
    expect(received.get('three')).toEqual([])
    const all = [...received.values()].flat()
    expect(new Set(all).size).toBe(40)
  })

  it('when the active consumer’s connection closes with unacked messages, the next consumer gets them redelivered; none lost or duplicated', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('sac-close')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-single-active-consumer': true } })
    const firstConn = await amqp.connect(b.url)
    firstConn.on('error', () => undefined)
    const first = await firstConn.createChannel()
    await first.prefetch(10)
    const heldByFirst: ConsumeMessage[] = []
    const acked: string[] = []
    await first.consume(qn, (m) => {
      if (m === null) return
      // acks the even ones, holds the odd ones
      if (Number(body(m).slice(1)) % 2 === 0) {
        acked.push(body(m))
        first.ack(m)
      } else heldByFirst.push(m)
    })
    const second = await (await amqplibConn()).createChannel()
    const secondGot: ConsumeMessage[] = []
    await second.consume(qn, (m) => {
      if (m === null) return
      secondGot.push(m)
      acked.push(body(m))
      second.ack(m)
    })
    for (let i = 0; i < 30; i++) ch.sendToQueue(qn, Buffer.from(`m${i}`))
    // prefetch 10: the first consumer fills its window with unacked odd messages, the rest wait
    await waitFor(() => heldByFirst.length === 10, 3000, 'the first consumer holds ten')
    expect(secondGot).toEqual([])
    expect(queue(qn).unackedCount).toBe(10)
    await firstConn.close()
    await waitFor(() => acked.length === 30, 3000, 'every message acked once')
    expect([...acked].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`).sort())
    const redelivered = secondGot.filter((m) => m.fields.redelivered).map(body)
    expect(redelivered.sort()).toEqual(heldByFirst.map(body).sort())
    // the held ones come first, in their original order
    expect(secondGot.slice(0, 10).map(body)).toEqual(heldByFirst.map(body))
    await waitFor(() => queue(qn).messageCount === 0 && queue(qn).unackedCount === 0, 3000, 'all acks settled')
  })

  it('a non-SAC queue shares messages between consumers (control)', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('shared')
    await ch.assertQueue(qn, { durable: false })
    const got = [0, 0]
    for (const i of [0, 1]) {
      const c = await (await amqplibConn()).createChannel()
      await c.consume(qn, (m) => void (m && got[i]++), { noAck: true })
    }
    for (let i = 0; i < 10; i++) ch.sendToQueue(qn, Buffer.from(`s${i}`))
    await waitFor(() => got[0] + got[1] === 10)
    expect(got[0]).toBeGreaterThan(0)
    expect(got[1]).toBeGreaterThan(0)
    expect(queue(qn).activeConsumer).toBeUndefined()
  })
})

describe('consumer priorities (x-priority)', () => {
  it('the higher-priority consumer gets everything while it has room; the lower one only when it is full', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('cprio')
    await ch.assertQueue(qn, { durable: false })
    const low = await (await amqplibConn()).createChannel()
    await low.prefetch(100)
    const lowGot: ConsumeMessage[] = []
    await low.consume(qn, (m) => void (m && lowGot.push(m)), { priority: 1 })
    const high = await (await amqplibConn()).createChannel()
    await high.prefetch(2)
    const highGot: ConsumeMessage[] = []
    await high.consume(qn, (m) => void (m && highGot.push(m)), { arguments: { 'x-priority': 10 } })

    ch.sendToQueue(qn, Buffer.from('p0'))
    ch.sendToQueue(qn, Buffer.from('p1'))
    await waitFor(() => highGot.length === 2, 3000, 'high got two')
    expect(lowGot).toEqual([])
    // high is full: the next ones go to low
    for (let i = 2; i < 5; i++) ch.sendToQueue(qn, Buffer.from(`p${i}`))
    await waitFor(() => lowGot.length === 3, 3000, 'low got three')
    expect(highGot.map(body)).toEqual(['p0', 'p1'])
    expect(lowGot.map(body)).toEqual(['p2', 'p3', 'p4'])
    // room again at high: it is preferred again
    high.ack(highGot[0])
    await high.checkQueue(qn) // the ack has arrived
    ch.sendToQueue(qn, Buffer.from('p5'))
    await waitFor(() => highGot.length === 3, 3000, 'high got p5')
    expect(lowGot).toHaveLength(3)
  })

  it('the higher-priority consumer takes waiting messages as soon as it acks', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('cprio-wait')
    await ch.assertQueue(qn, { durable: false })
    const low = await (await amqplibConn()).createChannel()
    await low.prefetch(1)
    const lowGot: ConsumeMessage[] = []
    await low.consume(qn, (m) => void (m && lowGot.push(m)), { priority: 0 })
    const high = await (await amqplibConn()).createChannel()
    await high.prefetch(1)
    const highGot: ConsumeMessage[] = []
    await high.consume(qn, (m) => {
      if (m === null) return
      highGot.push(m)
      high.ack(m)
    }, { priority: 5 })
    for (let i = 0; i < 10; i++) ch.sendToQueue(qn, Buffer.from(`w${i}`))
    await waitFor(() => highGot.length + lowGot.length === 10, 3000, 'all delivered')
    // low got at most its one prefetch slot; everything else went to the acking high-priority consumer
    expect(lowGot.length).toBeLessThanOrEqual(1)
    expect(highGot.length).toBeGreaterThanOrEqual(9)
  })
})
