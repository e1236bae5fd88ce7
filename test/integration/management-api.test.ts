/**
 * The management HTTP API against a real broker over real HTTP: every endpoint family, RabbitMQ's
 * shapes (captured from RabbitMQ 3.10) and status codes, checked both through the API and through
 * the broker and AMQP clients (objects made over HTTP are the ones AMQP sees, and the reverse).
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { apiClient, basicAuth, type ApiClient } from '../helpers/http.js'

let b: TestBroker
let api: ApiClient

beforeAll(async () => {
  b = await startTestBroker({ statsInterval: 50 })
  api = apiClient(b)
})
afterAll(async () => b?.stop())

describe('authentication', () => {
  it('answers 401 with the RabbitMQ challenge without credentials or with wrong ones', async () => {
    const res = await fetch(`${api.base}/api/overview`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"')
    expect(await res.json()).toEqual({ error: 'not_authorized', reason: 'Login failed' })
    const wrong = await apiClient(b, 'guest', 'nope').get('/api/overview')
    expect(wrong.status).toBe(401)
    expect((await apiClient(b, 'nobody', 'x').get('/api/queues')).status).toBe(401)
  })

  it('refuses users without a management tag, and non-administrators on admin routes', async () => {
    expect((await api.put('/api/users/plain', { password: 'pw', tags: '' })).status).toBe(201)
    const plain = await apiClient(b, 'plain', 'pw').get('/api/overview')
    expect(plain.status).toBe(401)
    expect(plain.body).toEqual({ error: 'not_authorised', reason: 'Not management user' })
    expect((await api.put('/api/users/mon', { password: 'pw', tags: 'monitoring' })).status).toBe(201)
    const mon = apiClient(b, 'mon', 'pw')
    expect((await mon.get('/api/overview')).status).toBe(200)
    expect((await mon.get('/api/nodes')).status).toBe(200)
    expect((await mon.get('/api/users')).body).toEqual({ error: 'not_authorised', reason: 'Not administrator user' })
    expect((await mon.put('/api/vhosts/nope')).status).toBe(401)
    expect(b.broker.vhost('nope')).toBeUndefined()
  })
})

describe('overview, whoami, nodes', () => {
  it('GET /api/overview has the RabbitMQ fields tools read', async () => {
    const { status, body, headers } = await api.get('/api/overview')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('application/json')
    expect(body).toMatchObject({
      rabbitmq_version: '3.10.8',
      management_version: '3.10.8',
      product_name: 'Warren',
      rates_mode: 'basic',
      node: b.broker.nodeName,
      cluster_name: b.broker.clusterName,
      queue_totals: { messages: expect.any(Number), messages_ready: expect.any(Number), messages_unacknowledged: expect.any(Number) },
      object_totals: { connections: expect.any(Number), channels: expect.any(Number), queues: expect.any(Number), exchanges: expect.any(Number), consumers: expect.any(Number) },
    })
    expect(body.warren_version).toMatch(/^\d+\.\d+\.\d+/)
    expect(body.message_stats.publish_details).toEqual({ rate: expect.any(Number) })
    expect(body.exchange_types.map((t: any) => t.name)).toEqual(['direct', 'fanout', 'headers', 'topic', 'x-consistent-hash', 'x-delayed-message', 'x-message-deduplication'])
    expect(body.listeners).toContainEqual(expect.objectContaining({ protocol: 'amqp', port: b.amqpPort }))
    expect(body.listeners).toContainEqual(expect.objectContaining({ protocol: 'http', port: b.httpPort }))
  })

  it('columns picks nested fields as rabbitmqadmin asks for them', async () => {
    const { body } = await api.get('/api/overview?columns=rabbitmq_version,cluster_name,queue_totals.messages,object_totals.queues')
    expect(Object.keys(body).sort()).toEqual(['cluster_name', 'object_totals', 'queue_totals', 'rabbitmq_version'])
    expect(Object.keys(body.queue_totals)).toEqual(['messages'])
  })

  it('whoami, nodes, extensions, cluster-name', async () => {
    expect((await api.get('/api/whoami')).body).toEqual({ name: 'guest', tags: ['administrator'] })
    const nodes = (await api.get('/api/nodes')).body
    expect(nodes).toHaveLength(1)
    expect(nodes[0]).toMatchObject({ name: b.broker.nodeName, type: 'disc', running: true, mem_alarm: false, disk_free_alarm: false })
    expect(nodes[0].mem_used).toBeGreaterThan(0)
    expect((await api.get(`/api/nodes/${encodeURIComponent(b.broker.nodeName)}`)).status).toBe(200)
    expect((await api.get('/api/nodes/rabbit@elsewhere')).status).toBe(404)
    expect((await api.get('/api/extensions')).body).toEqual([])
    expect((await api.get('/api/cluster-name')).body).toEqual({ name: b.broker.clusterName })
  })
})

describe('vhosts, users, permissions', () => {
  it('creates a vhost (201, then 204), lists it with its metadata and deletes it with its contents', async () => {
    expect((await api.put('/api/vhosts/v1', { description: 'test vhost', tags: 'a,b' })).status).toBe(201)
    expect((await api.put('/api/vhosts/v1', { description: 'test vhost', tags: ['a', 'b'] })).status).toBe(204)
    const v = (await api.get('/api/vhosts/v1')).body
    expect(v).toMatchObject({ name: 'v1', description: 'test vhost', tags: ['a', 'b'], messages: 0, tracing: false })
    expect(v.message_stats.publish_details).toEqual({ rate: expect.any(Number) })
    expect((await api.get('/api/vhosts?columns=name')).body).toEqual([{ name: '/' }, { name: 'v1' }])
    // the creator got full permissions, so AMQP can use the vhost
    expect((await api.get('/api/permissions/v1/guest')).body).toEqual({ user: 'guest', vhost: 'v1', configure: '.*', write: '.*', read: '.*' })
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.amqpPort}/v1`)
    const closed = new Promise<Error>((resolve) => conn.on('close', resolve))
    const ch = await conn.createChannel()
    await ch.assertQueue('in-v1')
    await waitFor(async () => (await api.get('/api/queues/v1')).body.length === 1)
    expect((await api.del('/api/vhosts/v1')).status).toBe(204)
    expect((await closed).message).toMatch(/CONNECTION_FORCED/)
    expect(b.broker.vhost('v1')).toBeUndefined()
    expect((await api.get('/api/permissions/v1/guest')).status).toBe(404)
    expect((await api.del('/api/vhosts/v1')).status).toBe(404)
  })

  it('creates users with hashed passwords that AMQP accepts, sets permissions, deletes', async () => {
    expect((await api.put('/api/users/alice', { password: 'wonderland', tags: 'management' })).status).toBe(201)
    const alice = (await api.get('/api/users/alice')).body
    expect(alice).toMatchObject({ name: 'alice', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management'], limits: {} })
    expect(Buffer.from(alice.password_hash, 'base64')).toHaveLength(36)
    expect((await api.put('/api/users/alice', { password: 'x', password_hash: 'y' })).status).toBe(400)
    expect((await api.put('/api/permissions/%2F/alice', { configure: '^alice', write: '.*', read: '.*' })).status).toBe(201)
    expect((await api.get('/api/users/alice/permissions')).body).toHaveLength(1)
    const conn = await amqp.connect(`amqp://alice:wonderland@127.0.0.1:${b.amqpPort}`)
    await conn.close()
    // a management user sees only its vhosts and its own connections
    const a = apiClient(b, 'alice', 'wonderland')
    expect((await a.get('/api/whoami')).body).toEqual({ name: 'alice', tags: ['management'] })
    expect((await a.get('/api/vhosts')).body.map((v: any) => v.name)).toEqual(['/'])
    expect((await a.get('/api/users')).status).toBe(401)
    expect((await api.put('/api/permissions/%2F/alice', { configure: '(', write: '.*', read: '.*' })).status).toBe(400)
    expect((await api.put('/api/permissions/nohost/alice', { configure: '.*', write: '.*', read: '.*' })).status).toBe(404)
    expect((await api.del('/api/permissions/%2F/alice')).status).toBe(204)
    expect((await api.del('/api/users/alice')).status).toBe(204)
    expect((await api.get('/api/users/alice')).status).toBe(404)
    expect((await api.get('/api/permissions')).body.every((p: any) => p.user !== 'alice')).toBe(true)
  })

  it('accepts a password_hash in RabbitMQ format', async () => {
    // guest/guest as hashed by a real RabbitMQ 3.10
    const hash = 'RRMDajo/UgJGI9GjTSrg3zza0rpPrdqv2S9U8PGbzX9HoIzH'
    expect((await api.put('/api/users/hashed', { password_hash: hash, tags: ['administrator'] })).status).toBe(201)
    expect((await apiClient(b, 'hashed', 'guest').get('/api/whoami')).status).toBe(200)
    await api.del('/api/users/hashed')
  })
})

describe('exchanges', () => {
  it('PUT: 201 created, 204 identical, 400 inequivalent; GET; DELETE with if-unused', async () => {
    const body = { type: 'topic', durable: 'false', auto_delete: 'false', internal: 'false', arguments: {} }
    expect((await api.put('/api/exchanges/%2F/ex.t', body)).status).toBe(201)
    expect((await api.put('/api/exchanges/%2F/ex.t', body)).status).toBe(204)
    const bad = await api.put('/api/exchanges/%2F/ex.t', { ...body, type: 'direct' })
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ error: 'bad_request', reason: "inequivalent arg 'type' for exchange 'ex.t' in vhost '/': received 'direct' but current is 'topic'" })
    const x = b.broker.vhost('/')!.exchanges.get('ex.t')!
    expect([x.type, x.durable, x.autoDelete]).toEqual(['topic', false, false])
    expect((await api.get('/api/exchanges/%2F/ex.t')).body).toMatchObject({ name: 'ex.t', vhost: '/', type: 'topic', durable: false, auto_delete: false, internal: false, arguments: {} })
    const dflt = (await api.get('/api/exchanges/%2F/amq.default')).body
    expect(dflt).toMatchObject({ name: '', type: 'direct', durable: true })
    expect((await api.get('/api/exchanges/%2F?columns=name')).body.map((e: any) => e.name)).toEqual(
      expect.arrayContaining(['', 'amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.topic', 'ex.t']),
    )
    expect((await api.put('/api/queues/%2F/ex.q', {})).status).toBe(201)
    expect((await api.post('/api/bindings/%2F/e/ex.t/q/ex.q', { routing_key: '#' })).status).toBe(201)
    expect((await api.del('/api/exchanges/%2F/ex.t?if-unused=true')).status).toBe(400)
    expect((await api.get('/api/exchanges/%2F/ex.t/bindings/source')).body).toHaveLength(1)
    expect((await api.del('/api/exchanges/%2F/ex.t')).status).toBe(204)
    expect(b.broker.vhost('/')!.exchanges.has('ex.t')).toBe(false)
    expect((await api.del('/api/exchanges/%2F/ex.t')).status).toBe(404)
  })

  it('refuses reserved names and the default exchange as RabbitMQ does (401 Access refused.)', async () => {
    const r = await api.put('/api/exchanges/%2F/amq.foo', { type: 'direct' })
    expect(r.status).toBe(401)
    expect(r.body).toEqual({ error: 'not_authorised', reason: 'Access refused.' })
    expect((await api.del('/api/exchanges/%2F/amq.direct')).status).toBe(401)
    expect((await api.del('/api/exchanges/%2F/amq.default')).status).toBe(401)
    expect(b.broker.vhost('/')!.exchanges.has('amq.foo')).toBe(false)
  })

  it('publishes with routed true/false, properties and base64 payloads', async () => {
    await api.put('/api/exchanges/%2F/pub.x', { type: 'direct' })
    await api.put('/api/queues/%2F/pub.q', {})
    await api.post('/api/bindings/%2F/e/pub.x/q/pub.q', { routing_key: 'k' })
    const props = { delivery_mode: 2, headers: { a: 1, s: 'x' }, content_type: 'text/plain', message_id: 'm1', priority: '3' }
    const routed = await api.post('/api/exchanges/%2F/pub.x/publish', { routing_key: 'k', payload: 'hi', payload_encoding: 'string', properties: props })
    expect(routed.body).toEqual({ routed: true })
    expect((await api.post('/api/exchanges/%2F/pub.x/publish', { routing_key: 'none', payload: 'x', properties: {} })).body).toEqual({ routed: false })
    const bin = Buffer.from([0, 255, 1, 2])
    await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: 'pub.q', payload: bin.toString('base64'), payload_encoding: 'base64', properties: {} })
    // read them back over AMQP: the HTTP-published message is an ordinary message
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    const m1 = (await ch.get('pub.q', { noAck: true })) as amqp.GetMessage
    expect(m1.content.toString()).toBe('hi')
    expect(m1.properties).toMatchObject({ deliveryMode: 2, contentType: 'text/plain', messageId: 'm1', priority: 3, headers: { a: 1, s: 'x' } })
    expect(m1.fields).toMatchObject({ exchange: 'pub.x', routingKey: 'k' })
    const m2 = (await ch.get('pub.q', { noAck: true })) as amqp.GetMessage
    expect(m2.content.equals(bin)).toBe(true)
    await conn.close()
  })

  it('publishing to a missing or internal exchange: 400 with the AMQP code and reply text, as RabbitMQ', async () => {
    const missing = await api.post('/api/exchanges/%2F/no.such.x/publish', { routing_key: 'k', payload: 'x', payload_encoding: 'string', properties: {} })
    expect(missing.status).toBe(400)
    expect(missing.body).toEqual({ error: 'bad_request', reason: "404 NOT_FOUND - no exchange 'no.such.x' in vhost '/'" })
    const internal = await api.post('/api/exchanges/%2F/amq.rabbitmq.trace/publish', { routing_key: 'k', payload: 'x', properties: {} })
    expect(internal.status).toBe(400)
    expect(internal.body).toEqual({ error: 'bad_request', reason: "403 ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'" })
    // the body is decoded first (RabbitMQ with_decode): a bad body to a missing exchange is a body error
    const badBody = await api.post('/api/exchanges/%2F/no.such.x/publish', { routing_key: 'k', payload: 'x', payload_encoding: 'rot13', properties: {} })
    expect(badBody.status).toBe(400)
    expect(badBody.body.reason).toMatch(/payload_encoding/)
    expect(b.broker.vhost('/')!.exchanges.has('no.such.x')).toBe(false)
    // a missing vhost stays 404
    expect((await api.post('/api/exchanges/nope/x/publish', { routing_key: 'k', payload: 'x', properties: {} })).status).toBe(404)
  })

  it('lists the 7 built-in exchanges of a fresh vhost, amq.rabbitmq.trace internal; it cannot be deleted', async () => {
    expect((await api.put('/api/vhosts/fresh7', {})).status).toBe(201)
    const { body } = await api.get('/api/exchanges/fresh7')
    expect(body.map((x: { name: string }) => x.name)).toEqual(['', 'amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.rabbitmq.trace', 'amq.topic'])
    expect(body.find((x: { name: string }) => x.name === 'amq.rabbitmq.trace')).toMatchObject({ type: 'topic', durable: true, internal: true, auto_delete: false })
    expect((await api.del('/api/exchanges/fresh7/amq.rabbitmq.trace')).status).toBe(401)
    expect((await api.del('/api/vhosts/fresh7')).status).toBe(204)
  })
})

describe('queues', () => {
  it('PUT/GET/DELETE with RabbitMQ fields, arguments and conditions', async () => {
    expect((await api.put('/api/queues/%2F/q.a', { durable: true, arguments: { 'x-max-length': 10 } })).status).toBe(201)
    expect((await api.put('/api/queues/%2F/q.a', { durable: 'true', arguments: { 'x-max-length': 10 } })).status).toBe(204)
    const ineq = await api.put('/api/queues/%2F/q.a', { durable: false, arguments: { 'x-max-length': 10 } })
    expect(ineq.body).toEqual({ error: 'bad_request', reason: "inequivalent arg 'durable' for queue 'q.a' in vhost '/': received 'false' but current is 'true'" })
    const q = (await api.get('/api/queues/%2F/q.a')).body
    expect(q).toMatchObject({
      name: 'q.a',
      vhost: '/',
      durable: true,
      auto_delete: false,
      exclusive: false,
      arguments: { 'x-max-length': 10 },
      state: 'running',
      type: 'classic',
      messages: 0,
      messages_ready: 0,
      messages_unacknowledged: 0,
      consumers: 0,
      consumer_details: [],
      node: b.broker.nodeName,
    })
    expect(q.messages_details).toEqual({ rate: expect.any(Number) })
    expect(q.idle_since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/)
    await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: 'q.a', payload: 'x', properties: {} })
    expect((await api.del('/api/queues/%2F/q.a?if-empty=true')).status).toBe(400)
    expect((await api.del('/api/queues/%2F/q.a/contents')).status).toBe(204)
    expect(b.broker.vhost('/')!.queues.get('q.a')!.messageCount).toBe(0)
    expect((await api.del('/api/queues/%2F/q.a?if-empty=true')).status).toBe(204)
    expect((await api.get('/api/queues/%2F/q.a')).status).toBe(404)
    expect((await api.del('/api/queues/%2F/q.a')).status).toBe(404)
  })

  it('shows consumers, unacked messages and exclusive owners of AMQP clients', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    await ch.prefetch(5)
    const { queue } = await ch.assertQueue('', { exclusive: true })
    for (let i = 0; i < 3; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`))
    const got: amqp.ConsumeMessage[] = []
    await ch.consume(queue, (m) => m && got.push(m), { consumerTag: 'ctag-1', arguments: { 'x-priority': 2 } })
    await waitFor(() => got.length === 3)
    const path = `/api/queues/%2F/${encodeURIComponent(queue)}`
    const q = await waitFor(async () => {
      const body = (await api.get(path)).body
      return body.messages_unacknowledged === 3 ? body : null
    })
    expect(q).toMatchObject({ exclusive: true, consumers: 1, messages: 3, messages_ready: 0 })
    expect(q.owner_pid_details.peer_host).toBe('127.0.0.1')
    expect(q.consumer_details).toEqual([
      expect.objectContaining({ consumer_tag: 'ctag-1', ack_required: true, prefetch_count: 5, arguments: { 'x-priority': 2 }, queue: { name: queue, vhost: '/' } }),
    ])
    // basic.get over HTTP on another connection's exclusive queue is refused, as a channel would be
    const locked = await api.post(`${path}/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })
    expect(locked.status).toBe(400)
    expect(locked.body.reason).toMatch(/cannot obtain exclusive access/)
    const chans = (await api.get('/api/channels')).body
    expect(chans).toContainEqual(expect.objectContaining({ prefetch_count: 5, consumer_count: 1, messages_unacknowledged: 3, number: 1 }))
    const consumers = (await api.get('/api/consumers/%2F')).body
    expect(consumers).toContainEqual(expect.objectContaining({ consumer_tag: 'ctag-1', channel_details: expect.objectContaining({ number: 1, user: 'guest' }) }))
    await conn.close()
  })

  it('POST get: ackmodes, encodings, truncate, message_count', async () => {
    await api.put('/api/queues/%2F/get.q', {})
    for (let i = 0; i < 4; i++) {
      await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: 'get.q', payload: `hello ${i}`, properties: { headers: { h: i } } })
    }
    await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: 'get.q', payload: Buffer.from([0xff, 0xfe]).toString('base64'), payload_encoding: 'base64', properties: {} })
    const path = '/api/queues/%2F/get.q/get'
    const peek = (await api.post(path, { count: '2', ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 50000 })).body
    expect(peek).toEqual([
      { payload_bytes: 7, redelivered: false, exchange: '', routing_key: 'get.q', message_count: 4, properties: { headers: { h: 0 } }, payload: 'hello 0', payload_encoding: 'string' },
      { payload_bytes: 7, redelivered: false, exchange: '', routing_key: 'get.q', message_count: 3, properties: { headers: { h: 1 } }, payload: 'hello 1', payload_encoding: 'string' },
    ])
    const again = (await api.post(path, { count: 1, ackmode: 'reject_requeue_true', encoding: 'base64', truncate: 3 })).body
    expect(again[0]).toMatchObject({ redelivered: true, payload: Buffer.from('hel').toString('base64'), payload_encoding: 'base64', payload_bytes: 7 })
    const taken = (await api.post(path, { count: 10, ackmode: 'ack_requeue_false', encoding: 'auto' })).body
    expect(taken.map((m: any) => m.payload)).toEqual(['hello 0', 'hello 1', 'hello 2', 'hello 3', '//4='])
    expect(taken[4].payload_encoding).toBe('base64')
    expect((await api.post(path, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).body).toEqual([])
    expect((await api.post(path, { count: 1, ackmode: 'bogus', encoding: 'auto' })).status).toBe(400)
    expect((await api.post(path, { count: 1, ackmode: 'ack_requeue_true', encoding: 'hex' })).status).toBe(400)
    const stats = (await api.get('/api/queues/%2F/get.q')).body.message_stats
    // the count=10 get stopped at the first empty get, as RabbitMQ's does
    expect(stats).toMatchObject({ publish: 5, get_no_ack: 5, get: 3, get_empty: 2, redeliver: 3, deliver_get: 8 })
  })
})

describe('bindings', () => {
  it('lists with properties_key, creates with Location, gets and deletes by properties_key', async () => {
    await api.put('/api/exchanges/%2F/b.x', { type: 'topic' })
    await api.put('/api/exchanges/%2F/b.x2', { type: 'fanout' })
    await api.put('/api/queues/%2F/b.q', {})
    const c1 = await api.post('/api/bindings/%2F/e/b.x/q/b.q', { routing_key: '', arguments: {} })
    expect(c1.status).toBe(201)
    expect(c1.headers.get('location')).toBe('b.q/~')
    const c2 = await api.post('/api/bindings/%2F/e/b.x/q/b.q', { routing_key: 'a.#', arguments: { foo: 'bar' } })
    // the hash RabbitMQ 3.10 gives for {"foo": "bar"}
    expect(c2.headers.get('location')).toBe('b.q/a.%23~lwiNYA')
    expect((await api.post('/api/bindings/%2F/e/b.x/e/b.x2', { routing_key: 'x y' })).status).toBe(201)
    const between = (await api.get('/api/bindings/%2F/e/b.x/q/b.q')).body
    expect(between.map((x: any) => x.properties_key).sort()).toEqual(['a.%23~lwiNYA', '~'])
    expect((await api.get('/api/bindings/%2F/e/b.x/q/b.q/a.%2523~lwiNYA')).body).toEqual({
      source: 'b.x',
      vhost: '/',
      destination: 'b.q',
      destination_type: 'queue',
      routing_key: 'a.#',
      arguments: { foo: 'bar' },
      properties_key: 'a.%23~lwiNYA',
    })
    expect((await api.get('/api/bindings/%2F/e/b.x/e/b.x2')).body[0]).toMatchObject({ destination_type: 'exchange', properties_key: 'x+y' })
    const all = (await api.get('/api/bindings/%2F')).body
    expect(all).toContainEqual(expect.objectContaining({ source: '', destination: 'b.q', routing_key: 'b.q', properties_key: 'b.q' }))
    expect((await api.get('/api/queues/%2F/b.q/bindings')).body).toHaveLength(3)
    expect((await api.get('/api/exchanges/%2F/b.x2/bindings/destination')).body).toHaveLength(1)
    expect((await api.del('/api/bindings/%2F/e/b.x/q/b.q/a.%2523~lwiNYA')).status).toBe(204)
    expect((await api.del('/api/bindings/%2F/e/b.x/q/b.q/~')).status).toBe(204)
    expect((await api.del('/api/bindings/%2F/e/b.x/q/b.q/~')).status).toBe(404)
    expect((await api.del('/api/bindings/%2F/e/b.x/e/b.x2/x%2By')).status).toBe(204)
    expect(b.broker.vhost('/')!.exchanges.get('b.x')!.bindings.size).toBe(0)
    expect((await api.post('/api/bindings/%2F/e/amq.default/q/b.q', { routing_key: 'z' })).status).toBe(401)
    expect((await api.post('/api/bindings/%2F/e/nope/q/b.q', {})).status).toBe(404)
  })
})

describe('connections and channels', () => {
  it('lists an amqplib connection as RabbitMQ does and closes it with X-Reason', async () => {
    const conn = await amqp.connect(b.url + '?heartbeat=30', { clientProperties: { connection_name: 'probe' } })
    const closed = new Promise<Error>((resolve) => conn.on('close', resolve))
    await conn.createChannel()
    await conn.createChannel()
    const c = await waitFor(async () => (await api.get('/api/connections')).body.find((x: any) => x.user_provided_name === 'probe'))
    expect(c).toMatchObject({ user: 'guest', vhost: '/', channels: 2, protocol: 'AMQP 0-9-1', timeout: 30, state: 'running', peer_host: '127.0.0.1', port: b.amqpPort, ssl: false })
    expect(c.client_properties.product).toBe('amqplib')
    expect(c.recv_oct).toBeGreaterThan(0)
    expect(c.recv_oct_details).toEqual({ rate: expect.any(Number) })
    const name = encodeURIComponent(c.name)
    expect((await api.get(`/api/connections/${name}`)).body.name).toBe(c.name)
    expect((await api.get(`/api/connections/${name}/channels`)).body.map((x: any) => x.number).sort()).toEqual([1, 2])
    expect((await api.get(`/api/channels/${encodeURIComponent(`${c.name} (2)`)}`)).body.connection_details.name).toBe(c.name)
    expect((await api.del(`/api/connections/${name}`, { 'x-reason': 'maintenance window' })).status).toBe(204)
    const err = await closed
    expect(err.message).toContain('320')
    expect(err.message).toContain('maintenance window')
    await waitFor(async () => (await api.get(`/api/connections/${name}`)).status === 404)
  })
})

describe('rates', () => {
  it('message rates appear after publishing and consuming through amqplib', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createConfirmChannel()
    await ch.assertQueue('rates.q', { durable: false })
    let stop = false
    let consumed = 0
    await ch.consume('rates.q', (m) => {
      if (m) {
        consumed++
        ch.ack(m)
      }
    })
    const pump = (async () => {
      while (!stop) {
        for (let i = 0; i < 20; i++) ch.sendToQueue('rates.q', Buffer.from('x'))
        await ch.waitForConfirms()
      }
    })()
    try {
      const q = await waitFor(async () => {
        const body = (await api.get('/api/queues/%2F/rates.q')).body
        const s = body.message_stats
        return s?.publish_details?.rate > 0 && s?.deliver_details?.rate > 0 && s?.ack_details?.rate > 0 ? body : null
      }, 10_000)
      expect(q.message_stats.publish).toBeGreaterThan(0)
      expect(q.message_stats.deliver_get).toBeGreaterThan(0)
      const o = await waitFor(async () => {
        const body = (await api.get('/api/overview')).body
        return body.message_stats.publish_details.rate > 0 && body.message_stats.deliver_details.rate > 0 ? body : null
      }, 10_000)
      expect(o.message_stats.publish).toBeGreaterThan(0)
      expect(o.message_stats.ack).toBeGreaterThan(0)
      const x = (await api.get('/api/exchanges/%2F/amq.default')).body
      expect(x.message_stats.publish_in).toBeGreaterThan(0)
      const v = await waitFor(async () => {
        const body = (await api.get('/api/vhosts/%2F')).body
        return body.message_stats.publish_details.rate > 0 ? body : null
      }, 10_000)
      expect(v.recv_oct).toBeGreaterThan(0)
    } finally {
      stop = true
      await pump
      await conn.close()
    }
    expect(consumed).toBeGreaterThan(0)
  })
})

describe('list query parameters', () => {
  it('pagination, name filter (plain and regex), sort, sort_reverse, columns', async () => {
    for (const n of ['pg.alpha', 'pg.beta', 'pg.gamma', 'other.delta']) await api.put(`/api/queues/%2F/${n}`, {})
    const page = (await api.get('/api/queues?page=1&page_size=2&name=pg.&use_regex=false&pagination=true&columns=name,vhost')).body
    expect(page).toEqual({
      filtered_count: 3,
      item_count: 2,
      items: [
        { name: 'pg.alpha', vhost: '/' },
        { name: 'pg.beta', vhost: '/' },
      ],
      page: 1,
      page_count: 2,
      page_size: 2,
      total_count: b.broker.vhost('/')!.queues.size,
    })
    expect((await api.get('/api/queues?page=2&page_size=2&name=pg.&columns=name')).body.items).toEqual([{ name: 'pg.gamma' }])
    expect((await api.get('/api/queues?page=1&name=%5Epg%5C.(a%7Cg)&use_regex=true&columns=name')).body.items).toEqual([{ name: 'pg.alpha' }, { name: 'pg.gamma' }])
    const rev = (await api.get('/api/queues?sort=name&sort_reverse=true&columns=name')).body.map((q: any) => q.name)
    expect(rev).toEqual([...rev].sort().reverse())
    expect((await api.get('/api/queues?page=9&page_size=2&name=pg.')).status).toBe(400)
    expect((await api.get('/api/queues?page=0')).status).toBe(400)
    expect((await api.get('/api/queues?page=1&page_size=501')).status).toBe(400)
    expect((await api.get('/api/queues?page=1&name=(&use_regex=true')).status).toBe(400)
  })
})

describe('health checks', () => {
  it('answers as RabbitMQ, including failures with 503', async () => {
    expect((await api.get('/api/health/checks/alarms')).body).toEqual({ status: 'ok' })
    expect((await api.get('/api/health/checks/virtual-hosts')).body).toEqual({ status: 'ok' })
    expect((await api.get(`/api/health/checks/port-listener/${b.amqpPort}`)).body).toEqual({ status: 'ok', port: b.amqpPort })
    const missing = await api.get('/api/health/checks/port-listener/1')
    expect(missing.status).toBe(503)
    expect(missing.body).toEqual({ status: 'failed', reason: 'No active listener', missing: 1, ports: expect.arrayContaining([b.amqpPort, b.httpPort]) })
    expect((await api.get('/api/health/checks/port-listener/abc')).status).toBe(400)
    expect((await api.get('/api/health/checks/protocol-listener/amqp')).status).toBe(200)
    expect((await api.get('/api/health/checks/protocol-listener/mqtt')).status).toBe(503)
    expect((await api.get('/api/aliveness-test/%2F')).body).toEqual({ status: 'ok' })
    expect(b.broker.vhost('/')!.queues.has('aliveness-test')).toBe(true)
    expect((await api.get('/api/aliveness-test/nope')).status).toBe(404)
    const res = await fetch(`${api.base}/api/health/checks/alarms`, { headers: { authorization: basicAuth('guest', 'wrong') } })
    expect(res.status).toBe(401)
  })
})
