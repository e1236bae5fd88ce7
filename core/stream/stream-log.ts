/**
 * The log of one stream queue: every message gets the next offset (0, 1, 2, …) and is appended to
 * a SegmentLog (core/store/segment-log.ts: CRC-framed records, group commit, fdatasync before the
 * publisher's confirm, torn-tail recovery). A record is `[offset: f64][message record]`
 * (store/message-codec.ts), the message already carrying its `x-stream-offset` header.
 *
 * Memory does not grow with the length of the stream: per segment a handful of numbers
 * (StreamSegment), the sparse offset index lives in files beside the segments (sparse-index.ts),
 * and a bounded cache of the newest messages serves readers at the tail without a disk read.
 * Readers further behind read the segment files themselves (stream-reader.ts).
 *
 * Retention (`x-max-age`, `x-max-length-bytes`) deletes whole segments, oldest first, never the
 * newest one that holds messages (so offsets keep counting across restarts), as osiris does.
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { Message } from '../message.js'
import { decodeMessage, encodeMessage, messageRecordSize } from '../store/message-codec.js'
import { DurableWaiters } from '../store/durable-waiters.js'
import type { DurableLog, DurableWaiter } from '../store/message-store-options.js'
import {
  SEGMENT_HEADER,
  SegmentLog,
  locOffset,
  locSegment,
  segmentFileName,
  type LogStats,
  type RecordEncoder,
  type SegmentLogListener,
} from '../store/segment-log.js'
import { ENTRY, INDEX_EVERY, IndexWriter, findEntry, indexFileOf, readIndex } from './sparse-index.js'

/** Bytes before the message record in a stream record: its offset. */
export const OFFSET_BYTES = 8
/** Where the message record keeps its timestamp (message-codec.ts), from the record's start. */
export const TS_AT = OFFSET_BYTES + 6
/** Newest messages kept for readers at the tail. */
const CACHE_COUNT = 4096
const CACHE_BYTES = 8 * 1024 * 1024

/** One segment file: its offsets, times and size (all a stream keeps in memory per segment). */
export interface StreamSegment {
  id: number
  /** offset of its first record */
  first: number
  count: number
  firstTs: number
  lastTs: number
  /** file size, header included */
  bytes: number
  /** stream position (bytes of records before it since this run's first segment) */
  startPos: number
}

export interface StreamLogOptions {
  dir: string
  log: Logger
  segmentSize: number
  /** fdatasync before confirming (false for scratch streams of a broker without a data dir) */
  sync: boolean
  stats?: LogStats
}

/** See the file comment. */
export class StreamLog implements SegmentLogListener, RecordEncoder, DurableLog {
  readonly segments: StreamSegment[] = []
  /** offset the next message gets */
  nextOffset = 0
  /** the last applyRetention() stopped at a segment still being written */
  retentionBlocked = false
  /** told after every batch that reached the disk (the stream's publisher flow control) */
  onDurable: (() => void) | null = null
  private readonly seg: SegmentLog
  private index: IndexWriter | null = null
  private encoding: Message | null = null
  private encodingOffset = 0
  private encodingTs = 0
  private readonly waiters = new DurableWaiters()
  // tail cache: a ring of the newest messages, offsets [cacheFirst, nextOffset)
  private readonly cache: (Message | undefined)[] = new Array<Message | undefined>(CACHE_COUNT)
  private readonly cacheEnd = new Float64Array(CACHE_COUNT)
  private readonly cacheTs = new Float64Array(CACHE_COUNT)
  private cacheFirst = 0
  private cacheBytes = 0

