/**
 * Queue length limits over real TCP: x-max-length and x-max-length-bytes with x-overflow drop-head
 * (oldest dropped or dead-lettered with reason 'maxlen'), reject-publish (basic.nack to a confirming
 * publisher, a silent drop otherwise) and reject-publish-dlx (refused and dead-lettered). Only ready
 * messages count. Assertions through amqplib and @cloudamqp/amqp-client and the broker's queue state.
 */
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'
import type { Queue } from '../../core/queue.js'

const s = brokerSuite('len')
const { uniq, queue, amqplibConn, amqplibChannel, clientConn, confirmChannel } = s

/** Takes every ready message (no-ack) and returns the bodies. */
async function drainBodies(ch: Channel, qn: string): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const m = await ch.get(qn, { noAck: true })
    if (m === false) return out
    out.push(m.content.toString())
  }
}

async function deadLetterTarget(ch: Channel): Promise<{ dlx: string; dlq: string }> {
  const dlx = uniq('dlx')
  const dlq = uniq('dlq')
  await ch.assertExchange(dlx, 'fanout', { durable: false })
  await ch.assertQueue(dlq, { durable: false })
  await ch.bindQueue(dlq, dlx, '')
  return { dlx, dlq }
}

/** Publishes on a confirm channel and resolves with 'ack' or 'nack' for this message. */
function publishConfirmed(ch: ConfirmChannel, qn: string, body: string): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => ch.sendToQueue(qn, Buffer.from(body), {}, (err) => resolve(err ? 'nack' : 'ack')))
}

const deathsOf = (m: GetMessage): Record<string, unknown>[] =>
  (m.properties.headers?.['x-death'] ?? []) as unknown as Record<string, unknown>[]

describe('drop-head (the default)', () => {
  it('x-max-length: the oldest messages are dead-lettered with reason maxlen, the newest stay in order', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length': 3, 'x-dead-letter-exchange': dlx } })
    for (let i = 0; i < 5; i++) ch.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => queue(qn).stats.publish === 5 && queue(dlq).messageCount === 2, 3000, 'two dropped')
    expect(queue(qn).messageCount).toBe(3)
    const dead: GetMessage[] = []
    for (let i = 0; i < 2; i++) dead.push((await ch.get(dlq, { noAck: true })) as GetMessage)
    expect(dead.map((m) => m.content.toString())).toEqual(['m0', 'm1'])
    for (const m of dead) {
      expect(deathsOf(m)[0]).toMatchObject({ reason: 'maxlen', queue: qn, count: 1, exchange: '', 'routing-keys': [qn] })
      expect(m.properties.headers!['x-first-death-reason']).toBe('maxlen')
    }
    expect(await drainBodies(ch, qn)).toEqual(['m2', 'm3', 'm4'])
  })

  it('without a DLX the oldest are simply dropped', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length': 2, 'x-overflow': 'drop-head' } })
    for (let i = 0; i < 6; i++) ch.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => queue(qn).stats.publish === 6)
    expect(queue(qn).messageCount).toBe(2)
    expect(await drainBodies(ch, qn)).toEqual(['m4', 'm5'])
  })

  it('x-max-length-bytes counts body bytes of ready messages; a message larger than the limit goes too', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const qn = uniq('bytes')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length-bytes': 10, 'x-dead-letter-exchange': dlx } })
    // properties and headers do not count, only bodies
    const headers = { padding: 'x'.repeat(200) }
    ch.sendToQueue(qn, Buffer.from('aaaa'), { headers })
    ch.sendToQueue(qn, Buffer.from('bbbb'), { headers })
    await waitFor(() => queue(qn).messageCount === 2)
    expect(queue(qn).readyBytes).toBe(8)
    ch.sendToQueue(qn, Buffer.from('cccc')) // 12 > 10: aaaa goes
    await waitFor(() => queue(dlq).messageCount === 1, 3000, 'aaaa dead-lettered')
    expect(queue(qn).readyBytes).toBe(8)
    ch.sendToQueue(qn, Buffer.from('x'.repeat(11))) // alone over the limit: everything goes, itself included
    await waitFor(() => queue(dlq).messageCount === 4, 3000, 'all dead-lettered')
    expect(queue(qn).messageCount).toBe(0)
    expect(queue(qn).readyBytes).toBe(0)
    const dead = await drainBodies(ch, dlq)
    expect(dead).toEqual(['aaaa', 'bbbb', 'cccc', 'x'.repeat(11)])
  })

  it('x-max-length 0 with a consumer ready: the message is delivered (only messages that would wait are dropped)', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('zero')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length': 0 } })
    ch.sendToQueue(qn, Buffer.from('nobody listens'))
    await waitFor(() => queue(qn).stats.publish === 1)
    expect(queue(qn).messageCount).toBe(0)
    const c = await (await amqplibConn()).createChannel()
    const seen: string[] = []
    await c.consume(qn, (m) => void (m && seen.push(m.content.toString())), { noAck: true })
    for (let i = 0; i < 20; i++) ch.sendToQueue(qn, Buffer.from(`live${i}`))
    await waitFor(() => seen.length === 20, 3000, '20 deliveries')
    expect(seen[0]).toBe('live0')
  })
})

