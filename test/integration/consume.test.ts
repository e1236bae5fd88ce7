/**
 * Consuming over real TCP with amqplib and @cloudamqp/amqp-client: prefetch windows, round-robin,
 * exclusive consumers, no-ack, consumer tags, cancel (client and server side), basic.get,
 * ack/nack/reject with multiple and requeue, basic.recover, requeue on channel/connection close,
 * channel.flow and a slow consumer under socket backpressure. Assertions go through the clients and
 * the broker's queue state.
 */
import type net from 'node:net'
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib'
import type { AMQPMessage } from '@cloudamqp/amqp-client'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'
import type { Connection } from '../../transport/connection.js'

const s = brokerSuite('con')
const { uniq, queue, amqplibConn, amqplibChannel, clientConn } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})

type AmqpError = Error & { code?: number }

function nextError(emitter: { once(ev: 'error', l: (e: AmqpError) => void): unknown }): Promise<AmqpError> {
  return new Promise((resolve) => emitter.once('error', resolve))
}

/**
 * A round trip on `ch` that must fail because the server closed the channel; then the close error.
 * (If the broker wrongly accepted what came before, this fails at once instead of timing out.)
 */
async function closedWith(ch: Channel, err: Promise<AmqpError>): Promise<AmqpError> {
  await expect(ch.checkExchange('amq.direct')).rejects.toThrow()
  return err
}

/** Publishes `n` messages "p0".."p{n-1}" (or with a prefix) and waits until the queue holds them. */
async function fill(ch: Channel, qn: string, n: number, prefix = 'm'): Promise<void> {
  const before = queue(qn).messageCount
  for (let i = 0; i < n; i++) ch.sendToQueue(qn, Buffer.from(`${prefix}${i}`))
  await waitFor(() => queue(qn).messageCount === before + n, 5000, `${n} messages in ${qn}`)
}

/** The broker-side Connection of an amqplib client. */
function brokerConnOf(conn: ChannelModel): Connection {
  const port = ((conn as unknown as { connection: { stream: net.Socket } }).connection.stream as net.Socket).localPort
  const c = [...b.broker.connections].find((x) => x.peerPort === port)
  if (c === undefined) throw new Error('no broker connection for this client')
  return c as Connection
}

const text = (m: { content: Buffer }): string => m.content.toString()

