/**
 * Bad input to the management API: malformed JSON, wrong types, unknown vhosts and routes, names over
 * 255 bytes, invalid arguments, huge bodies. Each gets a clear 4xx with RabbitMQ's error body,
 * nothing is half-created, and the broker keeps serving HTTP and AMQP.
 */
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { apiClient, basicAuth, type ApiClient } from '../helpers/http.js'

let b: TestBroker
let api: ApiClient
let before: { queues: string[]; exchanges: string[]; vhosts: string[]; users: string[] }

const snapshot = (): typeof before => {
  const v = b.broker.vhost('/')!
  return {
    queues: [...v.queues.keys()].sort(),
    exchanges: [...v.exchanges.keys()].sort(),
    vhosts: [...b.broker.vhosts.keys()].sort(),
    users: b.broker.users.list().map((u) => u.name).sort(),
  }
}

const long = 'x'.repeat(256)

beforeAll(async () => {
  b = await startTestBroker()
  api = apiClient(b)
  before = snapshot()
})
afterEach(() => {
  // nothing a bad request does may leave objects behind
  expect(snapshot()).toEqual(before)
})
afterAll(async () => {
  // and the broker still works over AMQP
  const conn = await amqp.connect(b.url)
  const ch = await conn.createChannel()
  const q = await ch.assertQueue('', { exclusive: true })
  ch.sendToQueue(q.queue, Buffer.from('still alive'))
  const m = await new Promise<amqp.ConsumeMessage>((resolve) => ch.consume(q.queue, (x) => x && resolve(x)))
  expect(m.content.toString()).toBe('still alive')
  await conn.close()
  await b.stop()
})

describe('malformed requests', () => {
  it('malformed JSON is 400 not_json', async () => {
    for (const body of ['{', '{"durable": tru}', 'null null', '\u0000\u0001']) {
      const r = await api.put('/api/queues/%2F/bad.json', body)
      expect(r.status).toBe(400)
      expect(r.body).toEqual({ error: 'bad_request', reason: 'not_json' })
    }
  })

  it('a JSON body that is not an object is 400', async () => {
    for (const body of ['[]', '"queue"', '42']) {
      const r = await api.put('/api/queues/%2F/bad.shape', body)
      expect(r.status).toBe(400)
      expect(r.body.error).toBe('bad_request')
    }
  })

  it('wrong types name the field', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['PUT', '/api/queues/%2F/t.q', { durable: 'yes' }, /durable must be a boolean/],
      ['PUT', '/api/queues/%2F/t.q', { auto_delete: 1 }, /auto_delete must be a boolean/],
      ['PUT', '/api/queues/%2F/t.q', { arguments: [1, 2] }, /arguments must be a JSON object/],
      ['PUT', '/api/queues/%2F/t.q', { arguments: { 'x-max-length': null } }, /null values are not allowed/],
      ['PUT', '/api/exchanges/%2F/t.x', { type: 7 }, /type must be a string/],
      ['PUT', '/api/exchanges/%2F/t.x', { type: 'no-such-type' }, /unknown exchange type 'no-such-type'/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 1, payload: 'x' }, /routing_key must be a string/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k' }, /missing key 'payload'/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k', payload: 'x', payload_encoding: 'rot13' }, /payload_encoding/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k', payload: '!!', payload_encoding: 'base64' }, /not valid base64/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k', payload: 'x', properties: { delivery_mode: 'fast' } }, /delivery_mode/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k', payload: 'x', properties: { expiration: 'soon' } }, /invalid expiration/],
      ['POST', '/api/exchanges/%2F/amq.direct/publish', { routing_key: 'k', payload: 'x', properties: 'none' }, /properties must be a JSON object/],
      ['PUT', '/api/users/t.u', { password: 'a', tags: 5 }, /tags must be/],
      ['PUT', '/api/users/t.u', { password_hash: 'abc', hashing_algorithm: 'rot13' }, /unknown hashing_algorithm/],
      ['PUT', '/api/vhosts/t.v', { description: 5 }, /description must be a string/],
    ]
    for (const [method, path, body, reason] of cases) {
      const r = await api.request(method, path, body)
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400)
      expect(r.body.error).toBe('bad_request')
      expect(r.body.reason).toMatch(reason)
    }
  })

  it('invalid queue arguments are refused with RabbitMQ reasons, and nothing is created', async () => {
    const cases: [unknown, RegExp][] = [
      [{ 'x-message-ttl': -1 }, /invalid arg 'x-message-ttl' for queue 't.args' in vhost '\/': \{value_negative,-1\}/],
      [{ 'x-max-length': 'ten' }, /invalid arg 'x-max-length'.*unacceptable_type/],
      [{ 'x-overflow': 'explode' }, /invalid arg 'x-overflow'/],
      [{ 'x-queue-type': 'quorum' }, /invalid property 'non-durable'/],
    ]
    for (const [args, reason] of cases) {
      const r = await api.put('/api/queues/%2F/t.args', { durable: false, arguments: args })
      expect(r.status).toBe(400)
      expect(r.body.reason).toMatch(reason)
    }
  })

  it('names over 255 bytes are 400', async () => {
    expect((await api.put(`/api/queues/%2F/${long}`, {})).body.reason).toMatch(/queue name is 256 bytes long/)
    expect((await api.put(`/api/exchanges/%2F/${long}`, { type: 'direct' })).status).toBe(400)
    expect((await api.put(`/api/vhosts/${long}`, {})).status).toBe(400)
    expect((await api.put(`/api/users/${long}`, { password: 'x' })).status).toBe(400)
    // multi-byte characters count in bytes: 128 × 'é' is 256 bytes
    expect((await api.put(`/api/queues/%2F/${encodeURIComponent('é'.repeat(128))}`, {})).status).toBe(400)
    await api.put('/api/queues/%2F/t.long', {})
    try {
      expect((await api.post('/api/bindings/%2F/e/amq.direct/q/t.long', { routing_key: long })).status).toBe(400)
      expect((await api.post('/api/exchanges/%2F/amq.direct/publish', { routing_key: long, payload: '' })).status).toBe(400)
      expect(b.broker.vhost('/')!.queues.get('t.long')!.incoming.size).toBe(0)
    } finally {
      await api.del('/api/queues/%2F/t.long')
    }
  })
})

