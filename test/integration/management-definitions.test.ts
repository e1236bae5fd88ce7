/**
 * Definitions export and import in RabbitMQ's format: a file exported by RabbitMQ 3.10 imports (its
 * password hashes work), Warren's export imports into a fresh broker and back unchanged, per-vhost
 * export/import, and a bad import changes nothing at all.
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { apiClient, type ApiClient } from '../helpers/http.js'

/** Shaped like `GET /api/definitions` of RabbitMQ 3.10.8 (users hashed by RabbitMQ: guest/guest). */
const RABBITMQ_EXPORT = {
  rabbit_version: '3.10.8',
  rabbitmq_version: '3.10.8',
  product_name: 'RabbitMQ',
  product_version: '3.10.8',
  users: [
    {
      name: 'ops',
      password_hash: 'RRMDajo/UgJGI9GjTSrg3zza0rpPrdqv2S9U8PGbzX9HoIzH',
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: ['administrator'],
      limits: {},
    },
  ],
  vhosts: [{ name: '/' }, { name: 'shop' }],
  permissions: [
    { user: 'ops', vhost: '/', configure: '.*', write: '.*', read: '.*' },
    { user: 'ops', vhost: 'shop', configure: '.*', write: '.*', read: '.*' },
  ],
  topic_permissions: [],
  parameters: [],
  global_parameters: [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-UwKiFYNx_G8Kqpiqw2MzmA' }],
  policies: [{ vhost: 'shop', name: 'ttl', pattern: '^orders', 'apply-to': 'queues', definition: { 'message-ttl': 60000 }, priority: 1 }],
  queues: [
    { name: 'orders', vhost: 'shop', durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000 } },
    { name: 'orders.dlq', vhost: 'shop', durable: true, auto_delete: false, arguments: {} },
  ],
  exchanges: [
    { name: 'shop.events', vhost: 'shop', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
    { name: 'shop.fan', vhost: 'shop', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} },
  ],
  bindings: [
    { source: 'shop.events', vhost: 'shop', destination: 'orders', destination_type: 'queue', routing_key: 'order.#', arguments: { foo: 'bar' } },
    { source: 'shop.events', vhost: 'shop', destination: 'shop.fan', destination_type: 'exchange', routing_key: '', arguments: {} },
  ],
}

let b: TestBroker
let api: ApiClient

beforeAll(async () => {
  b = await startTestBroker()
  api = apiClient(b)
})
afterAll(async () => b?.stop())

