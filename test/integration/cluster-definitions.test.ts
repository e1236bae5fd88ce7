/**
 * Cluster-wide definitions through a private etcd (issue 13, step 2): declares go to etcd and are
 * visible on every node before declare-ok; one home per queue even when two nodes declare it at
 * once; exchanges, bindings, users and vhosts reach every node; exclusive queues are locked from
 * other nodes; the balanced locator spreads queues; a restarted node keeps its durable queues and
 * loses its transient ones. Nodes run in this process (separate brokers, sockets and etcd clients)
 * and, for the first test, one as a separate process (the CLI).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { RemoteQueue } from '../../core/cluster/remote-queue.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')

/** The error a channel closes with (amqplib rejects with it). */
async function closeCode(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p
  } catch (err) {
    return { code: (err as { code: number }).code, message: (err as Error).message }
  }
  throw new Error('expected a channel error')
}

describe.skipIf(!hasEtcd)(hasEtcd ? 'cluster definitions (etcd)' : 'cluster definitions: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  const nodes: TestBroker[] = []
  const conns: amqp.ChannelModel[] = []
  let seq = 0
  let cluster = ''

  beforeAll(async () => {
    etcd = await startEtcd()
  }, 20_000)
  afterAll(async () => {
    await etcd?.stop()
  })
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close().catch(() => undefined)
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined)
  })

  const newCluster = (): string => (cluster = `d${process.pid}-${++seq}`)
  const node = async (name: string, dataDir?: string, prometheusPort = -1): Promise<TestBroker> => {
    const b = await startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: name, clusterPort: 0, clusterLeaseTtl: 2, prometheusPort, dataDir })
    nodes.push(b)
    return b
  }
  const channel = async (b: { url: string }): Promise<amqp.Channel> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    conns.push(c)
    return c.createChannel()
  }
  const queueRecord = async (vhost: string, name: string): Promise<Record<string, unknown> | null> => {
    const v = await etcd.client.get(`/warren/${cluster}/defs/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`).string()
    return v === null ? null : JSON.parse(v)
  }

  it('a queue declared on n1 is there for a passive declare on n2 and on n3 (another process) right after declare-ok', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    const dir = mkdtempSync(path.join(tmpdir(), 'warren-defs-'))
    const args = [CLI, '--cluster', etcd.url, '--cluster-name', cluster, '--node-name', 'n3', '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--cluster-port', '0', '--bind', '127.0.0.1', '--data-dir', dir, '--amqps-port', '-1', '--https-port', '-1']
    const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' })
    try {
      await waitFor(() => n1.broker.cluster!.members.has('n3') && n2.broker.cluster!.members.has('n3'), 30_000, 'n3 to join')
      const n3port = n1.broker.cluster!.members.get('n3')!.amqpPort
      const [c1, c2, c3] = [await channel(n1), await channel(n2), await channel({ url: `amqp://guest:guest@127.0.0.1:${n3port}` })]
      for (let i = 0; i < 5; i++) {
        const name = `q/${i}` // '/' in a name: the etcd key encodes it
        expect((await c1.assertQueue(name, { durable: i % 2 === 0 })).queue).toBe(name)
        // no wait, no retry: declare-ok came after every live member applied the record
        expect(await c2.checkQueue(name)).toMatchObject({ queue: name, messageCount: 0, consumerCount: 0 })
        expect(await c3.checkQueue(name)).toMatchObject({ queue: name })
      }
      // server-named queues are claimed too
      const gen = (await c1.assertQueue('', { exclusive: false })).queue
      expect(gen).toMatch(/^amq\.gen-/)
      expect(await c3.checkQueue(gen)).toMatchObject({ queue: gen })
      expect(await queueRecord('/', 'q/0')).toMatchObject({ name: 'q/0', vhost: '/', node: 'n1', durable: true, exclusive: false })
      expect(n2.broker.cluster!.placement.home('/', 'q/1')).toMatchObject({ node: 'n1', durable: false })
      // a queue not declared anywhere: 404 from every node
      expect((await closeCode(c2.checkQueue('nope'))).code).toBe(404)
    } finally {
      child.kill('SIGKILL')
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)))
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('two nodes declaring the same queue at once get one record and one home; an inequivalent loser gets 406', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    const [c1, c2] = [await channel(n1), await channel(n2)]
    for (let i = 0; i < 5; i++) {
      const name = `race-${i}`
      const [a, b] = await Promise.all([c1.assertQueue(name), c2.assertQueue(name)])
      expect([a.queue, b.queue]).toEqual([name, name])
      const rec = await queueRecord('/', name)
      const home = rec!.node as string
      // the queue is a real queue on its home only, a stand-in for it on the other node
      expect(n1.broker.vhost('/')!.queues.get(name) instanceof RemoteQueue).toBe(home !== 'n1')
      expect(n2.broker.vhost('/')!.queues.get(name) instanceof RemoteQueue).toBe(home !== 'n2')
      expect(n1.broker.cluster!.placement.home('/', name)!.node).toBe(home)
      expect(n2.broker.cluster!.placement.home('/', name)!.node).toBe(home)
    }
    const [c3, c4] = [await channel(n1), await channel(n2)]
    const results = await Promise.allSettled([c3.assertQueue('mixed', { durable: true }), c4.assertQueue('mixed', { durable: false })])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(lost.reason.code).toBe(406)
    expect(lost.reason.message).toContain("inequivalent arg 'durable' for queue 'mixed' in vhost '/'")
    // exchanges are claimed too: one type wins, the other declare gets 406, both nodes agree
    const [c5, c6] = [await channel(n1), await channel(n2)]
    const xs = await Promise.allSettled([c5.assertExchange('xrace', 'direct'), c6.assertExchange('xrace', 'fanout')])
    expect(xs.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const xlost = xs.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(xlost.reason.code).toBe(406)
    expect(xlost.reason.message).toContain("inequivalent arg 'type' for exchange 'xrace' in vhost '/'")
    const t1 = n1.broker.vhost('/')!.exchanges.get('xrace')!.type
    expect(n2.broker.vhost('/')!.exchanges.get('xrace')!.type).toBe(t1)
    // and through the management API: one PUT creates (201), the other is an inequivalent redeclare (400)
    for (let i = 0; i < 3; i++) {
      const name = `apirace-${i}`
      const puts = await Promise.all([
        apiClient(n1).put(`/api/exchanges/%2F/${name}`, { type: 'direct' }),
        apiClient(n2).put(`/api/exchanges/%2F/${name}`, { type: 'fanout' }),
      ])
      expect(puts.map((r) => r.status).sort()).toEqual([201, 400])
      expect(puts.find((r) => r.status === 400)!.body.reason).toContain(`inequivalent arg 'type' for exchange '${name}' in vhost '/'`)
      const won = puts[0].status === 201 ? 'direct' : 'fanout'
      expect(n1.broker.vhost('/')!.exchanges.get(name)!.type).toBe(won)
      expect(n2.broker.vhost('/')!.exchanges.get(name)!.type).toBe(won)
    }
  })

  it("an exchange and a binding declared on n1 route on n2; n2's management API shows them", async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    const [c1, c2] = [await channel(n1), await channel(n2)]
    await c2.assertQueue('on-n2') // homed on n2 (client-local)
    await c1.assertExchange('x/1', 'topic', { durable: true })
    await c1.bindQueue('on-n2', 'x/1', 'a.*') // a queue of another node: written to etcd
    await c1.assertExchange('x2', 'fanout', { durable: false })
    await c1.bindExchange('x/1', 'x2', '')
    // routed on n2 with what n1 declared
    c2.publish('x2', 'a.b', Buffer.from('hello'))
    const m = await waitFor(async () => (await c2.get('on-n2', { noAck: true })) || null, 3000, 'message on n2')
    expect(m.content.toString()).toBe('hello')
    const x = await apiClient(n2).get('/api/exchanges/%2F/x%2F1')
    expect(x.body).toMatchObject({ name: 'x/1', type: 'topic', durable: true })
    const bindings = (await apiClient(n2).get('/api/bindings/%2F')).body as { source: string; destination: string; routing_key: string }[]
    expect(bindings.some((b) => b.source === 'x/1' && b.destination === 'on-n2' && b.routing_key === 'a.*')).toBe(true)
    // unbind on n1 and delete the exchange: gone on n2 too
    await c1.unbindQueue('on-n2', 'x/1', 'a.*')
    await c1.deleteExchange('x2')
    expect(n2.broker.vhost('/')!.exchanges.has('x2')).toBe(false)
    expect([...n2.broker.vhost('/')!.bindings()].some((b) => b.source.name === 'x/1')).toBe(false)
  })

  it('queue.delete on its home removes it everywhere; an exclusive queue is locked (405) from another node and goes with its owner', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    const [c1, c2] = [await channel(n1), await channel(n2)]
    await c1.assertQueue('doomed')
    await c1.assertExchange('dx', 'direct')
    await c1.bindQueue('doomed', 'dx', 'k')
    expect(n2.broker.cluster!.placement.home('/', 'doomed')).toBeDefined()
    await c1.deleteQueue('doomed')
    expect(n2.broker.cluster!.placement.home('/', 'doomed')).toBeUndefined()
    expect(await queueRecord('/', 'doomed')).toBeNull()
    expect((await etcd.client.getAll().prefix(`/warren/${cluster}/defs/bindings/`).keys()).length).toBe(0)
    expect((await closeCode(c2.checkQueue('doomed'))).code).toBe(404)
    const c2b = await channel(n2)

    const conn = await amqp.connect(n1.url)
    const owner = await conn.createChannel()
    await owner.assertQueue('mine', { exclusive: true })
    expect(await queueRecord('/', 'mine')).toMatchObject({ exclusive: true, node: 'n1' })
    const locked = await closeCode(c2b.checkQueue('mine'))
    expect(locked.code).toBe(405)
    expect(locked.message).toContain("cannot obtain exclusive access to locked queue 'mine' in vhost '/'")
    const c3 = await channel(n2)
    expect((await closeCode(c3.assertQueue('mine', { exclusive: true }))).code).toBe(405)
    await conn.close()
    await waitFor(async () => (await queueRecord('/', 'mine')) === null, 3000, 'the exclusive queue record to go with its owner')
    await waitFor(() => n2.broker.cluster!.placement.home('/', 'mine') === undefined, 3000, 'n2 to drop it')

    // a queue of n1 purged and deleted from n2: both go to the home over the node link
    await c1.assertQueue('from-afar')
    const c4 = await channel(n2)
    for (let i = 0; i < 3; i++) c4.sendToQueue('from-afar', Buffer.from(`m${i}`))
    await waitFor(() => n1.broker.vhost('/')!.queues.get('from-afar')?.messageCount === 3, 3000, 'three messages at the home')
    expect(await c4.purgeQueue('from-afar')).toMatchObject({ messageCount: 3 })
    c4.sendToQueue('from-afar', Buffer.from('last'))
    await waitFor(() => n1.broker.vhost('/')!.queues.get('from-afar')?.messageCount === 1, 3000, 'one message at the home')
    expect(await c4.deleteQueue('from-afar')).toMatchObject({ messageCount: 1 })
    expect(await queueRecord('/', 'from-afar')).toBeNull()
    expect(n1.broker.vhost('/')!.queues.has('from-afar')).toBe(false)
  })

  it('x-queue-leader-locator balanced spreads queues over the live members; a bad value is 406', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    await waitFor(() => n1.broker.cluster!.members.size === 2, 5000, 'two members')
    const c1 = await channel(n1)
    for (let i = 0; i < 6; i++) await c1.assertQueue(`b${i}`, { arguments: { 'x-queue-leader-locator': 'balanced' } })
    const homes = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await queueRecord('/', `b${i}`))!.node))
    expect(homes.filter((h) => h === 'n1')).toHaveLength(3)
    expect(homes.filter((h) => h === 'n2')).toHaveLength(3)
    expect(n2.broker.vhost('/')!.queues.has(`b${homes.indexOf('n2')}`)).toBe(true)
    // the management API of either node lists every queue with its node
    const listed = (await apiClient(n1).get('/api/queues/%2F')).body as { name: string; node: string }[]
    expect(listed.filter((q) => q.name.startsWith('b')).map((q) => q.node).sort()).toEqual(['n1', 'n1', 'n1', 'n2', 'n2', 'n2'])
    const one = await apiClient(n1).get(`/api/queues/%2F/b${homes.indexOf('n2')}`)
    expect(one.body).toMatchObject({ node: 'n2' })
    // the queue-leader-locator policy key does the same for the queues it matches
    expect((await apiClient(n1).put('/api/policies/%2F/spread', { pattern: '^pol', definition: { 'queue-leader-locator': 'balanced' }, 'apply-to': 'queues' })).status).toBe(201)
    const before = homes.filter((h) => h === 'n2').length
    for (let i = 0; i < 4; i++) await c1.assertQueue(`pol${i}`)
    const polHomes = await Promise.all([0, 1, 2, 3].map(async (i) => (await queueRecord('/', `pol${i}`))!.node))
    expect(polHomes.filter((h) => h === 'n2')).toHaveLength(2)
    expect(before).toBe(3)
    // the management API places a new queue the same way
    for (let i = 0; i < 2; i++) {
      expect((await apiClient(n2).put(`/api/queues/%2F/api${i}`, { durable: true, arguments: { 'x-queue-leader-locator': 'balanced' } })).status).toBe(201)
    }
    const apiHomes = await Promise.all([0, 1].map(async (i) => (await queueRecord('/', `api${i}`))!.node))
    expect(apiHomes.sort()).toEqual(['n1', 'n2'])
    expect((await apiClient(n1).put('/api/queues/%2F/api0', { durable: true, arguments: { 'x-queue-leader-locator': 'balanced' } })).status).toBe(204)
    expect((await apiClient(n1).put('/api/queues/%2F/api0', { durable: false })).status).toBe(400)
    const bad = await closeCode(c1.assertQueue('bad', { arguments: { 'x-queue-leader-locator': 'nearest' } }))
    expect(bad.code).toBe(406)
    expect(bad.message).toContain("invalid arg 'x-queue-leader-locator' for queue 'bad' in vhost '/'")
  })

  it('a restarted node keeps its durable queues and loses its transient ones', async () => {
    newCluster()
    const n1 = await node('n1')
    const dir = mkdtempSync(path.join(tmpdir(), 'warren-defs-n2-'))
    try {
      let n2 = await node('n2', dir)
      const c2 = await channel(n2)
      await c2.assertQueue('keep', { durable: true })
      await c2.assertQueue('lose', { durable: false })
      await c2.assertExchange('kx', 'fanout', { durable: true })
      await c2.bindQueue('keep', 'kx', '')
      conns.splice(0).forEach((c) => void c.close().catch(() => undefined))
      await n2.stop()
      nodes.splice(nodes.indexOf(n2), 1)
      // while n2 is away its durable queue is there but unreachable (RabbitMQ's 404 for a node that is down)
      const c1 = await channel(n1)
      const down = await closeCode(c1.checkQueue('keep'))
      expect(down.code).toBe(404)
      expect(down.message).toContain("home node 'n2' of durable queue 'keep' in vhost '/' is down or inaccessible")
      expect((await apiClient(n1).get('/api/queues/%2F/keep')).body).toMatchObject({ node: 'n2', state: 'down' })
      // while n2 is away, n1 deletes the exchange: the restarted node takes etcd's view
      const c1b = await channel(n1)
      await c1b.deleteExchange('kx')
      n2 = await node('n2', dir)
      expect(n2.broker.vhost('/')!.queues.has('keep')).toBe(true)
      expect(n2.broker.vhost('/')!.queues.has('lose')).toBe(false)
      expect(n2.broker.vhost('/')!.exchanges.has('kx')).toBe(false)
      expect(await queueRecord('/', 'keep')).toMatchObject({ node: 'n2', durable: true })
      expect(await queueRecord('/', 'lose')).toBeNull()
      await waitFor(() => n1.broker.cluster!.placement.home('/', 'lose') === undefined, 3000, 'n1 to drop the transient queue')
      expect(await c1b.checkQueue('keep')).toMatchObject({ queue: 'keep' })
      expect((await closeCode(c1b.checkQueue('lose'))).code).toBe(404)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('users, vhosts and permissions made through the API of n1 work for a login on n2', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    const api = apiClient(n1)
    expect((await api.put('/api/vhosts/v%2F1', { description: 'made on n1' })).status).toBe(201)
    expect((await api.put('/api/users/alice', { password: 's3cret', tags: '' })).status).toBe(201)
    expect((await api.put('/api/permissions/v%2F1/alice', { configure: '.*', write: '.*', read: '.*' })).status).toBe(201)
    // no wait: the API answered once every node had the change
    const c = await amqp.connect(`amqp://alice:s3cret@127.0.0.1:${n2.amqpPort}/${encodeURIComponent('v/1')}`)
    conns.push(c)
    const ch = await c.createChannel()
    await ch.assertQueue('in-v1')
    expect(n1.broker.cluster!.placement.home('v/1', 'in-v1')).toMatchObject({ node: 'n2' })
    expect((await apiClient(n2).get('/api/vhosts/v%2F1')).body).toMatchObject({ name: 'v/1', description: 'made on n1' })
    // deleting the user on n1 closes nothing here but refuses the next login on n2
    expect((await api.del('/api/users/alice')).status).toBe(204)
    await expect(amqp.connect(`amqp://alice:s3cret@127.0.0.1:${n2.amqpPort}/${encodeURIComponent('v/1')}`)).rejects.toThrow()
    expect((await api.del('/api/vhosts/v%2F1')).status).toBe(204)
    expect(n2.broker.vhost('v/1')).toBeUndefined()
    expect(n2.broker.cluster!.placement.home('v/1', 'in-v1')).toBeUndefined()
    // a definitions import on n1 is written to etcd: n2 has it when the import answers
    const defs = {
      vhosts: [{ name: 'imported' }],
      users: [{ name: 'bob', password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' }],
      permissions: [{ user: 'bob', vhost: 'imported', configure: '.*', write: '.*', read: '.*' }],
      exchanges: [{ name: 'ix', vhost: 'imported', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
      queues: [{ name: 'iq', vhost: 'imported', durable: true, auto_delete: false, arguments: {} }],
      bindings: [{ source: 'ix', vhost: 'imported', destination: 'iq', destination_type: 'queue', routing_key: '', arguments: {} }],
      policies: [{ vhost: 'imported', name: 'p1', pattern: '^iq$', 'apply-to': 'queues', definition: { 'max-length': 5 }, priority: 0 }],
    }
    expect((await api.post('/api/definitions', defs)).status).toBeLessThan(300)
    const v2 = n2.broker.vhost('imported')!
    expect(v2.exchanges.get('ix')?.type).toBe('fanout')
    expect(n2.broker.users.getPermission('bob', 'imported')).toMatchObject({ configure: '.*' })
    expect(n2.broker.policies.get('imported', 'p1')).toBeDefined()
    expect(n2.broker.cluster!.placement.home('imported', 'iq')).toMatchObject({ node: 'n1' })
    expect((await apiClient(n2).get('/api/bindings/imported')).body.some((b: { source: string; destination: string }) => b.source === 'ix' && b.destination === 'iq')).toBe(true)
  })

  it('a member that does not apply a change holds declare-ok until its lease expires (it is then no longer waited for)', async () => {
    newCluster()
    const n1 = await node('n1')
    const c1 = await channel(n1)
    // a member that registered but never applies anything (a hung process)
    const lease = etcd.client.lease(2)
    await lease.put(`/warren/${cluster}/nodes/ghost`).value(JSON.stringify({ name: 'ghost', address: '127.0.0.1', clusterPort: 1, amqpPort: 1, httpPort: -1, started: Date.now() }))
    await waitFor(() => n1.broker.cluster!.members.has('ghost'), 3000, 'n1 to see the ghost member')
    const t0 = Date.now()
    const declared = c1.assertQueue('waits-for-ghost')
    let done = false
    void declared.then(() => (done = true))
    await new Promise((r) => setTimeout(r, 400))
    expect(done).toBe(false)
    await lease.revoke() // as when its lease expires: it leaves the members
    await declared
    const waited = Date.now() - t0
    expect(waited).toBeGreaterThanOrEqual(400)
    expect(waited).toBeLessThan(4000) // not the 5 s bound: the member left
    const t1 = Date.now()
    await c1.assertQueue('no-wait-now')
    expect(Date.now() - t1).toBeLessThan(1000)
  })

  it('Prometheus series carry the cluster label', async () => {
    newCluster()
    const n1 = await node('n1', undefined, 0)
    const text = await (await fetch(`http://127.0.0.1:${n1.prometheusPort}/metrics`)).text()
    expect(text).toMatch(new RegExp(`^rabbitmq_queues\\{.*rabbitmq_cluster="${cluster}".*\\} \\d+$`, 'm'))
    expect(text).toContain(`rabbitmq_identity_info{rabbitmq_node="n1",rabbitmq_cluster="${cluster}"`)
  })
})
