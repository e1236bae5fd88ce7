/**
 * Dead-lettering over real TCP (amqplib and @cloudamqp/amqp-client): reject/nack without requeue, the
 * x-death history and x-first/last-death headers, x-dead-letter-routing-key, missing DLXs, dead-letter
 * cycles (dropped when fully automatic, allowed when a client rejected inside the cycle), header types
 * preserved byte for byte, expiration removed, the delivery limit's extra paths, dead-lettering inside
 * transactions, and alternate exchanges for unroutable messages. Assertions go through the clients and
 * the broker's queue state.
 */
import type { Channel, GetMessage } from 'amqplib'
import type { AMQPMessage } from '@cloudamqp/amqp-client'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'
import type { Message } from '../../core/message.js'
import { Decoder } from '../../core/wire/field-table.js'

const s = brokerSuite('dl')
const { uniq, queue, amqplibConn, amqplibChannel, clientConn } = s

/** Polls basic.get (no-ack) until a message arrives. */
async function nextMessage(ch: Channel, qn: string, timeout = 3000): Promise<GetMessage> {
  return waitFor(async () => {
    const m = await ch.get(qn, { noAck: true })
    return m === false ? undefined : m
  }, timeout, `a message in ${qn}`)
}

/** A DLX (fanout) with one bound queue; returns both names. */
async function deadLetterTarget(ch: Channel, type = 'fanout', bindKey = ''): Promise<{ dlx: string; dlq: string }> {
  const dlx = uniq('dlx')
  const dlq = uniq('dlq')
  await ch.assertExchange(dlx, type, { durable: false })
  await ch.assertQueue(dlq, { durable: false })
  await ch.bindQueue(dlq, dlx, bindKey)
  return { dlx, dlq }
}

type Death = Record<string, unknown>
const deathsOf = (m: { properties: { headers?: Record<string, unknown> } }): Death[] =>
  (m.properties.headers?.['x-death'] ?? []) as Death[]

/** The raw bytes (type tag + value) of each header entry of a stored message, by name. */
function rawHeaderEntries(m: Message): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  const props = m.props
  if (m.headersAt < 0) return out
  const d = new Decoder(props, m.headersAt, props.length)
  const len = d.long()
  const end = d.pos + len
  while (d.pos < end) {
    const key = d.shortstr()
    const start = d.pos
    d.fieldValue()
    out.set(key, Buffer.from(props.subarray(start, d.pos)))
  }
  return out
}

