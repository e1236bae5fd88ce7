/**
 * The leader side of a replicated stream (issue 14): what a publisher confirm waits for besides the
 * leader's own log. Followers hold the same records at the same offsets (shipped by
 * transport/cluster/stream-replica-manager.ts, read back from this log with a StreamReader) and
 * ack the next offset they hold durable. As a DurableLog its sequence numbers are offsets + 1
 * (`lastSeq` is the log's next offset): a message is durable once floor(n/2) followers of the n
 * members hold it fdatasync'd, with the leader's own log that is a majority of the replica set.
 * Nothing is kept per message: the log is the buffer, each follower a cursor into it.
 */
import type { QueueHome } from '../cluster/placement.js'
import type { DurableLog, DurableWaiter } from '../store/message-store-options.js'
import type { GroupOffsets } from './group-offsets.js'
import { StreamEpochs } from './stream-epochs.js'
import type { StreamLog } from './stream-log.js'

/** What ships a leader's new records (transport/cluster/stream-replica-manager.ts). */
export interface StreamShipper {
  /** the leader appended: ship to the followers at the end of this tick */
  schedule(leader: StreamReplicaLeader): void
}

/** The storage's hooks for the streams of a cluster node (core/stream/stream-replica-registry.ts). */
export interface StreamReplicaHooks {
  /** the log directory of a replicated stream, relative to the data dir (null: not replicated) */
  dir(q: { vhost: { name: string }; name: string; arguments: Record<string, unknown> }): string | null
  /** an open log this node already holds for the stream (a follower promoted), or null */
  adopt(vhost: string, name: string): StreamLog | null
  /** the stream's replication leader, or null when it is not replicated */
  leader(vhost: string, name: string, log: StreamLog): StreamReplicaLeader | null
  /** the stream left this node's vhost: true when the hooks keep (park) its log */
  removed(vhost: string, name: string, log: StreamLog): boolean
}

export class StreamReplicaLeader implements DurableLog {
  durableSeq = 0
  scheduled = false
  closed = false
  /** per follower: the next offset it holds durable */
  readonly acked = new Map<string, number>()
  readonly epochs: StreamEpochs
  /** the stream's consumer-group offsets (set by the stream queue), shipped when their version moves */
  groups: GroupOffsets | null = null
  private waiters: DurableWaiter[] = []

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly self: string,
    readonly log: StreamLog,
    /** the stream's etcd record as this node caches it (members, epoch) */
    private readonly record: () => QueueHome | undefined,
    private readonly shipper: StreamShipper,
  ) {
    this.epochs = new StreamEpochs(log.dir)
    // a log that never had a leader epoch: what it holds is the first epoch's
    if (this.epochs.last === 0) this.epochs.begin(1, log.firstOffset)
    this.durableSeq = this.followersNeeded() === 0 ? log.nextOffset : 0
    this.noteEpoch()
  }

  get lastSeq(): number {
    return this.log.nextOffset
  }

  get epoch(): number {
    return this.record()?.epoch ?? Math.max(1, this.epochs.last)
  }

  /** Records the start of the current epoch in the log's epoch list (at creation, and when shipping). */
  noteEpoch(): void {
    const h = this.record()
    if (h !== undefined && h.node === this.self) this.epochs.begin(h.epoch ?? 1, this.log.nextOffset)
  }

  /** the members other than this node */
  followers(): string[] {
    const members = this.record()?.members
    return members === undefined ? [] : members.filter((m) => m !== this.self)
  }

  /** The log appended a message (StreamQueue.push), or a group committed: nothing per message but a flag. */
  appended(): void {
    if (!this.scheduled) {
      this.scheduled = true
      this.shipper.schedule(this)
    }
  }

  /** Once per tick with appends (the shipper's flush): a replica set of one needs no follower. */
  tick(): void {
    if (this.followersNeeded() === 0) this.advance(this.log.nextOffset)
  }

  private followersNeeded(): number {
    const n = this.record()?.members?.length ?? 1
    return Math.floor(n / 2)
  }

  /** Follower `node` holds every record before `next` durable. */
  followerAcked(node: string, next: number): void {
    if (next <= (this.acked.get(node) ?? -1)) return
    this.acked.set(node, next)
    this.recompute()
  }

  /** A follower (re)started following: its acks count again from its next FOLLOW. */
  forget(node: string): void {
    this.acked.delete(node)
  }

  recompute(): void {
    const need = this.followersNeeded()
    if (need === 0) return this.advance(this.log.nextOffset)
    const members = new Set(this.followers())
    const acks: number[] = []
    for (const [m, n] of this.acked) if (members.has(m)) acks.push(n)
    if (acks.length < need) return
    acks.sort((a, b) => b - a)
    this.advance(Math.min(acks[need - 1], this.log.nextOffset))
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

  /** The stream is gone from this node (deleted, or led elsewhere now): its waiters get no confirm. */
  close(err: Error): void {
    this.closed = true
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w.storeFailed(this, err)
  }
}
