/**
 * RabbitMQ's access control on the AMQP side (core/access-control.ts): users, vhosts and
 * permissions made through the management API, then checked over AMQP with amqplib. Texts are
 * RabbitMQ 3.10's (rabbit_access_control:check_vhost_access / check_resource_access).
 * Also the per-channel message_stats and the connection socket counters of GET /api/channels and
 * /api/connections.
 */
import amqp, { type ChannelModel } from 'amqplib'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient, type ApiClient } from '../helpers/http.js'
import { brokerSuite, channelError, replyText } from '../helpers/suite.js'

const s = brokerSuite('perm', { statsInterval: 50 })
let apiCache: ApiClient | undefined
const api = (): ApiClient => (apiCache ??= apiClient(s.b))

const refused = (kind: string, name: string, user: string, vhost = '/'): string =>
  `ACCESS_REFUSED - access to ${kind} '${name}' in vhost '${vhost}' refused for user '${user}'`

/** Creates a user (no tags: AMQP only) through the API. */
async function user(base: string): Promise<string> {
  const name = s.uniq(base)
  expect((await api().put(`/api/users/${name}`, { password: 'pw', tags: '' })).status).toBe(201)
  return name
}

async function permit(name: string, configure: string, write: string, read: string, vhost = '/'): Promise<void> {
  const res = await api().put(`/api/permissions/${encodeURIComponent(vhost)}/${name}`, { configure, write, read })
  expect([201, 204]).toContain(res.status)
}

async function connectAs(name: string, vhost = '/'): Promise<ChannelModel> {
  const conn = await amqp.connect(`amqp://${name}:pw@127.0.0.1:${s.b.amqpPort}/${encodeURIComponent(vhost)}`)
  conn.on('error', () => undefined)
  s.cleanups.push(() => conn.close())
  return conn
}

describe('vhost access (connection.open)', () => {
  it('a user without permissions on the vhost is refused with 530 and RabbitMQ’s text; tags do not matter', async () => {
    const u = await user('noperm')
    const url = `amqp://${u}:pw@127.0.0.1:${s.b.amqpPort}`
    await expect(new AMQPClient(`${url}/%2F`).connect()).rejects.toThrow(
      `NOT_ALLOWED - access to vhost '/' refused for user '${u}' (530)`,
    )
    await expect(amqp.connect(url)).rejects.toThrow()
    // any permission entry opens the vhost, even one that allows nothing
    await permit(u, '', '', '')
    const conn = await connectAs(u)
    expect(s.b.broker.users.get(u)!.tags).toEqual([])
    const ch = await conn.createChannel()
    await ch.close()
  })

  it('permissions are per vhost', async () => {
    const vh = s.uniq('vh')
    expect((await api().put(`/api/vhosts/${vh}`)).status).toBe(201)
    const u = await user('onlyroot')
    await permit(u, '.*', '.*', '.*')
    await expect(new AMQPClient(`amqp://${u}:pw@127.0.0.1:${s.b.amqpPort}/${vh}`).connect()).rejects.toThrow(
      `NOT_ALLOWED - access to vhost '${vh}' refused for user '${u}' (530)`,
    )
    await permit(u, '.*', '.*', '.*', vh)
    const conn = await connectAs(u, vh)
    const ch = await conn.createChannel()
    await ch.assertQueue('in-vh')
    expect(s.b.broker.vhost(vh)!.queues.has('in-vh')).toBe(true)
  })
})