describe('prefetch (basic.qos)', () => {
  it('global=false: each consumer has its own window; acking lets exactly one more flow', async () => {
    const { ch: pub } = await amqplibChannel()
    const { ch } = await amqplibChannel()
    const q1 = uniq('pf1')
    const q2 = uniq('pf2')
    await ch.assertQueue(q1)
    await ch.assertQueue(q2)
    await fill(pub, q1, 10)
    await fill(pub, q2, 10)
    await ch.prefetch(3) // global=false: per consumer
    const held: Record<string, ConsumeMessage[]> = { [q1]: [], [q2]: [] }
    const max: Record<string, number> = { [q1]: 0, [q2]: 0 }
    const onMsg = (qn: string) => (m: ConsumeMessage | null) => {
      held[qn].push(m!)
      max[qn] = Math.max(max[qn], held[qn].length)
    }
    await ch.consume(q1, onMsg(q1))
    await ch.consume(q2, onMsg(q2))
    await waitFor(() => held[q1].length === 3 && held[q2].length === 3, 5000, 'both windows full')
    await ch.checkQueue(q1) // a round trip on the consuming channel: anything sent before it has arrived
    expect(held[q1]).toHaveLength(3)
    expect(held[q2]).toHaveLength(3)
    expect(queue(q1).unackedCount).toBe(3)
    expect(queue(q2).unackedCount).toBe(3)
    expect(queue(q1).messageCount).toBe(7)
    // ack one of q1: exactly one more q1 message, nothing for q2
    ch.ack(held[q1].shift()!)
    await waitFor(() => held[q1].length === 3, 5000, 'one more delivery')
    await ch.checkQueue(q1)
    expect(held[q1]).toHaveLength(3)
    expect(held[q2]).toHaveLength(3)
    expect(queue(q1).messageCount).toBe(6)
    expect(queue(q1).unackedCount).toBe(3)
    expect(held[q1].map(text)).toEqual(['m1', 'm2', 'm3'])
    // now drain everything, acking one at a time
    let acked = 1
    for (;;) {
      const qn = held[q1].length > 0 ? q1 : held[q2].length > 0 ? q2 : null
      if (qn === null) {
        if (acked === 20) break
        await waitFor(() => held[q1].length + held[q2].length > 0, 5000, 'more deliveries')
        continue
      }
      ch.ack(held[qn].shift()!)
      acked++
    }
    expect(max).toEqual({ [q1]: 3, [q2]: 3 })
    await waitFor(() => queue(q1).unackedCount === 0 && queue(q2).unackedCount === 0, 5000, 'all acked')
    expect(queue(q1).messageCount + queue(q2).messageCount).toBe(0)
  })

  it('global=true: the window is shared by all consumers of the channel', async () => {
    const { ch: pub } = await amqplibChannel()
    const { ch } = await amqplibChannel()
    const q1 = uniq('pg1')
    const q2 = uniq('pg2')
    await ch.assertQueue(q1)
    await ch.assertQueue(q2)
    await fill(pub, q1, 10)
    await fill(pub, q2, 10)
    await ch.prefetch(3, true)
    const held: ConsumeMessage[] = []
    let max = 0
    let total = 0
    const onMsg = (m: ConsumeMessage | null): void => {
      held.push(m!)
      total++
      max = Math.max(max, held.length)
    }
    await ch.consume(q1, onMsg)
    await ch.consume(q2, onMsg)
    await waitFor(() => held.length === 3, 5000, 'channel window full')
    await ch.checkQueue(q1)
    expect(held).toHaveLength(3)
    expect(queue(q1).unackedCount + queue(q2).unackedCount).toBe(3)
    expect(queue(q1).messageCount + queue(q2).messageCount).toBe(17)
    ch.ack(held.shift()!)
    await waitFor(() => held.length === 3, 5000, 'one more delivery')
    await ch.checkQueue(q1)
    expect(held).toHaveLength(3)
    expect(queue(q1).unackedCount + queue(q2).unackedCount).toBe(3)
    while (total < 20 || held.length > 0) {
      if (held.length === 0) await waitFor(() => held.length > 0, 5000, 'more deliveries')
      ch.ack(held.shift()!)
    }
    expect(max).toBe(3)
    await waitFor(() => queue(q1).unackedCount + queue(q2).unackedCount === 0)
  })

  it('global=false applies to consumers created after it; raising it later does not widen an existing consumer', async () => {
    const { ch: pub } = await amqplibChannel()
    const { ch } = await amqplibChannel()
    const qn = uniq('pf-later')
    await ch.assertQueue(qn)
    await fill(pub, qn, 10)
    await ch.prefetch(1)
    const held: ConsumeMessage[] = []
    await ch.consume(qn, (m) => held.push(m!))
    await waitFor(() => held.length === 1)
    await ch.prefetch(5)
    await ch.checkQueue(qn)
    expect(held).toHaveLength(1)
    expect(queue(qn).unackedCount).toBe(1)
    // a second consumer created now gets the new window of 5
    const held2: ConsumeMessage[] = []
    await ch.consume(qn, (m) => held2.push(m!))
    await waitFor(() => held2.length === 5)
    await ch.checkQueue(qn)
    expect(held).toHaveLength(1)
    expect(held2).toHaveLength(5)
    expect(queue(qn).unackedCount).toBe(6)
  })

  it('raising the global prefetch lets more deliveries flow at once', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('pg-raise')
    await ch.queueDeclare(qn, { durable: false })
    for (let i = 0; i < 10; i++) await ch.basicPublish('', qn, `m${i}`)
    await ch.basicQos(2, 0, true)
    const got: AMQPMessage[] = []
    await ch.basicConsume(qn, { noAck: false }, (m) => void got.push(m))
    await waitFor(() => got.length === 2)
    await ch.queueDeclare(qn, { passive: true })
    expect(got).toHaveLength(2)
    await ch.basicQos(6, 0, true)
    await waitFor(() => got.length === 6)
    await ch.queueDeclare(qn, { passive: true })
    expect(got).toHaveLength(6)
    expect(queue(qn).unackedCount).toBe(6)
    expect(queue(qn).messageCount).toBe(4)
  })
})