  constructor(private readonly o: StreamLogOptions) {
    const rec = new Recovery(o.dir)
    this.seg = SegmentLog.open({ dir: o.dir, log: o.log, segmentSize: o.segmentSize, sync: o.sync, stats: o.stats }, rec)
    rec.finish()
    let pos = 0
    for (const s of rec.segments) {
      if (s.count === 0) {
        this.seg.deleteSegment(s.id)
        continue
      }
      s.startPos = pos
      pos += s.bytes - SEGMENT_HEADER
      this.segments.push(s)
    }
    // the open segments of this run's appends: none yet (SegmentLog starts a fresh one)
    for (const id of this.seg.segmentIds()) if (!this.segments.some((s) => s.id === id)) this.seg.deleteSegment(id)
    const last = this.segments[this.segments.length - 1]
    this.nextOffset = last === undefined ? 0 : last.first + last.count
    this.cacheFirst = this.nextOffset
    this.seg.setListener(this)
    if (rec.records > 0) o.log.info({ dir: o.dir, segments: this.segments.length, first: this.firstOffset, next: this.nextOffset }, 'recovered stream')
  }

  get dir(): string {
    return this.o.dir
  }
  /** offset of the oldest message kept */
  get firstOffset(): number {
    return this.segments.length === 0 ? this.nextOffset : this.segments[0].first
  }
  /** messages kept */
  get count(): number {
    return this.nextOffset - this.firstOffset
  }
  /** bytes of the segment files */
  get bytes(): number {
    let n = 0
    for (const s of this.segments) n += s.bytes
    return n
  }
  /** stream position after the last record (lag in bytes is tailPos minus a reader's position) */
  get tailPos(): number {
    const s = this.segments[this.segments.length - 1]
    return s === undefined ? 0 : s.startPos + s.bytes - SEGMENT_HEADER
  }
  get lastSeq(): number {
    return this.seg.appendSeq
  }
  get durableSeq(): number {
    return this.seg.durableSeq
  }
  get pendingBytes(): number {
    return this.seg.pendingBytes
  }
  /** @internal the segment files, for readers (stream-reader.ts) */
  get files(): SegmentLog {
    return this.seg
  }

  /** Appends a message (already carrying its x-stream-offset header) as offset `nextOffset`. */
  append(msg: Message, now: number): number {
    const offset = this.nextOffset
    const len = OFFSET_BYTES + messageRecordSize(msg)
    this.encoding = msg
    this.encodingOffset = offset
    this.encodingTs = now
    let loc: number
    try {
      loc = this.seg.appendEncoded(len, this, this.o.sync)
    } finally {
      this.encoding = null
    }
    const id = locSegment(loc)
    let s = this.segments[this.segments.length - 1]
    if (s === undefined || s.id !== id) s = this.enterSegment(id, offset, now)
    const pos = locOffset(loc)
    this.index!.record(offset - s.first, pos, now)
    s.count++
    s.lastTs = now
    s.bytes = pos + 8 + len
    this.nextOffset = offset + 1
    this.cachePush(offset, msg, s.startPos + s.bytes - SEGMENT_HEADER)
    this.cacheTs[offset % CACHE_COUNT] = now
    return offset
  }

  /** @internal RecordEncoder */
  encodeRecord(buf: Buffer, at: number): void {
    buf.writeDoubleLE(this.encodingOffset, at)
    encodeMessage(this.encoding!, buf, at + OFFSET_BYTES, true, this.encodingTs)
  }

  private enterSegment(id: number, offset: number, now: number): StreamSegment {
    const prev = this.segments[this.segments.length - 1]
    this.index?.flush()
    const startPos = prev === undefined ? 0 : prev.startPos + prev.bytes - SEGMENT_HEADER
    const s: StreamSegment = { id, first: offset, count: 0, firstTs: now, lastTs: now, bytes: SEGMENT_HEADER, startPos }
    this.segments.push(s)
    this.index = new IndexWriter(indexFileOf(path.join(this.o.dir, segmentFileName(id))))
    return s
  }

  private cachePush(offset: number, msg: Message, end: number): void {
    const i = offset % CACHE_COUNT
    if (offset - this.cacheFirst >= CACHE_COUNT) this.cacheDrop()
    this.cache[i] = msg
    this.cacheEnd[i] = end
    this.cacheBytes += msg.data.length
    while (this.cacheBytes > CACHE_BYTES && this.cacheFirst < offset) this.cacheDrop()
  }

