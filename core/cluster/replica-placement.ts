/**
 * Replica sets of quorum queues in a cluster (issue 14, phase 1): a `x-queue-type: quorum` queue
 * gets `x-quorum-initial-group-size` members (default 3, or every live member when fewer): its
 * leader (the node the leader locator chose, QueueHome.node) and followers, the other live members
 * holding the fewest replicas (ties by name). The record in etcd then carries `members`, `leader`
 * (= node) and `epoch` (1 at declare; a failover raises it). Other queue types get none of this
 * and keep their record as before. No etcd code here (core imports no npm package).
 */
import type { FieldTable } from '../wire/field-table.js'
import type { ClusterState } from './cluster-state.js'
import type { QueueHome } from './placement.js'
import type { MemberFigures, ReplicaFigures } from './replica-status.js'

/** RabbitMQ's default quorum queue group size (rabbit_quorum_queue: 3) */
export const DEFAULT_GROUP_SIZE = 3

export const isQuorum = (args: FieldTable): boolean => args['x-queue-type'] === 'quorum'
/** a stream (issue 14): replicated like a quorum queue, sized by `x-initial-cluster-size` */
export const isStream = (args: FieldTable): boolean => args['x-queue-type'] === 'stream'

/** The replica set size asked for by `x-quorum-initial-group-size` (a positive integer), else 3. */
export function groupSize(args: FieldTable): number {
  const n = args['x-quorum-initial-group-size']
  const v = typeof n === 'bigint' ? Number(n) : n
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : DEFAULT_GROUP_SIZE
}

/**
 * A stream's replica set size: `x-initial-cluster-size` (a positive integer), else every live
 * member (RabbitMQ 3.10's rabbit_stream_queue: length(rabbit_mnesia:cluster_nodes(running))).
 */
export function streamClusterSize(state: ClusterState, args: FieldTable): number {
  const n = args['x-initial-cluster-size']
  const v = typeof n === 'bigint' ? Number(n) : n
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : Math.max(1, state.members.size)
}

/** The members of a new quorum queue (or stream) led by `leader`: the leader first, then its followers. */
export function chooseReplicas(state: ClusterState, leader: string, args: FieldTable): string[] {
  const size = isStream(args) ? streamClusterSize(state, args) : groupSize(args)
  const load = new Map<string, number>()
  for (const m of state.members.keys()) if (m !== leader) load.set(m, 0)
  for (const h of state.placement.all()) {
    for (const m of h.members ?? []) {
      const n = load.get(m)
      if (n !== undefined) load.set(m, n + 1)
    }
  }
  const followers = [...load].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([m]) => m)
  return [leader, ...followers.slice(0, Math.max(0, size - 1))]
}

/** `home` with its replica set when it is a quorum queue's new record (others as they are). */
export function withReplicas(state: ClusterState, home: QueueHome): QueueHome {
  if (!(isQuorum(home.arguments) || (isStream(home.arguments) && home.durable)) || home.members !== undefined) return home
  return { ...home, members: chooseReplicas(state, home.node, home.arguments), leader: home.node, epoch: 1 }
}

/**
 * Warren's replication figures of a quorum queue, on every node: `in_sync` (the record's in-sync
 * set, kept by the leader) and `replica_lag` (per follower, the records it has not acked durable
 * yet, -1 when not known, as the leader last sent them: core/cluster/replica-status.ts).
 */
export function replicaLag(state: ClusterState, home: QueueHome): Record<string, unknown> {
  if (isStream(home.arguments)) return streamLag(state, home)
  const f = state.replicaStatus.get(home.vhost, home.name)
  const out: Record<string, unknown> = {}
  if (home.inSync !== undefined) out.in_sync = home.inSync
  if (f === undefined || f.leader !== home.node) return out
  if (home.inSync === undefined) out.in_sync = Object.keys(f.members).filter((m) => f.members[m].inSync)
  const lag: Record<string, number> = {}
  for (const m of home.members ?? []) if (m !== home.node) lag[m] = f.members[m]?.lag ?? -1
  out.replica_lag = lag
  return out
}

/** The same for a stream led here: `replica_lag` in offsets each follower has not acked durable yet. */
function streamLag(state: ClusterState, home: QueueHome): Record<string, unknown> {
  const l = state.replicas.streams.leaderOf(home.vhost, home.name)
  if (l === undefined) return {}
  const lag: Record<string, number> = {}
  const inSync = [home.node]
  for (const m of l.followers()) {
    lag[m] = l.log.nextOffset - (l.acked.get(m) ?? 0)
    if (lag[m] === 0 && state.members.has(m)) inSync.push(m)
  }
  return { in_sync: inSync, replica_lag: lag }
}

/**
 * A stream's replica figures in the shape of the quorum queues' (replica-status.ts), made on the
 * stream leader's node from its followers' acks (seq: the next offset held durable); undefined
 * elsewhere (the replicas API then shows -1: not known here).
 */
export function streamFigures(state: ClusterState, home: QueueHome): ReplicaFigures | undefined {
  const l = state.replicas.streams.leaderOf(home.vhost, home.name)
  if (l === undefined) return undefined
  const next = l.log.nextOffset
  const members: Record<string, MemberFigures> = { [home.node]: { seq: next, lag: 0, inSync: true } }
  for (const m of l.followers()) {
    const acked = l.acked.get(m)
    members[m] = acked === undefined ? { seq: -1, lag: -1, inSync: false } : { seq: acked, lag: next - acked, inSync: next === acked && state.members.has(m) }
  }
  return { leader: home.node, epoch: home.epoch ?? 1, lastSeq: next, members, at: Date.now() }
}

/** The RabbitMQ quorum-queue fields of a record: leader, members, online (members that are live). */
export function replicaJson(state: ClusterState, home: QueueHome): Record<string, unknown> {
  const members = home.members ?? [home.node]
  return {
    leader: home.node,
    members,
    online: members.filter((m) => state.members.has(m)),
    // Warren's: the leader epoch (raised by each failover)
    epoch: home.epoch ?? 1,
  }
}