describe('consumers', () => {
  it('round-robin between two consumers of one queue', async () => {
    const conn = await clientConn()
    const ch1 = await conn.channel()
    const ch2 = await conn.channel()
    const qn = uniq('rr')
    await ch1.queueDeclare(qn, { durable: false })
    const a: string[] = []
    const c: string[] = []
    await ch1.basicConsume(qn, { noAck: true }, (m) => void a.push(m.bodyToString()!))
    await ch2.basicConsume(qn, { noAck: true }, (m) => void c.push(m.bodyToString()!))
    expect(queue(qn).consumerCount).toBe(2)
    const { ch: pub } = await amqplibChannel()
    for (let i = 0; i < 10; i++) pub.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => a.length + c.length === 10, 5000, '10 deliveries')
    expect(a).toEqual(['m0', 'm2', 'm4', 'm6', 'm8'])
    expect(c).toEqual(['m1', 'm3', 'm5', 'm7', 'm9'])
  })

  it('exclusive consume: a second consumer is refused with 403, and so is exclusive when a consumer exists', async () => {
    const conn = await amqplibConn()
    const ch1 = await conn.createChannel()
    const ch2 = await conn.createChannel()
    ch2.on('error', () => undefined)
    const qn = uniq('excl')
    await ch1.assertQueue(qn)
    await ch1.consume(qn, () => undefined, { exclusive: true })
    const err = nextError(ch2)
    await expect(ch2.consume(qn, () => undefined)).rejects.toThrow()
    const e = await err
    expect(e.code).toBe(403)
    expect(e.message).toContain(`ACCESS_REFUSED - queue '${qn}' in vhost '/' in exclusive use`)
    expect(queue(qn).consumerCount).toBe(1)

    const q2 = uniq('excl2')
    await ch1.assertQueue(q2)
    await ch1.consume(q2, () => undefined) // a plain consumer first
    const ch3 = await conn.createChannel()
    ch3.on('error', () => undefined)
    const err3 = nextError(ch3)
    await expect(ch3.consume(q2, () => undefined, { exclusive: true })).rejects.toThrow()
    const e3 = await err3
    expect(e3.code).toBe(403)
    expect(e3.message).toContain(`ACCESS_REFUSED - queue '${q2}' in vhost '/' in exclusive use`)
    expect(queue(q2).consumerCount).toBe(1)
  })

  it('no-ack consumers get everything regardless of prefetch and leave nothing unacked', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('noack')
    await ch.assertQueue(qn)
    await fill(ch, qn, 20)
    await ch.prefetch(1)
    await ch.prefetch(1, true)
    const got: string[] = []
    await ch.consume(qn, (m) => got.push(text(m!)), { noAck: true })
    await waitFor(() => got.length === 20, 5000, '20 deliveries')
    expect(got[0]).toBe('m0')
    expect(got[19]).toBe('m19')
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(0)
    // acking a no-ack delivery is an unknown tag
    const err = nextError(ch)
    ch.ack({ fields: { deliveryTag: 1 } } as unknown as ConsumeMessage)
    expect((await closedWith(ch, err)).code).toBe(406)
  })

  it('server-generated consumer tags look like amq.ctag-… and are used in deliveries', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('ctag')
    await ch.assertQueue(qn)
    const t1 = (await ch.consume(qn, () => undefined, { noAck: true })).consumerTag
    const got: ConsumeMessage[] = []
    const t2 = (await ch.consume(qn, (m) => got.push(m!), { noAck: true })).consumerTag
    expect(t1).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/)
    expect(t2).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/)
    expect(t1).not.toBe(t2)
    expect(queue(qn).consumers.map((c) => c.tag)).toEqual([t1, t2])
    ch.sendToQueue(qn, Buffer.from('a'))
    ch.sendToQueue(qn, Buffer.from('b'))
    await waitFor(() => got.length === 1)
    expect(got[0].fields.consumerTag).toBe(t2)
    const conn = await clientConn()
    const cch = await conn.channel()
    const consumer = await cch.basicConsume(qn, { noAck: true }, () => undefined)
    expect(consumer.tag).toMatch(/^amq\.ctag-/)
  })

  it('a consumer tag reused on the same channel is a 530 connection error; on another channel it is fine', async () => {
    const conn = await amqplibConn()
    const ch1 = await conn.createChannel()
    ch1.on('error', () => undefined)
    const ch2 = await conn.createChannel()
    const qn = uniq('duptag')
    await ch1.assertQueue(qn)
    await ch1.consume(qn, () => undefined, { consumerTag: 'dup' })
    await ch2.consume(qn, () => undefined, { consumerTag: 'dup' }) // other channel: allowed
    expect(queue(qn).consumerCount).toBe(2)
    const before = b.broker.connections.size
    const err = nextError(conn)
    await expect(ch1.consume(qn, () => undefined, { consumerTag: 'dup' })).rejects.toThrow()
    const e = await err
    expect(e.code).toBe(530)
    expect(e.message).toContain("NOT_ALLOWED - attempt to reuse consumer tag 'dup'")
    await waitFor(() => b.broker.connections.size === before - 1, 5000, 'connection gone')
    expect(queue(qn).consumerCount).toBe(0)
  })

  it('after cancel-ok there are no more deliveries; unacked messages stay unacked and can still be acked', async () => {
    const { ch } = await amqplibChannel()
    const { ch: pub } = await amqplibChannel()
    const qn = uniq('cancel')
    await ch.assertQueue(qn)
    const got: ConsumeMessage[] = []
    const { consumerTag } = await ch.consume(qn, (m) => m && got.push(m))
    for (let i = 0; i < 2; i++) pub.sendToQueue(qn, Buffer.from(`a${i}`))
    await waitFor(() => got.length === 2)
    await ch.cancel(consumerTag)
    expect(queue(qn).consumerCount).toBe(0)
    expect(queue(qn).unackedCount).toBe(2)
    await fill(pub, qn, 5, 'b')
    await ch.checkQueue(qn)
    expect(got).toHaveLength(2)
    expect(queue(qn).messageCount).toBe(5)
    ch.ack(got[1], true)
    await waitFor(() => queue(qn).unackedCount === 0)
    // cancelling an unknown tag is answered with cancel-ok, as RabbitMQ does
    await ch.cancel('never-existed')
    expect(queue(qn).messageCount).toBe(5)
  })

  it('deleting a consumed queue sends basic.cancel: amqplib gets null, amqp-client sees the consumer closed', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('srvcancel')
    await ch.assertQueue(qn)
    const msgs: (ConsumeMessage | null)[] = []
    await ch.consume(qn, (m) => msgs.push(m))
    ch.sendToQueue(qn, Buffer.from('x'))
    await waitFor(() => msgs.length === 1)

    const conn = await clientConn()
    const cch = await conn.channel()
    const consumer = await cch.basicConsume(qn, { noAck: true }, () => undefined)
    const waited = consumer.wait().then(
      () => 'resolved',
      (e: Error) => e.message,
    )

    const { ch: admin } = await amqplibChannel()
    const del = await admin.deleteQueue(qn)
    expect(del.messageCount).toBe(0)
    await waitFor(() => msgs.length === 2, 5000, 'null delivery')
    expect(msgs[1]).toBeNull()
    expect(await waited).toContain('Consumer cancelled by the server')
    expect(b.broker.vhost('/')!.queues.has(qn)).toBe(false)
    // both channels stay open; acking a delivery of the deleted queue is harmless
    ch.ack(msgs[0]!)
    await ch.assertQueue(uniq('still-open'))
    expect(cch.closed).toBe(false)
    await cch.queueDeclare(uniq('still-open'), { durable: false })
  })
})