describe('resource permissions', () => {
  it('configure: queue and exchange declare/delete; passive declares need nothing', async () => {
    const u = await user('cfg')
    await permit(u, '^cfg-', '', '')
    const c = await connectAs(u)
    const ch = await c.createChannel()
    await ch.assertQueue('cfg-q', { autoDelete: false })
    await ch.assertExchange('cfg-x', 'direct')
    let err = await channelError(c, (x) => x.assertQueue('other-q'))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe(refused('queue', 'other-q', u))
    err = await channelError(c, (x) => x.assertExchange('other-x', 'fanout'))
    expect(replyText(err)).toBe(refused('exchange', 'other-x', u))
    expect(s.b.broker.vhost('/')!.queues.has('other-q')).toBe(false)
    expect(s.b.broker.vhost('/')!.exchanges.has('other-x')).toBe(false)
    // objects made by guest: passive declares work, deletes need configure
    const { ch: g } = await s.amqplibChannel()
    await g.assertQueue('guest-owned-q')
    await g.assertExchange('guest-owned-x', 'topic')
    await ch.checkQueue('guest-owned-q')
    await ch.checkExchange('guest-owned-x')
    err = await channelError(c, (x) => x.deleteQueue('guest-owned-q'))
    expect(replyText(err)).toBe(refused('queue', 'guest-owned-q', u))
    err = await channelError(c, (x) => x.deleteExchange('guest-owned-x'))
    expect(replyText(err)).toBe(refused('exchange', 'guest-owned-x', u))
    expect(s.b.broker.vhost('/')!.queues.has('guest-owned-q')).toBe(true)
    await ch.deleteQueue('cfg-q')
    await ch.deleteExchange('cfg-x')
    await g.deleteQueue('guest-owned-q')
    await g.deleteExchange('guest-owned-x')
  })

  it('server-named queues: configure is checked on the generated amq.gen-… name', async () => {
    const u = await user('gen')
    await permit(u, '^gen-', '', '')
    const c = await connectAs(u)
    const err = await channelError(c, (x) => x.assertQueue('', { exclusive: true }))
    expect(replyText(err)).toMatch(new RegExp(`^ACCESS_REFUSED - access to queue 'amq\\.gen-[\\w-]+' in vhost '/' refused for user '${u}'$`))
    await permit(u, '^(gen-|amq\\.gen-)', '', '')
    const ch = await c.createChannel()
    const q = await ch.assertQueue('', { exclusive: true })
    expect(q.queue).toMatch(/^amq\.gen-/)
  })

  it('an empty pattern allows nothing; patterns match unanchored, as RabbitMQ’s re:run', async () => {
    const u = await user('anchor')
    await permit(u, 'mid', '', '')
    const c = await connectAs(u)
    const ch = await c.createChannel()
    await ch.assertQueue('a-mid-z', { autoDelete: false })
    await ch.deleteQueue('a-mid-z')
    const err = await channelError(c, (x) => x.assertQueue('nomatch'))
    expect(replyText(err)).toBe(refused('queue', 'nomatch', u))
  })

  it('write: basic.publish needs write on the exchange (the default one shows as amq.default)', async () => {
    const { ch: g } = await s.amqplibChannel()
    await g.assertExchange('pub-x', 'fanout')
    await g.assertQueue('pub-q')
    await g.bindQueue('pub-q', 'pub-x', '')
    const u = await user('writer')
    await permit(u, '', '^pub-x$', '')
    const c = await connectAs(u)
    const ch = await c.createConfirmChannel()
    ch.publish('pub-x', '', Buffer.from('ok'))
    await ch.waitForConfirms()
    await waitFor(() => s.queue('pub-q').messageCount === 1)
    let err = await channelError(c, (x) => x.publish('', 'pub-q', Buffer.from('no')))
    expect(replyText(err)).toBe(refused('exchange', 'amq.default', u))
    // checked before the exchange is looked up: 403, not 404
    err = await channelError(c, (x) => x.publish('no-such-x', '', Buffer.from('no')))
    expect(replyText(err)).toBe(refused('exchange', 'no-such-x', u))
    expect(s.queue('pub-q').messageCount).toBe(1)
    await g.deleteQueue('pub-q')
    await g.deleteExchange('pub-x')
  })

  it('read: basic.consume, basic.get and queue.purge need read on the queue', async () => {
    const { ch: g } = await s.amqplibChannel()
    await g.assertQueue('rd-q')
    await g.assertQueue('rd-other')
    g.sendToQueue('rd-q', Buffer.from('m'))
    g.sendToQueue('rd-other', Buffer.from('m'))
    await waitFor(() => s.queue('rd-q').messageCount === 1 && s.queue('rd-other').messageCount === 1)
    const u = await user('reader')
    await permit(u, '', '', '^rd-q$')
    const c = await connectAs(u)
    const ch = await c.createChannel()
    const m = await ch.get('rd-q')
    expect(m && m.content.toString()).toBe('m')
    await ch.purgeQueue('rd-q')
    await ch.consume('rd-q', () => undefined)
    for (const op of [
      (x: amqp.Channel) => x.get('rd-other'),
      (x: amqp.Channel) => x.consume('rd-other', () => undefined),
      (x: amqp.Channel) => x.purgeQueue('rd-other'),
    ]) {
      const err = await channelError(c, op)
      expect(err.code).toBe(403)
      expect(replyText(err)).toBe(refused('queue', 'rd-other', u))
    }
    expect(s.queue('rd-other').messageCount).toBe(1)
    await g.deleteQueue('rd-q')
    await g.deleteQueue('rd-other')
  })

  it('queue.bind: write on the queue and read on the exchange; exchange.bind: write on the destination, read on the source', async () => {
    const { ch: g } = await s.amqplibChannel()
    await g.assertQueue('bd-q')
    await g.assertExchange('bd-src', 'direct')
    await g.assertExchange('bd-dst', 'direct')
    const u = await user('binder')
    await permit(u, '', '^bd-q$', '')
    const c = await connectAs(u)
    let err = await channelError(c, (x) => x.bindQueue('bd-q', 'bd-src', 'k'))
    expect(replyText(err)).toBe(refused('exchange', 'bd-src', u))
    await permit(u, '', '', '^bd-src$')
    err = await channelError(c, (x) => x.bindQueue('bd-q', 'bd-src', 'k'))
    expect(replyText(err)).toBe(refused('queue', 'bd-q', u))
    err = await channelError(c, (x) => x.bindExchange('bd-dst', 'bd-src', 'k'))
    expect(replyText(err)).toBe(refused('exchange', 'bd-dst', u))
    await permit(u, '', '^bd-(q|dst)$', '^bd-src$')
    const ch = await c.createChannel()
    await ch.bindQueue('bd-q', 'bd-src', 'k')
    await ch.bindExchange('bd-dst', 'bd-src', 'k')
    await ch.unbindQueue('bd-q', 'bd-src', 'k')
    // the source needs read, not write
    err = await channelError(c, (x) => x.bindExchange('bd-src', 'bd-dst', 'k'))
    expect(replyText(err)).toBe(refused('exchange', 'bd-src', u))
    await g.deleteQueue('bd-q')
    await g.deleteExchange('bd-src')
    await g.deleteExchange('bd-dst')
  })

  it('a new queue with a dead-letter exchange needs read on the queue and write on the DLX', async () => {
    const u = await user('dlx')
    await permit(u, '^dlx-', '', '^dlx-')
    const c = await connectAs(u)
    const err = await channelError(c, (x) => x.assertQueue('dlx-q', { deadLetterExchange: 'dlx-target' }))
    expect(replyText(err)).toBe(refused('exchange', 'dlx-target', u))
    expect(s.maybeQueue('dlx-q')).toBeUndefined()
    await permit(u, '^dlx-', '^dlx-target$', '^dlx-')
    const ch = await c.createChannel()
    await ch.assertQueue('dlx-q', { deadLetterExchange: 'dlx-target', autoDelete: false })
    await ch.deleteQueue('dlx-q')
  })
})

