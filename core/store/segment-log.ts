/**
 * An append-only log of CRC-framed records in numbered segment files (`msgs.0000000001`, …), with
 * group commit. LavinMQ's MessageStore keeps a queue's messages the same way (segment files that
 * are deleted once every message in them is acked); RabbitMQ's message store rolls files the same
 * way too. Records are `[len][crc32][payload]` (record-format.ts).
 *
 * `append` copies the record into the current group-commit batch (group-commit.ts) and returns
 * its location at once. Completion is reported by sequence number (`durableSeq`) to one listener,
 * once per batch: no promise or closure per record.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { FileHandle, fileBudget } from './file-budget.js'
import { GroupCommit, newLogStats, type BatchIo, type BatchOwner, type LogStats, type Segment } from './group-commit.js'
import { RECORD_HEADER, crc32, scanRecords, sealRecord, type RecordVisitor } from './record-format.js'
import {
  SEGMENT_HEADER,
  SEGMENT_MAGIC,
  fsyncDir,
  readWhole,
  recoverSegment,
  truncateFile,
  type LogRecordVisitor,
  type LogRecovery,
} from './segment-recovery.js'

export { SEGMENT_HEADER, SEGMENT_MAGIC, type LogRecordVisitor, type LogRecovery } from './segment-recovery.js'
export { NODE_IO, newLogStats, type BatchIo, type LogStats } from './group-commit.js'
const SPLIT = 2 ** 32

/** Location of a record: segment id × 2^32 + byte offset, exact in a double (ids < 2^21). */
export function locOf(segment: number, offset: number): number {
  return segment * SPLIT + offset
}
/** Segment id of a location. */
export function locSegment(loc: number): number {
  return Math.floor(loc / SPLIT)
}
/** Byte offset of a location within its segment. */
export function locOffset(loc: number): number {
  return loc % SPLIT
}

/** File name of segment `id`. */
export function segmentFileName(id: number): string {
  return `msgs.${String(id).padStart(10, '0')}`
}

/** Told when batches complete. One per log (the owning store fans out to its waiters). */
export interface SegmentLogListener {
  /** every append whose sequence number is ≤ durableSeq is on disk (or written, with sync off) */
  logDurable(durableSeq: number): void
  /** a write or sync failed: the log accepts no more appends, nothing after durableSeq is safe */
  logFailed(err: Error): void
}

/** Serialises a payload straight into the batch buffer (avoids building a Buffer per record). */
export interface RecordEncoder {
  encodeRecord(buf: Buffer, at: number, len: number): void
}

/** Where and how a SegmentLog writes. */
export interface SegmentLogOptions {
  dir: string
  log: Logger
  /** roll to a new segment beyond this size (default 32 MiB, LavinMQ's default segment size is 8 MiB) */
  segmentSize?: number
  /** fdatasync each batch (default true); off for scratch data that need not survive a crash */
  sync?: boolean
  /** start writing a batch once this many bytes are buffered (default 1 MiB) */
  batchBytes?: number
  /** bytes read ahead from a segment file when reading records back (default 64 KiB) */
  readBlock?: number
  /** largest payload accepted (default 1 GiB: a 512 MiB body plus its record); the recovery scan also uses it */
  maxRecordSize?: number
  stats?: LogStats
  /** asynchronous write/fdatasync (tests inject failures here) */
  io?: BatchIo
}

/** A record that fails its CRC when read back (bit rot after recovery, or a bad disk). */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError'
}

/** The log cannot take appends (a write failed and it could not be recovered yet); `cause` says why. */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError'
}

/** Errors of a store that cannot write now (full disk, out of descriptors): refuse the message, keep going. */
export function storeCannotWrite(err: unknown): boolean {
  if (err instanceof LogUnavailableError) return true
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EMFILE' || code === 'ENFILE' || code === 'EIO' || code === 'EROFS'
}

const IGNORE_RECORDS: RecordVisitor = { record: () => undefined }

/** One segmented, group-committed log (see the file comment); open with SegmentLog.open. */
export class SegmentLog implements BatchOwner {
  readonly stats: LogStats
  readonly recovery: LogRecovery
  private readonly gc: GroupCommit
  private listener: SegmentLogListener | null = null
  private readonly segments = new Map<number, Segment>()
  private active: Segment | null = null
  private nextId = 1
  private closed = false
  private rb: Buffer | null = null
  private rbSeg: Segment | null = null
  private rbPos = 0
  private rbLen = 0
  private readonly segmentSize: number
  private readonly doSync: boolean
  private readonly readBlock: number
  private readonly maxRecord: number