describe('basic.get', () => {
  it('get-ok carries the remaining message-count; get-empty when empty', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('get')
    await ch.assertQueue(qn)
    expect(await ch.get(qn)).toBe(false)
    await fill(ch, qn, 3)
    const m1 = (await ch.get(qn, { noAck: true })) as GetMessage
    expect(text(m1)).toBe('m0')
    expect(m1.fields.messageCount).toBe(2)
    expect(m1.fields.redelivered).toBe(false)
    const m2 = (await ch.get(qn, { noAck: false })) as GetMessage
    expect(m2.fields.messageCount).toBe(1)
    expect(queue(qn).unackedCount).toBe(1)
    ch.ack(m2)
    const m3 = (await ch.get(qn, { noAck: true })) as GetMessage
    expect(m3.fields.messageCount).toBe(0)
    expect(await ch.get(qn)).toBe(false)
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(0)

    const conn = await clientConn()
    const cch = await conn.channel()
    expect(await cch.basicGet(qn)).toBeNull()
    await cch.basicPublish('', qn, 'c')
    const g = (await cch.basicGet(qn, { noAck: true }))!
    expect(g.bodyToString()).toBe('c')
    expect(g.messageCount).toBe(0)
  })

  it('basic.get on a missing queue is a 404 channel error', async () => {
    const { ch } = await amqplibChannel()
    const err = nextError(ch)
    await expect(ch.get('no-such-queue-get')).rejects.toThrow()
    const e = await err
    expect(e.code).toBe(404)
    expect(e.message).toContain("NOT_FOUND - no queue 'no-such-queue-get' in vhost '/'")
  })
})

