/**
 * Cluster membership through a private etcd (issue 13, phase 1): nodes register under
 * /warren/<cluster>/nodes/<name> with a lease, see each other (/api/nodes), leave at once on close,
 * disappear when killed (lease expiry), and a node that loses its lease is fenced: its clients get
 * 320 and new ones are refused until it holds a new lease.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')

describe.skipIf(!hasEtcd)(hasEtcd ? 'cluster membership (etcd)' : 'cluster membership: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  const nodes: TestBroker[] = []
  let clusterSeq = 0
  let cluster = ''

  beforeAll(async () => {
    etcd = await startEtcd()
  }, 20_000)
  afterAll(async () => {
    await etcd?.stop()
  })
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined)
  })

  /** Each test gets its own cluster name, so keys of one test never meet another's. */
  const newCluster = (): string => (cluster = `t${process.pid}-${++clusterSeq}`)
  const node = async (name: string): Promise<TestBroker> => {
    const b = await startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: name, clusterPort: 0, clusterLeaseTtl: 2 })
    nodes.push(b)
    return b
  }
  const memberKeys = async (): Promise<string[]> => (await etcd.client.getAll().prefix(`/warren/${cluster}/nodes/`).keys()).sort()

  it('registers each node under /warren/<cluster>/nodes/<name> with a lease; every node lists every member in /api/nodes', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    expect(await memberKeys()).toEqual([`/warren/${cluster}/nodes/n1`, `/warren/${cluster}/nodes/n2`])
    const info = JSON.parse((await etcd.client.get(`/warren/${cluster}/nodes/n2`).string())!)
    expect(info).toMatchObject({ name: 'n2', address: '127.0.0.1', clusterPort: n2.clusterPort, amqpPort: n2.amqpPort, httpPort: n2.httpPort })
    expect(info.started).toBeGreaterThan(Date.now() - 60_000)
    const [kv] = (await etcd.client.getAll().prefix(`/warren/${cluster}/nodes/n1`).exec()).kvs
    expect(kv.lease).not.toBe('0')
    for (const b of [n1, n2]) {
      const nodesSeen = await waitFor(async () => {
        const r = await apiClient(b).get('/api/nodes')
        return r.body.length === 2 ? r.body : null
      }, 5000, 'both members in /api/nodes')
      expect(nodesSeen.map((x: { name: string }) => x.name)).toEqual(['n1', 'n2'])
      expect(nodesSeen.every((x: { running: boolean }) => x.running)).toBe(true)
      // every member with its own figures, asked of its management API (the other's pid, listeners)
      for (const [x, owner] of [[nodesSeen[0], n1], [nodesSeen[1], n2]] as const) {
        expect(x).toMatchObject({ os_pid: String(process.pid), mem_alarm: false, disk_free_alarm: false })
        expect(x.fd_used).toBeGreaterThan(0)
        expect(x.listeners.some((l: { protocol: string; port: number }) => l.protocol === 'amqp' && l.port === owner.amqpPort)).toBe(true)
      }
      expect((await apiClient(b).get('/api/nodes/n2')).body).toMatchObject({ name: 'n2', fd_used: expect.any(Number) })
      // the other's figures need the caller's credentials there too: a wrong password is refused here first
      expect((await apiClient(b, 'guest', 'nope').get('/api/nodes')).status).toBe(401)
      expect((await apiClient(b).get('/api/overview')).body).toMatchObject({ cluster_name: cluster, node: b.broker.nodeName })
    }
    // both serve AMQP as usual
    for (const b of [n1, n2]) {
      const c = await amqp.connect(b.url)
      const ch = await c.createChannel()
      await ch.assertQueue('q-' + b.broker.nodeName)
      await c.close()
    }
    // a queue shows the node it lives on by its --node-name
    const q = await apiClient(n2).get('/api/queues/%2F/q-n2')
    expect(q.body).toMatchObject({ name: 'q-n2', node: 'n2' })
  })

  it('a node that closes leaves at once: its key is gone and the others drop it', async () => {
    newCluster()
    const n1 = await node('n1')
    const n2 = await node('n2')
    await waitFor(() => n1.broker.cluster!.members.has('n2'), 5000, 'n1 to see n2')
    nodes.splice(nodes.indexOf(n2), 1)
    await n2.stop()
    expect(await memberKeys()).toEqual([`/warren/${cluster}/nodes/n1`])
    await waitFor(() => !n1.broker.cluster!.members.has('n2'), 5000, 'n1 to drop n2')
    expect((await apiClient(n1).get('/api/nodes/n2')).status).toBe(404)
  })

  it('a second live node with the same name is refused at start', async () => {
    newCluster()
    await node('n1')
    await expect(startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: 'n1', clusterPort: 0, clusterLeaseTtl: 2 })).rejects.toThrow(
      /cannot join cluster .*node name 'n1' is already registered/,
    )
  }, 15_000)

  it('fencing: a node whose lease is lost closes its clients with 320, refuses new ones, and serves again once re-registered', async () => {
    newCluster()
    const n1 = await node('n1')
    const key = `/warren/${cluster}/nodes/n1`
    const c = await amqp.connect(n1.url)
    const closed = new Promise<Error>((resolve) => c.on('close', (err: Error) => resolve(err)))
    c.on('error', () => undefined)
    // the test takes the key over with a lease of its own, then revokes the node's lease: the node
    // loses it, cannot register again while the key is held, and must stay fenced
    const [kv] = (await etcd.client.getAll().prefix(key).exec()).kvs
    const squatter = etcd.client.lease(30)
    await squatter.put(key).value('{"name":"someone-else"}')
    await etcd.client.leaseClient.leaseRevoke({ ID: kv.lease })
    const err = await closed
    expect(String(err)).toMatch(/CONNECTION_FORCED - node lost its cluster membership/)
    expect(n1.broker.cluster!.fenced).toBe(true)
    await expect(amqp.connect(n1.url)).rejects.toThrow()
    // the key is free again: the node registers with a new lease and serves
    await squatter.revoke()
    await waitFor(() => !n1.broker.cluster!.fenced, 8000, 'n1 to re-register')
    const [kv2] = (await etcd.client.getAll().prefix(key).exec()).kvs
    expect(kv2.lease).not.toBe(kv.lease)
    expect(JSON.parse(kv2.value.toString())).toMatchObject({ name: 'n1' })
    const c2 = await amqp.connect(n1.url)
    await c2.close()
  }, 20_000)

  it('a killed node process disappears when its lease expires; a restarted one registers again', async () => {
    newCluster()
    const n1 = await node('n1')
    const dir = mkdtempSync(path.join(tmpdir(), 'warren-cluster-'))
    const args = [CLI, '--cluster', etcd.url, '--cluster-name', cluster, '--node-name', 'n2', '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--cluster-port', '0', '--bind', '127.0.0.1', '--data-dir', dir, '--amqps-port', '-1', '--https-port', '-1']
    const start = () => spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' })
    let child = start()
    try {
      // a process start (node, then the etcd client) can take many seconds on a loaded CI machine
      await waitFor(() => n1.broker.cluster!.members.has('n2'), 30_000, 'n1 to see n2')
      child.kill('SIGKILL')
      // no revoke: the key lives until the 5 s lease runs out
      await waitFor(() => !n1.broker.cluster!.members.has('n2'), 12_000, 'n2 lease to expire')
      child = start()
      await waitFor(() => n1.broker.cluster!.members.has('n2'), 30_000, 'n2 back')
    } finally {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
