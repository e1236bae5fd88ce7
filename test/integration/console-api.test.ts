/**
 * The console's server side against a real broker: the static files (no auth, content types,
 * ETag revalidation, no directory traversal) and the console's endpoints: the route tester (routes
 * like a publish would, reports the bindings, publishes nothing), the topology graph and the
 * dead-letter report.
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testMessage } from '../../admin-ui/route-tester.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { apiClient, type ApiClient, type HttpResult } from '../helpers/http.js'

let b: TestBroker
let api: ApiClient
let conn: amqp.ChannelModel
let ch: amqp.Channel

beforeAll(async () => {
  b = await startTestBroker()
  api = apiClient(b)
  conn = await amqp.connect(b.url)
  ch = await conn.createChannel()
  // orders (topic) → two queues, one of them by two bindings; → audit (fanout, e2e) → audit.log
  await ch.assertExchange('orders', 'topic', { durable: false, alternateExchange: 'unrouted' })
  await ch.assertExchange('unrouted', 'fanout', { durable: false })
  await ch.assertExchange('audit', 'fanout', { durable: false })
  await ch.assertExchange('by-headers', 'headers', { durable: false })
  await ch.assertExchange('hidden', 'direct', { durable: false, internal: true })
  for (const q of ['created', 'all', 'audit.log', 'unrouted.q', 'eu']) await ch.assertQueue(q, { durable: false })
  await ch.bindQueue('created', 'orders', 'order.created')
  await ch.bindQueue('all', 'orders', 'order.*')
  await ch.bindQueue('all', 'orders', '#.created')
  await ch.bindExchange('audit', 'orders', '#')
  await ch.bindQueue('audit.log', 'audit', '')
  await ch.bindQueue('unrouted.q', 'unrouted', '')
  await ch.bindQueue('eu', 'by-headers', '', { 'x-match': 'any', region: 'eu', country: 'fr' })
  await ch.bindQueue('created', 'hidden', 'k')
})

afterAll(async () => {
  await conn?.close().catch(() => {})
  await b?.stop()
})

describe('static console files', () => {
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${api.base}${path}`, { headers })

  it('serves the page and its assets without authentication, with content types and caching headers', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('<script type="module" src="console/js/app.js">')
    for (const [path, type] of [
      ['/console/js/app.js', 'text/javascript; charset=utf-8'],
      ['/console/js/pages/topology.js', 'text/javascript; charset=utf-8'],
      ['/console/console.css', 'text/css; charset=utf-8'],
      ['/console/favicon.svg', 'image/svg+xml'],
      ['/favicon.ico', 'image/svg+xml'],
      ['/index.html?x=1', 'text/html; charset=utf-8'],
    ]) {
      const r = await get(path)
      expect(r.status, path).toBe(200)
      expect(r.headers.get('content-type'), path).toBe(type)
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
    }
    const head = await fetch(`${api.base}/console/console.css`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000)
  })

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get('/console/js/api.js')
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^W\/".+"$/)
    const again = await get('/console/js/api.js', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
  })

  it('never serves a file outside the console directory', async () => {
    for (const path of [
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/js/..%2F..%2F..%2Fstatic.ts',
      '/console/%2e%2e%5cstatic.ts',
      '/console/.hidden',
      '/console/js%00.js',
      '/console/',
      '/console/js',
      '/console/nope.js',
      '/console/index.html.bak',
    ]) {
      const r = await get(path)
      expect([400, 404], path).toContain(r.status)
      const text = await r.text()
      expect(text, path).not.toContain('"name": "warren"')
      expect(text, path).not.toContain('serveStatic')
    }
  })

  it('leaves every other URL and method to the API', async () => {
    expect((await fetch(`${api.base}/api/overview`)).status).toBe(401)
    expect((await fetch(`${api.base}/`, { method: 'POST' })).status).toBe(404)
    expect((await get('/other')).status).toBe(404)
  })
})

describe('POST /api/route-test/{vhost}/{exchange}', () => {
  const test = (exchange: string, body: unknown): Promise<HttpResult> => api.post(`/api/route-test/%2F/${encodeURIComponent(exchange)}`, body)

  it('reports the queues and the bindings that match, each queue once with every path', async () => {
    const r = await test('orders', { routing_key: 'order.created' })
    expect(r.status).toBe(200)
    expect(r.body.routed).toBe(true)
    expect(r.body.queues.map((q: { name: string }) => q.name)).toEqual(['all', 'audit.log', 'created'])
    const all = r.body.queues.find((q: { name: string }) => q.name === 'all')
    expect(all.paths.map((p: { routing_key: string }[]) => p.map((h) => h.routing_key))).toEqual([['order.*'], ['#.created']])
    const audit = r.body.queues.find((q: { name: string }) => q.name === 'audit.log')
    expect(audit.paths).toEqual([
      [
        { source: 'orders', destination: 'audit', destination_type: 'exchange', routing_key: '#', arguments: {}, via: 'binding' },
        { source: 'audit', destination: 'audit.log', destination_type: 'queue', routing_key: '', arguments: {}, via: 'binding' },
      ],
    ])
    expect(r.body.exchanges.map((x: { name: string; entered_by: string }) => [x.name, x.entered_by])).toEqual([
      ['orders', 'published'],
      ['audit', 'binding'],
    ])
  })

  it('reports only the binding that matched when a queue has several', async () => {
    const r = await test('orders', { routing_key: 'order.shipped' })
    expect(r.body.queues.map((q: { name: string }) => q.name)).toEqual(['all', 'audit.log'])
    expect(r.body.queues[0].paths).toHaveLength(1)
    expect(r.body.queues[0].paths[0][0].routing_key).toBe('order.*')
  })

  it('follows the alternate exchange when nothing matches', async () => {
    // the e2e binding '#' matches everything on orders, so use a fresh topic exchange with an AE
    await ch.assertExchange('orders2', 'topic', { durable: false, alternateExchange: 'unrouted' })
    const r = await test('orders2', { routing_key: 'nothing.here' })
    expect(r.body.queues).toEqual([
      {
        name: 'unrouted.q',
        paths: [
          [
            { source: 'orders2', destination: 'unrouted', destination_type: 'exchange', routing_key: 'nothing.here', arguments: {}, via: 'alternate-exchange' },
            { source: 'unrouted', destination: 'unrouted.q', destination_type: 'queue', routing_key: '', arguments: {}, via: 'binding' },
          ],
        ],
      },
    ])
    expect(r.body.exchanges[0]).toMatchObject({ name: 'orders2', matched: 0, alternate_exchange: 'unrouted' })
  })

  it('matches headers exchanges on the headers given', async () => {
    const hit = await test('by-headers', { routing_key: '', headers: { country: 'fr' } })
    expect(hit.body.queues.map((q: { name: string }) => q.name)).toEqual(['eu'])
    expect(hit.body.queues[0].paths[0][0].arguments).toEqual({ 'x-match': 'any', region: 'eu', country: 'fr' })
    const miss = await test('by-headers', { routing_key: '', headers: { country: 'de' } })
    expect(miss.body).toMatchObject({ routed: false, queues: [] })
  })

  it('routes through the default exchange by queue name (amq.default in the URL)', async () => {
    const r = await test('amq.default', { routing_key: 'created' })
    expect(r.body.queues).toEqual([{ name: 'created', paths: [[{ source: '', destination: 'created', destination_type: 'queue', routing_key: 'created', arguments: {}, via: 'default' }]] }])
    expect((await test('amq.default', { routing_key: 'no-such-queue' })).body.routed).toBe(false)
  })

  it('warns about an internal exchange and still shows where it routes', async () => {
    const r = await test('hidden', { routing_key: 'k' })
    expect(r.body.queues.map((q: { name: string }) => q.name)).toEqual(['created'])
    expect(r.body.warnings[0]).toContain('internal')
  })

  it('agrees with the broker’s own routing and publishes nothing', async () => {
    const v = b.broker.vhost('/')!
    const before = (await api.get('/api/queues/%2F?columns=name,messages')).body
    const publishIn = v.exchanges.get('orders')!.publishIn
    for (const [x, key] of [['orders', 'order.created'], ['orders', 'a.b.created'], ['orders', 'x'], ['orders2', 'y'], ['by-headers', '']]) {
      const r = await test(x, { routing_key: key, headers: { region: 'eu' } })
      const probe = v.routeOnly.bind(v)
      const expected = probe(v.exchanges.get(x)!, testMessage(x, key, { region: 'eu' })).map((q) => q.name).sort()
      expect(r.body.queues.map((q: { name: string }) => q.name), `${x} ${key}`).toEqual(expected)
    }
    // routeOnly above counted its probes; the route tester itself counts nothing
    v.exchanges.get('orders')!.publishIn = publishIn
    await test('orders', { routing_key: 'order.created' })
    expect(v.exchanges.get('orders')!.publishIn).toBe(publishIn)
    expect((await api.get('/api/queues/%2F?columns=name,messages')).body).toEqual(before)
  })

  it('refuses bad requests with a reason', async () => {
    expect((await test('nope', { routing_key: 'x' })).body).toEqual({ error: 'not_found', reason: "no exchange 'nope' in vhost '/'" })
    expect((await api.post('/api/route-test/nope/orders', {})).status).toBe(404)
    const long = await test('orders', { routing_key: 'x'.repeat(256) })
    expect(long.status).toBe(400)
    expect(long.body.reason).toContain('255')
    expect((await test('orders', { routing_key: 1 })).status).toBe(400)
    expect((await test('orders', { headers: [1] })).status).toBe(400)
    expect((await test('orders', '{bad json')).body).toEqual({ error: 'bad_request', reason: 'not_json' })
    const anon = await fetch(`${api.base}/api/route-test/%2F/orders`, { method: 'POST', body: '{}' })
    expect(anon.status).toBe(401)
    expect((await api.get('/api/route-test/%2F/orders')).status).toBe(405)
  })
})

describe('GET /api/topology/{vhost} and GET /api/dead-letters/{vhost}', () => {
  beforeAll(async () => {
    await ch.assertExchange('dlx', 'fanout', { durable: false })
    await ch.assertQueue('dlq', { durable: false })
    await ch.bindQueue('dlq', 'dlx', '')
    await ch.assertQueue('work', { durable: false, deadLetterExchange: 'dlx' })
    await ch.assertQueue('short', { durable: false, messageTtl: 1, deadLetterExchange: '', deadLetterRoutingKey: 'dlq' })
    await ch.assertQueue('lost', { durable: false, deadLetterExchange: 'no-such-dlx' })
    ch.sendToQueue('work', Buffer.from('r1'))
    ch.sendToQueue('work', Buffer.from('r2'))
    ch.sendToQueue('short', Buffer.from('t1'))
    for (let i = 0; i < 2; i++) {
      const m = await waitFor(async () => (await ch.get('work')) || undefined, 3000, 'a message')
      ch.nack(m, false, false)
    }
    await waitFor(async () => (await api.get('/api/queues/%2F/dlq')).body.messages === 3, 3000, 'three dead letters')
  })

  it('lists nodes with rates, bindings, dead-letter and alternate-exchange links', async () => {
    const r = await api.get('/api/topology/%2F')
    expect(r.status).toBe(200)
    const node = (id: string): Record<string, unknown> => r.body.nodes.find((n: { id: string }) => n.id === id)
    expect(node('e:orders')).toMatchObject({ kind: 'exchange', type: 'topic', rates: { publish_in: 0, publish_out: 0 } })
    expect(node('q:dlq')).toMatchObject({ kind: 'queue', messages_ready: 3, messages: 3, consumers: 0 })
    expect(node('q:work')).toMatchObject({ dead_lettered: 2 })
    expect(node('e:')).toBeUndefined()
    expect(node('e:no-such-dlx')).toMatchObject({ missing: true, kind: 'exchange' })
    const edges = r.body.edges as { kind: string; source: string; target: string; routing_key?: string; via_default?: boolean }[]
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'binding', source: 'e:orders', target: 'e:audit', routing_key: '#' }))
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'binding', source: 'e:by-headers', target: 'q:eu', arguments: { 'x-match': 'any', region: 'eu', country: 'fr' } }))
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'alternate-exchange', source: 'e:orders', target: 'e:unrouted' }))
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'dead-letter', source: 'q:work', target: 'e:dlx' }))
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'dead-letter', source: 'q:short', target: 'q:dlq', routing_key: 'dlq', via_default: true }))
    expect(edges).toContainEqual(expect.objectContaining({ kind: 'dead-letter', source: 'q:lost', target: 'e:no-such-dlx' }))
    expect((await api.get('/api/topology/nope')).status).toBe(404)
  })

  it('says where dead letters go and counts the reasons in the dead-letter queue', async () => {
    const r = await api.get('/api/dead-letters/%2F')
    expect(r.status).toBe(200)
    const src = (q: string): Record<string, unknown> => r.body.sources.find((s: { queue: string }) => s.queue === q)
    expect(src('work')).toMatchObject({ dead_letter_exchange: 'dlx', exchange_exists: true, exchange_type: 'fanout', targets: ['dlq'], depends_on_message: false, dead_lettered: 2 })
    expect(src('short')).toMatchObject({ dead_letter_exchange: '', dead_letter_routing_key: 'dlq', targets: ['dlq'] })
    expect(src('lost')).toMatchObject({ exchange_exists: false, targets: [] })
    expect(r.body.queues).toEqual([
      { queue: 'dlq', messages: 3, scanned: 3, dead_lettered_messages: 3, reasons: { rejected: 2, expired: 1 }, from: { work: 2, short: 1 } },
    ])
    // read in place: nothing was redelivered
    const m = await ch.get('dlq')
    expect(m && m.fields.redelivered).toBe(false)
    if (m) ch.nack(m, false, true)
  })
})
