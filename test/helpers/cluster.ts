/**
 * Cluster data-plane tests: Warren nodes in the test process (each with its own AMQP listener on
 * port 0 and its cluster port) joined through a private etcd, so a test can reach into them (the
 * placement, the node links). `placeRemoteQueue` is the ONE place where a test says where a queue
 * lives; once cluster definitions fill the placement from etcd, it is replaced by declaring the
 * queue through etcd and waiting for the record on every node.
 */
import type { QueueHome } from '../../core/cluster/placement.js'
import type { LinkManager } from '../../transport/cluster/link-manager.js'
import { startTestBroker, waitFor, type TestBroker } from './broker.js'
import type { TestEtcd } from './etcd.js'

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
