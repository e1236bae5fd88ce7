/**
 * Boot-time rebuild of a message store's state from its files: the ready index (live persistent
 * records in append order, with the redelivered flag from the delivered watermark), the
 * per-segment record counts that drive segment deletion, and the deletion of segments with
 * nothing live left in them.
 */
import type { AckLog } from './ack-log.js'
import { MESSAGE_RECORD_FIXED, REC_PERSISTENT, recordBodySize, recordFlags } from './message-codec.js'
import { FLAG_PERSISTENT, FLAG_REDELIVERED, type RefIndex } from './ref-index.js'
import type { LogRecovery, SegmentLog } from './segment-log.js'
import type { LogRecordVisitor } from './segment-recovery.js'

/** Record counts of one segment: it can be deleted when dead reaches total. */
export interface SegState {
  /** records in the segment */
  total: number
  /** records acked, or transient at recovery */
  dead: number
}

/** What a message store recovered, also logged at info. */
export interface StoreRecovery extends LogRecovery {
  /** live messages recovered into the ready index */
  messages: number
  messageBytes: number
  /** recovered with redelivered=true */
  redelivered: number
  /** records skipped because acked */
  acked: number
  /** records skipped because transient (or not a message record) */
  transient: number
  /** segments deleted at boot because nothing live was left in them */
  deletedSegments: number
  ms: number
}

/** A zeroed StoreRecovery. */
export function newStoreRecovery(): StoreRecovery {
  return {
    segments: 0, records: 0, bytes: 0, damagedRanges: 0, damagedBytes: 0, truncatedBytes: 0,
    messages: 0, messageBytes: 0, redelivered: 0, acked: 0, transient: 0, deletedSegments: 0, ms: 0,
  }
}

const SPLIT = 2 ** 32
const NO_ACKS = new Uint32Array(0)

/** Which recovered messages the queue needs back at once to re-arm its expiry timer. */
export type ExpiringMode = 'none' | 'own-ttl' | 'all'

/** The visitor SegmentLog.open calls for every valid record, segment by segment, in offset order. */
export class StoreRecoverer implements LogRecordVisitor {
  count = 0
  bytes = 0
  /** delivery counts of live messages (from the counts file) */
  readonly liveCounts = new Map<number, number>()
  /**
   * locations of live messages that can expire out of queue order: those with their own TTL
   * (mode own-ttl), or every one (mode all: a priority queue with a queue TTL)
   */
  readonly expiring: number[] = []
  private id = -1
  private seg: SegState | null = null
  private acked: Uint32Array = NO_ACKS
  private pos = 0

  constructor(
    private readonly ready: RefIndex,
    private readonly segs: Map<number, SegState>,
    private readonly acks: AckLog | null,
    /** delivered watermark: records at or below it were handed to a consumer */
    private readonly delivered: number,
    private readonly r: StoreRecovery,
    private readonly counts: Map<number, number> | null = null,
    private readonly expiringMode: ExpiringMode = 'none',
  ) {}

  record(loc: number, buf: Buffer, start: number, len: number): void {
    const id = Math.floor(loc / SPLIT)
    const off = loc - id * SPLIT
    if (id !== this.id) {
      this.id = id
      this.seg = { total: 0, dead: 0 }
      this.segs.set(id, this.seg)
      // sorted, so one merge pass over the segment's records (records come in offset order)
      this.acked = this.acks?.load(id) ?? NO_ACKS
      this.pos = 0
    }
    const seg = this.seg!
    seg.total++
    const acked = this.acked
    while (this.pos < acked.length && acked[this.pos] < off) this.pos++
    if (this.pos < acked.length && acked[this.pos] === off) {
      seg.dead++
      this.r.acked++
      return
    }
    // RabbitMQ: transient messages do not survive a restart, even in a durable queue
    if (len < MESSAGE_RECORD_FIXED || (recordFlags(buf, start) & REC_PERSISTENT) === 0) {
      seg.dead++
      this.r.transient++
      return
    }
    const size = recordBodySize(buf, start, len)
    const redelivered = loc <= this.delivered
    if (redelivered) this.r.redelivered++
    // only persistent records are recovered
    this.ready.push(loc, size, FLAG_PERSISTENT | (redelivered ? FLAG_REDELIVERED : 0))
    const n = this.counts?.get(loc)
    if (n !== undefined) this.liveCounts.set(loc, n)
    // the record's ttl field (f64 at +14, message-codec.ts): -1 when the message has none
    const mode = this.expiringMode
    if (mode === 'all' || (mode === 'own-ttl' && buf.readDoubleLE(start + 14) >= 0)) this.expiring.push(loc)
    this.count++
    this.bytes += size
  }
}

/** Deletes recovered segments with nothing live in them, and ack files without a segment. */
export function collectAtBoot(log: SegmentLog, acks: AckLog | null, segs: Map<number, SegState>, r: StoreRecovery): void {
  for (const id of log.segmentIds()) {
    const st = segs.get(id)
    if (st !== undefined && st.dead < st.total) continue
    log.deleteSegment(id)
    acks?.remove(id)
    segs.delete(id)
    r.deletedSegments++
  }
  if (acks === null) return
  // a crash between deleting a segment and its ack file leaves the ack file behind
  const live = new Set(log.segmentIds())
  for (const id of acks.ids()) if (!live.has(id)) acks.remove(id)
}
