/**
 * The x-delayed-message exchange (rabbitmq-delayed-message-exchange's interface) with real clients:
 * declaration errors as the plugin words them, delays by `x-delay` (the header delivered as
 * published, as RabbitMQ 3.10.8 with the plugin does), routing by `x-delayed-type` with the bindings
 * of delivery time, no second delay through an exchange-to-exchange binding,
 * mandatory returns, confirms, the management API, deletion, and persistence across a clean
 * restart and a kill -9.
 */
import type { ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { boot, connect, connectUrl, dataDir, halt, kill9, spawnBroker } from '../helpers/restart.js'
import { brokerSuite, channelError, replyText, type AmqpError } from '../helpers/suite.js'

const s = brokerSuite('dly')
const { uniq } = s
const delayed = (type: string) => ({ durable: false, arguments: { 'x-delayed-type': type } })

describe('declaring', () => {
  it('refuses a missing or self-referring x-delayed-type with the plugin 406 texts', async () => {
    const c = await s.amqplibConn()
    const none = await channelError(c, (ch) => ch.assertExchange(uniq('x'), 'x-delayed-message'))
    expect(none.code).toBe(406)
    expect(replyText(none)).toBe("PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type")
    const self = await channelError(c, (ch) => ch.assertExchange(uniq('x'), 'x-delayed-message', delayed('x-delayed-message')))
    expect(replyText(self)).toBe("PRECONDITION_FAILED - Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'")
  })

  it('closes the connection with 503 for an unknown x-delayed-type (rabbit_exchange:check_type)', async () => {
    const c = await s.amqplibConn()
    const ch = await c.createChannel()
    ch.on('error', () => undefined)
    const closed = new Promise<AmqpError>((ok) => c.once('error', ok))
    await expect(ch.assertExchange(uniq('x'), 'x-delayed-message', delayed('nope'))).rejects.toThrow()
    const err = await closed
    expect(err.code).toBe(503)
    expect(replyText(err)).toBe("COMMAND_INVALID - unknown exchange type 'nope'")
  })

  it('is listed in exchange_types and shows messages_delayed on the exchange', async () => {
    const api = apiClient(s.b)
    const o = await api.get('/api/overview')
    expect(o.body.exchange_types.map((t: { name: string }) => t.name)).toContain('x-delayed-message')
    const x = uniq('x')
    const { ch } = await s.amqplibChannel()
    await ch.assertExchange(x, 'x-delayed-message', delayed('direct'))
    ch.publish(x, 'k', Buffer.from('later'), { headers: { 'x-delay': 60_000 } })
    const r = await waitFor(async () => {
      const e = await api.get(`/api/exchanges/%2F/${x}`)
      return e.body.messages_delayed === 1 && e
    })
    expect(r.body.arguments).toEqual({ 'x-delayed-type': 'direct' })
    expect(r.body.delayed_routed).toBe(0)
    expect(r.body.delayed_lateness_ms).toEqual({ p50: 0, p99: 0, max: 0 })
  })
})

describe('routing', () => {
  it('holds a message for x-delay ms and delivers it with its x-delay header as published; others go at once', async () => {
    const { ch } = await s.amqplibChannel()
    const x = uniq('x')
    await ch.assertExchange(x, 'x-delayed-message', delayed('direct'))
    const { queue: q } = await ch.assertQueue('', { exclusive: true })
    await ch.bindQueue(q, x, 'k')
    const got: { body: string; at: number; delay: unknown }[] = []
    await ch.consume(q, (m: ConsumeMessage | null) => {
      if (m !== null) got.push({ body: m.content.toString(), at: Date.now(), delay: m.properties.headers?.['x-delay'] })
    }, { noAck: true })
    const t0 = Date.now()
    ch.publish(x, 'k', Buffer.from('d300'), { headers: { 'x-delay': 300 } })
    ch.publish(x, 'k', Buffer.from('plain'))
    ch.publish(x, 'k', Buffer.from('neg'), { headers: { 'x-delay': -5 } })
    ch.publish(x, 'k', Buffer.from('text'), { headers: { 'x-delay': 'soon' } })
    ch.publish(x, 'k', Buffer.from('d100s'), { headers: { 'x-delay': '100' } })
    await waitFor(() => got.length === 5, 3000)
    expect(got.slice(0, 3).map((g) => g.body)).toEqual(['plain', 'neg', 'text'])
    expect(got[2].delay).toBe('soon')
    expect(got[1].delay).toBe(-5)
    const d100 = got.find((g) => g.body === 'd100s')!
    const d300 = got.find((g) => g.body === 'd300')!
    expect(d100.delay).toBe('100')
    expect(d300.delay).toBe(300)
    expect(d300.at - t0).toBeGreaterThanOrEqual(300)
    expect(d100.at - t0).toBeGreaterThanOrEqual(100)
    expect(got.indexOf(d100)).toBeLessThan(got.indexOf(d300))
    const info = (await apiClient(s.b).get(`/api/exchanges/%2F/${x}`)).body
    expect(info.delayed_routed).toBe(2)
    expect(info.delayed_lateness_ms.max).toBeGreaterThanOrEqual(0)
  })

  it('routes by x-delayed-type with the bindings of delivery time (topic, amqp-client)', async () => {
    const c = await s.clientConn()
    const ch = await c.channel()
    const x = uniq('x')
    await ch.exchangeDeclare(x, 'x-delayed-message', { durable: false }, { 'x-delayed-type': 'topic' })
    const early = (await ch.queueDeclare('', { exclusive: true })).name
    await ch.queueBind(early, x, 'a.*')
    await ch.basicPublish(x, 'a.b', 'late-bound', { headers: { 'x-delay': 200 } })
    await ch.basicPublish(x, 'z.z', 'nowhere', { headers: { 'x-delay': 50 } })
    await ch.queueUnbind(early, x, 'a.*')
    const late = (await ch.queueDeclare('', { exclusive: true })).name
    await ch.queueBind(late, x, '#.b')
    const m = await waitFor(async () => (await ch.basicGet(late, { noAck: true })) ?? false, 3000)
    expect(m.bodyToString()).toBe('late-bound')
    expect(m.properties.headers?.['x-delay']).toBe(200)
    expect(await ch.basicGet(early, { noAck: true })).toBeNull()
  })

  it('delays once: a due message passing through another delayed exchange goes straight on', async () => {
    const { ch } = await s.amqplibChannel()
    const [a, b2] = [uniq('xa'), uniq('xb')]
    await ch.assertExchange(a, 'x-delayed-message', delayed('fanout'))
    await ch.assertExchange(b2, 'x-delayed-message', delayed('fanout'))
    await ch.bindExchange(b2, a, '')
    const { queue: q } = await ch.assertQueue('', { exclusive: true })
    await ch.bindQueue(q, b2, '')
    const t0 = Date.now()
    ch.publish(a, '', Buffer.from('once'), { headers: { 'x-delay': 400 } })
    const m = await waitFor(async () => (await ch.get(q, { noAck: true })) || false, 3000)
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(400)
    expect(took).toBeLessThan(790)
    expect(m.properties.headers?.['x-delay']).toBe(400)
  })

  it('returns a delayed mandatory message with 312 NO_ROUTE at once and still delivers it (as the plugin)', async () => {
    const { ch } = await s.amqplibChannel()
    const x = uniq('x')
    await ch.assertExchange(x, 'x-delayed-message', delayed('fanout'))
    const { queue: q } = await ch.assertQueue('', { exclusive: true })
    await ch.bindQueue(q, x, '')
    const returned: number[] = []
    ch.on('return', (m: ConsumeMessage & { fields: { replyCode: number } }) => returned.push(m.fields.replyCode))
    ch.publish(x, '', Buffer.from('m'), { mandatory: true, headers: { 'x-delay': 150 } })
    await waitFor(() => returned.length === 1, 2000)
    expect(returned).toEqual([312])
    const m = await waitFor(async () => (await ch.get(q, { noAck: true })) || false, 3000)
    expect(m.content.toString()).toBe('m')
  })

  it('confirms a delayed message once stored, and forgets pending ones when the exchange is deleted', async () => {
    const ch = await s.confirmChannel()
    const x = uniq('x')
    await ch.assertExchange(x, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } })
    const { queue: q } = await ch.assertQueue('', { exclusive: true })
    await ch.bindQueue(q, x, 'k')
    for (let i = 0; i < 20; i++) ch.publish(x, 'k', Buffer.from(`p${i}`), { persistent: true, headers: { 'x-delay': 200 } })
    await ch.waitForConfirms()
    const ex = s.b.broker.vhost('/')!.exchanges.get(x)!
    expect(ex.router.delayed?.pending).toBe(20)
    await ch.deleteExchange(x)
    expect(ex.router.delayed?.pending).toBe(0)
    await new Promise((r) => setTimeout(r, 300))
    expect(s.queue(q).messageCount).toBe(0)
  })
})