describe('acknowledgements', () => {
  it('requeued messages (reject, nack) come back redelivered, ahead of newer ones, in their original order', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('requeue-order')
    await ch.assertQueue(qn)
    await fill(ch, qn, 6)
    const got: GetMessage[] = []
    for (let i = 0; i < 3; i++) got.push((await ch.get(qn)) as GetMessage)
    expect(got.map(text)).toEqual(['m0', 'm1', 'm2'])
    expect(queue(qn).unackedCount).toBe(3)
    // requeue in scrambled order
    ch.reject(got[2], true)
    ch.nack(got[0], false, true)
    ch.nack(got[1], false, true)
    await waitFor(() => queue(qn).unackedCount === 0 && queue(qn).messageCount === 6)
    const order: [string, boolean][] = []
    for (let i = 0; i < 6; i++) {
      const m = (await ch.get(qn, { noAck: true })) as GetMessage
      order.push([text(m), m.fields.redelivered])
    }
    expect(order).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', true],
      ['m3', false],
      ['m4', false],
      ['m5', false],
    ])
  })

  it('a live consumer gets nacked messages again before newer ones', async () => {
    const { ch } = await amqplibChannel()
    const { ch: pub } = await amqplibChannel()
    const qn = uniq('requeue-live')
    await ch.assertQueue(qn)
    await fill(pub, qn, 6)
    await ch.prefetch(3)
    const got: ConsumeMessage[] = []
    await ch.consume(qn, (m) => got.push(m!))
    await waitFor(() => got.length === 3)
    ch.nack(got[2], true, true) // multiple: m0..m2 back
    await waitFor(() => got.length === 6)
    expect(got.slice(3).map((m) => [text(m), m.fields.redelivered])).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', true],
    ])
    ch.ackAll()
    await waitFor(() => got.length === 9)
    expect(got.slice(6).map((m) => [text(m), m.fields.redelivered])).toEqual([
      ['m3', false],
      ['m4', false],
      ['m5', false],
    ])
  })

  it('ack/nack with multiple settle everything up to the tag; requeue=false drops', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('multiple')
    await ch.assertQueue(qn)
    await fill(ch, qn, 10)
    const got: GetMessage[] = []
    for (let i = 0; i < 8; i++) got.push((await ch.get(qn)) as GetMessage)
    expect(queue(qn).unackedCount).toBe(8)
    expect(queue(qn).messageCount).toBe(2)
    ch.ack(got[2], true) // tags 1..3
    await waitFor(() => queue(qn).unackedCount === 5)
    expect(queue(qn).messageCount).toBe(2)
    ch.nack(got[4], true, false) // tags 4..5 dropped
    await waitFor(() => queue(qn).unackedCount === 3)
    expect(queue(qn).messageCount).toBe(2)
    ch.reject(got[5], false) // tag 6 dropped
    await waitFor(() => queue(qn).unackedCount === 2)
    ch.nack(got[7], true, true) // tags 7..8 requeued
    await waitFor(() => queue(qn).unackedCount === 0)
    expect(queue(qn).messageCount).toBe(4)
    const rest: string[] = []
    for (let i = 0; i < 4; i++) rest.push(text((await ch.get(qn, { noAck: true })) as GetMessage))
    expect(rest).toEqual(['m6', 'm7', 'm8', 'm9'])
  })

  it('ackAll / nackAll (delivery tag 0 with multiple) settle every outstanding delivery', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('all')
    await ch.assertQueue(qn)
    await fill(ch, qn, 6)
    for (let i = 0; i < 3; i++) await ch.get(qn)
    ch.nackAll(true)
    await waitFor(() => queue(qn).unackedCount === 0 && queue(qn).messageCount === 6)
    for (let i = 0; i < 6; i++) await ch.get(qn)
    ch.ackAll()
    await waitFor(() => queue(qn).unackedCount === 0)
    expect(queue(qn).messageCount).toBe(0)
    ch.ackAll() // nothing outstanding: still fine
    await ch.checkQueue(qn)
  })

  it('basic.recover(requeue=true) redelivers every unacked message, marked redelivered', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('recover')
    await ch.assertQueue(qn)
    await fill(ch, qn, 3)
    const got: ConsumeMessage[] = []
    await ch.consume(qn, (m) => got.push(m!))
    await waitFor(() => got.length === 3)
    expect(got.every((m) => !m.fields.redelivered)).toBe(true)
    await ch.recover()
    await waitFor(() => got.length === 6, 5000, 'redeliveries')
    expect(got.slice(3).map((m) => [text(m), m.fields.redelivered])).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', true],
    ])
    expect(queue(qn).unackedCount).toBe(3)
    // the old delivery tags are gone
    const err = nextError(ch)
    ch.ack(got[0])
    const e = await closedWith(ch, err)
    expect(e.code).toBe(406)
    expect(e.message).toContain(`PRECONDITION_FAILED - unknown delivery tag ${got[0].fields.deliveryTag}`)
  })

  it('basic.recover(requeue=false) is not implemented (540), as in RabbitMQ', async () => {
    const conn = await clientConn()
    const errors: string[] = []
    conn.onerror = (e) => errors.push(e.message)
    const ch = await conn.channel()
    await expect(ch.basicRecover(false)).rejects.toThrow()
    await waitFor(() => errors.length > 0)
    expect(errors[0]).toContain('NOT_IMPLEMENTED - requeue=false (540)')
  })

  it('an unknown delivery tag is a 406 channel error', async () => {
    const { conn, ch } = await amqplibChannel()
    const err = nextError(ch)
    ch.ack({ fields: { deliveryTag: 99 } } as unknown as ConsumeMessage)
    const e = await closedWith(ch, err)
    expect(e.code).toBe(406)
    expect(e.message).toContain('PRECONDITION_FAILED - unknown delivery tag 99')
    // reject and nack too
    const ch2 = await conn.createChannel()
    ch2.on('error', () => undefined)
    const err2 = nextError(ch2)
    ch2.reject({ fields: { deliveryTag: 7 } } as unknown as ConsumeMessage, true)
    expect((await closedWith(ch2, err2)).message).toContain('PRECONDITION_FAILED - unknown delivery tag 7')
    const ch3 = await conn.createChannel()
    ch3.on('error', () => undefined)
    const err3 = nextError(ch3)
    ch3.nack({ fields: { deliveryTag: 5 } } as unknown as ConsumeMessage, true, true)
    expect((await closedWith(ch3, err3)).message).toContain('PRECONDITION_FAILED - unknown delivery tag 5')
  })

  it('a double ack is a 406 channel error and the message is not requeued twice', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('double')
    await ch.assertQueue(qn)
    await fill(ch, qn, 2)
    const m = (await ch.get(qn)) as GetMessage
    ch.ack(m)
    const err = nextError(ch)
    ch.ack(m)
    const e = await closedWith(ch, err)
    expect(e.code).toBe(406)
    expect(e.message).toContain(`PRECONDITION_FAILED - unknown delivery tag ${m.fields.deliveryTag}`)
    expect(queue(qn).messageCount).toBe(1)
    expect(queue(qn).unackedCount).toBe(0)
  })

  it('a multiple ack naming an already-acked tag is a 406 and settles nothing (RabbitMQ collect_acks)', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('double-multi')
    await ch.assertQueue(qn)
    await fill(ch, qn, 3)
    const got: GetMessage[] = []
    for (let i = 0; i < 3; i++) got.push((await ch.get(qn)) as GetMessage)
    ch.ack(got[1]) // tag 2
    await waitFor(() => queue(qn).unackedCount === 2)
    const err = nextError(ch)
    ch.ack(got[1], true) // tag 2 again, multiple: unknown
    const e = await closedWith(ch, err)
    expect(e.code).toBe(406)
    expect(e.message).toContain(`unknown delivery tag ${got[1].fields.deliveryTag}`)
    // tag 1 was not acked by the failed multiple ack: the channel close requeued it with tag 3
    await waitFor(() => queue(qn).unackedCount === 0)
    expect(queue(qn).messageCount).toBe(2)
  })

  it('a multiple ack beyond the last delivery tag is a 406', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('beyond')
    await ch.assertQueue(qn)
    await fill(ch, qn, 2)
    await ch.get(qn)
    await ch.get(qn)
    const err = nextError(ch)
    ch.ack({ fields: { deliveryTag: 10 } } as unknown as ConsumeMessage, true)
    const e = await closedWith(ch, err)
    expect(e.code).toBe(406)
    expect(e.message).toContain('unknown delivery tag 10')
    await waitFor(() => queue(qn).messageCount === 2)
  })
})

