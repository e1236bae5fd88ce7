/**
 * Message deduplication (rabbitmq-message-deduplication's arguments, also LavinMQ's) over real TCP
 * with amqplib and @cloudamqp/amqp-client: the exchange window (x-cache-size, x-cache-ttl, the
 * per-message x-cache-ttl header, the message-id fallback, confirms and mandatory returns of
 * duplicates, the plugin's exchange type) and the queue window (a duplicate of a message in the
 * queue is dropped until that message is acknowledged).
 */
import type { ConfirmChannel } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite, channelError, replyText } from '../helpers/suite.js'

const s = brokerSuite('dedup')
const { uniq, amqplibConn: conn, clientConn: client, confirmChannel } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})
const count = (q: string): number => s.queue(q).messageCount

/** A direct exchange with deduplication on and a queue bound to it under key 'k'. */
async function dedupExchange(ch: ConfirmChannel, args: Record<string, unknown>, type = 'direct'): Promise<{ x: string; q: string }> {
  const x = uniq('x')
  const q = uniq('q')
  await ch.assertExchange(x, type, { durable: false, arguments: { 'x-message-deduplication': true, ...args } })
  await ch.assertQueue(q, { durable: false })
  await ch.bindQueue(q, x, 'k')
  return { x, q }
}

const key = (k: unknown, extra: Record<string, unknown> = {}): { headers: Record<string, unknown> } => ({
  headers: { 'x-deduplication-header': k, ...extra },
})

describe('exchange window', () => {
  it('drops a message whose x-deduplication-header was seen, and confirms it (amqplib)', async () => {
    const ch = await confirmChannel()
    const { x, q } = await dedupExchange(ch, { 'x-cache-size': 10 })
    const acked: number[] = []
    for (const [i, k] of ['a', 'a', 'b', 'a', 'b', 'c'].entries()) {
      ch.publish(x, 'k', Buffer.from(`${i}`), key(k), (err) => {
        if (err == null) acked.push(i)
      })
    }
    await ch.waitForConfirms()
    expect(acked.sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(count(q)).toBe(3)
    const got: string[] = []
    for (let m = await ch.get(q, { noAck: true }); m !== false; m = await ch.get(q, { noAck: true })) got.push(m.content.toString())
    expect(got).toEqual(['0', '2', '5'])
    // typed keys: the number 1 and the string "1" differ, as in Erlang; no key at all is never a duplicate
    ch.publish(x, 'k', Buffer.from('n'), key(1))
    ch.publish(x, 'k', Buffer.from('s'), key('1'))
    ch.publish(x, 'k', Buffer.from('none'))
    ch.publish(x, 'k', Buffer.from('none'))
    await ch.waitForConfirms()
    expect(count(q)).toBe(4)
    expect(b.broker.vhost('/')!.exchanges.get(x)!.dedup!.duplicates).toBe(3)
  })

  it('uses the message-id property when the header is absent (Warren), and x-deduplication-header names the header (LavinMQ)', async () => {
    const ch = await confirmChannel()
    const { x, q } = await dedupExchange(ch, { 'x-cache-size': 10, 'x-deduplication-header': 'order' })
    for (const id of ['m1', 'm1', 'm2']) ch.publish(x, 'k', Buffer.from(id), { messageId: id })
    ch.publish(x, 'k', Buffer.from('o'), { headers: { order: 'm1' }, messageId: 'other' })
    ch.publish(x, 'k', Buffer.from('o'), { headers: { order: 'o7' } })
    ch.publish(x, 'k', Buffer.from('o'), { headers: { order: 'o7' } })
    await ch.waitForConfirms()
    expect(count(q)).toBe(3)
  })

  it('x-cache-size: the oldest key leaves the full window', async () => {
    const ch = await confirmChannel()
    const { x, q } = await dedupExchange(ch, { 'x-cache-size': 2 })
    for (const k of ['a', 'b', 'c', 'a', 'c']) ch.publish(x, 'k', Buffer.from(k), key(k))
    await ch.waitForConfirms()
    // a was evicted by c, so it passes again (and evicts b); c is still there
    expect(count(q)).toBe(4)
  })

  it('x-cache-ttl (exchange) and the x-cache-ttl header (per message) end a key\'s window', async () => {
    const ch = await confirmChannel()
    const { x, q } = await dedupExchange(ch, { 'x-cache-size': 100, 'x-cache-ttl': 300 })
    const t0 = Date.now()
    ch.publish(x, 'k', Buffer.from('1'), key('t'))
    ch.publish(x, 'k', Buffer.from('2'), key('t'))
    // a 50 ms TTL of its own
    ch.publish(x, 'k', Buffer.from('3'), key('short', { 'x-cache-ttl': 50 }))
    ch.publish(x, 'k', Buffer.from('4'), key('short'))
    await ch.waitForConfirms()
    expect(count(q)).toBe(2)
    await waitFor(async () => {
      ch.publish(x, 'k', Buffer.from('again'), key('short'))
      await ch.waitForConfirms()
      return count(q) === 3
    }, 3000, 'the short key to expire')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50)
    expect(Date.now() - t0).toBeLessThan(300)
    await waitFor(async () => {
      ch.publish(x, 'k', Buffer.from('again'), key('t'))
      await ch.waitForConfirms()
      return count(q) === 4
    }, 3000, 'the exchange TTL to expire')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
  })

  it('a duplicate is unroutable: returned 312 NO_ROUTE when mandatory (the plugin routes it to no queue)', async () => {
    const ch = await confirmChannel()
    const { x, q } = await dedupExchange(ch, { 'x-cache-size': 10 })
    const returned: string[] = []
    ch.on('return', (m) => returned.push(m.content.toString()))
    ch.publish(x, 'k', Buffer.from('first'), { mandatory: true, ...key('r') })
    ch.publish(x, 'k', Buffer.from('dup'), { mandatory: true, ...key('r') })
    await ch.waitForConfirms()
    await waitFor(() => returned.length === 1)
    expect(returned).toEqual(['dup'])
    expect(count(q)).toBe(1)
  })

  it('refuses bad arguments with the plugin texts (406)', async () => {
    const c = await conn()
    const cases: [Record<string, unknown>, string][] = [
      [{}, "PRECONDITION_FAILED - Missing or invalid argument, 'x-cache-size' must be an integer greater than 0"],
      [{ 'x-cache-size': 0 }, "PRECONDITION_FAILED - Missing or invalid argument, 'x-cache-size' must be an integer greater than 0"],
      [{ 'x-cache-size': 5, 'x-cache-ttl': -1 }, "PRECONDITION_FAILED - Invalid argument, 'x-cache-ttl' must be an integer greater than 0"],
      [{ 'x-cache-size': 5, 'x-cache-persistence': 'tape' }, "PRECONDITION_FAILED - Invalid argument, 'x-cache-persistence' must be either 'disk' or 'memory'"],
    ]
    for (const [args, text] of cases) {
      const err = await channelError(c, (ch) => ch.assertExchange(uniq('x'), 'direct', { arguments: { 'x-message-deduplication': true, ...args } }))
      expect(err.code).toBe(406)
      expect(replyText(err)).toBe(text)
    }
    const plugin = await channelError(c, (ch) => ch.assertExchange(uniq('x'), 'x-message-deduplication', {}))
    expect(replyText(plugin)).toBe(cases[0][1])
  })

  it("the plugin's x-message-deduplication exchange type: fanout with a window (amqp-client.js)", async () => {
    const c = await client()
    const ch = await c.channel()
    const x = uniq('x')
    await ch.exchangeDeclare(x, 'x-message-deduplication', { durable: false }, { 'x-cache-size': '5' })
    const { name: q1 } = await ch.queueDeclare(uniq('q'), { durable: false })
    const { name: q2 } = await ch.queueDeclare(uniq('q'), { durable: false })
    await ch.queueBind(q1, x, 'a')
    await ch.queueBind(q2, x, 'b')
    await ch.confirmSelect()
    for (const k of ['p', 'p', 'q']) await ch.basicPublish(x, 'any', k, { headers: { 'x-deduplication-header': k } })
    expect([count(q1), count(q2)]).toEqual([2, 2])
  })
})

