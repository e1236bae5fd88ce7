/**
 * The management API applies the same configure/write/read permissions as AMQP (issue 10 holes 1,
 * 9 and 13), with RabbitMQ 3.10's answers (rabbit_mgmt_util direct_request / with_channel):
 * declare, delete, purge, bind and unbind → 401 "Access refused."; queue get → 401 with the AMQP
 * reply text; publish → 400 "<code> <reply text>" (user_id mismatch included); definitions import →
 * administrators only; policies listed for the user's vhosts and written by policymakers only.
 * The user is `alice` (tag management, `^alice-.*` on vhost `a`); guest (administrator) owns the rest.
 */
import amqp, { type ChannelModel } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { apiClient, type ApiClient, type HttpResult } from '../helpers/http.js'
import { brokerSuite, channelError, replyText } from '../helpers/suite.js'

const s = brokerSuite('mperm')
let guest: ApiClient
let alice: ApiClient

const ACCESS_REFUSED = { error: 'not_authorised', reason: 'Access refused.' }
const refusedText = (kind: string, name: string, user = 'alice', vhost = 'a'): string =>
  `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '${vhost}' refused for user '${user}'`
const msg = (routingKey: string, payload = 'x', properties: Record<string, unknown> = {}): Record<string, unknown> => ({
  routing_key: routingKey,
  payload,
  payload_encoding: 'string',
  properties,
})

function expectReply(r: HttpResult, status: number, body?: unknown): void {
  expect({ status: r.status, body: body === undefined ? undefined : r.body }).toEqual({ status, body })
}

async function ok(r: Promise<HttpResult>): Promise<HttpResult> {
  const res = await r
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300)
  return res
}

/** A message in queue `a/{queue}`, published by guest. */
async function put(queue: string, payload = 'x'): Promise<void> {
  expect((await ok(guest.post(`/api/exchanges/a/amq.default/publish`, msg(queue, payload)))).body).toEqual({ routed: true })
}

beforeAll(async () => {
  guest = apiClient(s.b)
  alice = apiClient(s.b, 'alice', 'pw')
  await ok(guest.put('/api/vhosts/a')) // grants guest .* on a, as RabbitMQ does for the creator
  await ok(guest.put('/api/users/alice', { password: 'pw', tags: 'management' }))
  await ok(guest.put('/api/permissions/a/alice', { configure: '^alice-.*', write: '^alice-.*', read: '^alice-.*' }))
  await ok(guest.put('/api/queues/a/secret', { durable: false }))
  await ok(guest.put('/api/exchanges/a/secret-x', { type: 'fanout' }))
  await ok(guest.put('/api/queues/a/alice-q', { durable: false }))
  await ok(guest.put('/api/exchanges/a/alice-x', { type: 'fanout' }))
})