  private constructor(readonly dir: string, private readonly log: Logger, o: SegmentLogOptions) {
    this.segmentSize = o.segmentSize ?? 32 * 1024 * 1024
    this.doSync = o.sync ?? true
    this.readBlock = o.readBlock ?? 64 * 1024
    this.maxRecord = o.maxRecordSize ?? 2 ** 30
    this.stats = o.stats ?? newLogStats()
    if (this.segmentSize > 2 ** 30) throw new RangeError('segmentSize must be at most 1 GiB')
    this.recovery = { segments: 0, records: 0, bytes: 0, damagedRanges: 0, damagedBytes: 0, truncatedBytes: 0 }
    this.gc = new GroupCommit(this, this.stats, this.doSync, o.batchBytes ?? 1024 * 1024, log, dir, o.io)
  }

  /**
   * Opens (creating if needed) the log in `dir` and recovers it: every valid record is passed to
   * `visitor` in append order, torn tails are truncated and damaged records skipped (warned).
   * New appends always go to a fresh segment, so an offset named in an ack file of an older
   * segment can never come to mean a new record.
   */
  static open(options: SegmentLogOptions, visitor?: LogRecordVisitor): SegmentLog {
    const l = new SegmentLog(options.dir, options.log, options)
    mkdirSync(l.dir, { recursive: true })
    const ids = readdirSync(l.dir)
      .map((f) => /^msgs\.(\d{10})$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b)
    const scratch = { buf: Buffer.alloc(0) }
    for (const id of ids) {
      l.nextId = id + 1
      const file = path.join(l.dir, segmentFileName(id))
      const size = recoverSegment(file, id, readWhole(file, scratch), l.maxRecord, visitor, l.recovery, l.log)
      if (size >= 0) l.segments.set(id, l.segment(id, size))
    }
    return l
  }

  /** Registers the listener for completed batches (replaces any previous one). */
  setListener(listener: SegmentLogListener | null): void {
    this.listener = listener
  }

  /** Sequence number of the last append (appends are numbered 1, 2, …). */
  get appendSeq(): number {
    return this.gc.appendSeq
  }
  /** Every append with a sequence number up to this one is durable. */
  get durableSeq(): number {
    return this.gc.durableSeq
  }
  /** Bytes appended but not yet durable. */
  get pendingBytes(): number {
    return this.gc.pendingBytes
  }
  /** The error that stopped the log, or null. */
  get failure(): Error | null {
    return this.gc.failure
  }

  /** Id of the segment receiving appends, or -1 before the first append of this run. */
  get activeSegment(): number {
    return this.active === null ? -1 : this.active.id
  }

  /** Ids of every segment, oldest first. */
  segmentIds(): number[] {
    return [...this.segments.keys()]
  }

  /** Bytes in segment files, buffered appends included. */
  get diskBytes(): number {
    let n = 0
    for (const s of this.segments.values()) n += s.size
    return n
  }

  /** Appends a copy of `payload`; returns its location. `sync`: the record needs an fdatasync. */
  append(payload: Buffer, sync = true): number {
    const c = this.reserve(payload.length, sync)
    payload.copy(c.buf, c.len + RECORD_HEADER)
    return this.commit(payload.length)
  }

  /** Appends a `len`-byte payload that `encoder` writes in place; returns its location. */
  appendEncoded(len: number, encoder: RecordEncoder, sync = true): number {
    const c = this.reserve(len, sync)
    encoder.encodeRecord(c.buf, c.len + RECORD_HEADER, len)
    return this.commit(len)
  }

  private reserve(len: number, sync: boolean): { buf: Buffer; len: number } {
    if (this.gc.failure !== null) throw this.gc.failure
    if (this.closed) throw new Error(`segment log ${this.dir} is closed`)
    if (!(len > 0 && len <= this.maxRecord)) throw new RangeError(`record of ${len} bytes (1 to ${this.maxRecord})`)
    const total = RECORD_HEADER + len
    let seg = this.active
    if (seg === null || (seg.size + total > this.segmentSize && seg.size > SEGMENT_HEADER)) {
      try {
        seg = this.roll()
      } catch (err) {
        // no room for a new file either (ENOSPC, EMFILE): the log stops until recover(), and
        // whatever waits for a batch not yet written is told it failed (never confirmed)
        this.gc.stop(err as Error)
        throw err
      }
    }
    return this.gc.chunkFor(seg, total, sync)
  }

