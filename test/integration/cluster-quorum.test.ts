/**
 * Replicated quorum queues in a cluster (issue 14): three nodes in the test process joined through
 * a private etcd. A `x-queue-type: quorum` queue gets a replica set (leader + followers) in its etcd
 * record and RabbitMQ's quorum fields (leader, members, online) in the management API of every node.
 */
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { linked, startNode } from '../helpers/cluster.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'
import { RemoteQueue } from '../../core/cluster/remote-queue.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'quorum queues: replica sets' : 'quorum queues: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  const nodes: TestBroker[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  const cluster = `quorum${process.pid}`
  let seq = 0
  const uniq = (b: string): string => `${b}-${++seq}`

  beforeAll(async () => {
    etcd = await startEtcd()
    for (const n of ['n1', 'n2', 'n3']) nodes.push(await startNode(etcd, cluster, n))
    await linked(nodes[0], nodes[1])
    await linked(nodes[0], nodes[2])
    await linked(nodes[1], nodes[2])
  }, 40_000)
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })
  afterAll(async () => {
    for (const n of nodes) await n.stop()
    await etcd?.stop()
  })

  const channel = async (b: TestBroker): Promise<amqp.Channel> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    cleanups.push(() => c.close())
    return c.createChannel()
  }
  const record = (b: TestBroker, q: string) => b.broker.cluster!.placement.home('/', q)

  it('a quorum queue declared on n2 gets 3 members, n2 leading, epoch 1, on every node; the API shows leader, members, online', async () => {
    const q = uniq('qq')
    const ch = await channel(nodes[1])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    for (const n of nodes) {
      const h = record(n, q)!
      expect(h).toMatchObject({ node: 'n2', leader: 'n2', epoch: 1 })
      expect(h.members![0]).toBe('n2')
      expect([...h.members!].sort()).toEqual(['n1', 'n2', 'n3'])
    }
    for (const n of nodes) {
      const body = (await apiClient(n).get(`/api/queues/%2F/${q}`)).body
      expect(body).toMatchObject({ name: q, type: 'quorum', node: 'n2', leader: 'n2' })
      expect([...body.members].sort()).toEqual(['n1', 'n2', 'n3'])
      expect([...body.online].sort()).toEqual(['n1', 'n2', 'n3'])
    }
    const listed = (await apiClient(nodes[0]).get('/api/queues/%2F')).body.find((x: { name: string }) => x.name === q)
    expect(listed).toMatchObject({ leader: 'n2' })
    expect(listed.members).toHaveLength(3)
  })

  it('x-quorum-initial-group-size 2: the leader and the live member with the fewest replicas', async () => {
    const a = uniq('qq2')
    const b = uniq('qq2')
    const ch = await channel(nodes[0])
    await ch.assertQueue(a, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 } })
    await ch.assertQueue(b, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 } })
    const ma = record(nodes[0], a)!.members!
    const mb = record(nodes[0], b)!.members!
    expect(ma).toHaveLength(2)
    expect(mb).toHaveLength(2)
    expect(ma[0]).toBe('n1')
    expect(mb[0]).toBe('n1')
    // the second queue's follower is the node the first one did not take
    expect(new Set([ma[1], mb[1]])).toEqual(new Set(['n2', 'n3']))
  })

  it('declared with the management API: same replica set; classic queues get none', async () => {
    const q = uniq('qqhttp')
    const c = uniq('classic')
    const api = apiClient(nodes[2])
    expect((await api.put(`/api/queues/%2F/${q}`, { durable: true, arguments: { 'x-queue-type': 'quorum' } })).status).toBe(201)
    expect((await api.put(`/api/queues/%2F/${c}`, { durable: true })).status).toBe(201)
    await waitFor(() => record(nodes[0], q) !== undefined && record(nodes[0], c) !== undefined, 5000, 'records on n1')
    expect(record(nodes[0], q)).toMatchObject({ node: 'n3', leader: 'n3', epoch: 1 })
    expect(record(nodes[0], q)!.members).toHaveLength(3)
    const classic = record(nodes[0], c)!
    expect(classic.members).toBeUndefined()
    expect(classic.epoch).toBeUndefined()
    const body = (await apiClient(nodes[0]).get(`/api/queues/%2F/${c}`)).body
    expect(body.members).toBeUndefined()
    expect(body.leader).toBeUndefined()
  })

  const replicas = (b: TestBroker) => b.clusterNode!.replicas
  const confirmChannel = async (b: TestBroker): Promise<amqp.ConfirmChannel> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    cleanups.push(() => c.close())
    return c.createConfirmChannel()
  }

  it('the leader ships enqueues and acks: each follower holds every message, durable, then none once acked', async () => {
    const q = uniq('ship')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    const N = 200
    for (let i = 0; i < N; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true })
    await ch.waitForConfirms()
    // a confirm waits for a majority: at least one follower holds all of them already
    const held = () => [nodes[1], nodes[2]].map((n) => replicas(n).follower('/', q)!.messageCount)
    expect(Math.max(...held())).toBe(N)
    await waitFor(() => held().every((n) => n === N), 5000, 'both followers hold every message')
    expect(replicas(nodes[0]).leader('/', q)!.durableSeq).toBeGreaterThanOrEqual(N)
    // the leader's API shows each follower's lag and the in-sync members
    await waitFor(async () => {
      const body = (await apiClient(nodes[0]).get(`/api/queues/%2F/${q}`)).body
      expect(body.replica_lag).toEqual({ n2: 0, n3: 0 })
      expect([...body.in_sync].sort()).toEqual(['n1', 'n2', 'n3'])
      return true
    }, 5000, 'in sync')
    // consume half with acks, requeue the rest once: the followers drop exactly the acked ones
    const c = await channel(nodes[0])
    await c.prefetch(N)
    let seen = 0
    await c.consume(q, (m) => {
      seen++
      if (Number(m!.content.toString()) < N / 2) c.ack(m!)
      else if (!m!.fields.redelivered) c.nack(m!, false, true)
    })
    await waitFor(() => seen >= N + N / 2, 5000, 'deliveries and redeliveries')
    await waitFor(() => held().every((n) => n === N / 2), 5000, 'followers dropped the acked half')
  })

  it('a batch with an epoch below the one a follower has seen is refused', async () => {
    const q = uniq('epoch')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    ch.sendToQueue(q, Buffer.from('a'), { persistent: true })
    await ch.waitForConfirms()
    const f2 = replicas(nodes[1]).follower('/', q)!
    const f3 = replicas(nodes[2]).follower('/', q)!
    await waitFor(() => f2.messageCount === 1 && f3.messageCount === 1, 5000, 'both followers hold it')
    // as if both had followed a later leader: epoch 1 batches of the old one must not be applied
    f2.epoch = 2
    f3.epoch = 2
    const before = replicas(nodes[1]).refused + replicas(nodes[2]).refused
    ch.sendToQueue(q, Buffer.from('b'), { persistent: true })
    await waitFor(() => replicas(nodes[1]).refused + replicas(nodes[2]).refused >= before + 2, 5000, 'refusals')
    expect(f2.messageCount).toBe(1)
    expect(f3.messageCount).toBe(1)
    // and with no follower taking it, its confirm does not come
    const confirmed = await Promise.race([ch.waitForConfirms().then(() => true), new Promise((r) => setTimeout(() => r(false), 800))])
    expect(confirmed).toBe(false)
  })

  it('confirms wait for a majority: one follower stopped still confirms; both stopped, none come until one is back', async () => {
    const q = uniq('majority')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    await nodes[2].stop()
    await waitFor(() => !nodes[0].broker.cluster!.members.has('n3'), 5000, 'n3 gone')
    ch.sendToQueue(q, Buffer.from('one-down'), { persistent: true })
    await ch.waitForConfirms()
    expect(replicas(nodes[1]).follower('/', q)!.messageCount).toBe(1)
    await nodes[1].stop()
    await waitFor(() => !nodes[0].broker.cluster!.members.has('n2'), 5000, 'n2 gone')
    let confirmed = false
    ch.sendToQueue(q, Buffer.from('two-down'), { persistent: true }, () => (confirmed = true))
    await new Promise((r) => setTimeout(r, 1000))
    expect(confirmed).toBe(false)
    // n3 back (an empty disk): the leader sends it the queue's state, its ack makes the majority
    nodes[2] = await startNode(etcd, cluster, 'n3')
    await linked(nodes[0], nodes[2])
    await waitFor(() => confirmed, 8000, 'confirm once n3 is back')
    expect(replicas(nodes[2]).follower('/', q)!.messageCount).toBe(2)
    nodes[1] = await startNode(etcd, cluster, 'n2')
    await linked(nodes[0], nodes[1])
  }, 30_000)

  it('leader stopped: a follower takes over through etcd (epoch 2) within lease TTL + 2 s, consumers get basic.cancel, every confirmed message is served, unacked ones redelivered (x-delivery-count 1); the old leader back follows', async () => {
    const q = uniq('failover')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    const N = 100
    for (let i = 0; i < N; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true })
    await ch.waitForConfirms()
    // a consumer on n2 (through its stand-in) acks 0..9 and holds 10..19 unacked
    const c2 = await channel(nodes[1])
    await c2.prefetch(20)
    let cancelled = false
    const first: number[] = []
    await c2.consume(q, (m) => {
      if (m === null) return void (cancelled = true)
      const i = Number(m.content.toString())
      first.push(i)
      if (i < 10) c2.ack(m)
    })
    await waitFor(() => first.length === 20, 5000, '20 deliveries')
    const held = () => [nodes[1], nodes[2]].map((n) => replicas(n).follower('/', q)?.messageCount)
    await waitFor(() => held().every((n) => n === N - 10), 5000, 'followers dropped the acked ones')
    // acking 0..9 made room: the consumer may hold up to 20 unacked (10..29)
    await waitFor(() => first.length === 30, 5000, '30 deliveries')
    const unacked = new Set(first.filter((i) => i >= 10))
    const t0 = Date.now()
    await nodes[0].stop()
    await waitFor(() => record(nodes[1], q)?.epoch === 2 && record(nodes[2], q)?.epoch === 2, 4000, 'a new leader in etcd (lease TTL 2 s + 2 s)')
    const leader = record(nodes[1], q)!.node
    expect(['n2', 'n3']).toContain(leader)
    expect(record(nodes[2], q)!.node).toBe(leader)
    expect(record(nodes[1], q)!.leader).toBe(leader)
    await waitFor(() => cancelled, 4000, 'basic.cancel to the consumer of the old leader')
    // re-consume through the node that is not the leader: the new leader serves 10..99, 10..19 redelivered
    const other = leader === 'n2' ? nodes[2] : nodes[1]
    const c3 = await channel(other)
    const got = new Map<number, amqp.ConsumeMessage>()
    await c3.consume(q, (m) => {
      if (m === null) return
      got.set(Number(m.content.toString()), m)
      c3.ack(m)
    })
    await waitFor(() => got.size === N - 10, 6000, 'every unacked and ready message from the new leader')
    const recovered = Date.now() - t0
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...Array(N - 10).keys()].map((i) => i + 10))
    for (const [i, m] of got) {
      expect(m.fields.redelivered).toBe(unacked.has(i))
      if (unacked.has(i)) expect(m.properties.headers?.['x-delivery-count']).toBe(1)
    }
    expect(recovered).toBeLessThan(6000)
    // the old leader back (an empty disk): the record names the new leader, n1 only has a stand-in and a follower replica
    nodes[0] = await startNode(etcd, cluster, 'n1')
    await linked(nodes[0], nodes[1])
    await linked(nodes[0], nodes[2])
    expect(record(nodes[0], q)).toMatchObject({ node: leader, epoch: 2 })
    expect(nodes[0].broker.vhost('/')!.queues.get(q)).toBeInstanceOf(RemoteQueue)
    const late = await confirmChannel(nodes[0])
    await c3.close()
    late.sendToQueue(q, Buffer.from('late'), { persistent: true })
    await late.waitForConfirms()
    await waitFor(() => replicas(nodes[0]).follower('/', q)?.messageCount === 1, 5000, 'n1 follows the new leader')
    expect(replicas(nodes[0]).follower('/', q)!.epoch).toBe(2)
  }, 40_000)

  it('a leader restarted with its data: the quorum queue recovered at boot is a replicated leader again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-quorum-restart-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const opts = { cluster: [etcd.endpoint], clusterName: cluster, nodeName: 'n4', clusterPort: 0, clusterLeaseTtl: 2, dataDir: dir }
    let n4 = await startTestBroker(opts)
    const q = uniq('restart')
    try {
      const ch = await confirmChannel(n4)
      // a replica set of one: no follower takes over while n4 is away
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 1 } })
      ch.sendToQueue(q, Buffer.from('kept'), { persistent: true })
      await ch.waitForConfirms()
      expect(replicas(n4).leader('/', q)).toBeDefined()
      await n4.stop()
      n4 = await startTestBroker(opts)
      expect(replicas(n4).leader('/', q)).toBeDefined()
      expect(n4.broker.vhost('/')!.queues.get(q)!.messageCount).toBe(1)
    } finally {
      await n4.stop()
    }
  }, 30_000)
})
