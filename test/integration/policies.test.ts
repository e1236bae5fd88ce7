/**
 * Policies and operator policies applied as RabbitMQ 3.10 applies them, over real TCP and HTTP:
 * pattern, apply-to and priority choose one policy per object; arguments vs policy (lower value for
 * limits and TTLs, the argument for dead-lettering); an operator policy's lower limit wins; a policy
 * put or deleted changes live queues at once; the queue JSON shows policy, operator_policy and
 * effective_policy_definition; bad definitions get RabbitMQ's "Validation failed" texts.
 */
import type { Channel } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('pol', { httpPort: 0 })
const { uniq, queue, amqplibChannel } = s
const api = () => apiClient(s.b)

async function putPolicy(name: string, body: Record<string, unknown>, kind = 'policies'): Promise<void> {
  const r = await api().put(`/api/${kind}/%2F/${encodeURIComponent(name)}`, body)
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
  s.cleanups.push(() => api().del(`/api/${kind}/%2F/${encodeURIComponent(name)}`))
}

async function dlTarget(ch: Channel): Promise<{ dlx: string; dlq: string }> {
  const dlx = uniq('dlx')
  const dlq = uniq('dlq')
  await ch.assertExchange(dlx, 'fanout', { durable: false })
  await ch.assertQueue(dlq, { durable: false })
  await ch.bindQueue(dlq, dlx, '')
  return { dlx, dlq }
}

describe('policies applied', () => {
  it('dead-lettering and TTL by policy: an expired message reaches the policy’s DLX', async () => {
    const { ch } = await amqplibChannel()
    const { dlx, dlq } = await dlTarget(ch)
    const prefix = uniq('ttl')
    await putPolicy(prefix, { pattern: `^${prefix}\\.`, 'apply-to': 'queues', definition: { 'message-ttl': 50, 'dead-letter-exchange': dlx } })
    const qn = `${prefix}.a`
    await ch.assertQueue(qn, { durable: false })
    ch.sendToQueue(qn, Buffer.from('x'))
    await waitFor(() => queue(dlq).messageCount === 1, 3000, 'dead-lettered by policy')
    const m = await ch.get(dlq, { noAck: true })
    expect(m && (m.properties.headers?.['x-death'] as any)[0]).toMatchObject({ reason: 'expired', queue: qn })
    const j = (await api().get(`/api/queues/%2F/${qn}`)).body
    expect(j.policy).toBe(prefix)
    expect(j.operator_policy).toBeNull()
    expect(j.effective_policy_definition).toEqual({ 'message-ttl': 50, 'dead-letter-exchange': dlx })
  })

  it('highest priority wins, apply-to filters, one policy per object', async () => {
    const { ch } = await amqplibChannel()
    const p = uniq('prio')
    await putPolicy(`${p}-low`, { pattern: p, definition: { 'max-length': 5 }, priority: 1 })
    await putPolicy(`${p}-high`, { pattern: p, definition: { 'max-length-bytes': 100 }, priority: 2 })
    await putPolicy(`${p}-x`, { pattern: p, 'apply-to': 'exchanges', definition: { 'alternate-exchange': 'nowhere' }, priority: 9 })
    const qn = `${p}-q`
    await ch.assertQueue(qn, { durable: false })
    expect(queue(qn).policy?.name).toBe(`${p}-high`)
    expect(queue(qn).settings.maxLength).toBe(-1)
    expect(queue(qn).settings.maxLengthBytes).toBe(100)
    await api().del(`/api/policies/%2F/${p}-high`)
    expect(queue(qn).policy?.name).toBe(`${p}-low`)
    expect(queue(qn).settings.maxLength).toBe(5)
  })

  it('arguments vs policy: limits and TTLs take the lower value, dead-letter-exchange the argument', async () => {
    const { ch } = await amqplibChannel()
    const p = uniq('mix')
    await putPolicy(p, { pattern: p, definition: { 'max-length': 10, 'message-ttl': 1000, 'dead-letter-exchange': 'pol-dlx', expires: 600000 } })
    const a = `${p}-a`
    await ch.assertQueue(a, { durable: false, arguments: { 'x-max-length': 3, 'x-message-ttl': 5000, 'x-dead-letter-exchange': 'arg-dlx' } })
    expect(queue(a).settings).toMatchObject({ maxLength: 3, messageTtl: 1000, deadLetterExchange: 'arg-dlx', expires: 600000 })
    const b = `${p}-b`
    await ch.assertQueue(b, { durable: false, arguments: { 'x-max-length': 30, 'x-overflow': 'reject-publish' } })
    expect(queue(b).settings).toMatchObject({ maxLength: 10, overflow: 'reject-publish', deadLetterExchange: 'pol-dlx' })
  })

  it('a policy put on a live queue applies at once: max-length drops the oldest, deleting it lifts the limit', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('live')
    await ch.assertQueue(qn, { durable: false })
    for (let i = 0; i < 10; i++) ch.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => queue(qn).messageCount === 10, 3000, 'ten queued')
    await putPolicy(qn, { pattern: `^${qn}$`, definition: { 'max-length': 4 } })
    expect(queue(qn).messageCount).toBe(4)
    const first = await ch.get(qn, { noAck: true })
    expect(first && first.content.toString()).toBe('m6')
    await api().del(`/api/policies/%2F/${qn}`)
    for (let i = 0; i < 10; i++) ch.sendToQueue(qn, Buffer.from(`n${i}`))
    await waitFor(() => queue(qn).messageCount === 13, 3000, 'no limit any more')
  })

  it('a shortened TTL applies to messages enqueued after the change, even behind older ones', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('ttl-live')
    await ch.assertQueue(qn, { durable: false })
    await putPolicy(qn, { pattern: `^${qn}$`, definition: { 'message-ttl': 600000 } })
    ch.sendToQueue(qn, Buffer.from('old'))
    await waitFor(() => queue(qn).messageCount === 1, 3000, 'queued')
    await putPolicy(qn, { pattern: `^${qn}$`, definition: { 'message-ttl': 30 } })
    ch.sendToQueue(qn, Buffer.from('new'))
    await waitFor(() => queue(qn).stats.publish === 2 && queue(qn).messageCount === 1, 3000, 'the new message expired behind the old one')
    const m = await ch.get(qn, { noAck: true })
    expect(m && m.content.toString()).toBe('old')
  })

  it('alternate-exchange by policy (the argument wins when both are set)', async () => {
    const { ch } = await amqplibChannel()
    const p = uniq('ae')
    const aeq = `${p}-ae-q`
    await ch.assertExchange(`${p}-ae`, 'fanout', { durable: false })
    await ch.assertQueue(aeq, { durable: false })
    await ch.bindQueue(aeq, `${p}-ae`, '')
    await putPolicy(p, { pattern: `^${p}-x$`, 'apply-to': 'exchanges', definition: { 'alternate-exchange': `${p}-ae` } })
    await ch.assertExchange(`${p}-x`, 'direct', { durable: false })
    ch.publish(`${p}-x`, 'nobody', Buffer.from('u'))
    await waitFor(() => queue(aeq).messageCount === 1, 3000, 'routed to the policy’s alternate exchange')
    expect((await api().get(`/api/exchanges/%2F/${p}-x`)).body.policy).toBe(p)
  })

  it('operator policy: the lower of policy and operator policy value wins', async () => {
    const { ch } = await amqplibChannel()
    const p = uniq('op')
    await putPolicy(p, { pattern: p, definition: { 'max-length': 100, 'message-ttl': 10 } })
    await putPolicy(p, { pattern: p, definition: { 'max-length': 7, 'message-ttl': 5000 }, 'apply-to': 'queues' }, 'operator-policies')
    const qn = `${p}-q`
    await ch.assertQueue(qn, { durable: false })
    expect(queue(qn).settings).toMatchObject({ maxLength: 7, messageTtl: 10 })
    const j = (await api().get(`/api/queues/%2F/${qn}`)).body
    expect(j).toMatchObject({ policy: p, operator_policy: p, effective_policy_definition: { 'max-length': 7, 'message-ttl': 10 } })
    expect((await api().get('/api/operator-policies')).body.map((o: any) => o.name)).toContain(p)
  })
})