describe('unknown things', () => {
  it('unknown vhosts are 404 Object Not Found', async () => {
    for (const [method, path] of [
      ['GET', '/api/queues/nohost'],
      ['GET', '/api/exchanges/nohost/x'],
      ['PUT', '/api/queues/nohost/q'],
      ['PUT', '/api/exchanges/nohost/x'],
      ['POST', '/api/bindings/nohost/e/x/q/q'],
      ['GET', '/api/vhosts/nohost'],
      ['DELETE', '/api/vhosts/nohost'],
    ]) {
      const r = await api.request(method, path, method === 'GET' || method === 'DELETE' ? undefined : {})
      expect(r.status, `${method} ${path}`).toBe(404)
      expect(r.body).toEqual({ error: 'Object Not Found', reason: 'Not Found' })
    }
  })

  it('unknown routes are 404, wrong methods 405, unknown objects 404', async () => {
    expect((await api.get('/api/nonsense')).status).toBe(404)
    expect((await api.get('/api/queues/%2F/q/nonsense/deeper')).status).toBe(404)
    expect((await api.get('/not-api')).status).toBe(404)
    const wrong = await api.request('PATCH', '/api/queues/%2F/q', {})
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toContain('PUT')
    expect((await api.post('/api/overview', {})).status).toBe(405)
    expect((await api.get('/api/queues/%2F/none')).status).toBe(404)
    expect((await api.get('/api/connections/nope')).status).toBe(404)
    expect((await api.del('/api/connections/nope')).status).toBe(404)
    expect((await api.del('/api/users/nope')).status).toBe(404)
    expect((await api.post('/api/queues/%2F/none/get', { count: 1, ackmode: 'ack_requeue_true' })).status).toBe(404)
    expect((await api.get('/api/queues/%E0%A4%A')).status).toBe(400)
  })

  it('unknown routes answer 404 before asking for credentials; known ones 401', async () => {
    expect((await fetch(`${api.base}/api/nonsense`)).status).toBe(404)
    expect((await fetch(`${api.base}/api/queues`)).status).toBe(401)
    const bad = await fetch(`${api.base}/api/queues`, { headers: { authorization: 'Basic !!!' } })
    expect(bad.status).toBe(401)
    expect((await fetch(`${api.base}/api/queues`, { headers: { authorization: 'Bearer x' } })).status).toBe(401)
    expect((await fetch(`${api.base}/api/queues`, { headers: { authorization: basicAuth('guest', '') } })).status).toBe(401)
  })
})

describe('huge bodies', () => {
  it('a body over the limit is 413 (declared length and chunked), and nothing is created', async () => {
    const big = Buffer.alloc(21 * 1024 * 1024, 0x20)
    const r = await api.request('PUT', '/api/queues/%2F/t.huge', big)
    expect(r.status).toBe(413)
    expect(r.body.error).toBe('payload_too_large')
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 22; i++) c.enqueue(new Uint8Array(1024 * 1024).fill(0x20))
        c.close()
      },
    })
    const res = await fetch(`${api.base}/api/queues/%2F/t.huge`, {
      method: 'PUT',
      body: chunks,
      duplex: 'half',
      headers: { authorization: basicAuth('guest', 'guest'), 'content-type': 'application/json' },
    } as RequestInit)
    expect(res.status).toBe(413)
    // the server still answers on new connections
    expect((await api.get('/api/overview')).status).toBe(200)
  })

  it('a large but allowed body works', async () => {
    const r = await api.post('/api/exchanges/%2F/amq.direct/publish', { routing_key: 'nowhere', payload: 'y'.repeat(5 * 1024 * 1024), properties: {} })
    expect(r.body).toEqual({ routed: false })
  })
})
