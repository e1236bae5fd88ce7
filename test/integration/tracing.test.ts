/**
 * The firehose (RabbitMQ rabbit_trace): with tracing on, every publish into the vhost and every
 * delivery is copied to amq.rabbitmq.trace as publish.<exchange> / deliver.<queue> with RabbitMQ's
 * headers; off, nothing is; trace messages themselves are never traced; the switch is in the vhost's
 * JSON, set with PUT /api/vhosts/{v}, and is off after a restart (RabbitMQ keeps it in memory only).
 */
import type { Channel, ConsumeMessage, Message } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { boot, connect, dataDir, halt } from '../helpers/restart.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('trace')

async function setTracing(on: boolean): Promise<void> {
  const res = await apiClient(s.b).put('/api/vhosts/%2F', { tracing: on })
  expect(res.status).toBe(204)
}

/** A queue bound to amq.rabbitmq.trace with `pattern`, consumed into `got`. */
async function traceConsumer(ch: Channel, pattern = '#'): Promise<{ queue: string; got: ConsumeMessage[] }> {
  const { queue } = await ch.assertQueue('', { exclusive: true })
  await ch.bindQueue(queue, 'amq.rabbitmq.trace', pattern)
  const got: ConsumeMessage[] = []
  await ch.consume(queue, (m) => m && got.push(m), { noAck: true })
  return { queue, got }
}