describe('reject and nack without requeue', () => {
  it('basic.reject(requeue=false) republishes to the DLX with x-death and the x-first/last-death headers', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch, 'direct', 'orders.created')
    const src = uniq('src-x')
    const work = uniq('work')
    await ch.assertExchange(src, 'direct', { durable: false })
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    await ch.bindQueue(work, src, 'orders.created')
    ch.publish(src, 'orders.created', Buffer.from('bad order'), { headers: { app: 'shop' }, messageId: 'm-1' })
    const before = Math.floor(Date.now() / 1000)
    const got = await nextMessageAck(ch, work)
    ch.reject(got, false)

    const dead = await nextMessage(ch, dlq)
    const after = Math.ceil(Date.now() / 1000)
    expect(dead.content.toString()).toBe('bad order')
    // republished to the DLX with the original routing key
    expect(dead.fields.exchange).toBe(dlx)
    expect(dead.fields.routingKey).toBe('orders.created')
    expect(dead.fields.redelivered).toBe(false)
    expect(dead.properties.messageId).toBe('m-1')
    const h = dead.properties.headers!
    expect(h.app).toBe('shop')
    const deaths = deathsOf(dead)
    expect(deaths).toHaveLength(1)
    expect(deaths[0]).toMatchObject({
      count: 1,
      reason: 'rejected',
      queue: work,
      exchange: src,
      'routing-keys': ['orders.created'],
    })
    expect(Object.keys(deaths[0]).sort()).toEqual(['count', 'exchange', 'queue', 'reason', 'routing-keys', 'time'])
    // time is an AMQP timestamp (seconds), amqplib decodes it as {'!': 'timestamp'}
    const time = deaths[0].time as { '!': string; value: number }
    expect(time['!']).toBe('timestamp')
    expect(time.value).toBeGreaterThanOrEqual(before - 1)
    expect(time.value).toBeLessThanOrEqual(after)
    expect(h).toMatchObject({
      'x-first-death-queue': work,
      'x-first-death-reason': 'rejected',
      'x-first-death-exchange': src,
      'x-last-death-queue': work,
      'x-last-death-reason': 'rejected',
      'x-last-death-exchange': src,
    })
    const q = queue(work)
    expect(q.messageCount).toBe(0)
    expect(q.unackedCount).toBe(0)
    expect(q.stats.deadLettered).toBe(1)
  })

  it('basic.nack(requeue=false, multiple) dead-letters every message it names (amqp-client)', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    const conn = await clientConn()
    const cch = await conn.channel()
    await cch.prefetch(10)
    const got: AMQPMessage[] = []
    await cch.basicConsume(work, { noAck: false }, (m) => void got.push(m))
    for (let i = 0; i < 3; i++) await cch.basicPublish('', work, `n${i}`)
    await waitFor(() => got.length === 3, 3000, 'three deliveries')
    await got[2].nack(false, true) // requeue=false, multiple=true
    await waitFor(() => queue(dlq).messageCount === 3, 3000, 'three dead-lettered')
    const dead: GetMessage[] = []
    for (let i = 0; i < 3; i++) dead.push(await nextMessage(ch, dlq))
    expect(dead.map((m) => m.content.toString())).toEqual(['n0', 'n1', 'n2'])
    for (const m of dead) {
      expect(deathsOf(m)[0]).toMatchObject({ count: 1, reason: 'rejected', queue: work, exchange: '', 'routing-keys': [work] })
      expect(m.properties.headers!['x-first-death-exchange']).toBe('')
    }
    expect(queue(work).unackedCount).toBe(0)
    expect(queue(work).messageCount).toBe(0)
  })

  it('amqp-client sees x-death count as a number and time as a Date', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('x'))
    ch.reject(await nextMessageAck(ch, work), false)
    const conn = await clientConn()
    const cch = await conn.channel()
    const dead = await waitFor(async () => (await cch.basicGet(dlq, { noAck: true })) ?? undefined, 3000, 'dead message')
    const death = (dead.properties.headers!['x-death'] as Record<string, unknown>[])[0]
    expect(death.count).toBe(1)
    expect(death.time).toBeInstanceOf(Date)
    expect(Math.abs((death.time as Date).getTime() - Date.now())).toBeLessThan(5000)
  })

  it('x-dead-letter-routing-key replaces the routing key; x-death keeps the original one', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch, 'direct', 'failed')
    const other = uniq('other-dlq')
    await ch.assertQueue(other, { durable: false })
    await ch.bindQueue(other, dlx, 'orig') // would match the original key: must stay empty
    const work = uniq('work')
    await ch.assertQueue(work, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'failed' },
    })
    await ch.bindQueue(work, 'amq.direct', 'orig')
    ch.publish('amq.direct', 'orig', Buffer.from('rk'))
    ch.nack(await nextMessageAck(ch, work), false, false)
    const dead = await nextMessage(ch, dlq)
    expect(dead.fields.routingKey).toBe('failed')
    expect(deathsOf(dead)[0]).toMatchObject({ exchange: 'amq.direct', 'routing-keys': ['orig'], queue: work })
    expect(queue(other).messageCount).toBe(0)
  })

  it('dead-lettered twice through two queues: two x-death entries, newest first; first-death stays, last-death moves', async () => {
    const { ch } = await amqplibChannel()
    const second = await deadLetterTarget(ch)
    const a = uniq('a')
    const bq = uniq('b')
    const dlxA = uniq('dlx-a')
    await ch.assertExchange(dlxA, 'fanout', { durable: false })
    await ch.assertQueue(a, { durable: false, arguments: { 'x-dead-letter-exchange': dlxA } })
    await ch.assertQueue(bq, { durable: false, arguments: { 'x-dead-letter-exchange': second.dlx } })
    await ch.bindQueue(bq, dlxA, '')
    ch.sendToQueue(a, Buffer.from('twice'))
    ch.reject(await nextMessageAck(ch, a), false)
    const inB = await nextMessageAck(ch, bq)
    expect(inB.fields.exchange).toBe(dlxA)
    ch.reject(inB, false)
    const dead = await nextMessage(ch, second.dlq)
    const deaths = deathsOf(dead)
    expect(deaths.map((d) => [d.queue, d.reason, d.count, d.exchange])).toEqual([
      [bq, 'rejected', 1, dlxA],
      [a, 'rejected', 1, ''],
    ])
    expect(dead.properties.headers).toMatchObject({
      'x-first-death-queue': a,
      'x-first-death-exchange': '',
      'x-last-death-queue': bq,
      'x-last-death-exchange': dlxA,
    })
  })

  it('a cycle with a client rejection is allowed, and the same (queue, reason) counts up in one entry', async () => {
    const { ch } = await amqplibChannel()
    const loop = uniq('self')
    // dead-letters to itself through the default exchange
    await ch.assertQueue(loop, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': loop },
    })
    ch.sendToQueue(loop, Buffer.from('again'), { headers: { keep: 'me' } })
    for (let i = 1; i <= 3; i++) {
      const m = await nextMessageAck(ch, loop)
      if (i > 1) {
        const deaths = deathsOf(m)
        expect(deaths).toHaveLength(1)
        expect(deaths[0]).toMatchObject({ count: i - 1, reason: 'rejected', queue: loop })
        expect(m.properties.headers!.keep).toBe('me')
        expect(m.properties.headers!['x-first-death-queue']).toBe(loop)
      }
      ch.reject(m, false)
    }
    const last = await nextMessage(ch, loop)
    expect(deathsOf(last)[0].count).toBe(3)
  })
})

