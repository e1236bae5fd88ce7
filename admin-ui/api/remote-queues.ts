/**
 * Queues homed on other cluster nodes (issue 13) in the management API: listed from the Placement
 * (etcd's records) with their `node`, so GET /api/queues on any node shows the cluster's queues.
 * Their counts come from their node over the node link when it runs (ClusterState.remoteOps: one
 * listing per node for GET /api/queues), else they show 0. DELETE of such a queue goes to its home (remoteOps) or, without the link, deletes
 * its etcd record (the home removes the queue when its watch sees that).
 */
import type { Broker } from '../../core/broker.js'
import type { QueueHome, QueueCounts } from '../../core/cluster/placement.js'
import type { VHost } from '../../core/vhost.js'
import { assertHomeEquivalent, assertHomeUp } from '../../core/cluster/home-equivalence.js'
import { chooseHome } from '../../core/cluster/leader-locator.js'
import { replicaJson, replicaLag, withReplicas } from '../../core/cluster/replica-placement.js'
import type { QueueOptions } from '../../core/queue.js'
import type { ApiContext } from '../context.js'
import { tableJson } from '../format.js'

/** The record of a queue homed on another node, else undefined. */
export function remoteHome(broker: Broker, vhost: string, name: string): QueueHome | undefined {
  const c = broker.cluster
  const h = c?.placement.home(vhost, name)
  return h !== undefined && h.node !== c!.nodeName ? h : undefined
}

/** RabbitMQ's queue JSON for a queue of another node: its definition, node and counts. */
export function remoteQueueJson(broker: Broker, h: QueueHome, counts: QueueCounts, up: boolean): Record<string, unknown> {
  const type = typeof h.arguments['x-queue-type'] === 'string' ? (h.arguments['x-queue-type'] as string) : 'classic'
  const out: Record<string, unknown> = {
    arguments: tableJson(h.arguments),
    auto_delete: h.autoDelete,
    consumers: counts.consumerCount,
    durable: h.durable,
    exclusive: h.exclusive,
    messages: counts.messageCount + (counts.unackedCount ?? 0),
    messages_ready: counts.messageCount,
    messages_unacknowledged: counts.unackedCount ?? 0,
    name: h.name,
    node: h.node,
    // RabbitMQ shows the queues of a node that is down as down
    state: up ? 'running' : 'down',
    type,
    vhost: h.vhost,
  }
  if (type === 'quorum' || (type === 'stream' && h.members !== undefined)) Object.assign(out, replicaJson(broker.cluster!, h), replicaLag(broker.cluster!, h))
  return out
}

async function countsOf(broker: Broker, h: QueueHome): Promise<QueueCounts> {
  const ops = broker.cluster?.remoteOps ?? null
  if (ops === null || !broker.cluster!.members.has(h.node)) return { messageCount: 0, consumerCount: 0 }
  return ops.counts(h).catch(() => ({ messageCount: 0, consumerCount: 0 }))
}

const NONE: QueueCounts = { messageCount: 0, consumerCount: 0 }

/**
 * The queues of the other nodes: one listing request per node (LIST over its link) gives the
 * counts of all its queues, however many there are; a node that does not answer shows zeros.
 */
export async function remoteQueuesJson(ctx: ApiContext, vhosts: VHost[]): Promise<Record<string, unknown>[]> {
  const c = ctx.broker.cluster
  if (c === null) return []
  const names = new Set(vhosts.map((v) => v.name))
  const homes = [...c.placement.all()].filter((h) => h.node !== c.nodeName && names.has(h.vhost))
  const nodes = new Set(homes.map((h) => h.node))
  const ops = c.remoteOps
  const counts = new Map<string, Map<string, QueueCounts>>()
  await Promise.all(
    [...nodes].map(async (node) => {
      if (ops === null || !c.members.has(node)) return
      const list = await ops.listCounts(node).catch(() => null)
      if (list !== null) counts.set(node, list)
    }),
  )
  return homes.map((h) => remoteQueueJson(ctx.broker, h, counts.get(h.node)?.get(`${h.vhost}\u0000${h.name}`) ?? NONE, c.members.has(h.node)))
}

export async function oneRemoteQueueJson(ctx: ApiContext, h: QueueHome): Promise<Record<string, unknown>> {
  return remoteQueueJson(ctx.broker, h, await countsOf(ctx.broker, h), ctx.broker.cluster!.members.has(h.node))
}

/** DELETE /api/queues/:vhost/:name of a queue homed elsewhere. */
export async function deleteRemoteQueue(broker: Broker, h: QueueHome, ifUnused: boolean, ifEmpty: boolean): Promise<void> {
  const c = broker.cluster!
  assertHomeUp(c, h)
  if (c.remoteOps !== null) await c.remoteOps.delete(h, ifUnused, ifEmpty)
  else await c.definitions?.deleteRemoteQueue(h.vhost, h.name)
}

/**
 * PUT /api/queues/:vhost/:name of a new queue in a cluster: placed by the leader locator and
 * claimed in etcd as over AMQP (created here when this node is its home); true when this request
 * made it, false when another declare had it first (it is then compared with that one's record).
 */
export async function putQueueInCluster(broker: Broker, v: VHost, name: string, options: QueueOptions): Promise<boolean> {
  const c = broker.cluster!
  const node = chooseHome(c, v, name, options.arguments)
  const home = withReplicas(c, { vhost: v.name, name, node, durable: options.durable, autoDelete: options.autoDelete, exclusive: false, arguments: options.arguments })
  const held = await c.definitions!.claimQueue(home, node === c.nodeName ? () => void v.declareQueue(name, options, false, null) : null)
  if (held === home) return true
  if (held.node === c.nodeName) v.declareQueue(name, options, false, null)
  else assertHomeEquivalent(held, options)
  return false
}