describe('persistence', () => {
  async function setup(url: string, x: string, q: string): Promise<void> {
    const c = await connectUrl(url)
    const ch = await c.createConfirmChannel()
    await ch.assertExchange(x, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } })
    await ch.assertQueue(q, { durable: true })
    await ch.bindQueue(q, x, 'k')
    await ch.close()
  }

  it('keeps persistent delayed messages across a restart, due ones go at boot, transient ones are dropped', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    await setup(b.url, 'dx', 'dq')
    const c = await connect(b)
    const ch = await c.createConfirmChannel()
    ch.publish('dx', 'k', Buffer.from('soon'), { persistent: true, headers: { 'x-delay': 100 } })
    ch.publish('dx', 'k', Buffer.from('later'), { persistent: true, headers: { 'x-delay': 1200 } })
    ch.publish('dx', 'k', Buffer.from('transient'), { persistent: false, headers: { 'x-delay': 100 } })
    await ch.waitForConfirms()
    await halt(b)
    // "soon" falls due while the broker is down
    await new Promise((r) => setTimeout(r, 150))
    b = await boot(dir)
    const x = b.broker.vhost('/')!.exchanges.get('dx')!
    expect(x.router.delayed?.pending).toBeLessThanOrEqual(2)
    const q = b.broker.vhost('/')!.queues.get('dq')!
    await waitFor(() => q.messageCount === 1, 2000, 'the overdue message')
    await waitFor(() => q.messageCount === 2, 3000, 'the later message')
    const c2 = await connect(b)
    const ch2 = await c2.createChannel()
    const got: string[] = []
    for (let m = await ch2.get('dq', { noAck: true }); m !== false; m = await ch2.get('dq', { noAck: true })) got.push(m.content.toString())
    expect(got).toEqual(['soon', 'later'])
    expect(x.router.delayed?.pending).toBe(0)
  })

  it('keeps confirmed persistent delayed messages across kill -9', async () => {
    const dir = dataDir()
    let { child, url } = await spawnBroker(dir)
    await setup(url, 'kx', 'kq')
    const c = await connectUrl(url)
    const ch = await c.createConfirmChannel()
    for (let i = 0; i < 50; i++) ch.publish('kx', 'k', Buffer.from(`m${i}`), { persistent: true, headers: { 'x-delay': 400 + i } })
    await ch.waitForConfirms()
    await kill9(child)
    ;({ child, url } = await spawnBroker(dir))
    const c2 = await connectUrl(url)
    const ch2 = await c2.createChannel()
    const got: string[] = []
    await waitFor(async () => {
      for (let m = await ch2.get('kq', { noAck: true }); m !== false; m = await ch2.get('kq', { noAck: true })) got.push(m.content.toString())
      return got.length >= 50
    }, 5000, 'the 50 delayed messages')
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`))
    await kill9(child)
  })
})