describe('reject-publish', () => {
  it('amqplib confirm channel: publishes over the limit are nacked (callback error); the queue keeps the first ones', async () => {
    const qn = uniq('q')
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    await ch.assertQueue(qn, {
      durable: false,
      arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': dlx },
    })
    const pub = await confirmChannel()
    const results = await Promise.all([0, 1, 2, 3].map((i) => publishConfirmed(pub, qn, `m${i}`)))
    expect(results).toEqual(['ack', 'ack', 'nack', 'nack'])
    expect(queue(qn).messageCount).toBe(2)
    // reject-publish does not dead-letter
    expect(queue(dlq).messageCount).toBe(0)
    expect(await drainBodies(ch, qn)).toEqual(['m0', 'm1'])
    // room again: accepted
    expect(await publishConfirmed(pub, qn, 'later')).toBe('ack')
  })

  it('without confirms the refused message is dropped silently and the channel stays open', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } })
    let closed = false
    ch.on('close', () => (closed = true))
    ch.sendToQueue(qn, Buffer.from('kept'))
    ch.sendToQueue(qn, Buffer.from('refused'))
    await ch.checkQueue(qn) // round trip after both publishes
    await waitFor(() => queue(qn).messageCount === 1)
    expect(closed).toBe(false)
    expect(await drainBodies(ch, qn)).toEqual(['kept'])
  })

  it('amqp-client: basicPublish rejects for a nacked publish', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-max-length-bytes': 5, 'x-overflow': 'reject-publish' } })
    const conn = await clientConn()
    const cch = await conn.channel()
    await cch.confirmSelect()
    await expect(cch.basicPublish('', qn, '12345')).resolves.toBe(1)
    await expect(cch.basicPublish('', qn, '6')).rejects.toThrow()
    expect(queue(qn).messageCount).toBe(1)
    expect(queue(qn).readyBytes).toBe(5)
  })

  it('a message routed to two queues, one of them full: nacked, and still delivered to the other', async () => {
    const { ch } = await amqplibChannel()
    const x = uniq('fan')
    const full = uniq('full')
    const roomy = uniq('roomy')
    await ch.assertExchange(x, 'fanout', { durable: false })
    await ch.assertQueue(full, { durable: false, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } })
    await ch.assertQueue(roomy, { durable: false })
    await ch.bindQueue(full, x, '')
    await ch.bindQueue(roomy, x, '')
    const pub = await confirmChannel()
    const result = await new Promise((resolve) => pub.publish(x, '', Buffer.from('both'), {}, (err) => resolve(err ? 'nack' : 'ack')))
    expect(result).toBe('nack')
    expect(queue(full).messageCount).toBe(0)
    expect(await drainBodies(ch, roomy)).toEqual(['both'])
  })
})

describe('reject-publish-dlx', () => {
  it('the refused message is nacked and dead-lettered with reason maxlen; the queue keeps the first ones', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, {
      durable: false,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': dlx },
    })
    const pub = await confirmChannel()
    const results = await Promise.all(['first', 'second', 'third'].map((body) => publishConfirmed(pub, qn, body)))
    expect(results).toEqual(['ack', 'nack', 'nack'])
    expect(await drainBodies(ch, qn)).toEqual(['first'])
    const dead: GetMessage[] = []
    for (let i = 0; i < 2; i++) dead.push((await ch.get(dlq, { noAck: true })) as GetMessage)
    expect(dead.map((m) => m.content.toString())).toEqual(['second', 'third'])
    for (const m of dead) expect(deathsOf(m)[0]).toMatchObject({ reason: 'maxlen', queue: qn, count: 1 })
  })
})

describe('only ready messages count', () => {
  it('unacknowledged deliveries do not count towards the limit and are never dropped', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await deadLetterTarget(ch)
    const rejecting = uniq('reject')
    const dropping = uniq('drop')
    await ch.assertQueue(rejecting, { durable: false, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } })
    await ch.assertQueue(dropping, { durable: false, arguments: { 'x-max-length': 2, 'x-dead-letter-exchange': dlx } })
    const c = await (await amqplibConn()).createChannel()
    await c.prefetch(2)
    const held: string[] = []
    await c.consume(rejecting, (m) => void (m && held.push(m.content.toString())))
    await c.consume(dropping, (m) => void (m && held.push(m.content.toString())))
    const pub = await confirmChannel()
    // two each go to the consumer (unacked), two more each wait as ready messages
    const r1 = await Promise.all([0, 1, 2, 3].map((i) => publishConfirmed(pub, rejecting, `r${i}`)))
    expect(r1).toEqual(['ack', 'ack', 'ack', 'ack'])
    for (let i = 0; i < 4; i++) await publishConfirmed(pub, dropping, `d${i}`)
    await waitFor(() => held.length === 4, 3000, 'four held deliveries')
    expect(queue(rejecting)).toMatchObject({ messageCount: 2, unackedCount: 2 })
    expect(queue(dropping)).toMatchObject({ messageCount: 2, unackedCount: 2 })
    expect(queue(dlq).messageCount).toBe(0)
    // now both are at the limit
    expect(await publishConfirmed(pub, rejecting, 'r4')).toBe('nack')
    await publishConfirmed(pub, dropping, 'd4')
    await waitFor(() => queue(dlq).messageCount === 1, 3000, 'one dropped')
    expect(await drainBodies(ch, dlq)).toEqual(['d2']) // the oldest ready one, not an unacked one
    expect(queue(dropping)).toMatchObject({ messageCount: 2, unackedCount: 2 })
  })
})
