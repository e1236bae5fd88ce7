/**
 * The quorum queue leaders of this node (issue 14, phase 1), made by the storage hook for every
 * durable quorum queue it opens, from the first recovery at boot on (before the cluster is joined:
 * transport/server.ts installs it before the storage replays its queues). The node link side
 * (transport/cluster/replica-manager.ts) attaches later as the shipper and as `promote`, which
 * builds a queue from this node's follower replica after a failover.
 */
import type { Queue } from '../queue.js'
import type { Storage } from '../storage.js'
import type { DurableLog, MessageStore } from '../store/message-store.js'
import type { EnvelopeFactory, StoreList } from '../store/queue-store.js'
import type { ClusterState } from './cluster-state.js'
import { ReplicaLeader, type ReplicaShipper } from './replica-leader.js'
import { ReplicatedStoreList } from './replica-list.js'
import { isQuorum } from './replica-placement.js'
import { StreamReplicas } from '../stream/stream-replica-registry.js'

export const replicaKey = (vhost: string, name: string): string => `${vhost}\u0000${name}`

/** Builds a new leader's list from a follower replica of this node, or null when it has none. */
export type Promote = (leader: ReplicaLeader, open: () => MessageStore, make: EnvelopeFactory, touched: DurableLog[]) => StoreList | null

export class ReplicaRegistry implements ReplicaShipper {
  readonly leaders = new Map<string, ReplicaLeader>()
  private shipper: ReplicaShipper | null = null
  promote: Promote | null = null
  /** the replicated streams (issue 14): their logs, leaders and the storage hooks */
  readonly streams: StreamReplicas

  constructor(private readonly state: ClusterState) {
    this.streams = new StreamReplicas(state)
  }

  /** Makes the storage open every durable quorum queue as a replicated leader. */
  install(storage: Storage): void {
    storage.replicatedList = (q, open, make, touched) => (isQuorum(q.arguments) ? this.open(q, open, make, touched) : null)
    storage.streamReplicas = this.streams
  }

  private open(q: Queue, open: () => MessageStore, make: EnvelopeFactory, touched: DurableLog[]): StoreList {
    const vhost = q.vhost.name
    const placement = this.state.placement
    const leader = new ReplicaLeader(vhost, q.name, this.state.nodeName, () => placement.home(vhost, q.name), this)
    this.leaders.set(replicaKey(vhost, q.name), leader)
    return this.promote?.(leader, open, make, touched) ?? new ReplicatedStoreList(open(), make, touched, leader)
  }

  /** The live leader of a queue of this node. */
  leader(vhost: string, name: string): ReplicaLeader | undefined {
    const l = this.leaders.get(replicaKey(vhost, name))
    return l === undefined || l.closed ? undefined : l
  }

  schedule(l: ReplicaLeader): void {
    // before the node links run there is no one to ship to (the followers get a snapshot then)
    if (this.shipper !== null) this.shipper.schedule(l)
    else {
      l.pending = []
      l.scheduled = false
    }
  }

  attach(shipper: ReplicaShipper | null): void {
    this.shipper = shipper
  }
}