describe('changes through the API apply at once', () => {
  it('revoking and granting permissions affects the next operation on an open connection', async () => {
    const { ch: g } = await s.amqplibChannel()
    await g.assertQueue('chg-q')
    const u = await user('changing')
    await permit(u, '', '.*', '.*')
    const c = await connectAs(u)
    const ch = await c.createConfirmChannel()
    ch.sendToQueue('chg-q', Buffer.from('1'))
    await ch.waitForConfirms()
    await permit(u, '', '', '.*')
    let err = await channelError(c, (x) => x.sendToQueue('chg-q', Buffer.from('2')))
    expect(replyText(err)).toBe(refused('exchange', 'amq.default', u))
    // the permission entry removed: still connected (RabbitMQ keeps the connection), every operation refused
    expect((await api().del(`/api/permissions/%2F/${u}`)).status).toBe(204)
    err = await channelError(c, (x) => x.get('chg-q'))
    expect(replyText(err)).toBe(refused('queue', 'chg-q', u))
    await permit(u, '', '.*', '.*')
    const ch2 = await c.createConfirmChannel()
    ch2.sendToQueue('chg-q', Buffer.from('3'))
    await ch2.waitForConfirms()
    expect(s.queue('chg-q').messageCount).toBe(2)
    await g.deleteQueue('chg-q')
  })

  it('deleting a user closes its connections with 320; new connections are refused', async () => {
    const u = await user('doomed')
    await permit(u, '.*', '.*', '.*')
    const c = await connectAs(u)
    const closed = new Promise<Error>((resolve) => c.once('close', resolve))
    const { conn: other } = await s.amqplibChannel()
    expect((await api().del(`/api/users/${u}`)).status).toBe(204)
    const err = await closed
    expect(err.message).toContain(`320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - user '${u}' is deleted"`)
    await expect(amqp.connect(`amqp://${u}:pw@127.0.0.1:${s.b.amqpPort}`)).rejects.toThrow()
    // guest's connection is untouched
    const probe = await other.createChannel()
    await probe.close()
    expect(s.b.broker.users.getPermission(u, '/')).toBeUndefined()
  })
})

