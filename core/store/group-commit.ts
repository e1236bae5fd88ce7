/**
 * Group commit for a segment log: appended records collect in in-memory chunks; a batch (every
 * chunk so far) is written with one positional `write` per chunk and made durable with one
 * `fdatasync` per file touched (normally one), on libuv's thread pool so the event loop keeps
 * serving sockets meanwhile. While a batch is in flight the next one collects, and starts the
 * moment the sync returns: the sync rate follows the disk's latency, not the message rate
 * (RabbitMQ's message store and PostgreSQL's WAL batch their fsyncs the same way).
 *
 * A batch starts on the next turn of the event loop (setImmediate: everything parsed from the
 * sockets in this turn shares it) or at once when `batchBytes` are buffered.
 */
import { fdatasync, fdatasyncSync, write, writeSync } from 'node:fs'
import type { Logger } from 'pino'
import { fileBudget, type BudgetWaiter, type FileHandle } from './file-budget.js'

/** A segment file as the log and the batcher see it. */
export interface Segment {
  id: number
  /** the file, open while the process-wide budget allows (file-budget.ts) */
  h: FileHandle
  /** logical size: header + every appended record, buffered or not */
  size: number
  /** bytes whose write completed (readable from the file) */
  written: number
}

/** Appended bytes of one segment waiting for (or in) a write. */
export interface Chunk {
  seg: Segment
  /** file offset of buf[0] */
  pos: number
  buf: Buffer
  len: number
  /** holds a record that needs an fdatasync */
  sync: boolean
}

/** Counters a test or the management API can read; pass one in to share it between logs. */
export interface LogStats {
  appends: number
  /** bytes appended, headers included */
  bytes: number
  /** write syscalls */
  writes: number
  /** fdatasync calls */
  syncs: number
}

/** Fresh zeroed counters. */
export function newLogStats(): LogStats {
  return { appends: 0, bytes: 0, writes: 0, syncs: 0 }
}

/** The asynchronous file operations a batch uses; replaceable to inject disk errors in tests. */
export interface BatchIo {
  write: typeof write
  fdatasync: typeof fdatasync
}

/** Node's own fs.write and fs.fdatasync. */
export const NODE_IO: BatchIo = { write, fdatasync }

/** Told when a batch completes or fails. */
export interface BatchOwner {
  batchDurable(durableSeq: number): void
  batchFailed(err: Error): void
}

const MIN_CHUNK = 16 * 1024

/** The batching and syncing half of a SegmentLog (see the file comment). */
export class GroupCommit implements BudgetWaiter {
  /** sequence number of the last append (appends are numbered 1, 2, …) */
  appendSeq = 0
  /** every append with a sequence number up to this one is durable */
  durableSeq = 0
  /** bytes appended but not yet durable */
  pendingBytes = 0
  /** set when a write or sync failed */
  failure: Error | null = null
  /** a failure to report once the batch in flight is done (stop() during a batch) */
  private pendingFailure: Error | null = null
  /** the chunk receiving appends */
  cur: Chunk | null = null
  private queued: Chunk[] = []
  private inflight: Chunk[] = []
  private readonly free: Buffer[] = []
  private chunkSize = MIN_CHUNK
  private flushing = false
  private scheduled = false
  private closing: (() => void) | null = null
  private stopped = false
  private flushSeq = 0
  private wi = 0
  private wOff = 0
  private readonly syncSegs: Segment[] = []
  private si = 0
  private readonly onWritten = (err: Error | null, n: number): void => this.written(err, n)
  private readonly onSynced = (err: Error | null): void => this.synced(err)
  private readonly flushLater = (): void => {
    this.scheduled = false
    this.flush()
  }

  constructor(
    private readonly owner: BatchOwner,
    readonly stats: LogStats,
    private readonly doSync: boolean,
    private readonly batchBytes: number,
    private readonly log: Logger,
    private readonly dir: string,
    private readonly io: BatchIo = NODE_IO,
  ) {}

