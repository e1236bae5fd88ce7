/**
 * Request bodies that used to block the event loop (issue 10, hole 7): deeply nested JSON is refused
 * before JSON.parse builds it, small routes take at most 1 MB, and a large definitions import runs
 * in slices so AMQP clients keep being served while it is applied.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { apiClient } from '../helpers/http.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('json')

describe('JSON depth and size limits', () => {
  it('nesting deeper than 64 levels is 400 with a reason; 64 levels still parse', async () => {
    const api = apiClient(s.b)
    const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
    const r = await api.request('PUT', `/api/queues/%2F/${s.uniq('deep')}`, `{"arguments": {"x": ${deep(100)}}}`)
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ error: 'bad_request', reason: 'the JSON body is nested deeper than 64 levels' })
    // brackets inside strings are not nesting
    const name = s.uniq('strings')
    const ok = await api.request('PUT', `/api/queues/%2F/${name}`, `{"arguments": {"x-note": "${'[{'.repeat(200)}"}}`)
    expect(ok.status).toBe(201)
    // at the limit: 64 levels in all (the body object, "arguments", then 62 arrays)
    const edge = await api.request('PUT', `/api/queues/%2F/${s.uniq('edge')}`, `{"arguments": {"x": ${deep(62)}}}`)
    expect(edge.status).toBe(201)
  })

  it('a 19 MB [[[…]]] body is refused at once, without building it, and AMQP keeps answering', async () => {
    const api = apiClient(s.b)
    const n = 19 * 1024 * 1024 / 2
    const body = Buffer.alloc(n * 2)
    body.fill(0x5b, 0, n)
    body.fill(0x5d, n)
    const conn = await s.clientConn()
    const ch = await conn.channel()
    const h = monitorEventLoopDelay({ resolution: 10 })
    const rss0 = process.memoryUsage().rss
    let rssMax = rss0
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 5)
    h.enable()
    const r = await api.request('POST', '/api/definitions', body)
    h.disable()
    clearInterval(sampler)
    rssMax = Math.max(rssMax, process.memoryUsage().rss)
    expect(r.status).toBe(400)
    expect(r.body.reason).toBe('the JSON body is nested deeper than 64 levels')
    await ch.queueDeclare('', { exclusive: true })
    const growthMb = (rssMax - rss0) / 1e6
    console.info(`19 MB [[[…]]] definitions body: RSS +${growthMb.toFixed(0)} MB, longest event-loop stall ${(h.max / 1e6).toFixed(1)} ms`)
    // JSON.parse of it took 1.6 GB and 6.4 s; what is left is the body's own copies (test client
    // and server share this process) and, on a loaded machine, scheduling noise in the stall
    expect(growthMb).toBeLessThan(400)
    expect(h.max / 1e6).toBeLessThan(3000)
  })

  it('routes other than definitions import and publish take at most 1 MB (413)', async () => {
    const api = apiClient(s.b)
    const pad = 'x'.repeat(1024 * 1024)
    const r = await api.request('PUT', `/api/queues/%2F/${s.uniq('big')}`, JSON.stringify({ arguments: { 'x-pad': pad } }))
    expect(r.status).toBe(413)
    expect(r.body.error).toBe('payload_too_large')
    expect(r.body.reason).toBe('request body is larger than the limit of 1048576 bytes')
    // publish keeps RabbitMQ's 20 MB limit
    const p = await api.post('/api/exchanges/%2F/amq.default/publish', { routing_key: 'nowhere', payload: pad + pad, payload_encoding: 'string', properties: {} })
    expect(p.status).toBe(200)
  })
})

describe('large definitions import', () => {
  // a wall-clock measure: one descheduling or major GC of this test process can make a single
  // stall long (seen once in four quiet CI runs, 809 of 2209 ms); a retry repeats the whole import
  // with the same bounds
  it('is applied in slices: AMQP round trips keep completing while it runs', { retry: 2 }, async () => {
    const api = apiClient(s.b)
    const count = 6000
    const prefix = s.uniq('imp')
    const defs = {
      exchanges: [{ name: `${prefix}.x`, vhost: '/', type: 'topic', durable: false, auto_delete: false, internal: false, arguments: {} }],
      queues: Array.from({ length: count }, (_, i) => ({
        name: `${prefix}.q.${i}`,
        vhost: '/',
        durable: false,
        auto_delete: false,
        arguments: { 'x-message-ttl': 60000, 'x-note': 'n'.repeat(64) },
      })),
      bindings: Array.from({ length: count }, (_, i) => ({
        source: `${prefix}.x`,
        vhost: '/',
        destination: `${prefix}.q.${i}`,
        destination_type: 'queue',
        routing_key: `k.${i}.#`,
        arguments: {},
      })),
    }
    const body = JSON.stringify(defs)
    const conn = await s.clientConn()
    const ch = await conn.channel()
    const mine = await ch.queueDeclare('', { exclusive: true })
    const h = monitorEventLoopDelay({ resolution: 10 })
    h.enable()
    const t0 = performance.now()
    const importing = api.request('POST', '/api/definitions', body)
    // AMQP round trips (queue.declare passive) while the import runs
    const trips: number[] = []
    let done = false
    void importing.finally(() => (done = true))
    while (!done) {
      const t = performance.now()
      await ch.queueDeclare(mine.name, { passive: true })
      trips.push(performance.now() - t)
    }
    const r = await importing
    const totalMs = performance.now() - t0
    h.disable()
    expect(r.body).toBeUndefined()
    expect(r.status).toBe(204)
    expect(s.b.broker.vhost('/')!.queues.has(`${prefix}.q.${count - 1}`)).toBe(true)
    const maxStallMs = h.max / 1e6
    console.info(
      `import of ${(body.length / 1e6).toFixed(1)} MB (${count} queues + ${count} bindings): ${totalMs.toFixed(0)} ms, ` +
        `longest event-loop stall ${maxStallMs.toFixed(1)} ms, ${trips.length} AMQP round trips meanwhile, longest ${Math.max(...trips).toFixed(0)} ms`,
    )
    // applied in one block, the longest stall is the whole import and one round trip completes;
    // in slices the longest stall (JSON.parse of the body, or CPU contention) is a small part of it
    expect(trips.length).toBeGreaterThanOrEqual(5)
    expect(maxStallMs).toBeLessThan(totalMs / 3)
  })
})
