/**
 * Vhost limits, user limits and topic permissions over real TCP and HTTP, with RabbitMQ's reply
 * codes and texts: max-connections (530 at connection.open), max-queues (406 at queue.declare of a
 * new queue), a user's max-connections and max-channels (530), and topic permissions checked on
 * publish (write) and bind (read) to topic exchanges only, with {username} expanded.
 */
import { AMQPClient } from '@cloudamqp/amqp-client'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import type { AmqpError } from '../helpers/suite.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('lim', { httpPort: 0 })
const { uniq } = s
const api = () => apiClient(s.b)

/** A vhost and a user with full permissions in it (cleaned up after the test). */
async function vhostAndUser(): Promise<{ vhost: string; user: string; url: string }> {
  const vhost = uniq('v')
  const user = uniq('u')
  expect((await api().put(`/api/vhosts/${vhost}`, {})).status).toBe(201)
  expect((await api().put(`/api/users/${user}`, { password: 'pw', tags: '' })).status).toBe(201)
  expect((await api().put(`/api/permissions/${vhost}/${user}`, { configure: '.*', write: '.*', read: '.*' })).status).toBe(201)
  s.cleanups.push(() => api().del(`/api/vhosts/${vhost}`), () => api().del(`/api/users/${user}`))
  return { vhost, user, url: `amqp://${user}:pw@127.0.0.1:${s.b.amqpPort}/${vhost}` }
}

async function client(url: string): Promise<AMQPClient> {
  const c = new AMQPClient(url)
  await c.connect()
  s.cleanups.push(() => c.close())
  return c
}

describe('vhost limits', () => {
  it('max-connections: 530 with RabbitMQ’s text once reached; room again after a close; deleting the limit lifts it', async () => {
    const { vhost, user, url } = await vhostAndUser()
    expect((await api().put(`/api/vhost-limits/${vhost}/max-connections`, { value: 1 })).status).toBe(204)
    expect((await api().get(`/api/vhost-limits/${vhost}`)).body).toEqual([{ vhost, value: { 'max-connections': 1 } }])
    const first = await client(url)
    await expect(new AMQPClient(url).connect()).rejects.toThrow(
      `NOT_ALLOWED - access to vhost '${vhost}' refused for user '${user}': connection limit (1) is reached (530)`,
    )
    await first.close()
    await waitFor(() => [...s.b.broker.connections].every((c) => c.vhostName !== vhost), 3000, 'closed')
    await client(url)
    expect((await api().del(`/api/vhost-limits/${vhost}/max-connections`)).status).toBe(204)
    await client(url)
    expect((await api().get('/api/vhost-limits')).body.filter((l: any) => l.vhost === vhost)).toEqual([])
  })

  it('max-queues: a new queue past the limit is 406, redeclaring an existing one is fine', async () => {
    const { vhost, url } = await vhostAndUser()
    expect((await api().put(`/api/vhost-limits/${vhost}/max-queues`, { value: 2 })).status).toBe(204)
    const c = await client(url)
    const ch = await c.channel()
    await ch.queueDeclare('q1')
    await ch.queueDeclare('q2')
    await ch.queueDeclare('q1')
    await expect(ch.queueDeclare('q3')).rejects.toThrow(`PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost '${vhost}' (2) is reached`)
  })

  it('unknown limit names and non-integer values are 400', async () => {
    const { vhost } = await vhostAndUser()
    expect((await api().put(`/api/vhost-limits/${vhost}/max-bananas`, { value: 1 })).status).toBe(400)
    expect((await api().put(`/api/vhost-limits/${vhost}/max-queues`, { value: 'x' })).status).toBe(400)
  })
})

describe('user limits', () => {
  it('max-connections and max-channels: 530 with RabbitMQ’s texts', async () => {
    const { user, url } = await vhostAndUser()
    expect((await api().put(`/api/user-limits/${user}/max-connections`, { value: 1 })).status).toBe(204)
    expect((await api().put(`/api/user-limits/${user}/max-channels`, { value: 2 })).status).toBe(204)
    expect((await api().get(`/api/user-limits/${user}`)).body).toEqual([{ user, value: { 'max-connections': 1, 'max-channels': 2 } }])
    const c = await client(url)
    await expect(new AMQPClient(url).connect()).rejects.toThrow(`NOT_ALLOWED - Connection refused for user '${user}': user connection limit (1) is reached (530)`)
    await c.channel()
    await c.channel()
    const err: AmqpError = await c.channel().then(() => new Error('opened'), (e: AmqpError) => e)
    expect(err.message).toContain(`NOT_ALLOWED - number of channels opened for user '${user}' has reached the maximum allowed user limit of (2)`)
    expect((await api().get('/api/users/' + user)).body.limits).toEqual({ 'max-connections': 1, 'max-channels': 2 })
  })
})

describe('topic permissions', () => {
  it('publish to a topic exchange needs the write regex to match the key ({username} expanded); other types are not checked', async () => {
    const { vhost, user, url } = await vhostAndUser()
    const put = await api().put(`/api/topic-permissions/${vhost}/${user}`, { exchange: 'amq.topic', write: '^{username}\\.', read: '^ok\\.' })
    expect(put.status).toBe(201)
    expect((await api().get(`/api/topic-permissions/${vhost}/${user}`)).body).toEqual([
      { user, vhost, exchange: 'amq.topic', write: '^{username}\\.', read: '^ok\\.' },
    ])
    const c = await client(url)
    const ch = await c.channel()
    await ch.queueDeclare('tq')
    await ch.queueBind('tq', 'amq.topic', 'ok.#')
    await ch.basicPublish('amq.topic', `${user}.a`, 'fine')
    await ch.basicPublish('amq.direct', 'anything', 'not a topic exchange')
    await expect(ch.queueBind('tq', 'amq.topic', 'other.#')).rejects.toThrow(
      `ACCESS_REFUSED - access to topic 'other.#' in exchange 'amq.topic' in vhost '${vhost}' refused for user '${user}'`,
    )
    const ch2 = await c.channel()
    await ch2.confirmSelect()
    await expect(ch2.basicPublish('amq.topic', 'someone-else.a', 'no')).rejects.toThrow(
      `ACCESS_REFUSED - access to topic 'someone-else.a' in exchange 'amq.topic' in vhost '${vhost}' refused for user '${user}'`,
    )
    // the management API's publish is checked the same way (RabbitMQ: 400 with the channel's reply)
    expect((await api().put(`/api/users/${user}`, { password: 'pw', tags: 'management' })).status).toBe(204)
    const http = apiClient(s.b, user, 'pw')
    const pub = (key: string) => http.post(`/api/exchanges/${vhost}/amq.topic/publish`, { routing_key: key, payload: 'h', payload_encoding: 'string', properties: {} })
    expect((await pub(`${user}.b`)).status).toBe(200)
    expect(await pub('nope.b')).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: `403 ACCESS_REFUSED - access to topic 'nope.b' in exchange 'amq.topic' in vhost '${vhost}' refused for user '${user}'` },
    })
    // deleting the permission lifts the check at once
    expect((await api().del(`/api/topic-permissions/${vhost}/${user}`)).status).toBe(204)
    const ch3 = await c.channel()
    await ch3.confirmSelect()
    await ch3.basicPublish('amq.topic', 'someone-else.a', 'now fine')
  })
})
