/**
 * Cluster data-plane tests: Warren nodes in the test process (each with its own AMQP listener on
 * port 0 and its cluster port) joined through a private etcd, so a test can reach into them (the
 * placement, the node links). `placeRemoteQueue` is the ONE place where a test says where a queue
 * lives; once cluster definitions fill the placement from etcd, it is replaced by declaring the
 * queue through etcd and waiting for the record on every node.
 */
import amqp from 'amqplib'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { QueueHome } from '../../core/cluster/placement.js'
import type { Queue } from '../../core/queue.js'
import type { FieldTable } from '../../core/wire/field-table.js'
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
 * Tells `on` that queue `name` of vhost '/' lives on `home` (declared there by the test with a real
 * client). Stands for the etcd-driven placement of cluster definitions.
 */
export function placeRemoteQueue(on: TestBroker, home: TestBroker, name: string, o: Partial<QueueHome> = {}): void {
  on.broker.cluster!.placement.set({
    vhost: '/',
    name,
    node: home.broker.nodeName,
    durable: false,
    autoDelete: false,
    exclusive: false,
    arguments: {},
    ...o,
  })
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
  /** declares `name` on `home` with a real client and places it on `other` */
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
