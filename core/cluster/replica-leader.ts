/**
 * The leader side of a replicated quorum queue (issue 14, phase 1). Every change of the queue's
 * durable state (enqueue with the message, settle, requeue with its delivery count) becomes a
 * numbered record; the records of a tick leave in one batch per follower over the node link
 * (transport/cluster/replica-manager.ts). Followers answer with the highest sequence number they
 * hold fdatasync'd.
 *
 * As a MajorityLog (majority-log.ts) it is what a publisher confirm and a tx.commit wait on, next
 * to the leader's own store: a sequence number is durable once a majority of the replica set has it.
 */
import type { Message } from '../message.js'
import { MajorityLog } from './majority-log.js'
import type { QueueHome } from './placement.js'

export const R_ENQ = 1
export const R_ACK = 2
export const R_REQUEUE = 3
/** the follower drops what it holds: a snapshot of the leader's state follows */
export const R_RESET = 4
/** the message was delivered (a failover redelivers it, its delivery count + 1) */
export const R_DELIVER = 5

/** One replicated change: ENQ (ref, message, record timestamp), ACK (ref), REQUEUE (ref, count), RESET. */
export interface ReplicaRecord {
  kind: number
  seq: number
  ref: number
  /** ENQ: the message; REQUEUE: null */
  message: Message | null
  /** ENQ: the record timestamp (TTLs count from it); REQUEUE: the delivery count */
  n: number
}

/** What ships a leader's records (transport/cluster/replica-manager.ts). */
export interface ReplicaShipper {
  /** the leader has records to send: flush them at the end of this tick */
  schedule(leader: ReplicaLeader): void
}

/**
 * Where a leader's sequence numbers start: above any its queue used before (the clock in µs, more
 * than 1000 records a millisecond on average would be needed to catch up with it), so a follower's
 * (epoch, sequence) names one point of one leader's log across the leader's restarts.
 */
export const seqBase = (): number => Date.now() * 1000

export class ReplicaLeader extends MajorityLog {
  lastSeq = seqBase()
  /** records not shipped yet (this tick's) */
  pending: ReplicaRecord[] = []
  scheduled = false
  /** the queue's whole durable state as records (set by core/cluster/replica-list.ts) */
  snapshot: (() => ReplicaRecord[]) | null = null

  constructor(
    readonly vhost: string,
    readonly name: string,
    self: string,
    record: () => QueueHome | undefined,
    private readonly shipper: ReplicaShipper,
  ) {
    super(self, record)
    this.durableSeq = this.lastSeq
  }

  get home(): QueueHome | undefined {
    return this.record()
  }

  get epoch(): number {
    return this.record()?.epoch ?? 1
  }

  add(kind: number, ref: number, message: Message | null, n: number): number {
    const seq = ++this.lastSeq
    this.pending.push({ kind, seq, ref, message, n })
    if (!this.scheduled) {
      this.scheduled = true
      this.shipper.schedule(this)
    }
    // nobody to wait for (a replica set of one): durable with the leader's own store
    if (this.followersNeeded() === 0) this.advance(seq)
    return seq
  }
}