describe('firehose', () => {
  it('is off by default and shown in the vhost JSON; PUT switches it and keeps it when absent', async () => {
    const api = apiClient(s.b)
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(false)
    const x = (await api.get('/api/exchanges/%2F/amq.rabbitmq.trace')).body
    expect(x).toMatchObject({ name: 'amq.rabbitmq.trace', type: 'topic', durable: true, internal: true, auto_delete: false })
    await setTracing(true)
    expect((await api.get('/api/vhosts')).body.find((v: { name: string }) => v.name === '/').tracing).toBe(true)
    expect((await api.put('/api/vhosts/%2F', { description: 'Default virtual host' })).status).toBe(204)
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(true)
    const bad = await api.put('/api/vhosts/%2F', { tracing: 'yes' })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('bad_request')
    await setTracing(false)
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(false)
    // RabbitMQ does not export the tracing flag with the vhost, but applies one it imports
    const defs = (await api.get('/api/definitions')).body
    expect(defs.vhosts.find((v: { name: string }) => v.name === '/')).not.toHaveProperty('tracing')
    expect((await api.post('/api/definitions', { vhosts: [{ name: 'trace-imported', tracing: true }] })).status).toBe(204)
    expect((await api.get('/api/vhosts/trace-imported')).body.tracing).toBe(true)
    expect(s.b.broker.vhost('trace-imported')!.exchanges.get('amq.rabbitmq.trace')).toMatchObject({ type: 'topic', internal: true })
    expect((await api.del('/api/vhosts/trace-imported')).status).toBe(204)
  })

  it('copies a publish and its deliveries with RabbitMQ headers', async () => {
    await setTracing(true)
    s.cleanups.push(() => setTracing(false))
    const { conn, ch } = await s.amqplibChannel()
    const { got } = await traceConsumer(ch)
    const ex = s.uniq('x')
    const q = s.uniq('q')
    await ch.assertExchange(ex, 'direct', { autoDelete: true })
    await ch.assertQueue(q, { exclusive: true })
    await ch.bindQueue(q, ex, 'rk')
    const pub = await conn.createChannel() // channel 2
    pub.publish(ex, 'rk', Buffer.from('hello'), {
      contentType: 'text/plain',
      headers: { a: 'b', n: 7 },
      priority: 3,
      messageId: 'm-1',
      persistent: true,
    })
    const p = await waitFor(() => got.find((m) => m.fields.routingKey === `publish.${ex}`), 5000, 'publish trace')
    expect(p.fields.exchange).toBe('amq.rabbitmq.trace')
    expect(p.content.toString()).toBe('hello')
    // the copy carries headers only (no content type, transient)
    expect(p.properties.contentType).toBeUndefined()
    expect(p.properties.deliveryMode).toBeUndefined()
    const conns = (await apiClient(s.b).get('/api/connections')).body as { name: string }[]
    const h = p.properties.headers!
    expect(h).toEqual({
      exchange_name: ex,
      routing_keys: ['rk'],
      properties: { content_type: 'text/plain', headers: { a: 'b', n: 7 }, priority: 3, message_id: 'm-1', delivery_mode: 2 },
      node: s.b.broker.nodeName,
      vhost: '/',
      connection: expect.any(String),
      channel: 2,
      user: 'guest',
      routed_queues: [q],
    })
    expect(conns.map((c) => c.name)).toContain(h.connection)

    // basic.get on channel 1, then nack-requeue and consume: deliver.<queue> with redelivered 0 then 1
    await waitFor(() => s.queue(q).messageCount === 1)
    const m = (await ch.get(q, { noAck: false })) as Message
    ch.nack(m, false, true)
    await pub.consume(q, (d) => d && pub.ack(d))
    const delivers = await waitFor(() => {
      const d = got.filter((t) => t.fields.routingKey === `deliver.${q}`)
      return d.length === 2 && d
    }, 5000, 'two deliver traces')
    expect(delivers.map((d) => d.properties.headers!.redelivered)).toEqual([0, 1])
    expect(delivers.map((d) => d.properties.headers!.channel)).toEqual([1, 2])
    expect(delivers[1].properties.headers).toMatchObject({
      exchange_name: ex,
      routing_keys: ['rk'],
      properties: { content_type: 'text/plain', message_id: 'm-1' },
      node: s.b.broker.nodeName,
      vhost: '/',
      connection: h.connection,
      user: 'guest',
    })
    expect(delivers[1].properties.headers).not.toHaveProperty('routed_queues')
    expect(delivers[1].content.toString()).toBe('hello')
  })

  it('traces unroutable publishes, never traces its own messages, and filters by pattern', async () => {
    await setTracing(true)
    s.cleanups.push(() => setTracing(false))
    const { ch } = await s.amqplibChannel()
    const all = await traceConsumer(ch)
    const publishes = await traceConsumer(ch, 'publish.#')
    ch.publish('amq.topic', 'nowhere', Buffer.from('x'))
    ch.sendToQueue('no-such-queue', Buffer.from('y'))
    await waitFor(() => publishes.got.length === 2, 5000, 'two publish traces')
    expect(publishes.got.map((m) => [m.fields.routingKey, m.properties.headers!.routed_queues])).toEqual([
      ['publish.amq.topic', []],
      ['publish.', []],
    ])
    // the trace queues' own deliveries are not traced: only the two publish copies reach '#'
    await waitFor(() => all.got.length === 2)
    expect(all.got.map((m) => m.fields.routingKey)).toEqual(['publish.amq.topic', 'publish.'])
    // clients may not publish into the trace exchange (internal)
    const err = await new Promise<Error>((resolve) => {
      ch.once('error', resolve)
      ch.publish('amq.rabbitmq.trace', 'publish.x', Buffer.from('z'))
    })
    expect(err.message).toContain('ACCESS_REFUSED')
  })

  it('sends nothing while off', async () => {
    const { ch } = await s.amqplibChannel()
    const { got } = await traceConsumer(ch)
    const q = s.uniq('off')
    await ch.assertQueue(q, { exclusive: true })
    ch.sendToQueue(q, Buffer.from('untraced'))
    await waitFor(() => s.queue(q).messageCount === 1)
    expect((await ch.get(q, { noAck: true })) !== false).toBe(true)
    await setTracing(true)
    s.cleanups.push(() => setTracing(false))
    ch.sendToQueue(q, Buffer.from('traced'))
    await waitFor(() => got.length >= 1, 5000, 'a trace message')
    expect(got[0].fields.routingKey).toBe('publish.')
    expect(got[0].content.toString()).toBe('traced')
  })

  it('traces publishes and gets made through the management API', async () => {
    await setTracing(true)
    s.cleanups.push(() => setTracing(false))
    const { ch } = await s.amqplibChannel()
    const { got } = await traceConsumer(ch)
    const q = s.uniq('http')
    await ch.assertQueue(q, { autoDelete: false })
    s.cleanups.push(() => ch.deleteQueue(q))
    const api = apiClient(s.b)
    const r = await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: q, payload: 'via http', payload_encoding: 'string', properties: {} })
    expect(r.body).toEqual({ routed: true })
    await api.post(`/api/queues/%2F/${q}/get`, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })
    await waitFor(() => got.length === 2, 5000, 'publish and deliver traces')
    expect(got.map((m) => m.fields.routingKey)).toEqual(['publish.', `deliver.${q}`])
    expect(got[0].properties.headers).toMatchObject({ user: 'guest', routed_queues: [q] })
  })
})

describe('firehose across a restart', () => {
  it('is off again after a restart, as in RabbitMQ (the switch is not stored)', async () => {
    const dir = dataDir()
    let b = await boot(dir, { httpPort: 0 })
    expect((await apiClient(b).put('/api/vhosts/%2F', { tracing: true })).status).toBe(204)
    await halt(b)
    b = await boot(dir, { httpPort: 0 })
    expect((await apiClient(b).get('/api/vhosts/%2F')).body.tracing).toBe(false)
    const ch = await (await connect(b)).createChannel()
    const { got } = await traceConsumer(ch)
    ch.sendToQueue('nobody', Buffer.from('after restart'))
    await ch.checkExchange('amq.direct') // a round trip on the channel: the publish has been routed
    // turned on again, the next publish is traced: only that one
    expect((await apiClient(b).put('/api/vhosts/%2F', { tracing: true })).status).toBe(204)
    ch.sendToQueue('nobody', Buffer.from('traced'))
    await waitFor(() => got.length >= 1, 5000, 'a trace once switched on again')
    expect(got.map((m) => m.content.toString())).toEqual(['traced'])
  })
})