describe('where a dead-lettered message cannot go', () => {
  it('a DLX that does not exist: the message is dropped and the broker carries on', async () => {
    const { ch } = await amqplibChannel()
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': uniq('no-such-dlx') } })
    for (let i = 0; i < 3; i++) ch.sendToQueue(work, Buffer.from(`lost${i}`))
    for (let i = 0; i < 3; i++) ch.reject(await nextMessageAck(ch, work), false)
    await waitFor(() => queue(work).unackedCount === 0, 3000, 'rejects settled')
    expect(queue(work).messageCount).toBe(0)
    expect(queue(work).stats.deadLettered).toBe(3)
    // the broker is healthy: the same channel keeps working
    ch.sendToQueue(work, Buffer.from('fine'))
    expect((await nextMessage(ch, work)).content.toString()).toBe('fine')
  })

  it('a fully automatic cycle (TTL queue dead-lettering to itself) is dropped', async () => {
    const { ch } = await amqplibChannel()
    const loop = uniq('ttl-self')
    const fan = uniq('cycle-fan')
    const observer = uniq('observer')
    await ch.assertExchange(fan, 'fanout', { durable: false })
    await ch.assertQueue(observer, { durable: false })
    await ch.assertQueue(loop, { durable: false, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': fan } })
    await ch.bindQueue(observer, fan, '')
    await ch.bindQueue(loop, fan, '')
    ch.sendToQueue(loop, Buffer.from('round'))
    await waitFor(() => queue(observer).messageCount === 1, 3000, 'the expired message at the observer')
    // the copy for the looping queue was dropped (it would otherwise be back in the queue right now)
    expect(queue(loop).messageCount).toBe(0)
    const seen = await nextMessage(ch, observer)
    expect(deathsOf(seen)).toMatchObject([{ queue: loop, reason: 'expired', count: 1 }])
  })

  it('a fully automatic cycle via the default exchange (no dead-letter routing key) is dropped', async () => {
    const { ch } = await amqplibChannel()
    const loop = uniq('ttl-default')
    await ch.assertQueue(loop, { durable: false, arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': '' } })
    ch.sendToQueue(loop, Buffer.from('round'))
    await waitFor(() => queue(loop).stats.deadLettered === 1 && queue(loop).messageCount === 0, 3000, 'expired once')
    expect(queue(loop).stats.publish).toBe(1)
  })

  it('an automatic cycle after an earlier rejection in another queue is still dropped (RabbitMQ looks only inside the cycle)', async () => {
    const { ch } = await amqplibChannel()
    const entry = uniq('entry')
    const loop = uniq('loop')
    const fan = uniq('loop-fan')
    const observer = uniq('observer')
    await ch.assertExchange(fan, 'fanout', { durable: false })
    await ch.assertQueue(observer, { durable: false })
    await ch.assertQueue(loop, { durable: false, arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': fan } })
    await ch.bindQueue(observer, fan, '')
    await ch.bindQueue(loop, fan, '')
    await ch.assertQueue(entry, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': loop },
    })
    ch.sendToQueue(entry, Buffer.from('poison'))
    ch.reject(await nextMessageAck(ch, entry), false)
    await waitFor(() => queue(observer).messageCount >= 1, 3000, 'the expired message at the observer')
    expect(queue(loop).messageCount).toBe(0)
    expect(queue(observer).messageCount).toBe(1)
    const seen = await nextMessage(ch, observer)
    expect(deathsOf(seen).map((d) => [d.queue, d.reason, d.count])).toEqual([
      [loop, 'expired', 1],
      [entry, 'rejected', 1],
    ])
  })

  it('a DLX that cannot route the message sends it on to its alternate exchange', async () => {
    const { ch } = await amqplibChannel()
    const ae = uniq('dlx-ae')
    const aeq = uniq('dlx-ae-q')
    const dlx = uniq('dlx-with-ae')
    await ch.assertExchange(ae, 'fanout', { durable: false })
    await ch.assertQueue(aeq, { durable: false })
    await ch.bindQueue(aeq, ae, '')
    await ch.assertExchange(dlx, 'direct', { durable: false, alternateExchange: ae })
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('via ae'))
    ch.reject(await nextMessageAck(ch, work), false)
    const dead = await nextMessage(ch, aeq)
    expect(dead.content.toString()).toBe('via ae')
    expect(dead.fields.exchange).toBe(dlx)
    expect(deathsOf(dead)[0]).toMatchObject({ reason: 'rejected', queue: work })
  })

  it('a message dropped by a length limit during a publish through exchange-to-exchange bindings reaches the DLQ', async () => {
    const { ch } = await amqplibChannel()
    const front = uniq('front')
    const hub = uniq('hub')
    const dlFront = uniq('dl-front')
    const work = uniq('work')
    const dlq = uniq('dlq')
    await ch.assertExchange(front, 'fanout', { durable: false })
    await ch.assertExchange(hub, 'direct', { durable: false })
    await ch.assertExchange(dlFront, 'fanout', { durable: false })
    await ch.bindExchange(hub, front, '')
    await ch.bindExchange(hub, dlFront, '')
    await ch.assertQueue(work, {
      durable: false,
      arguments: { 'x-max-length': 1, 'x-dead-letter-exchange': dlFront, 'x-dead-letter-routing-key': 'dead' },
    })
    await ch.assertQueue(dlq, { durable: false })
    await ch.bindQueue(work, hub, 'work')
    await ch.bindQueue(dlq, hub, 'dead')
    ch.publish(front, 'work', Buffer.from('first'))
    ch.publish(front, 'work', Buffer.from('second'))
    const dead = await nextMessage(ch, dlq)
    expect(dead.content.toString()).toBe('first')
    expect(deathsOf(dead)[0]).toMatchObject({ reason: 'maxlen', queue: work, exchange: front })
    expect((await nextMessage(ch, work)).content.toString()).toBe('second')
  })
})

describe('what dead-lettering keeps and changes', () => {
  it('user headers keep their wire types byte for byte (amqplib: byte, short, uint8, float, timestamp, decimal …)', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    const headers = {
      small: 5, // amqplib sends 'b' (signed byte)
      short: 300, // 's'
      u8: { '!': 'uint8', value: 200 },
      u16: { '!': 'uint16', value: 60000 },
      u32: { '!': 'uint32', value: 4000000000 },
      f32: { '!': 'float', value: 1.5 },
      ts: { '!': 'timestamp', value: 1700000000 },
      dec: { '!': 'decimal', value: { places: 2, digits: 12345 } },
      bin: Buffer.from([0, 1, 255]),
      nested: { inner: 7, list: [1, 'two'] },
      str: 'text',
    }
    ch.sendToQueue(work, Buffer.from('typed'), { headers, contentType: 'text/plain', priority: 3, persistent: true })
    await waitFor(() => queue(work).messageCount === 1)
    const original = rawHeaderEntries(queue(work).ready.peek()!.message)
    expect(original.get('small')![0]).toBe(0x62) // 'b'
    expect(original.get('short')![0]).toBe(0x73) // 's'
    ch.reject(await nextMessageAck(ch, work), false)
    await waitFor(() => queue(dlq).messageCount === 1, 3000, 'dead-lettered')
    const dead = rawHeaderEntries(queue(dlq).ready.peek()!.message)
    for (const [k, raw] of original) expect(dead.get(k), k).toEqual(raw)
    // x-death was added with RabbitMQ's types: count long, time timestamp
    const got = await nextMessage(ch, dlq)
    expect(got.properties.headers).toMatchObject({
      small: 5,
      short: 300,
      u8: 200,
      u16: 60000,
      u32: 4000000000,
      f32: 1.5,
      ts: { '!': 'timestamp', value: 1700000000 },
      dec: { '!': 'decimal', value: { places: 2, digits: 12345 } },
      nested: { inner: 7, list: [1, 'two'] },
      str: 'text',
    })
    expect(got.properties).toMatchObject({ contentType: 'text/plain', priority: 3, deliveryMode: 2 })
  })

  it('user headers keep their wire types (amqp-client: float32, timestamp, byte array, long)', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    const conn = await clientConn()
    const cch = await conn.channel()
    const when = new Date(1700000000000)
    await cch.basicPublish('', work, 'typed', {
      headers: { f: 1.5, when, bytes: new Uint8Array([9, 8, 7]), big: 2 ** 40, neg: -3 },
      correlationId: 'c-1',
      appId: 'client',
    })
    await waitFor(() => queue(work).messageCount === 1)
    const original = rawHeaderEntries(queue(work).ready.peek()!.message)
    expect(original.get('f')![0]).toBe(0x66) // 'f' float32: a broker re-encoding it would write 'd'
    const m = await waitFor(async () => (await cch.basicGet(work, { noAck: false })) ?? undefined)
    await m.reject(false)
    await waitFor(() => queue(dlq).messageCount === 1, 3000, 'dead-lettered')
    const dead = rawHeaderEntries(queue(dlq).ready.peek()!.message)
    for (const [k, raw] of original) expect(dead.get(k), k).toEqual(raw)
    const got = await waitFor(async () => (await cch.basicGet(dlq, { noAck: true })) ?? undefined)
    const h = got.properties.headers!
    expect(h.f).toBe(1.5)
    expect(h.when).toEqual(when)
    expect(h.bytes).toEqual(new Uint8Array([9, 8, 7]))
    expect(h.big).toBe(2 ** 40)
    expect(h.neg).toBe(-3)
    expect(got.properties.correlationId).toBe('c-1')
    expect(got.properties.appId).toBe('client')
  })

  it('the expiration property is removed and recorded as original-expiration; queue TTL adds none', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 60000 } })
    ch.sendToQueue(work, Buffer.from('with expiration'), { expiration: '50000' })
    ch.sendToQueue(work, Buffer.from('queue ttl only'))
    ch.reject(await nextMessageAck(ch, work), false)
    ch.reject(await nextMessageAck(ch, work), false)
    const first = await nextMessage(ch, dlq)
    expect(first.properties.expiration).toBeUndefined()
    expect(deathsOf(first)[0]['original-expiration']).toBe('50000')
    const stored = await nextMessage(ch, dlq)
    expect(stored.properties.expiration).toBeUndefined()
    expect(deathsOf(stored)[0]).not.toHaveProperty('original-expiration')
  })

  it('a dead-lettered message does not keep its per-message TTL in the next queue', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('keep'), { expiration: '60000' })
    ch.reject(await nextMessageAck(ch, work), false)
    await waitFor(() => queue(dlq).messageCount === 1)
    const env = queue(dlq).ready.peek()!
    expect(env.expiresAt).toBe(0)
    expect(env.message.ttl).toBe(-1)
  })
})

