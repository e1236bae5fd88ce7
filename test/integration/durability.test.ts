/**
 * Restart tests (issue 4, "What survives"): start a broker on a data dir, change things, stop it,
 * start another on the same dir, and look. Real amqplib clients, temp dirs per test.
 */
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { bodies, boot, connect, dataDir, drain, halt, publishConfirmed } from '../helpers/restart.js'

const N = (n: number, p = 'm'): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`)

describe('definitions survive a restart', () => {
  it('keeps durable exchanges, queues and bindings, drops transient and exclusive ones', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const c = await connect(b)
    const ch = await c.createChannel()
    await ch.assertExchange('dx', 'topic', { durable: true, arguments: { 'alternate-exchange': 'ae' } })
    await ch.assertExchange('tx', 'fanout', { durable: false })
    await ch.assertQueue('dq', { durable: true, arguments: { 'x-max-length': 100 } })
    await ch.assertQueue('tq', { durable: false })
    await ch.assertQueue('xq', { durable: true, exclusive: true })
    await ch.bindQueue('dq', 'dx', 'a.#')
    await ch.bindQueue('dq', 'amq.direct', 'k')
    await ch.bindQueue('tq', 'dx', 'b')
    await ch.bindExchange('dx', 'amq.fanout', '')
    await ch.assertExchange('gone', 'direct', { durable: true })
    await ch.deleteExchange('gone')
    await halt(b)

    b = await boot(dir)
    const v = b.broker.vhost('/')!
    expect(v.exchanges.get('dx')?.type).toBe('topic')
    expect(v.exchanges.get('dx')?.arguments['alternate-exchange']).toBe('ae')
    expect(v.exchanges.has('tx')).toBe(false)
    expect(v.exchanges.has('gone')).toBe(false)
    expect(v.queues.get('dq')?.arguments['x-max-length']).toBe(100)
    expect(v.queues.has('tq')).toBe(false)
    expect(v.queues.has('xq')).toBe(false)
    const keys = [...v.bindings()].map((x) => `${x.source.name}>${x.destination.name}:${x.routingKey}`).sort()
    expect(keys).toEqual(['amq.direct>dq:k', 'amq.fanout>dx:', 'dx>dq:a.#'])
    // the recovered bindings route
    await publishConfirmed(b, '', [])
    const c2 = await connect(b)
    const ch2 = await c2.createConfirmChannel()
    ch2.publish('amq.fanout', 'a.z', Buffer.from('via-e2e'), { persistent: true })
    await ch2.waitForConfirms()
    expect(bodies(await drain(b, 'dq'))).toEqual(['via-e2e'])
  })

  it('keeps vhosts, users and permissions', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    b.broker.addVHost('v2', { description: 'second', tags: ['t'] })
    b.broker.users.setPermission({ user: 'guest', vhost: 'v2', configure: '.*', write: '.*', read: '^r' })
    b.broker.users.put({ name: 'bob', passwordHash: '', hashingAlgorithm: 'rabbit_password_hashing_sha256', tags: [], loopbackOnly: false })
    b.broker.addVHost('v3')
    b.broker.deleteVHost('v3')
    await halt(b)
    b = await boot(dir)
    expect(b.broker.vhostMetadata.get('v2')?.description).toBe('second')
    expect(b.broker.vhost('v3')).toBeUndefined()
    expect(b.broker.users.get('bob')).toBeDefined()
    expect(b.broker.users.getPermission('guest', 'v2')?.read).toBe('^r')
    // every vhost comes back with RabbitMQ's 7 built-in exchanges, the internal trace exchange once
    for (const v of ['/', 'v2']) {
      const xs = b.broker.vhost(v)!.exchanges
      expect([...xs.keys()].sort()).toEqual(['', 'amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.rabbitmq.trace', 'amq.topic'])
      expect(xs.get('amq.rabbitmq.trace')).toMatchObject({ type: 'topic', durable: true, internal: true })
    }
  })

  it('forgets a deleted durable queue and its messages', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('del', { durable: true })
    await publishConfirmed(b, 'del', N(5))
    await ch.deleteQueue('del')
    await ch.assertQueue('del', { durable: true }) // same name, new queue: starts empty
    await publishConfirmed(b, 'del', ['fresh'])
    await halt(b)
    b = await boot(dir)
    expect(bodies(await drain(b, 'del'))).toEqual(['fresh'])
  })
})

describe('messages survive a restart', () => {
  it('keeps persistent messages in order, drops transient ones', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('pq', { durable: true })
    await ch.assertQueue('tq', { durable: false })
    await publishConfirmed(b, 'pq', ['p0', 'p1'])
    await publishConfirmed(b, 'pq', ['t0'], false)
    await publishConfirmed(b, 'pq', ['p2'])
    await publishConfirmed(b, 'tq', ['x'])
    await halt(b)
    b = await boot(dir)
    expect(b.broker.vhost('/')!.queues.get('pq')?.messageCount).toBe(3)
    const got = await drain(b, 'pq')
    expect(bodies(got)).toEqual(['p0', 'p1', 'p2'])
    expect(got.every((m) => !m.fields.redelivered && m.properties.deliveryMode === 2)).toBe(true)
  })

  it('brings back unacked messages with redelivered=true and never acked ones', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const c = await connect(b)
    const ch = await c.createChannel()
    await ch.assertQueue('rq', { durable: true })
    await publishConfirmed(b, 'rq', N(6))
    // m0, m1 taken and acked; m2, m3 taken and left unacked; m4, m5 never delivered
    for (let i = 0; i < 4; i++) {
      const m = await ch.get('rq')
      if (m === false) throw new Error('no message')
      if (i < 2) ch.ack(m)
    }
    await waitFor(() => b.broker.vhost('/')!.queues.get('rq')!.unackedCount === 2)
    await halt(b)
    b = await boot(dir)
    const back = await drain(b, 'rq')
    expect(bodies(back)).toEqual(['m2', 'm3', 'm4', 'm5'])
    expect(back.map((m) => m.fields.redelivered)).toEqual([true, true, false, false])
    await halt(b)
    b = await boot(dir)
    expect(await drain(b, 'rq')).toEqual([])
  })

  it('makes purges, rejects and TTL expiry durable', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('pg', { durable: true })
    await ch.assertQueue('ttl', { durable: true, arguments: { 'x-message-ttl': 30 } })
    await ch.assertQueue('rj', { durable: true })
    await publishConfirmed(b, 'pg', N(10))
    await ch.purgeQueue('pg')
    await publishConfirmed(b, 'ttl', N(3))
    await publishConfirmed(b, 'rj', N(3))
    const m = await ch.get('rj')
    if (m === false) throw new Error('no message')
    ch.nack(m, false, false)
    await waitFor(() => b.broker.vhost('/')!.queues.get('ttl')!.messageCount === 0)
    await waitFor(() => b.broker.vhost('/')!.queues.get('rj')!.unackedCount === 0)
    await halt(b)
    b = await boot(dir)
    const v = b.broker.vhost('/')!
    expect(v.queues.get('pg')!.messageCount).toBe(0)
    expect(v.queues.get('ttl')!.messageCount).toBe(0)
    expect(bodies(await drain(b, 'rj'))).toEqual(['m1', 'm2'])
  })

  it('keeps the dead-lettered copy in a durable dead-letter queue', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dlq', { durable: true })
    await ch.assertQueue('src', { durable: true, arguments: { 'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' } })
    await publishConfirmed(b, 'src', ['a', 'b', 'c'])
    await halt(b)
    b = await boot(dir)
    expect(bodies(await drain(b, 'src'))).toEqual(['c'])
    const dead = await drain(b, 'dlq')
    expect(bodies(dead)).toEqual(['a', 'b'])
    expect(dead[0].properties.headers?.['x-death']).toBeDefined()
  })

  it('keeps a deep queue on disk and delivers it in order after a restart', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('deep', { durable: true })
    const n = 20_000
    await publishConfirmed(b, 'deep', N(n))
    const q = b.broker.vhost('/')!.queues.get('deep')!
    expect(q.messageCount).toBe(n)
    expect(q.store?.messageStores()[0].readyCount).toBe(n)
    await halt(b)
    b = await boot(dir)
    const got = bodies(await drain(b, 'deep'))
    expect(got.length).toBe(n)
    expect(got.every((s, i) => s === `m${i}`)).toBe(true)
  })
})

describe('confirms mean durable', () => {
  it('confirms a persistent message to a durable queue only after an fdatasync', async () => {
    const b = await boot(dataDir())
    const c = await connect(b)
    const ch = await c.createConfirmChannel()
    await ch.assertQueue('cq', { durable: true })
    const storage = b.broker.storage!
    const before = storage.stats.syncs
    const q = b.broker.vhost('/')!.queues.get('cq')!
    let acked = 0
    for (let i = 0; i < 500; i++) {
      ch.sendToQueue('cq', Buffer.from(`m${i}`), { persistent: true }, (err) => {
        expect(err).toBeNull()
        // at the time of each confirm, the queue's store has synced everything appended so far
        expect(q.store!.messageStores()[0].durableSeq).toBeGreaterThanOrEqual(i + 1)
        acked++
      })
    }
    await ch.waitForConfirms()
    expect(acked).toBe(500)
    expect(storage.stats.syncs).toBeGreaterThan(before)
    // group commit: far fewer syncs than messages
    expect(storage.stats.syncs - before).toBeLessThan(500)
  })

  it('does not sync transient messages or messages to transient queues', async () => {
    const b = await boot(dataDir())
    const c = await connect(b)
    const ch = await c.createConfirmChannel()
    await ch.assertQueue('tq2', { durable: false })
    await ch.assertQueue('dq2', { durable: true })
    const before = b.broker.storage!.stats.syncs
    for (let i = 0; i < 50; i++) ch.sendToQueue('tq2', Buffer.from('x'), { persistent: true })
    for (let i = 0; i < 50; i++) ch.sendToQueue('dq2', Buffer.from('x'), { persistent: false })
    await ch.waitForConfirms()
    expect(b.broker.storage!.stats.syncs).toBe(before)
  })
})