describe('requeue on close', () => {
  it('unacked messages go back to the queue when their channel closes', async () => {
    const { conn, ch } = await amqplibChannel()
    const qn = uniq('close-ch')
    await ch.assertQueue(qn)
    await fill(ch, qn, 4)
    const got: ConsumeMessage[] = []
    await ch.consume(qn, (m) => got.push(m!))
    await waitFor(() => got.length === 4)
    ch.ack(got[1])
    await waitFor(() => queue(qn).unackedCount === 3)
    expect(queue(qn).messageCount).toBe(0)
    await ch.close()
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(3)
    expect(queue(qn).consumerCount).toBe(0)
    const ch2 = await conn.createChannel()
    const again: GetMessage[] = []
    for (let i = 0; i < 3; i++) again.push((await ch2.get(qn, { noAck: true })) as GetMessage)
    expect(again.map((m) => [text(m), m.fields.redelivered])).toEqual([
      ['m0', true],
      ['m2', true],
      ['m3', true],
    ])
  })

  it('unacked messages go back when their connection closes (cleanly, or the socket just drops)', async () => {
    const qn = uniq('close-conn')
    const { ch: pub } = await amqplibChannel()
    await pub.assertQueue(qn)
    await fill(pub, qn, 3)

    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    const got: ConsumeMessage[] = []
    await ch.consume(qn, (m) => got.push(m!))
    await waitFor(() => got.length === 3)
    expect(queue(qn).unackedCount).toBe(3)
    await conn.close()
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(3)

    // abrupt: destroy the TCP socket without connection.close
    const c2 = await clientConn()
    const ch2 = await c2.channel()
    const got2: AMQPMessage[] = []
    await ch2.basicConsume(qn, { noAck: false }, (m) => void got2.push(m))
    await waitFor(() => got2.length === 3)
    expect(got2.every((m) => m.redelivered)).toBe(true)
    expect(queue(qn).unackedCount).toBe(3)
    ;(c2 as unknown as { socket: net.Socket }).socket.destroy()
    await waitFor(() => queue(qn).unackedCount === 0 && queue(qn).messageCount === 3, 5000, 'requeued after drop')
    expect(queue(qn).consumerCount).toBe(0)
  })
})