describe('delivery limit: the paths beyond nack+requeue', () => {
  it('a channel closing with the message unacked counts as a return', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-delivery-limit': 1, 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('crashy'))
    const counts: unknown[] = []
    for (let i = 0; i < 2; i++) {
      const { conn } = await amqplibChannel()
      const c = await conn.createChannel()
      const m = await nextMessageAck(c, work)
      counts.push(m.properties.headers?.['x-delivery-count'])
      await c.close() // unacked: back to the queue, delivery count + 1
    }
    const dead = await nextMessage(ch, dlq)
    expect(counts).toEqual([undefined, 1])
    expect(deathsOf(dead)[0]).toMatchObject({ reason: 'delivery_limit', queue: work, count: 1 })
    expect(dead.properties.headers!['x-first-death-reason']).toBe('delivery_limit')
    expect(queue(work).messageCount).toBe(0)
    expect(queue(work).unackedCount).toBe(0)
  })

  it('x-delivery-limit 0: the first return dead-letters (nack with requeue, and a closing channel)', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-delivery-limit': 0, 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('once'))
    ch.nack(await nextMessageAck(ch, work), false, true)
    const first = await nextMessage(ch, dlq)
    expect(first.content.toString()).toBe('once')
    expect(deathsOf(first)[0].reason).toBe('delivery_limit')
    ch.sendToQueue(work, Buffer.from('twice'))
    const c = await (await amqplibConn()).createChannel()
    await nextMessageAck(c, work)
    await c.close()
    const second = await nextMessage(ch, dlq)
    expect(second.content.toString()).toBe('twice')
    expect(queue(work).messageCount).toBe(0)
  })

  it('without a DLX the message over its limit is dropped', async () => {
    const { ch } = await amqplibChannel()
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-delivery-limit': 1 } })
    ch.sendToQueue(work, Buffer.from('doomed'))
    let deliveries = 0
    await ch.consume(work, (m) => {
      if (m === null) return
      deliveries++
      ch.nack(m, false, true)
    })
    await waitFor(() => queue(work).stats.deadLettered === 1, 3000, 'dropped over the limit')
    expect(deliveries).toBe(2)
    expect(queue(work).messageCount).toBe(0)
    expect(queue(work).unackedCount).toBe(0)
  })

  it('classic queues without a limit add no x-delivery-count; quorum queues do', async () => {
    const { ch } = await amqplibChannel()
    const classic = uniq('classic')
    const quorum = uniq('quorum')
    await ch.assertQueue(classic, { durable: false })
    await ch.assertQueue(quorum, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    for (const qn of [classic, quorum]) {
      ch.sendToQueue(qn, Buffer.from('again'), { headers: { mine: 1 } })
      ch.nack(await nextMessageAck(ch, qn), false, true)
      const again = await nextMessageAck(ch, qn)
      expect(again.fields.redelivered).toBe(true)
      expect(again.properties.headers?.mine).toBe(1)
      if (qn === classic) expect(again.properties.headers).not.toHaveProperty('x-delivery-count')
      else expect(again.properties.headers?.['x-delivery-count']).toBe(1)
      ch.ack(again)
    }
    await ch.deleteQueue(quorum)
  })
})

