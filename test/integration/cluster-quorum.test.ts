/**
 * Replicated quorum queues in a cluster (issue 14): three nodes in the test process joined through
 * a private etcd. A `x-queue-type: quorum` queue gets a replica set (leader + followers) in its etcd
 * record and RabbitMQ's quorum fields (leader, members, online) in the management API of every node.
 */
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TestBroker } from '../helpers/broker.js'
import { waitFor } from '../helpers/broker.js'
import { linked, startNode } from '../helpers/cluster.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

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
})
