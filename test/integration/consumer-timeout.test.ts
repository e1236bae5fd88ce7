/**
 * Consumer acknowledgement timeout (RabbitMQ's consumer_timeout), with a broker started at 300 ms: a
 * delivery left unacked longer closes its channel with 406 PRECONDITION_FAILED and RabbitMQ's text,
 * the message is requeued and redelivered elsewhere; acking in time, no-ack consumers and other
 * channels of the same connection are unaffected. Observed through amqplib, amqp-client and the
 * broker's queue state; timing by polling.
 */
import type { Channel, ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'

const TIMEOUT = 300

const s = brokerSuite('ct', { consumerTimeout: TIMEOUT })
const { uniq, queue, amqplibConn, amqplibChannel, clientConn } = s

type AmqpError = Error & { code?: number; classId?: number; methodId?: number }

/** A channel whose close error (if any) is recorded with the time it arrived. */
function watchClose(ch: Channel): { err: AmqpError | undefined; at: number } {
  const state: { err: AmqpError | undefined; at: number } = { err: undefined, at: 0 }
  ch.on('error', (e: AmqpError) => {
    state.err = e
    state.at = Date.now()
  })
  return state
}

const replyText = (e: Error): string | undefined => /with message "(.*)"$/s.exec(e.message)?.[1]
const expectedText = (channel: number): string =>
  `PRECONDITION_FAILED - delivery acknowledgement on channel ${channel} timed out. Timeout value used: ${TIMEOUT} ms. ` +
  'This timeout value can be configured, see consumers doc guide to learn more'

describe('consumer acknowledgement timeout', () => {
  it('an unacked delivery closes its channel with 406 after the timeout; the message is redelivered to another consumer', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false })
    const slowConn = await amqplibConn()
    const slow = await slowConn.createChannel()
    const closed = watchClose(slow)
    const slowGot: ConsumeMessage[] = []
    let deliveredAt = 0
    await slow.consume(qn, (m) => {
      if (m === null) return
      slowGot.push(m)
      deliveredAt = Date.now() // the client's receipt: just after the broker's delivery time
    })
    ch.sendToQueue(qn, Buffer.from('forgotten'))
    await waitFor(() => slowGot.length === 1, 3000, 'first delivery')
    expect(queue(qn).unackedCount).toBe(1)
    // another consumer, attached after the delivery, is waiting
    const other = await (await amqplibConn()).createChannel()
    const otherGot: ConsumeMessage[] = []
    await other.consume(qn, (m) => {
      if (m === null) return
      otherGot.push(m)
      other.ack(m)
    })
    await waitFor(() => closed.err !== undefined, 3000, 'the slow channel closed')
    const err = closed.err!
    expect(err.code).toBe(406)
    expect(replyText(err)).toBe(expectedText(1))
    expect(err.classId).toBe(0)
    expect(err.methodId).toBe(0)
    expect(closed.at - deliveredAt).toBeGreaterThanOrEqual(TIMEOUT - 20)
    expect(closed.at - deliveredAt).toBeLessThan(TIMEOUT + 1000)
    await waitFor(() => otherGot.length === 1, 3000, 'redelivery to the other consumer')
    expect(otherGot[0].content.toString()).toBe('forgotten')
    expect(otherGot[0].fields.redelivered).toBe(true)
    await waitFor(() => queue(qn).unackedCount === 0 && queue(qn).messageCount === 0, 3000, 'settled')
    expect(slowGot).toHaveLength(1)
    // the connection of the closed channel is still usable
    const again = await slowConn.createChannel()
    await again.checkQueue(qn)
  })

  it('acks in time keep the channel open; other channels of the connection are unaffected by a timed-out one', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    const stuck = uniq('stuck')
    await ch.assertQueue(qn, { durable: false })
    await ch.assertQueue(stuck, { durable: false })
    const conn = await amqplibConn()
    const good = await conn.createChannel()
    const goodClosed = watchClose(good)
    let acked = 0
    await good.consume(qn, (m) => {
      if (m === null) return
      good.ack(m)
      acked++
    })
    const bad = await conn.createChannel()
    const badClosed = watchClose(bad)
    await bad.consume(stuck, () => undefined)
    ch.sendToQueue(stuck, Buffer.from('never acked'))
    // keep the good channel busy the whole time, acking each message at once
    let sent = 0
    await waitFor(() => {
      if (sent === acked) {
        ch.sendToQueue(qn, Buffer.from(`ok${sent}`))
        sent++
      }
      return badClosed.err !== undefined
    }, 3000, 'the bad channel timed out')
    expect(badClosed.err!.code).toBe(406)
    expect(replyText(badClosed.err!)).toBe(expectedText(2))
    expect(goodClosed.err).toBeUndefined()
    await good.checkQueue(qn) // still open
    expect(acked).toBeGreaterThan(1)
    await waitFor(() => queue(stuck).messageCount === 1, 3000, 'requeued')
    expect(queue(stuck).ready.peek()!.redelivered).toBe(true)
  })

  it('an unacked basic.get counts too', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false })
    ch.sendToQueue(qn, Buffer.from('fetched'))
    const getter = await (await amqplibConn()).createChannel()
    const closed = watchClose(getter)
    const m = await waitFor(async () => (await getter.get(qn, { noAck: false })) || undefined)
    expect(m.content.toString()).toBe('fetched')
    await waitFor(() => closed.err !== undefined, 3000, 'the channel timed out')
    expect(closed.err!.code).toBe(406)
    await waitFor(() => queue(qn).messageCount === 1, 3000, 'requeued')
    const again = await waitFor(async () => (await ch.get(qn, { noAck: true })) || undefined)
    expect(again.fields.redelivered).toBe(true)
  })

  it('no-ack consumers never time out (amqp-client)', async () => {
    const { ch } = await amqplibChannel()
    const noAckQ = uniq('noack')
    const marker = uniq('canary')
    await ch.assertQueue(noAckQ, { durable: false })
    await ch.assertQueue(marker, { durable: false })
    const conn = await clientConn()
    const cch = await conn.channel()
    const got: string[] = []
    await cch.basicConsume(noAckQ, { noAck: true }, (m) => void got.push(m.bodyToString()!))
    ch.sendToQueue(noAckQ, Buffer.from('free'))
    await waitFor(() => got.length === 1)
    // a canary channel holding an unacked message proves the timeout has passed
    const canary = await (await amqplibConn()).createChannel()
    const canaryClosed = watchClose(canary)
    await canary.consume(marker, () => undefined)
    ch.sendToQueue(marker, Buffer.from('canary'))
    await waitFor(() => canaryClosed.err !== undefined, 3000, 'the canary timed out')
    expect(cch.closed).toBe(false)
    ch.sendToQueue(noAckQ, Buffer.from('still open'))
    await waitFor(() => got.length === 2, 3000, 'a second delivery')
    expect(got).toEqual(['free', 'still open'])
  })

  it('amqp-client: the channel is closed with 406 and its pending operations fail', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false })
    const conn = await clientConn()
    const cch = await conn.channel()
    const got: unknown[] = []
    await cch.basicConsume(qn, { noAck: false }, (m) => void got.push(m))
    ch.sendToQueue(qn, Buffer.from('slow'))
    await waitFor(() => got.length === 1)
    await waitFor(() => cch.closed, 3000, 'amqp-client channel closed')
    await expect(cch.queueDeclare(qn, { passive: true })).rejects.toThrow()
    await waitFor(() => queue(qn).messageCount === 1, 3000, 'requeued')
    // the connection still works
    const again = await conn.channel()
    const { messageCount } = await again.queueDeclare(qn, { passive: true })
    expect(messageCount).toBe(1)
  })
})