  private commit(len: number): number {
    const c = this.gc.cur!
    sealRecord(c.buf, c.len, len)
    const total = RECORD_HEADER + len
    c.len += total
    const seg = c.seg
    const loc = seg.id * SPLIT + seg.size
    seg.size += total
    this.gc.committed(total)
    return loc
  }

  /** A segment's state; its file is opened on demand, within the process-wide budget. */
  private segment(id: number, size: number): Segment {
    return { id, h: new FileHandle(path.join(this.dir, segmentFileName(id)), 'r+'), size, written: size }
  }

  private roll(): Segment {
    const id = this.nextId++
    const seg = this.segment(id, SEGMENT_HEADER)
    const fd = openSync(seg.h.file, 'wx+')
    try {
      writeSync(fd, SEGMENT_MAGIC, 0, SEGMENT_HEADER, 0)
      // the new file name must be durable before any confirm that depends on a record in it
      if (this.doSync) fsyncDir(this.dir)
    } catch (err) {
      closeSync(fd)
      unlinkSync(seg.h.file)
      throw err
    }
    fileBudget.adopt(seg.h, fd)
    this.segments.set(id, seg)
    this.active = seg
    return seg
  }

  /**
   * Makes a failed log take appends again, without a restart (after a full disk, say): what was
   * not written is forgotten (its waiters were told, logFailed), each segment that had unwritten
   * bytes is cut back to its last whole record on disk (a torn tail is dropped, as at open), and
   * the next append starts a fresh segment, so a location handed out for a lost record never comes
   * to mean a new one (reading it is a RangeError: the store drops it). Returns false when the
   * disk still refuses (the log stays failed), true when the log is usable.
   */
  recover(): boolean {
    if (this.gc.failure === null) return true
    // a roll that failed while a batch was in flight: wait for that batch
    if (this.closed || this.gc.busy) return false
    const cause = this.gc.failure
    try {
      for (const seg of this.segments.values()) {
        if (seg.written >= seg.size && seg !== this.active) continue
        fileBudget.close(seg.h)
        const data = readWhole(seg.h.file, { buf: Buffer.alloc(0) })
        const res = scanRecords(data, SEGMENT_HEADER, data.length, this.maxRecord, IGNORE_RECORDS)
        const end = res.tailAt >= 0 ? res.tailAt : Math.max(data.length, SEGMENT_HEADER)
        if (end < data.length) truncateFile(seg.h.file, end)
        seg.size = seg.written = end
        if (end === SEGMENT_HEADER) {
          // nothing of it reached the disk: no file left behind by each failed attempt
          unlinkSync(seg.h.file)
          this.segments.delete(seg.id)
        }
      }
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'segment log still unusable')
      return false
    }
    this.active = null
    this.rbSeg = null
    this.gc.resume()
    this.log.warn({ dir: this.dir, cause: cause.message }, 'segment log recovered after a write failure: appends resume in a new segment')
    return true
  }

  /** Starts writing what is buffered now instead of on the next turn. */
  flush(): void {
    this.gc.flush()
  }

  /** @internal BatchOwner */
  batchDurable(durableSeq: number): void {
    this.listener?.logDurable(durableSeq)
  }

  /** @internal BatchOwner */
  batchFailed(err: Error): void {
    this.listener?.logFailed(err)
  }

  /**
   * The payload of the record at `loc`, CRC-checked when read from the file. The view is valid
   * only until the next call into this log: copy what you keep. Throws RangeError for a location
   * that does not exist, CorruptRecordError for a damaged record.
   */
  view(loc: number): Buffer {
    const id = Math.floor(loc / SPLIT)
    const off = loc - id * SPLIT
    const seg = this.segments.get(id)
    if (seg === undefined || off < SEGMENT_HEADER || off >= seg.size) throw new RangeError(`no record at ${id}:${off} in ${this.dir}`)
    if (off < seg.written) return this.viewFile(seg, off)
    const c = this.gc.find(seg, off)
    if (c === null) throw new RangeError(`no record at ${id}:${off} in ${this.dir}`)
    const at = off - c.pos
    return c.buf.subarray(at + RECORD_HEADER, at + RECORD_HEADER + c.buf.readUInt32LE(at))
  }
  private viewFile(seg: Segment, off: number): Buffer {
    let b = this.rb
    if (b !== null && this.rbSeg === seg && off >= this.rbPos && off + RECORD_HEADER <= this.rbPos + this.rbLen) {
      const at = off - this.rbPos
      const len = b.readUInt32LE(at)
      if (at + RECORD_HEADER + len <= this.rbLen) return this.checked(b, at, len, seg, off)
    }
    if (b === null) b = this.rb = Buffer.allocUnsafe(this.readBlock)
    const fd = fileBudget.fd(seg.h)
    // never read past `written`: a write may be in progress beyond it on a libuv thread
    const n = readFull(fd, b, Math.min(b.length, seg.written - off), off)
    this.rbSeg = seg
    this.rbPos = off
    this.rbLen = n
    const len = n >= RECORD_HEADER ? b.readUInt32LE(0) : -1
    if (len <= 0 || len > this.maxRecord || off + RECORD_HEADER + len > seg.written) {
      throw new CorruptRecordError(`bad record length at ${seg.id}:${off} in ${this.dir}`)
    }
    if (RECORD_HEADER + len <= n) return this.checked(b, 0, len, seg, off)
    const big = Buffer.allocUnsafe(RECORD_HEADER + len)
    readFull(fd, big, big.length, off)
    return this.checked(big, 0, len, seg, off)
  }

  private checked(b: Buffer, at: number, len: number, seg: Segment, off: number): Buffer {
    const start = at + RECORD_HEADER
    if (crc32(b, start, start + len) !== b.readUInt32LE(at + 4)) {
      throw new CorruptRecordError(`CRC mismatch at ${seg.id}:${off} in ${this.dir}`)
    }
    return b.subarray(start, start + len)
  }

  /**
   * Size of segment `id` (buffered appends included) and how much of it is in the file: bytes below
   * `written` can be read with readAt, the rest only with view(). Both -1 for no such segment.
   */
  segmentExtent(id: number): { size: number; written: number } {
    const seg = this.segments.get(id)
    return seg === undefined ? { size: -1, written: -1 } : { size: seg.size, written: seg.written }
  }

  /**
   * Reads up to `len` bytes of segment `id` from `off` into buf[at…] (stream readers, each with its
   * own buffer), never past what is written to the file; returns the bytes read (0: nothing there).
   */
  readAt(id: number, off: number, buf: Buffer, at: number, len: number): number {
    const seg = this.segments.get(id)
    if (seg === undefined || off >= seg.written) return 0
    return readFull(fileBudget.fd(seg.h), buf.subarray(at), Math.min(len, seg.written - off), off)
  }

  /** Drops the read-ahead buffer (the owner reads from memory again for a while). */
  releaseReadBuffer(): void {
    this.rb = null
    this.rbSeg = null
  }

  /**
   * Deletes a segment file (its records are all acked). Returns false when it cannot go yet: it is
   * the active segment, or a batch for it is still being written; retry after the next batch.
   */
  deleteSegment(id: number): boolean {
    const seg = this.segments.get(id)
    if (seg === undefined) return true
    if (seg === this.active || !this.gc.idle(seg)) return false
    fileBudget.close(seg.h)
    unlinkSync(path.join(this.dir, segmentFileName(id)))
    this.segments.delete(id)
    if (this.rbSeg === seg) this.rbSeg = null
    return true
  }

  /** Writes and syncs everything buffered, synchronously (shutdown; tests). */
  flushSync(): void {
    this.gc.flushSync()
  }

  /** Waits for the batch in flight, writes and syncs the rest, and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.gc.drain()
    for (const s of this.segments.values()) {
      try {
        fileBudget.close(s.h)
      } catch (err) {
        // after a failed write the fd may be unusable; closing the rest matters more
        this.log.warn({ err, dir: this.dir, segment: s.id }, 'closing a segment file failed')
      }
    }
    this.active = null
    this.rb = null
  }
}

function readFull(fd: number, buf: Buffer, want: number, pos: number): number {
  let n = 0
  while (n < want) {
    const r = readSync(fd, buf, n, want - n, pos + n)
    if (r === 0) break
    n += r
  }
  return n
}