describe('queue window', () => {
  it('drops a duplicate of a message in the queue, not routed elsewhere, confirmed and not returned (amqp-client.js)', async () => {
    const c = await client()
    const ch = await c.channel()
    const { name: q } = await ch.queueDeclare(uniq('q'), { durable: false }, { 'x-message-deduplication': true })
    const { name: plain } = await ch.queueDeclare(uniq('plain'), { durable: false })
    const x = uniq('fan')
    await ch.exchangeDeclare(x, 'fanout', { durable: false })
    await ch.queueBind(q, x, '')
    await ch.queueBind(plain, x, '')
    await ch.confirmSelect()
    let returns = 0
    ch.onReturn = () => returns++
    for (const k of ['a', 'a', 'b']) await ch.basicPublish(x, '', k, { headers: { 'x-deduplication-header': k } }, true)
    expect(count(q)).toBe(2)
    expect(count(plain)).toBe(3)
    expect(s.queue(q).dedup!.duplicates).toBe(1)
    // still a duplicate while delivered and unacknowledged; free again once acknowledged
    const m = await ch.basicGet(q, { noAck: false })
    expect(m!.bodyString()).toBe('a')
    await ch.basicPublish(q === '' ? '' : '', q, 'a2', { headers: { 'x-deduplication-header': 'a' } })
    expect(count(q)).toBe(1)
    await m!.ack()
    await ch.basicPublish('', q, 'a3', { headers: { 'x-deduplication-header': 'a' } })
    expect(count(q)).toBe(2)
    expect(returns).toBe(0)
  })

  it('a purge, a no-ack get and an expiry free the keys (amqplib)', async () => {
    const { ch } = await s.amqplibChannel()
    const q = uniq('q')
    await ch.assertQueue(q, { durable: false, arguments: { 'x-message-deduplication': true } })
    const send = (body: string, props: Record<string, unknown> = {}): boolean => ch.sendToQueue(q, Buffer.from(body), { messageId: 'id1', ...props })
    send('1')
    send('2')
    await waitFor(() => s.queue(q).dedup!.duplicates === 1)
    expect(count(q)).toBe(1)
    await ch.purgeQueue(q)
    send('3')
    await waitFor(() => count(q) === 1)
    expect(((await ch.get(q, { noAck: true })) as { content: Buffer }).content.toString()).toBe('3')
    send('4')
    await waitFor(() => count(q) === 1)
    // a 30 ms message TTL: once it has expired, its key may come in again
    send('5', { messageId: 'id2', expiration: '30' })
    await waitFor(() => s.queue(q).dedup!.size === 2)
    await waitFor(() => s.queue(q).dedup!.size === 1 && count(q) === 1, 3000, 'id2 to expire')
    send('6', { messageId: 'id2' })
    await waitFor(() => count(q) === 2)
    expect(s.queue(q).dedup!.duplicates).toBe(1)
  })
})