describe('channel.flow', () => {
  // RabbitMQ 3.10: flow(active=true) from a client gets flow-ok; active=false closes the connection
  // with 540 NOT_IMPLEMENTED (amqp091-go's TestIntegrationConsumeFlow type-asserts that error)
  it('flow(true) is answered with flow-ok and deliveries go on', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('flow')
    await ch.queueDeclare(qn, { durable: false })
    const got: string[] = []
    await ch.basicConsume(qn, { noAck: true }, (m) => void got.push(m.bodyToString()!))
    expect(await ch.basicFlow(true)).toBe(true)
    const { ch: pub } = await amqplibChannel()
    for (let i = 0; i < 3; i++) pub.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => got.length === 3)
    expect(got).toEqual(['m0', 'm1', 'm2'])
  })

  it('flow(false) closes the connection with 540 NOT_IMPLEMENTED - active=false', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const err = (await ch.basicFlow(false).then(
      () => undefined,
      (e: Error) => e,
    )) as (Error & { code?: number }) | undefined
    expect(err).toBeInstanceOf(Error)
    expect(err!.message).toContain('NOT_IMPLEMENTED - active=false')
    await waitFor(() => conn.closed, 3000, 'connection closed')
    // the same with amqplib: the connection (not just the channel) goes, with code 540
    const c2 = await amqp.connect(b.url)
    const closed = new Promise<AmqpError>((resolve) => c2.once('error', resolve))
    const ch2 = await c2.createChannel()
    ch2.on('error', () => undefined)
    // amqplib has no flow API: send channel.flow(false) through its frame writer
    ;(ch2 as unknown as { sendImmediately: (m: number, f: object) => void }).sendImmediately(0x140014, { active: false })
    const e2 = await closed
    expect(e2.code).toBe(540)
    expect(e2.message).toContain('NOT_IMPLEMENTED - active=false')
  })
})