describe('management: channel message_stats and connection counters', () => {
  it('GET /api/channels shows publish/confirm and deliver/ack counts with rates per channel', async () => {
    const q = s.uniq('stats')
    const conn = await s.amqplibConn()
    const pub = await conn.createConfirmChannel()
    const sub = await conn.createChannel()
    await pub.assertQueue(q)
    for (let i = 0; i < 5; i++) pub.sendToQueue(q, Buffer.from(`m${i}`))
    await pub.waitForConfirms()
    let acked = 0
    await sub.consume(q, (m) => {
      if (m === null) return
      sub.ack(m)
      acked++
    })
    await waitFor(() => acked === 5)
    const local = (conn as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort
    const mine = (list: Record<string, any>[]): Record<string, any>[] =>
      list.filter((c) => (c.connection_details?.peer_port ?? c.peer_port) === local)
    const [pubJson, subJson] = await waitFor(async () => {
      const chans = mine((await api().get('/api/channels')).body).sort((a, b) => a.number - b.number)
      const [p, c] = chans
      return p?.message_stats?.confirm === 5 && c?.message_stats?.ack === 5 && chans
    })
    expect(pubJson.message_stats).toMatchObject({
      publish: 5,
      confirm: 5,
      drop_unroutable: 0,
      return_unroutable: 0,
      publish_details: { rate: expect.any(Number) },
      confirm_details: { rate: expect.any(Number) },
    })
    expect(pubJson.message_stats.deliver).toBeUndefined()
    expect(subJson.message_stats).toMatchObject({
      deliver: 5,
      deliver_no_ack: 0,
      deliver_get: 5,
      ack: 5,
      get: 0,
      redeliver: 0,
      deliver_get_details: { rate: expect.any(Number) },
      ack_details: { rate: expect.any(Number) },
    })
    expect(subJson.message_stats.publish).toBeUndefined()
    // with traffic going on, the sampled rates become positive
    await waitFor(async () => {
      pub.sendToQueue(q, Buffer.from('more'))
      const [p, c] = mine((await api().get('/api/channels')).body).sort((a, b) => a.number - b.number)
      return p.message_stats.publish_details.rate > 0 && c.message_stats.ack_details.rate > 0
    })
    const [cj] = mine((await api().get('/api/connections')).body)
    expect(cj.recv_cnt).toBeGreaterThan(0)
    expect(cj.send_cnt).toBeGreaterThan(0)
    expect(cj.recv_oct).toBeGreaterThan(cj.recv_cnt)
    expect(cj.send_oct).toBeGreaterThan(cj.send_cnt)
    expect(cj.recv_oct_details).toEqual({ rate: expect.any(Number) })
    expect(cj.send_oct_details).toEqual({ rate: expect.any(Number) })
    await pub.deleteQueue(q)
  })

  it('an idle channel has no message_stats', async () => {
    const conn = await s.amqplibConn()
    const ch = await conn.createChannel()
    const local = (conn as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort
    const list = (await api().get('/api/channels')).body as Record<string, any>[]
    const mine = list.find((c) => c.connection_details.peer_port === local)!
    expect(mine).toBeDefined()
    expect(mine.message_stats).toBeUndefined()
    await ch.close()
  })
})
