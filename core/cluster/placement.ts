/**
 * Where each queue of the cluster lives (issue 13): the cached view of the queue records in etcd,
 * by vhost and name, each with its home node (the queue's leader). The contract between the two
 * halves of the cluster:
 *   - definitions (core/cluster/*definitions*, transport/cluster/*): etcd is the source of truth;
 *     every node's watch calls `set` / `delete` here. A queue whose home is this node is a real
 *     core Queue in its vhost; for any other home, `set` tells the listeners.
 *   - the data plane (the node link): listens here and puts a stand-in for each queue homed
 *     elsewhere into its vhost, so exchanges route to it and channels consume from it as from a
 *     local queue; operations that need the home's state go over the link (RemoteQueueOps).
 * No etcd code here (core imports no npm package).
 */
import type { FieldTable } from '../wire/field-table.js'

/** A queue's record as every node caches it (the etcd value, decoded). */
export interface QueueHome {
  vhost: string
  name: string
  /** the node the queue lives on (its leader) */
  node: string
  durable: boolean
  autoDelete: boolean
  exclusive: boolean
  arguments: FieldTable
  /** a quorum queue's replica set, leader first (core/cluster/replica-placement.ts); absent otherwise */
  members?: string[]
  /** a quorum queue's leader (= node) */
  leader?: string
  /** a quorum queue's leader epoch: 1 at declare, raised by each change of leader */
  epoch?: number
  /**
   * a quorum queue's in-sync members (the leader and the followers caught up with it), kept by the
   * leader (transport/cluster/replica-sync.ts); only these may win an election. Absent: all members
   */
  inSync?: string[]
}

export interface QueueCounts {
  messageCount: number
  consumerCount: number
  /** delivered and not settled (known from a node's listing, else 0) */
  unackedCount?: number
}

/** What a node asks of a queue's home over the link (implemented by the data plane). */
export interface RemoteQueueOps {
  /** the queue's counts at its home (a passive declare, the management API) */
  counts(home: QueueHome): Promise<QueueCounts>
  /** the counts of every queue living on `node`, keyed `vhost + '\0' + name`: one request */
  listCounts(node: string): Promise<Map<string, QueueCounts>>
  /** queue.purge at the home; resolves to the number of messages purged */
  purge(home: QueueHome): Promise<number>
  /**
   * queue.delete at the home (if-unused / if-empty checked there, RabbitMQ's 406 texts); the home
   * deletes the queue as for a local queue.delete, which also removes the record from etcd;
   * resolves to the number of messages deleted once that is done.
   */
  delete(home: QueueHome, ifUnused: boolean, ifEmpty: boolean): Promise<number>
}

export interface PlacementListener {
  /** a queue homed on another node appeared, or its record changed (e.g. it moved) */
  remoteQueueUp(home: QueueHome): void
  /** a queue homed on another node is gone from etcd */
  remoteQueueGone(vhost: string, name: string): void
}

const keyOf = (vhost: string, name: string): string => `${vhost}\u0000${name}`

export class Placement {
  private readonly homes = new Map<string, QueueHome>()
  private readonly listeners: PlacementListener[] = []

  constructor(readonly self: string) {}

  home(vhost: string, name: string): QueueHome | undefined {
    return this.homes.get(keyOf(vhost, name))
  }

  /** true when the queue's record names another node */
  isRemote(vhost: string, name: string): boolean {
    const h = this.homes.get(keyOf(vhost, name))
    return h !== undefined && h.node !== this.self
  }

  /** the queues homed on `node` */
  onNode(node: string): QueueHome[] {
    return [...this.homes.values()].filter((h) => h.node === node)
  }

  all(): IterableIterator<QueueHome> {
    return this.homes.values()
  }

  /** Caches a queue record (from the etcd watch); listeners hear of queues homed elsewhere. */
  set(home: QueueHome): void {
    const k = keyOf(home.vhost, home.name)
    const before = this.homes.get(k)
    this.homes.set(k, home)
    if (home.node !== this.self) for (const l of this.listeners) l.remoteQueueUp(home)
    else if (before !== undefined && before.node !== this.self) for (const l of this.listeners) l.remoteQueueGone(home.vhost, home.name)
  }

  /** Drops a queue record (deleted from etcd). */
  delete(vhost: string, name: string): void {
    const k = keyOf(vhost, name)
    const before = this.homes.get(k)
    if (before === undefined) return
    this.homes.delete(k)
    if (before.node !== this.self) for (const l of this.listeners) l.remoteQueueGone(vhost, name)
  }

  listen(l: PlacementListener): void {
    this.listeners.push(l)
  }
}