describe('slow consumer', () => {
  it('20k messages to a consumer that stops reading its socket: the broker holds back, then delivers each exactly once', async () => {
    const N = 20_000
    const qn = uniq('slow')
    const conn = await amqplibConn()
    const ch = await conn.createChannel()
    await ch.assertQueue(qn)
    const stream = (conn as unknown as { connection: { stream: net.Socket } }).connection.stream
    // amqplib reads on 'readable'; take its listeners off so nothing reads the socket
    const readers = stream.listeners('readable') as (() => void)[]
    stream.pause()
    stream.removeAllListeners('readable')

    const seen = new Uint8Array(N)
    let received = 0
    let duplicates = 0
    let redelivered = 0
    let lastTag = 0
    // consume-ok cannot arrive while the socket is not read: send basic.consume, await it later
    const consuming = ch.consume(
      qn,
      (m) => {
        const i = Number(m!.content.toString('latin1', 0, 8))
        if (seen[i]++ > 0) duplicates++
        if (m!.fields.redelivered) redelivered++
        received++
        lastTag = m!.fields.deliveryTag
        if (received % 1000 === 0) ch.ack(m!, true)
      },
      { noAck: false },
    )

    const pubConn = await amqplibConn()
    const pub = await pubConn.createConfirmChannel()
    const pad = Buffer.alloc(1016, 0x2e)
    for (let i = 0; i < N; i++) {
      const body = Buffer.concat([Buffer.from(String(i).padStart(8, '0'), 'latin1'), pad])
      if (!pub.sendToQueue(qn, body)) await new Promise((r) => pub.once('drain', r))
    }
    await pub.waitForConfirms()

    const server = brokerConnOf(conn)
    await waitFor(() => server.writable === false, 5000, 'broker sees socket backpressure')
    const q = queue(qn)
    expect(q.consumerCount).toBe(1)
    expect(q.messageCount).toBeGreaterThan(0) // held back, not pushed into memory
    expect(q.messageCount + q.unackedCount).toBe(N)
    expect(received).toBe(0)
    // what the broker has written but the kernel has not taken stays bounded (not all 20 MB)
    const buffered = (server.socket as unknown as net.Socket).writableLength
    expect(buffered).toBeLessThan((N * 1024) / 4)
    // the broker keeps serving others meanwhile
    const other = await pubConn.createChannel()
    const probe = uniq('probe')
    await other.assertQueue(probe)
    other.sendToQueue(probe, Buffer.from('still alive'))
    const pm = await waitFor(() => other.get(probe, { noAck: true }), 5000, 'probe message')
    expect((pm as GetMessage).content.toString()).toBe('still alive')

    // resume reading
    for (const r of readers) stream.on('readable', r)
    stream.resume()
    for (const r of readers) r()
    await consuming
    await waitFor(() => received === N, 15000, 'all messages received')
    ch.ack({ fields: { deliveryTag: lastTag } } as unknown as ConsumeMessage, true)
    expect(duplicates).toBe(0)
    expect(redelivered).toBe(0)
    expect(seen.every((x) => x === 1)).toBe(true)
    await waitFor(() => q.unackedCount === 0, 5000, 'all acked')
    expect(q.messageCount).toBe(0)
    expect(server.writable).toBe(true)
  }, 30_000)
})
