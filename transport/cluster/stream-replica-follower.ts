/**
 * A follower replica of a stream (issue 14): the stream's log on this node's disk
 * (`<data dir>/replicas/<vhost>/<stream>`, core/stream/stream-replica-registry.ts), fed by the
 * leader's SREPL batches and never serving clients. Each record is appended at the offset the
 * leader gave it (the log counts on from its own next offset, so offsets match; segment boundaries
 * need not), with the leader's timestamp, so retention by age and `x-stream-offset` by time read
 * the same everywhere. Once the log has fdatasync'd a batch, the follower acks its next offset.
 * Unlike a quorum queue's follower it keeps its log across restarts: coming back, it asks the
 * leader for what follows its last offset. When the leader says so it cuts its log (records an old
 * leader wrote that the new one does not hold), or drops it and starts at the leader's first
 * offset when the leader's retention removed what it lacks. Retention follows the stream's
 * `x-max-age` / `x-max-length-bytes` as on the leader.
 */
import { rmSync, truncateSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { Message } from '../../core/message.js'
import type { DurableLog, DurableWaiter } from '../../core/store/message-store-options.js'
import { segmentFileName, type LogStats } from '../../core/store/segment-log.js'
import { indexFileOf } from '../../core/stream/sparse-index.js'
import { parseInterval } from '../../core/stream/offset-spec.js'
import { GroupOffsets } from '../../core/stream/group-offsets.js'
import { StreamEpochs } from '../../core/stream/stream-epochs.js'
import { StreamLog } from '../../core/stream/stream-log.js'
import type { FieldTable } from '../../core/wire/field-table.js'

/** One shipped record: its offset, its timestamp at the leader and the message. */
export interface StreamRecord {
  offset: number
  ts: number
  message: Message
}

/** The stream's retention and segment settings from its arguments (as core/stream/stream-queue.ts reads them). */
export function streamLimits(a: FieldTable): { segmentSize: number; maxBytes: number; maxAgeMs: number } {
  const seg = a['x-stream-max-segment-size-bytes']
  return {
    // RabbitMQ's default 500 MB, capped at SegmentLog's largest (1 GiB)
    segmentSize: Math.min(2 ** 30, typeof seg === 'number' && seg > 0 ? seg : 500_000_000),
    maxBytes: typeof a['x-max-length-bytes'] === 'number' ? a['x-max-length-bytes'] : -1,
    maxAgeMs: typeof a['x-max-age'] === 'string' ? parseInterval(a['x-max-age']) : -1,
  }
}

export interface StreamFollowerOptions {
  dir: string
  log: Logger
  arguments: FieldTable
  stats?: LogStats
}

export class StreamFollower implements DurableWaiter {
  log: StreamLog
  epochs: StreamEpochs
  /** the leader's consumer-group offsets, kept beside the log as the leader keeps them (a new leader's stream reads them) */
  groups: GroupOffsets
  /** highest epoch seen from a leader */
  epoch = 0
  /** the leader and record epoch this replica follows (stream-replica-manager.ts) */
  leader = ''
  recordEpoch = 0
  /** every offset below this is fdatasync'd here */
  durableNext: number
  /** records appended since this follower started (tests: a restarted follower gets only the tail) */
  received = 0
  /** cutting the log: batches are ignored until it asks again */
  truncating = false
  private readonly limits: ReturnType<typeof streamLimits>
  /** (log sequence, next offset) pairs waiting for the log's fdatasync */
  private readonly waiting: [number, number][] = []
  private waiterSet = false
  private ack: ((next: number) => void) | null = null
  private closed = false
  private retentionTimer: NodeJS.Timeout | null = null

  constructor(private readonly o: StreamFollowerOptions, existing: StreamLog | null) {
    this.limits = streamLimits(o.arguments)
    this.log = existing ?? this.open()
    this.epochs = new StreamEpochs(this.log.dir)
    this.groups = new GroupOffsets(this.log.dir, o.log, true)
    this.durableNext = this.log.nextOffset
    if (this.limits.maxAgeMs >= 0) {
      this.retentionTimer = setInterval(() => this.retain(), 1000)
      this.retentionTimer.unref()
    }
  }

  /** Opens the log in `dir` (a parked log adopted from a stream queue may live elsewhere than o.dir). */
  private open(dir = this.o.dir): StreamLog {
    return new StreamLog({ dir, log: this.o.log, segmentSize: this.limits.segmentSize, sync: true, stats: this.o.stats })
  }

  /**
   * Applies a batch of epoch `epoch`: cuts the log first when `truncate` ≥ 0 (then `refollow` asks
   * the leader again), else appends the records it does not hold; `ack(next)` once durable.
   */
  apply(epoch: number, truncate: number, records: readonly StreamRecord[], groups: readonly [string, number][], ack: (next: number) => void, refollow: () => void): void {
    if (this.closed || this.truncating) return
    if (epoch > this.epoch) this.epoch = epoch
    this.ack = ack
    if (truncate >= 0) {
      this.truncating = true
      this.truncate(truncate).then(
        () => {
          this.truncating = false
          if (!this.closed) refollow()
        },
        (err: Error) => {
          this.truncating = false
          this.o.log.error({ err, to: truncate }, 'cannot cut the stream replica log')
        },
      )
      return
    }
    const log = this.log
    const segments = log.segments.length
    let first = -1
    for (const r of records) {
      if (r.offset < log.nextOffset) continue
      if (r.offset > log.nextOffset) {
        if (log.segments.length !== 0 || log.count !== 0) {
          // a gap: ask again from this log's end
          refollow()
          break
        }
        log.startAt(r.offset)
      }
      if (first < 0) first = r.offset
      log.append(r.message, r.ts)
      this.received++
    }
    if (first >= 0) this.epochs.begin(epoch, first)
    for (const [name, offset] of groups) this.groups.commit(name, offset)
    if (log.segments.length !== segments) this.retain()
    if (log.durableSeq >= log.lastSeq) return this.acked(log.nextOffset)
    this.waiting.push([log.lastSeq, log.nextOffset])
    if (!this.waiterSet) {
      this.waiterSet = true
      log.addWaiter(this)
    }
  }

  private retain(): void {
    const { maxBytes, maxAgeMs } = this.limits
    if (this.closed || (maxBytes < 0 && maxAgeMs < 0)) return
    this.log.applyRetention(maxBytes, maxAgeMs, Date.now())
  }

  /** Cuts the log at `to` (everything from offset `to` on goes); past its end: empties it, starting at `to`. */
  async truncate(to: number): Promise<void> {
    const log = this.log
    if (to === log.nextOffset) return
    this.waiting.length = 0
    this.waiterSet = false
    const at = to > log.firstOffset && to < log.nextOffset ? log.positionOf(to) : undefined
    if (at === undefined) {
      this.o.log.info({ from: log.firstOffset, next: log.nextOffset, to }, 'stream replica starts again at the leader\'s offset')
      await log.destroy()
      this.log = this.open()
      this.epochs = new StreamEpochs(this.o.dir)
      // the leader sends its groups' offsets again with the next batch
      this.groups.discard()
      this.groups = new GroupOffsets(this.o.dir, this.o.log, true)
      this.log.startAt(to)
    } else {
      this.o.log.info({ next: log.nextOffset, to }, 'stream replica cut to where its log agrees with the leader\'s')
      const later = log.segments.filter((s) => s.id > at.id).map((s) => s.id)
      await log.close()
      for (const id of later) {
        const f = path.join(log.dir, segmentFileName(id))
        rmSync(f, { force: true })
        rmSync(indexFileOf(f), { force: true })
      }
      truncateSync(path.join(log.dir, segmentFileName(at.id)), at.pos)
      this.log = this.open(log.dir)
      this.epochs.truncate(to)
    }
    this.durableNext = this.log.nextOffset
  }

  private acked(next: number): void {
    if (next < this.durableNext) return
    this.durableNext = next
    this.ack?.(next)
  }

  storeDurable(_store: DurableLog, durableSeq: number): void {
    this.waiterSet = false
    let top = -1
    while (this.waiting.length > 0 && this.waiting[0][0] <= durableSeq) top = this.waiting.shift()![1]
    if (top >= 0) this.acked(top)
    if (this.waiting.length > 0 && !this.closed) {
      this.waiterSet = true
      this.log.addWaiter(this)
    }
  }

  storeFailed(_store: DurableLog, err: Error): void {
    this.waiterSet = false
    // nothing is acked: the leader's confirms wait for the other followers
    this.o.log.error({ err }, 'stream replica log failed')
  }

  private stop(): void {
    // pending group commits reach the file before a stream queue reads it (release) or the node stops
    this.groups.close()
    this.closed = true
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer)
  }

  /** Hands the open log over (this node leads the stream now); the follower is done. */
  release(): StreamLog {
    this.stop()
    return this.log
  }

  close(): Promise<void> {
    this.stop()
    return this.log.close()
  }

  destroy(): Promise<void> {
    this.stop()
    return this.log.destroy()
  }
}
