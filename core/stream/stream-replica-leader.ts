/**
 * The leader side of a replicated stream (issue 14): what a publisher confirm waits for besides the
 * leader's own log. Followers hold the same records at the same offsets (shipped by
 * transport/cluster/stream-replica-manager.ts, read back from this log with a StreamReader) and
 * ack the next offset they hold durable. As a MajorityLog (core/cluster/majority-log.ts) its
 * sequence numbers are offsets + 1 (`lastSeq` is the log's next offset): a message is durable once
 * a majority of the replica set holds it fdatasync'd, the leader's own log included.
 * Nothing is kept per message: the log is the buffer, each follower a cursor into it.
 */
import type { QueueHome } from '../cluster/placement.js'
import { MajorityLog } from '../cluster/majority-log.js'
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

export class StreamReplicaLeader extends MajorityLog {
  scheduled = false
  readonly epochs: StreamEpochs
  /** the stream's consumer-group offsets (set by the stream queue), shipped when their version moves */
  groups: GroupOffsets | null = null

  constructor(
    readonly vhost: string,
    readonly name: string,
    self: string,
    readonly log: StreamLog,
    record: () => QueueHome | undefined,
    private readonly shipper: StreamShipper,
  ) {
    super(self, record)
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
}