  /** The chunk to append `total` bytes at the end of `seg` (a new one when the current is full). */
  chunkFor(seg: Segment, total: number, sync: boolean): Chunk {
    let c = this.cur
    if (c === null || c.seg !== seg || c.buf.length - c.len < total) {
      if (c !== null && c.len > 0) {
        this.queued.push(c)
        // a full chunk means traffic: grow the next one (up to batchBytes) for fewer writes
        if (c.seg === seg) this.chunkSize = Math.min(this.batchBytes, this.chunkSize * 2)
      }
      const size = Math.max(total, this.chunkSize)
      let buf = this.free.pop()
      if (buf === undefined || buf.length < size) buf = Buffer.allocUnsafe(size)
      c = this.cur = { seg, pos: seg.size, buf, len: 0, sync: false }
    }
    if (sync) c.sync = true
    return c
  }

  /** Accounts for `total` bytes just appended to the current chunk and schedules the batch. */
  committed(total: number): void {
    this.appendSeq++
    this.pendingBytes += total
    this.stats.appends++
    this.stats.bytes += total
    if (this.flushing) return
    if (this.pendingBytes >= this.batchBytes) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushLater)
    }
  }

  /** Starts writing everything buffered (no-op while a batch is in flight; it follows that one). */
  flush(): void {
    if (this.flushing || this.failure !== null || this.stopped) return
    const c = this.cur
    if (c !== null && c.len > 0) {
      this.queued.push(c)
      this.cur = null
    }
    if (this.queued.length === 0) return
    const batch = this.queued
    // every file of the batch stays open until its write and sync are done (evictable afterwards)
    const segs = this.syncSegs
    try {
      for (const ch of batch) {
        if (segs.includes(ch.seg)) continue
        if (!fileBudget.tryPin(ch.seg.h)) {
          // every budgeted file is in a write: this batch goes when one is done
          this.unpinAll()
          fileBudget.wait(this)
          return
        }
        segs.push(ch.seg)
      }
    } catch (err) {
      this.unpinAll()
      return this.fail(err as Error)
    }
    this.queued = this.inflight
    this.inflight = batch
    this.flushSeq = this.appendSeq
    this.flushing = true
    this.wi = 0
    this.wOff = 0
    this.writeNext()
  }

  /** @internal BudgetWaiter: files can be pinned again. */
  budgetRoom(): void {
    if (!this.stopped) this.flush()
  }

  private unpinAll(): void {
    for (const seg of this.syncSegs) fileBudget.unpin(seg.h)
    this.syncSegs.length = 0
  }

  private writeNext(): void {
    const c = this.inflight[this.wi]
    this.io.write(c.seg.h.fd, c.buf, this.wOff, c.len - this.wOff, c.pos + this.wOff, this.onWritten)
  }

  private written(err: Error | null, n: number): void {
    if (err !== null) return this.fail(err)
    const c = this.inflight[this.wi]
    this.wOff += n
    if (this.wOff < c.len) return this.writeNext()
    c.seg.written = c.pos + c.len
    this.stats.writes++
    this.wi++
    this.wOff = 0
    if (this.wi < this.inflight.length) return this.writeNext()
    let needSync = false
    for (const ch of this.inflight) if (ch.sync) needSync = true
    if (!needSync || !this.doSync) return this.completed()
    this.si = 0
    this.io.fdatasync(this.syncSegs[0].h.fd, this.onSynced)
  }

  private synced(err: Error | null): void {
    // after a failed fsync the kernel may have dropped the dirty pages: never retry (PostgreSQL's "fsyncgate")
    if (err !== null) return this.fail(err)
    this.stats.syncs++
    if (++this.si < this.syncSegs.length) return this.io.fdatasync(this.syncSegs[this.si].h.fd, this.onSynced)
    this.completed()
  }

  private completed(): void {
    for (const c of this.inflight) {
      this.pendingBytes -= c.len
      if (this.free.length < 2 && c.buf.length <= this.batchBytes) this.free.push(c.buf)
    }
    this.inflight.length = 0
    this.unpinAll()
    this.flushing = false
    this.durableSeq = this.flushSeq
    if (this.closing === null) {
      if (this.queued.length > 0 || (this.cur !== null && this.cur.len > 0)) this.flush()
      else {
        // idle: give the batch buffers back, and start small again (a trickle needs no 1 MiB chunks)
        this.free.length = 0
        this.chunkSize = MIN_CHUNK
      }
    }
    this.owner.batchDurable(this.durableSeq)
    const pending = this.pendingFailure
    if (pending !== null) {
      this.pendingFailure = null
      return this.fail(pending)
    }
    if (this.closing !== null) this.closing()
  }

  /**
   * Stops the log because of `err` (a new segment could not be created): everything appended and
   * not yet durable fails, now or, with a batch in flight, once that batch is done (what it
   * writes is durable; what waits behind it is not).
   */
  stop(err: Error): void {
    if (this.failure !== null) return
    if (this.flushing) this.pendingFailure ??= err
    else this.fail(err)
  }

  private fail(err: Error): void {
    this.failure = err
    this.flushing = false
    this.unpinAll()
    this.log.error({ err, dir: this.dir }, 'segment log write failed; no more appends')
    this.owner.batchFailed(err)
    if (this.closing !== null) this.closing()
  }

  /**
   * After a failure (see SegmentLog.recover): forgets every chunk that was not written, so the
   * log can take appends again. Sequence numbers up to appendSeq count as settled: their waiters
   * were told of the failure (batchFailed) and nothing waits for them any more.
   */
  resume(): void {
    if (this.failure === null || this.flushing) return
    this.cur = null
    this.queued.length = 0
    this.inflight.length = 0
    this.free.length = 0
    this.chunkSize = MIN_CHUNK
    this.pendingBytes = 0
    this.durableSeq = this.appendSeq
    this.failure = null
  }

  /** A batch is being written or synced. */
  get busy(): boolean {
    return this.flushing
  }

  /** The buffered chunk holding offset `off` of `seg`, or null. */
  find(seg: Segment, off: number): Chunk | null {
    return inChunk(this.cur, seg, off) ?? findChunk(this.queued, seg, off) ?? findChunk(this.inflight, seg, off)
  }

  /** No write or sync of `seg` is queued or in flight (its fd may be closed). */
  idle(seg: Segment): boolean {
    if (seg.written < seg.size) return false
    return !this.flushing || !this.inflight.some((c) => c.seg === seg)
  }

  /** Writes and syncs everything buffered, synchronously. Not while a batch is in flight. */
  flushSync(): void {
    if (this.flushing) throw new Error('flushSync while a batch is in flight')
    if (this.failure !== null) return
    if (this.cur !== null && this.cur.len > 0) this.queued.push(this.cur)
    this.cur = null
    const segs = new Set<Segment>()
    for (const c of this.queued) {
      let done = 0
      const fd = fileBudget.fd(c.seg.h)
      while (done < c.len) done += writeSync(fd, c.buf, done, c.len - done, c.pos + done)
      c.seg.written = c.pos + c.len
      this.pendingBytes -= c.len
      this.stats.writes++
      if (c.sync) segs.add(c.seg)
    }
    this.queued.length = 0
    if (this.doSync) {
      for (const s of segs) {
        fdatasyncSync(fileBudget.fd(s.h))
        this.stats.syncs++
      }
    }
    if (this.durableSeq !== this.appendSeq) {
      this.durableSeq = this.appendSeq
      this.owner.batchDurable(this.durableSeq)
    }
  }

  /** Waits for the batch in flight, then writes and syncs the rest; no batch starts afterwards. */
  async drain(): Promise<void> {
    if (this.flushing) await new Promise<void>((resolve) => (this.closing = resolve))
    this.closing = null
    fileBudget.cancelWait(this)
    this.flushSync()
    this.stopped = true
  }
}

function inChunk(c: Chunk | null, seg: Segment, off: number): Chunk | null {
  return c !== null && c.seg === seg && off >= c.pos && off < c.pos + c.len ? c : null
}

function findChunk(list: Chunk[], seg: Segment, off: number): Chunk | null {
  for (const c of list) if (inChunk(c, seg, off) !== null) return c
  return null
}
