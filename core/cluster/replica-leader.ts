/**
 * The leader side of a replicated quorum queue (issue 14, phase 1). Every change of the queue's
 * durable state (enqueue with the message, settle, requeue with its delivery count) becomes a
 * numbered record; the records of a tick leave in one batch per follower over the node link
 * (transport/cluster/replica-manager.ts). Followers answer with the highest sequence number they
 * hold fdatasync'd.
 *
 * As a DurableLog (core/store/message-store-options.ts) it is what a publisher confirm and a
 * tx.commit wait on, next to the leader's own store (which covers the leader's own disk): it counts
 * a sequence number durable once floor(n/2) followers of the n members have it, so with the
 * leader's store that is a majority of the replica set. One member alone needs no follower.
 */
import type { Message } from '../message.js'
import type { DurableLog, DurableWaiter } from '../store/message-store-options.js'
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

export class ReplicaLeader implements DurableLog {
  lastSeq = seqBase()
  durableSeq = this.lastSeq
  /** records not shipped yet (this tick's) */
  pending: ReplicaRecord[] = []
  scheduled = false
  /** per follower: the highest sequence number it holds durable */
  readonly acked = new Map<string, number>()
  private waiters: DurableWaiter[] = []
  closed = false
  /** the queue's whole durable state as records (set by core/cluster/replica-list.ts) */
  snapshot: (() => ReplicaRecord[]) | null = null

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly self: string,
    /** the queue's etcd record as this node caches it (members, epoch) */
    private readonly record: () => QueueHome | undefined,
    private readonly shipper: ReplicaShipper,
  ) {}

  get home(): QueueHome | undefined {
    return this.record()
  }

  get epoch(): number {
    return this.record()?.epoch ?? 1
  }

  /** the members other than this node */
  followers(): string[] {
    const members = this.record()?.members
    return members === undefined ? [] : members.filter((m) => m !== this.self)
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

  private followersNeeded(): number {
    const n = this.record()?.members?.length ?? 1
    return Math.floor(n / 2)
  }

  /** Follower `node` holds every record up to `seq` durable. */
  followerAcked(node: string, seq: number): void {
    if (seq <= (this.acked.get(node) ?? 0)) return
    this.acked.set(node, seq)
    this.recompute()
  }

  /** The members changed or a follower restarted (its acks start again from its snapshot). */
  forget(node: string): void {
    this.acked.delete(node)
  }

  recompute(): void {
    const need = this.followersNeeded()
    if (need === 0) return this.advance(this.lastSeq)
    const members = new Set(this.followers())
    const seqs = [...this.acked].filter(([m]) => members.has(m)).map(([, s]) => s)
    if (seqs.length < need) return
    seqs.sort((a, b) => b - a)
    this.advance(Math.min(seqs[need - 1], this.lastSeq))
  }

  private advance(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    const ws = this.waiters
    if (ws.length === 0) return
    this.waiters = []
    for (let i = 0; i < ws.length; i++) ws[i].storeDurable(this, seq)
  }

  addWaiter(w: DurableWaiter): void {
    if (!this.waiters.includes(w)) this.waiters.push(w)
  }

  /** The queue is gone (deleted, or no longer led here): its waiters will not be confirmed. */
  close(err: Error): void {
    this.closed = true
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w.storeFailed(this, err)
  }
}