describe('validation (RabbitMQ texts)', () => {
  const bad = async (path: string, body: unknown, reason: string): Promise<void> => {
    const r = await api().put(path, body)
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ error: 'bad_request', reason })
  }
  it('unknown keys, bad values, keys an operator policy may not set, bad apply-to', async () => {
    await bad('/api/policies/%2F/v1', { pattern: '.*', definition: { 'max-priority': 10 } },
      'Validation failed\n\n[{<<"max-priority">>,10}] are not recognised policy settings\n')
    await bad('/api/policies/%2F/v2', { pattern: '.*', definition: { 'message-ttl': -1 } }, 'Validation failed\n\n-1 is not a valid message TTL\n')
    await bad('/api/policies/%2F/v3', { pattern: '.*', definition: { overflow: 'x' } }, 'Validation failed\n\n<<"x">> is not a valid overflow value\n')
    await bad('/api/operator-policies/%2F/v4', { pattern: '.*', definition: { 'dead-letter-exchange': 'd' } },
      'Validation failed\n\n[{<<"dead-letter-exchange">>,<<"d">>}] are not recognised policy settings\n')
    await bad('/api/policies/%2F/v5', { pattern: '.*', definition: {} }, 'Validation failed\n\nno policy provided\n')
    expect((await api().put('/api/policies/%2F/v6', { pattern: '(', definition: { 'max-length': 1 } })).status).toBe(400)
    expect(s.b.broker.policies.list('/').map((p) => p.name)).not.toContain('v1')
  })
})