  private cacheDrop(): void {
    const i = this.cacheFirst % CACHE_COUNT
    const m = this.cache[i]
    if (m !== undefined) this.cacheBytes -= m.data.length
    this.cache[i] = undefined
    this.cacheFirst++
  }

  /** The cached message at `offset`, or undefined when it is not in the tail cache. */
  cached(offset: number): Message | undefined {
    return offset >= this.cacheFirst && offset < this.nextOffset ? this.cache[offset % CACHE_COUNT] : undefined
  }
  /** Stream position after the cached message at `offset` (call after cached() found it). */
  cachedEnd(offset: number): number {
    return this.cacheEnd[offset % CACHE_COUNT]
  }

  /** The record timestamp of the cached message at `offset` (call after cached() found it). */
  cachedTs(offset: number): number {
    return this.cacheTs[offset % CACHE_COUNT]
  }

  /**
   * An empty log starts counting at `offset` (a replica whose leader no longer keeps the offsets
   * before it: core/stream/stream-replica-leader.ts); a log holding messages cannot move.
   */
  startAt(offset: number): void {
    if (this.segments.length > 0 || this.count > 0) throw new Error('stream log not empty')
    this.nextOffset = offset
    this.cacheFirst = offset
  }

  /** Segment id and file position of the record at `offset` (one kept), for truncating a replica's log. */
  positionOf(offset: number): { id: number; pos: number } | undefined {
    const s = this.segmentOf(offset)
    if (s === undefined) return undefined
    let pos = this.seekPos(s, offset)
    while (pos < s.bytes) {
      const rec = this.seg.view(s.id * 2 ** 32 + pos)
      if (rec.readDoubleLE(0) >= offset) return { id: s.id, pos }
      pos += 8 + rec.length
    }
    return undefined
  }

  /** The segment holding `offset` (one kept, `offset` < nextOffset), by binary search. */
  segmentOf(offset: number): StreamSegment | undefined {
    const ss = this.segments
    let lo = 0
    let hi = ss.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (ss[mid].first <= offset) lo = mid
      else hi = mid - 1
    }
    const s = ss[lo]
    return s !== undefined && offset >= s.first && offset < s.first + s.count ? s : undefined
  }

  /** File position in segment `s` to start walking from to find `offset` (sparse index lookup). */
  seekPos(s: StreamSegment, offset: number): number {
    const pos = findEntry(this.indexOf(s), offset - s.first, false)
    return pos < 0 ? SEGMENT_HEADER : pos
  }

  /** The first offset stored at or after `ms` (nextOffset when none): sparse index, then a short walk. */
  offsetAtTime(ms: number): number {
    const s = this.segments.find((x) => x.count > 0 && x.lastTs >= ms)
    if (s === undefined) return this.nextOffset
    if (s.firstTs >= ms) return s.first
    let pos = findEntry(this.indexOf(s), ms, true)
    if (pos < 0) pos = SEGMENT_HEADER
    // walk the records from there: the first with a timestamp ≥ ms
    for (;;) {
      const rec = this.seg.view(s.id * 2 ** 32 + pos)
      if (rec.readDoubleLE(TS_AT) >= ms) return rec.readDoubleLE(0)
      pos += 8 + rec.length
      if (pos >= s.bytes) return s.first + s.count
    }
  }

  private indexOf(s: StreamSegment): Buffer {
    const file = indexFileOf(path.join(this.o.dir, segmentFileName(s.id)))
    const active = this.segments[this.segments.length - 1] === s && this.index !== null && this.index.file === file
    return readIndex(file, active ? this.index!.pendingView() : null)
  }

  /** Decodes a stream record's message (payload at buf[start, start + len)). */
  static decode(buf: Buffer, start: number, len: number): Message {
    return decodeMessage(buf, start + OFFSET_BYTES, len - OFFSET_BYTES)
  }

  // ---- retention ------------------------------------------------------------------------------

  /**
   * Deletes the oldest segments while the stream is over `maxBytes` (-1: no limit) or they hold
   * only messages older than `maxAgeMs` (-1: none). Returns how many messages went.
   */
  applyRetention(maxBytes: number, maxAgeMs: number, now: number): number {
    this.retentionBlocked = false
    let dropped = 0
    let total = this.bytes
    while (this.segments.length > 1) {
      const s = this.segments[0]
      const tooBig = maxBytes >= 0 && total > maxBytes
      const tooOld = maxAgeMs >= 0 && s.lastTs < now - maxAgeMs
      if (!tooBig && !tooOld) break
      if (!this.seg.deleteSegment(s.id)) {
        // still being written by the group commit: try again once it is on disk
        this.retentionBlocked = true
        break
      }
      rmSync(indexFileOf(path.join(this.o.dir, segmentFileName(s.id))), { force: true })
      this.segments.shift()
      total -= s.bytes
      dropped += s.count
    }
    return dropped
  }

  // ---- durability -----------------------------------------------------------------------------

  addWaiter(w: DurableWaiter): void {
    this.waiters.add(w)
  }

  /** @internal SegmentLogListener */
  logDurable(durableSeq: number): void {
    this.onDurable?.()
    this.waiters.durable(this, durableSeq)
  }

  /** @internal SegmentLogListener */
  logFailed(err: Error): void {
    this.waiters.failed(this, err)
  }

  /** Writes what is buffered and closes the files. */
  async close(): Promise<void> {
    this.index?.flush()
    await this.seg.close()
  }

  /** Closes and deletes the stream's files. */
  async destroy(): Promise<void> {
    await this.seg.close()
    rmSync(this.o.dir, { recursive: true, force: true })
  }
}

