/**
 * What the leader of a replicated queue counts durable (issue 14): a DurableLog over its followers'
 * acks, which publisher confirms and tx.commit wait on next to the leader's own store or log. An
 * append numbered `seq` is durable once floor(n/2) followers of the n members hold it, so with the
 * leader's own disk a majority of the replica set does; one member alone needs no follower.
 * Quorum queues (replica-leader.ts: records numbered from the clock) and streams
 * (core/stream/stream-replica-leader.ts: offsets + 1) both build on it.
 */
import { DurableWaiters } from '../store/durable-waiters.js'
import type { DurableLog, DurableWaiter } from '../store/message-store-options.js'
import type { QueueHome } from './placement.js'

export abstract class MajorityLog implements DurableLog {
  durableSeq = 0
  closed = false
  /** per follower: the highest sequence it holds durable */
  readonly acked = new Map<string, number>()
  private readonly waiters = new DurableWaiters()

  constructor(
    readonly self: string,
    /** the queue's etcd record as this node caches it (members, epoch) */
    protected readonly record: () => QueueHome | undefined,
  ) {}

  /** the sequence number of the last append */
  abstract readonly lastSeq: number

  /** the members other than this node */
  followers(): string[] {
    const members = this.record()?.members
    return members === undefined ? [] : members.filter((m) => m !== this.self)
  }

  protected followersNeeded(): number {
    const n = this.record()?.members?.length ?? 1
    return Math.floor(n / 2)
  }

  /** Follower `node` holds every append up to `seq` durable. */
  followerAcked(node: string, seq: number): void {
    if (seq <= (this.acked.get(node) ?? -1)) return
    this.acked.set(node, seq)
    this.recompute()
  }

  /** A follower starts again (its acks count from its next snapshot or request). */
  forget(node: string): void {
    this.acked.delete(node)
  }

  /** Counts durable what the needed number of members' followers hold (members may have changed). */
  recompute(): void {
    const need = this.followersNeeded()
    if (need === 0) return this.advance(this.lastSeq)
    const members = new Set(this.followers())
    const seqs: number[] = []
    for (const [m, s] of this.acked) if (members.has(m)) seqs.push(s)
    if (seqs.length < need) return
    seqs.sort((a, b) => b - a)
    this.advance(Math.min(seqs[need - 1], this.lastSeq))
  }

  protected advance(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    this.waiters.durable(this, seq)
  }

  addWaiter(w: DurableWaiter): void {
    this.waiters.add(w)
  }

  /** The queue is gone from this node (deleted, or led elsewhere now): its waiters get no confirm. */
  close(err: Error): void {
    this.closed = true
    this.waiters.failed(this, err)
  }
}
