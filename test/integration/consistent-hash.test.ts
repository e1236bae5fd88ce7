/**
 * The x-consistent-hash exchange over real TCP with amqplib and @cloudamqp/amqp-client: the plugin's
 * 406s for bad weights and arguments, one key always reaching one queue in order, an even spread,
 * hash-header / hash-property, exchange-to-exchange bindings, and the management API's type list.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite, channelError, replyText } from '../helpers/suite.js'

const s = brokerSuite('chx', { httpPort: 0 })
const { uniq, amqplibConn: conn, clientConn: client, confirmChannel } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})
const count = (q: string): number => s.queue(q).messageCount

describe('declare and bind', () => {
  it('refuses a weight that is not an integer ≥ 1 with the plugin texts (406)', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('x')
    await ch.assertExchange(x, 'x-consistent-hash', { durable: false })
    const q = (await ch.assertQueue('', { exclusive: true })).queue
    for (const [key, text] of [
      ['abc', 'PRECONDITION_FAILED - The binding key must be an integer: <<"abc">>'],
      ['0', 'PRECONDITION_FAILED - The binding key must be greater than 0'],
      ['', 'PRECONDITION_FAILED - The binding key must be an integer: <<>>'],
    ]) {
      const err = await channelError(c, (ch2) => ch2.bindQueue(q, x, key))
      expect(err.code).toBe(406)
      expect(replyText(err)).toBe(text)
    }
    await ch.bindQueue(q, x, '3')
  })

  it('refuses hash-header with hash-property, and an unsupported property (406)', async () => {
    const c = await conn()
    const both = await channelError(c, (ch) =>
      ch.assertExchange(uniq('x'), 'x-consistent-hash', { arguments: { 'hash-header': 'h', 'hash-property': 'message_id' } }),
    )
    expect(both.code).toBe(406)
    expect(replyText(both)).toBe('PRECONDITION_FAILED - hash-header and hash-property are mutually exclusive')
    const prop = await channelError(c, (ch) => ch.assertExchange(uniq('x'), 'x-consistent-hash', { arguments: { 'hash-property': 'app_id' } }))
    expect(replyText(prop)).toBe('PRECONDITION_FAILED - Unsupported property: app_id')
  })

  it('GET /api/overview lists x-consistent-hash among the exchange types', async () => {
    const res = await fetch(`http://127.0.0.1:${b.httpPort}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    })
    const body = (await res.json()) as { exchange_types: { name: string; description: string }[] }
    expect(body.exchange_types).toContainEqual({ name: 'x-consistent-hash', description: 'Consistent Hashing Exchange', enabled: true })
  })
})

describe('routing', () => {
  it('one routing key reaches one queue, in order; 2,000 keys spread evenly over 4 queues (amqplib)', async () => {
    const ch = await confirmChannel()
    const x = uniq('x')
    await ch.assertExchange(x, 'x-consistent-hash', { durable: false })
    const qs: string[] = []
    for (let i = 0; i < 4; i++) {
      const q = uniq(`q${i}`)
      await ch.assertQueue(q, { durable: false })
      await ch.bindQueue(q, x, '1')
      qs.push(q)
    }
    for (let i = 0; i < 2000; i++) ch.publish(x, `order-${i}`, Buffer.from(String(i)))
    for (let i = 0; i < 50; i++) ch.publish(x, 'same-key', Buffer.from(`s${i}`))
    await ch.waitForConfirms()
    const total = qs.reduce((n, q) => n + count(q), 0)
    expect(total).toBe(2050)
    // 500 each ± 100 (the standard deviation of a fair split is about 20)
    for (const q of qs) expect(Math.abs(count(q) - 500)).toBeLessThan(100)
    // every message of 'same-key' in one queue, in publish order
    const same = new Map<string, string[]>()
    let got = 0
    for (const q of qs) {
      await ch.consume(q, (m) => {
        got++
        if (m !== null && m.fields.routingKey === 'same-key') same.set(q, [...(same.get(q) ?? []), m.content.toString()])
      }, { noAck: true })
    }
    await waitFor(() => got === 2050)
    expect([...same.values()]).toEqual([Array.from({ length: 50 }, (_, i) => `s${i}`)])
  })

  it('hash-header (amqp-client.js): the header decides, the routing key does not; no header → one queue', async () => {
    const c = await client()
    const ch = await c.channel()
    const x = uniq('x')
    await ch.exchangeDeclare(x, 'x-consistent-hash', { durable: false }, { 'hash-header': 'tenant' })
    const qs: string[] = []
    for (let i = 0; i < 3; i++) {
      const { name } = await ch.queueDeclare(uniq(`q${i}`), { durable: false })
      await ch.queueBind(name, x, '2')
      qs.push(name)
    }
    await ch.confirmSelect()
    for (let i = 0; i < 30; i++) await ch.basicPublish(x, `rk-${i}`, `t1-${i}`, { headers: { tenant: 't1' } })
    const t1 = qs.filter((q) => count(q) > 0)
    expect(t1.length).toBe(1)
    expect(count(t1[0])).toBe(30)
    for (let i = 0; i < 300; i++) await ch.basicPublish(x, 'one-key', `t-${i}`, { headers: { tenant: `tenant-${i}` } })
    for (const q of qs) expect(count(q)).toBeGreaterThan(50)
    const before = qs.map(count)
    for (let i = 0; i < 20; i++) await ch.basicPublish(x, `rk-${i}`, 'none', { headers: { other: i } })
    const grew = qs.filter((q, i) => count(q) > before[i])
    expect(grew.length).toBe(1)
  })

  it('hash-property message_id; an exchange as destination (e2e) and as source', async () => {
    const c = await conn()
    const ch = await c.createConfirmChannel()
    const topic = uniq('topic')
    const x = uniq('x')
    const fan = uniq('fan')
    await ch.assertExchange(topic, 'topic', { durable: false })
    await ch.assertExchange(x, 'x-consistent-hash', { durable: false, arguments: { 'hash-property': 'message_id' } })
    await ch.assertExchange(fan, 'fanout', { durable: false })
    await ch.bindExchange(x, topic, 'orders.#')
    const q1 = uniq('q1')
    const q2 = uniq('q2')
    const q3 = uniq('q3')
    for (const q of [q1, q2, q3]) await ch.assertQueue(q, { durable: false })
    await ch.bindQueue(q1, x, '1')
    await ch.bindExchange(fan, x, '1')
    await ch.bindQueue(q2, fan, '')
    await ch.bindQueue(q3, fan, '')
    for (let i = 0; i < 200; i++) ch.publish(topic, `orders.${i}`, Buffer.from('m'), { messageId: `id-${i % 20}` })
    await ch.waitForConfirms()
    // each message reaches q1, or (through the fanout) both q2 and q3
    await waitFor(() => count(q1) + count(q2) === 200)
    expect(count(q2)).toBe(count(q3))
    expect(count(q1)).toBeGreaterThan(0)
    expect(count(q2)).toBeGreaterThan(0)
    // ten messages per message id, and one id's messages always go the same way
    expect(count(q1) % 10).toBe(0)
  })
})