/** Rebuilds segment summaries and index files from the records SegmentLog.open recovers. */
class Recovery {
  readonly segments: StreamSegment[] = []
  records = 0
  private cur: StreamSegment | null = null
  private entries: Buffer = Buffer.allocUnsafe(ENTRY * 1024)
  private n = 0
  private lastPos = 0

  constructor(private readonly dir: string) {}

  record(loc: number, buf: Buffer, start: number, len: number): void {
    const id = locSegment(loc)
    const pos = locOffset(loc)
    const offset = buf.readDoubleLE(start)
    const ts = buf.readDoubleLE(start + TS_AT)
    let s = this.cur
    if (s === null || s.id !== id) {
      this.finish()
      s = this.cur = { id, first: offset, count: 0, firstTs: ts, lastTs: ts, bytes: SEGMENT_HEADER, startPos: 0 }
      this.segments.push(s)
      this.lastPos = -INDEX_EVERY
    }
    if (offset !== s.first + s.count) {
      // a damaged record was skipped: the segment's offsets are no longer contiguous from here
      s.count = offset - s.first
    }
    if (pos - this.lastPos >= INDEX_EVERY) {
      this.lastPos = pos
      if ((this.n + 1) * ENTRY > this.entries.length) {
        const bigger = Buffer.allocUnsafe(this.entries.length * 2)
        this.entries.copy(bigger, 0, 0, this.n * ENTRY)
        this.entries = bigger
      }
      const at = this.n * ENTRY
      this.entries.writeUInt32LE(offset - s.first, at)
      this.entries.writeUInt32LE(pos, at + 4)
      this.entries.writeDoubleLE(ts, at + 8)
      this.n++
    }
    s.count++
    s.lastTs = ts
    s.bytes = pos + 8 + len
    this.records++
  }

  /** Ends the current segment: its index file is rewritten when it does not hold these entries. */
  finish(): void {
    const s = this.cur
    if (s === null) return
    const w = new IndexWriter(indexFileOf(path.join(this.dir, segmentFileName(s.id))))
    w.entries = this.n
    if (!w.fileMatches()) w.rewrite(this.entries.subarray(0, this.n * ENTRY))
    this.cur = null
    this.n = 0
  }
}
