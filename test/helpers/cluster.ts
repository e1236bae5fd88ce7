/**
 * Cluster data-plane tests: Warren nodes in the test process (each with its own AMQP listener on
 * port 0 and its cluster port) joined through a private etcd, so a test can reach into them (the
 * placement, the node links). A queue is declared on its home with a real client; cluster
 * definitions (etcd) place it on every node before declare-ok, which `placeRemoteQueue` checks.
 */
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { QueueHome } from '../../core/cluster/placement.js'
import type { Queue } from '../../core/queue.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { RemoteQueue } from '../../core/cluster/remote-queue.js'
import type { LinkManager } from '../../transport/cluster/link-manager.js'
import { startTestBroker, waitFor, type TestBroker } from './broker.js'
import { startEtcd, type TestEtcd } from './etcd.js'

/** Starts a node of `cluster` named `name` (lease of 2 s, cluster port 0). */
export function startNode(etcd: TestEtcd, cluster: string, name: string): Promise<TestBroker> {
  return startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: name, clusterPort: 0, clusterLeaseTtl: 2 })
}

/** The node links of a test node. */
export function links(b: TestBroker): LinkManager {
  if (b.clusterNode === null) throw new Error('not a cluster node')
  return b.clusterNode.links
}

/** Waits until `a` and `b` have an authenticated link to each other. */
export async function linked(a: TestBroker, b: TestBroker, timeoutMs = 8000): Promise<void> {
  const an = a.broker.nodeName
  const bn = b.broker.nodeName
  await waitFor(() => links(a).peer(bn).up && links(b).peer(an).up, timeoutMs, `link ${an} <-> ${bn}`)
}

/**
 * Checks that `on` knows queue `name` of vhost '/' as homed on `home` (declared there by the test
 * with a real client): cluster definitions put its record in etcd and every node's placement has it
 * before declare-ok, and the node link put a stand-in for it into `on`'s vhost.
 */
export function placeRemoteQueue(on: TestBroker, home: TestBroker, name: string, o: Partial<QueueHome> = {}): void {
  const h = on.broker.cluster!.placement.home('/', name)
  if (h === undefined || h.node !== home.broker.nodeName) throw new Error(`${on.broker.nodeName} does not place '${name}' on ${home.broker.nodeName}: ${JSON.stringify(h)}`)
  for (const [k, v] of Object.entries(o)) if (k !== 'arguments' && (h as unknown as Record<string, unknown>)[k] !== v) throw new Error(`'${name}' placed with ${k}=${JSON.stringify((h as unknown as Record<string, unknown>)[k])}, not ${JSON.stringify(v)}`)
  const q = on.broker.vhost('/')!.queues.get(name)
  if (!(q instanceof RemoteQueue)) throw new Error(`${on.broker.nodeName} has no stand-in for '${name}'`)
}

export interface ClusterPair {
  readonly etcd: TestEtcd
  readonly n1: TestBroker
  readonly n2: TestBroker
  /** the cluster name of this file's pair */
  readonly cluster: string
  uniq(base: string): string
  /** registers something to close after the current test */
  cleanups: (() => Promise<unknown>)[]
  /** an amqplib connection closed after the test */
  conn(b: TestBroker): Promise<amqp.ChannelModel>
  /** declares `name` on `home` with a real client and checks `other` has it placed there */
  homedQueue(home: TestBroker, other: TestBroker, name: string, args?: Record<string, unknown>, durable?: boolean): Promise<void>
  /** the queue as its home holds it */
  homeQueue(b: TestBroker, name: string): Queue
}

/** The hooks of a test file: a private etcd and nodes n1 and n2 of one cluster, linked. */
export function clusterPairSuite(prefix: string): ClusterPair {
  let etcd: TestEtcd | undefined
  let n1: TestBroker | undefined
  let n2: TestBroker | undefined
  let seq = 0
  const cleanups: (() => Promise<unknown>)[] = []
  const cluster = `${prefix}${process.pid}`
  beforeAll(async () => {
    etcd = await startEtcd()
    n1 = await startNode(etcd, cluster, 'n1')
    n2 = await startNode(etcd, cluster, 'n2')
    await linked(n1, n2)
  }, 30_000)
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })
  afterAll(async () => {
    await n1?.stop()
    await n2?.stop()
    await etcd?.stop()
  })
  const s: ClusterPair = {
    get etcd() {
      return etcd!
    },
    get n1() {
      return n1!
    },
    get n2() {
      return n2!
    },
    cluster,
    cleanups,
    uniq: (base) => `${base}-${++seq}`,
    async conn(b) {
      const c = await amqp.connect(b.url)
      c.on('error', () => undefined)
      cleanups.push(() => c.close())
      return c
    },
    async homedQueue(home, other, name, args = {}, durable = false) {
      const ch = await (await s.conn(home)).createChannel()
      await ch.assertQueue(name, { durable, arguments: args })
      await ch.close()
      placeRemoteQueue(other, home, name, { durable, arguments: args as FieldTable })
    },
    homeQueue: (b, name) => b.broker.vhost('/')!.queues.get(name)!,
  }
  return s
}