describe('definitions', () => {
  it('imports a RabbitMQ export: vhosts, users with their hashes, permissions, policies, topology', async () => {
    expect((await api.post('/api/definitions', RABBITMQ_EXPORT)).status).toBe(204)
    const shop = b.broker.vhost('shop')!
    expect(shop.queues.get('orders')!.arguments).toEqual({ 'x-message-ttl': 60000 })
    expect(shop.exchanges.get('shop.events')!.type).toBe('topic')
    expect([...shop.exchanges.get('shop.events')!.bindings.values()].map((x) => x.destination.name).sort()).toEqual(['orders', 'shop.fan'])
    expect(b.broker.policies.get('shop', 'ttl')!.pattern).toBe('^orders')
    // the RabbitMQ-made hash checks against the password over AMQP and HTTP
    const conn = await amqp.connect(`amqp://ops:guest@127.0.0.1:${b.amqpPort}/shop`)
    const ch = await conn.createChannel()
    ch.publish('shop.events', 'order.new', Buffer.from('o1'))
    await ch.close()
    await conn.close()
    expect(shop.queues.get('orders')!.messageCount).toBe(1)
    expect((await apiClient(b, 'ops', 'guest').get('/api/whoami')).body.name).toBe('ops')
    // the binding keeps RabbitMQ's properties_key
    const bindings = (await api.get('/api/bindings/shop/e/shop.events/q/orders')).body
    expect(bindings[0].properties_key).toBe('order.%23~lwiNYA')
    // importing the same file again changes nothing and is fine
    expect((await api.post('/api/definitions', RABBITMQ_EXPORT)).status).toBe(204)
  })

  it('exports in RabbitMQ format, and the export imports into a fresh broker and comes back the same', async () => {
    const exported = (await api.get('/api/definitions')).body
    expect(exported).toMatchObject({ rabbit_version: '3.10.8', rabbitmq_version: '3.10.8', topic_permissions: [], parameters: [] })
    expect(exported.users).toContainEqual(RABBITMQ_EXPORT.users[0])
    expect(exported.queues).toEqual(expect.arrayContaining(RABBITMQ_EXPORT.queues))
    expect(exported.exchanges).toEqual(expect.arrayContaining(RABBITMQ_EXPORT.exchanges))
    expect(exported.bindings).toEqual(expect.arrayContaining(RABBITMQ_EXPORT.bindings))
    expect(exported.policies).toEqual(RABBITMQ_EXPORT.policies)
    expect(exported.exchanges.some((x: any) => x.name === '' || x.name.startsWith('amq.'))).toBe(false)
    expect(exported.global_parameters[0].name).toBe('internal_cluster_id')

    const other = await startTestBroker()
    try {
      const oapi = apiClient(other)
      expect((await oapi.post('/api/definitions', exported)).status).toBe(204)
      const back = (await oapi.get('/api/definitions')).body
      for (const k of ['users', 'vhosts', 'permissions', 'policies', 'queues', 'exchanges', 'bindings']) {
        expect(sorted(back[k]), k).toEqual(sorted(exported[k]))
      }
    } finally {
      await other.stop()
    }
  })

  it('per-vhost export and import use no vhost keys', async () => {
    const one = (await api.get('/api/definitions/shop')).body
    expect(one.users).toBeUndefined()
    expect(one.queues).toContainEqual({ name: 'orders', durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000 } })
    expect((await api.put('/api/vhosts/copy', {})).status).toBe(201)
    expect((await api.post('/api/definitions/copy', one)).status).toBe(204)
    const copy = b.broker.vhost('copy')!
    expect([...copy.queues.keys()].sort()).toEqual(['orders', 'orders.dlq'])
    expect(copy.exchanges.get('shop.events')!.bindings.size).toBe(2)
    expect((await api.post('/api/definitions/nohost', one)).status).toBe(404)
  })

  it('a bad import is refused with 400 naming the entry, and changes nothing', async () => {
    const exportBefore = (await api.get('/api/definitions')).body
    const bad = (patch: Record<string, unknown>): Record<string, unknown> => ({
      vhosts: [{ name: 'never' }],
      users: [{ name: 'never', password: 'x', tags: '' }],
      queues: [{ name: 'never.q', vhost: 'never', durable: true, auto_delete: false, arguments: {} }],
      exchanges: [{ name: 'never.x', vhost: 'never', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
      bindings: [],
      ...patch,
    })
    const cases: [Record<string, unknown>, RegExp][] = [
      [bad({ queues: [{ name: 'orders', vhost: 'shop', durable: false, arguments: {} }] }), /queue 'orders' in vhost 'shop': inequivalent arg 'durable'/],
      [bad({ exchanges: [{ name: 'x', vhost: 'never', type: 'bogus', arguments: {} }] }), /unknown exchange type 'bogus'/],
      [bad({ queues: [{ name: 'q', vhost: 'never', arguments: { 'x-max-length': -5 } }] }), /invalid arg 'x-max-length'/],
      [bad({ queues: [{ name: 'q', vhost: 'ghost' }] }), /queues\[0\] 'q': vhost 'ghost' does not exist/],
      [bad({ bindings: [{ source: 'nope', vhost: 'never', destination: 'never.q', destination_type: 'queue', routing_key: '' }] }), /no exchange 'nope'/],
      [bad({ bindings: [{ source: 'never.x', vhost: 'never', destination: 'never.q', destination_type: 'topic' }] }), /destination_type/],
      [bad({ permissions: [{ user: 'ghost', vhost: '/', configure: '.*', write: '.*', read: '.*' }] }), /user 'ghost' does not exist/],
      [bad({ users: [{ name: 'u', password_hash: 'x', hashing_algorithm: 'nope' }] }), /unknown hashing_algorithm/],
      [bad({ exchanges: 'all of them' }), /exchanges must be an array/],
      [bad({ queues: [{ name: 'x'.repeat(300), vhost: 'never' }] }), /queue name is 300 bytes long/],
      [bad({ exchanges: [{ name: 'amq.mine', vhost: 'never', type: 'direct' }] }), /reserved prefix/],
    ]
    for (const [defs, reason] of cases) {
      const r = await api.post('/api/definitions', defs)
      expect(r.status, JSON.stringify(defs).slice(0, 200)).toBe(400)
      expect(r.body.reason).toMatch(reason)
    }
    expect((await api.post('/api/definitions', '{"vhosts": [')).body).toEqual({ error: 'bad_request', reason: 'not_json' })
    expect(b.broker.vhost('never')).toBeUndefined()
    expect(b.broker.users.get('never')).toBeUndefined()
    expect((await api.get('/api/definitions')).body).toEqual(exportBefore)
  })
})

/** Canonical JSON of each entry (keys sorted at every level), in a stable order. */
function sorted(list: unknown[]): string[] {
  const canon = (v: unknown): unknown =>
    v === null || typeof v !== 'object'
      ? v
      : Array.isArray(v)
        ? v.map(canon)
        : Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]))
  return list.map((x) => JSON.stringify(canon(x))).sort()
}