describe('queues', () => {
  it('declare and delete need configure (401 Access refused.); allowed names still work', async () => {
    expectReply(await alice.put('/api/queues/a/secret-2', {}), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.queues.has('secret-2')).toBe(false)
    // a redeclare of an existing queue needs configure too
    expectReply(await alice.put('/api/queues/a/secret', {}), 401, ACCESS_REFUSED)
    expectReply(await alice.del('/api/queues/a/secret'), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.queues.has('secret')).toBe(true)

    expect((await alice.put('/api/queues/a/alice-new', {})).status).toBe(201)
    expect((await alice.del('/api/queues/a/alice-new')).status).toBe(204)
  })

  it('a new queue whose dead-letter exchange the user may not write to is refused', async () => {
    const r = await alice.put('/api/queues/a/alice-dl', { arguments: { 'x-dead-letter-exchange': 'secret-x' } })
    expectReply(r, 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.queues.has('alice-dl')).toBe(false)
    expect((await alice.put('/api/queues/a/alice-dl', { arguments: { 'x-dead-letter-exchange': 'alice-x' } })).status).toBe(201)
  })

  it('purge needs read', async () => {
    await put('secret')
    expectReply(await alice.del('/api/queues/a/secret/contents'), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.queues.get('secret')!.messageCount).toBe(1)
    await put('alice-q')
    expect((await alice.del('/api/queues/a/alice-q/contents')).status).toBe(204)
    expect(s.b.broker.vhost('a')!.queues.get('alice-q')!.messageCount).toBe(0)
    await ok(guest.del('/api/queues/a/secret/contents'))
  })

  it('get needs read: 401 with the AMQP reply text, and no message is taken', async () => {
    await put('secret', 'top secret')
    const r = await alice.post('/api/queues/a/secret/get', { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' })
    expectReply(r, 401, { error: 'not_authorised', reason: refusedText('queue', 'secret') })
    expect(s.b.broker.vhost('a')!.queues.get('secret')!.messageCount).toBe(1)

    await put('alice-q', 'mine')
    const mine = await ok(alice.post('/api/queues/a/alice-q/get', { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' }))
    expect(mine.body.map((m: { payload: string }) => m.payload)).toEqual(['mine'])
    await ok(guest.del('/api/queues/a/secret/contents'))
  })
})

describe('exchanges', () => {
  it('declare and delete need configure', async () => {
    expectReply(await alice.put('/api/exchanges/a/other-x', { type: 'direct' }), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.has('other-x')).toBe(false)
    expectReply(await alice.del('/api/exchanges/a/secret-x'), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.has('secret-x')).toBe(true)

    expect((await alice.put('/api/exchanges/a/alice-new-x', { type: 'direct' })).status).toBe(201)
    expect((await alice.del('/api/exchanges/a/alice-new-x')).status).toBe(204)
  })

  it('a new exchange with an alternate exchange the user may not write to is refused', async () => {
    const r = await alice.put('/api/exchanges/a/alice-ae', { type: 'direct', arguments: { 'alternate-exchange': 'secret-x' } })
    expectReply(r, 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.has('alice-ae')).toBe(false)
  })

  it('publish needs write on the exchange: 400 "403 ACCESS_REFUSED - …", nothing routed', async () => {
    const r = await alice.post('/api/exchanges/a/secret-x/publish', msg(''))
    expectReply(r, 400, { error: 'bad_request', reason: `403 ${refusedText('exchange', 'secret-x')}` })
    // the default exchange is checked as amq.default
    const d = await alice.post('/api/exchanges/a/amq.default/publish', msg('secret'))
    expectReply(d, 400, { error: 'bad_request', reason: `403 ${refusedText('exchange', 'amq.default')}` })
    expect(s.b.broker.vhost('a')!.queues.get('secret')!.messageCount).toBe(0)

    await ok(guest.post('/api/bindings/a/e/alice-x/q/alice-q', {}))
    expect((await ok(alice.post('/api/exchanges/a/alice-x/publish', msg('')))).body).toEqual({ routed: true })
    await ok(guest.del('/api/queues/a/alice-q/contents'))
  })

  it('other channel refusals of a publish are 400 "<code> <reply text>" too (internal exchange)', async () => {
    await ok(guest.put('/api/exchanges/a/alice-internal', { type: 'fanout', internal: true }))
    const r = await alice.post('/api/exchanges/a/alice-internal/publish', msg(''))
    expectReply(r, 400, {
      error: 'bad_request',
      reason: "403 ACCESS_REFUSED - cannot publish to internal exchange 'alice-internal' in vhost 'a'",
    })
  })

  it('publish validates user_id as basic.publish does (406 → 400)', async () => {
    const r = await alice.post('/api/exchanges/a/alice-x/publish', msg('', 'x', { user_id: 'guest' }))
    expectReply(r, 400, {
      error: 'bad_request',
      reason: "406 PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'alice'",
    })
    // guest (administrator) may not claim another user either
    const g = await guest.post('/api/exchanges/a/amq.default/publish', msg('secret', 'x', { user_id: 'alice' }))
    expectReply(g, 400, {
      error: 'bad_request',
      reason: "406 PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was 'guest'",
    })
    expect(s.b.broker.vhost('a')!.queues.get('secret')!.messageCount).toBe(0)
    expect((await ok(alice.post('/api/exchanges/a/alice-x/publish', msg('', 'x', { user_id: 'alice' })))).body).toEqual({ routed: true })
    await ok(guest.del('/api/queues/a/alice-q/contents'))
  })
})

describe('bindings', () => {
  it('exchange → queue: write on the queue and read on the exchange, to bind and to unbind', async () => {
    // no write on the destination queue
    expectReply(await alice.post('/api/bindings/a/e/alice-x/q/secret', { routing_key: 'k' }), 401, ACCESS_REFUSED)
    // write on the queue, but no read on the source exchange
    expectReply(await alice.post('/api/bindings/a/e/secret-x/q/alice-q', { routing_key: 'k' }), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.get('secret-x')!.bindings.size).toBe(0)

    await ok(guest.post('/api/bindings/a/e/secret-x/q/alice-q', { routing_key: 'k' }))
    expectReply(await alice.del('/api/bindings/a/e/secret-x/q/alice-q/k'), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.get('secret-x')!.bindings.size).toBe(1)
    await ok(guest.del('/api/bindings/a/e/secret-x/q/alice-q/k'))

    expect((await alice.post('/api/bindings/a/e/alice-x/q/alice-q', { routing_key: 'k2' })).status).toBe(201)
    expect((await alice.del('/api/bindings/a/e/alice-x/q/alice-q/k2')).status).toBe(204)
  })

  it('exchange → exchange: write on the destination and read on the source', async () => {
    expectReply(await alice.post('/api/bindings/a/e/alice-x/e/secret-x', { routing_key: 'k' }), 401, ACCESS_REFUSED)
    expectReply(await alice.post('/api/bindings/a/e/secret-x/e/alice-x', { routing_key: 'k' }), 401, ACCESS_REFUSED)
    expect(s.b.broker.vhost('a')!.exchanges.get('secret-x')!.incoming.size).toBe(0)

    await ok(guest.post('/api/bindings/a/e/secret-x/e/alice-x', { routing_key: 'k' }))
    expectReply(await alice.del('/api/bindings/a/e/secret-x/e/alice-x/k'), 401, ACCESS_REFUSED)
    await ok(guest.del('/api/bindings/a/e/secret-x/e/alice-x/k'))

    await ok(guest.put('/api/exchanges/a/alice-x2', { type: 'fanout' }))
    expect((await alice.post('/api/bindings/a/e/alice-x/e/alice-x2', { routing_key: 'k' })).status).toBe(201)
    expect((await alice.del('/api/bindings/a/e/alice-x/e/alice-x2/k')).status).toBe(204)
  })
})

describe('administrators', () => {
  it('are subject to the same resource checks; without a permission entry get is refused at the vhost', async () => {
    await ok(guest.put('/api/users/boss', { password: 'pw', tags: 'administrator' }))
    const boss = apiClient(s.b, 'boss', 'pw')
    // no permission entry in a: every resource operation is refused, but the vhost is visible
    expect((await boss.get('/api/queues/a/secret')).status).toBe(200)
    expectReply(await boss.put('/api/queues/a/boss-q', {}), 401, ACCESS_REFUSED)
    expectReply(await boss.del('/api/queues/a/secret/contents'), 401, ACCESS_REFUSED)
    expectReply(await boss.post('/api/queues/a/secret/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }), 401, ACCESS_REFUSED)
    expectReply(await boss.post('/api/exchanges/a/secret-x/publish', msg('')), 401, ACCESS_REFUSED)
    // with alice's patterns, boss gets alice's answers
    await ok(guest.put('/api/permissions/a/boss', { configure: '^alice-.*', write: '^alice-.*', read: '^alice-.*' }))
    expectReply(await boss.put('/api/queues/a/secret', {}), 401, ACCESS_REFUSED)
    const get = await boss.post('/api/queues/a/secret/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })
    expectReply(get, 401, { error: 'not_authorised', reason: refusedText('queue', 'secret', 'boss') })
    expect((await boss.put('/api/queues/a/alice-boss', {})).status).toBe(201)
  })
})

describe('vhost access, definitions and policies', () => {
  it('a vhost without a permission entry: 401 "User not authorised to access virtual host"', async () => {
    const r = await alice.put('/api/queues/%2F/alice-q', {})
    expectReply(r, 401, { error: 'not_authorised', reason: 'User not authorised to access virtual host' })
  })

  it('definitions import (global or per vhost) needs administrator', async () => {
    const defs = { queues: [{ name: 'alice-imported', durable: true, auto_delete: false, arguments: {} }] }
    const notAdmin = { error: 'not_authorised', reason: 'Not administrator user' }
    expectReply(await alice.post('/api/definitions/a', defs), 401, notAdmin)
    expectReply(await alice.post('/api/definitions', { ...defs, queues: [{ ...defs.queues[0], vhost: 'a' }] }), 401, notAdmin)
    expect(s.b.broker.vhost('a')!.queues.has('alice-imported')).toBe(false)
  })

  it('policies: listed for the user’s vhosts only; written by administrators and policymakers only', async () => {
    const policy = { pattern: '.*', definition: { 'max-length': 1 }, 'apply-to': 'queues' }
    await ok(guest.put('/api/policies/%2F/root-p', policy))
    await ok(guest.put('/api/policies/a/a-p', policy))
    const names = (r: HttpResult): string[] => r.body.map((p: { vhost: string; name: string }) => `${p.vhost}/${p.name}`).sort()
    expect(names(await ok(guest.get('/api/policies')))).toEqual(['//root-p', 'a/a-p'])
    expect(names(await ok(alice.get('/api/policies')))).toEqual(['a/a-p'])
    expect(names(await ok(alice.get('/api/policies/a')))).toEqual(['a/a-p'])
    const noVHost = { error: 'not_authorised', reason: 'User not authorised to access virtual host' }
    expectReply(await alice.get('/api/policies/%2F'), 401, noVHost)

    const notAllowed = { error: 'not_authorised', reason: 'User not authorised to access object' }
    expectReply(await alice.put('/api/policies/a/alice-p', policy), 401, notAllowed)
    expectReply(await alice.del('/api/policies/a/a-p'), 401, notAllowed)
    expectReply(await alice.get('/api/policies/a/a-p'), 401, notAllowed)
    expect(s.b.broker.policies.get('a', 'alice-p')).toBeUndefined()

    // a policymaker may write in the vhosts it has permissions in
    await ok(guest.put('/api/users/pm', { password: 'pw', tags: 'policymaker' }))
    await ok(guest.put('/api/permissions/a/pm', { configure: '', write: '', read: '' }))
    const pm = apiClient(s.b, 'pm', 'pw')
    expect((await pm.put('/api/policies/a/pm-p', policy)).status).toBe(201)
    expect((await pm.get('/api/policies/a/pm-p')).status).toBe(200)
    expect((await pm.del('/api/policies/a/pm-p')).status).toBe(204)
    expectReply(await pm.put('/api/policies/%2F/pm-p', policy), 401, notAllowed)
    expect(names(await ok(pm.get('/api/policies')))).toEqual(['a/a-p'])
  })
})

describe('the same user over AMQP (sanity)', () => {
  async function connectAlice(): Promise<ChannelModel> {
    const conn = await amqp.connect(`amqp://alice:pw@127.0.0.1:${s.b.amqpPort}/a`)
    conn.on('error', () => undefined)
    s.cleanups.push(() => conn.close())
    return conn
  }

  it('is refused the same operations with 403', async () => {
    const c = await connectAlice()
    for (const [op, kind, name] of [
      [(ch: amqp.Channel) => ch.assertQueue('secret-2'), 'queue', 'secret-2'],
      [(ch: amqp.Channel) => ch.deleteQueue('secret'), 'queue', 'secret'],
      [(ch: amqp.Channel) => ch.purgeQueue('secret'), 'queue', 'secret'],
      [(ch: amqp.Channel) => ch.get('secret'), 'queue', 'secret'],
      [(ch: amqp.Channel) => ch.bindQueue('alice-q', 'secret-x', 'k'), 'exchange', 'secret-x'],
      [(ch: amqp.Channel) => ch.deleteExchange('secret-x'), 'exchange', 'secret-x'],
    ] as const) {
      const err = await channelError(c, op)
      expect(err.code).toBe(403)
      expect(replyText(err)).toBe(refusedText(kind, name))
    }
  })
})