describe('dead-lettering inside a transaction', () => {
  it('a reject without requeue dead-letters on commit, not before; a rolled-back reject does nothing', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const work = uniq('work')
    await ch.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } })
    ch.sendToQueue(work, Buffer.from('tx'))
    await waitFor(() => queue(work).messageCount === 1)
    const conn = await clientConn()
    const tch = await conn.channel()
    const m = await waitFor(async () => (await tch.basicGet(work, { noAck: false })) ?? undefined)
    await tch.txSelect()
    await m.reject(false)
    await tch.txRollback()
    expect(queue(dlq).messageCount).toBe(0)
    expect(queue(work).unackedCount).toBe(1)
    await tch.basicReject(m.deliveryTag, false) // (m.reject() would be a no-op: amqp-client remembers the first)
    await tch.queueDeclare(work, { passive: true }) // a round trip: the reject has been processed
    expect(queue(dlq).messageCount).toBe(0)
    expect(queue(work).stats.deadLettered).toBe(0)
    await tch.txCommit()
    const dead = await nextMessage(ch, dlq)
    expect(deathsOf(dead)[0]).toMatchObject({ reason: 'rejected', queue: work })
    expect(queue(work).unackedCount).toBe(0)
  })
})

describe('alternate exchanges', () => {
  it('amqp-client: a mandatory message routed by the alternate exchange is not returned; one it cannot route is', async () => {
    const { ch } = await amqplibChannel()
    const ae = uniq('ae')
    const aeq = uniq('ae-q')
    const x = uniq('main')
    const deadEnd = uniq('dead-end-ae')
    const y = uniq('main2')
    await ch.assertExchange(ae, 'fanout', { durable: false })
    await ch.assertQueue(aeq, { durable: false })
    await ch.bindQueue(aeq, ae, '')
    await ch.assertExchange(x, 'topic', { durable: false, alternateExchange: ae })
    await ch.assertExchange(deadEnd, 'fanout', { durable: false }) // exists but has no bindings
    await ch.assertExchange(y, 'direct', { durable: false, alternateExchange: deadEnd })
    const conn = await clientConn()
    const cch = await conn.channel()
    await cch.confirmSelect()
    const returned: string[] = []
    cch.onReturn = (m: AMQPMessage) => void returned.push(`${m.replyCode}:${m.bodyToString()}`)
    await cch.basicPublish(x, 'no.binding', 'caught', {}, true)
    await cch.basicPublish(y, 'nothing', 'returned', {}, true)
    expect(returned).toEqual(['312:returned'])
    const got = await nextMessage(ch, aeq)
    expect(got.content.toString()).toBe('caught')
    expect(got.fields.exchange).toBe(x)
    expect(got.fields.routingKey).toBe('no.binding')
    expect(queue(aeq).messageCount).toBe(0)
  })
})

// ---- helpers using the channel -------------------------------------------------------------

/** basic.get with acks, polled until a message arrives. */
async function nextMessageAck(ch: Channel, qn: string, timeout = 3000): Promise<GetMessage> {
  return waitFor(async () => {
    const m = await ch.get(qn, { noAck: false })
    return m === false ? undefined : m
  }, timeout, `a message in ${qn}`)
}
