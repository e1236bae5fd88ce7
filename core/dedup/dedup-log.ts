/**
 * The on-disk half of a durable exchange's deduplication window: an append-only file of CRC-framed
 * records (store/record-format.ts), one per key that entered the window: `[expiresAt f64 LE][key
 * utf8]`. Keys appended in one turn of the event loop are written with one `write` and one
 * `fdatasync` (group commit, on libuv's pool); a publisher confirm waits for it like it waits for a
 * queue store (the log is a DurableLog), so a confirmed message's key is on disk before its confirm.
 *
 * A key is written only once the message it came with is durable in the queue stores it went to
 * (its "gate"): were the key on disk first, a crash between the two syncs would leave a key without
 * its message, and the producer's retry would then be dropped as a duplicate of a lost message.
 * Keys wait in order (a key behind a gated one waits too), so `durableSeq` only grows.
 *
 * At open the file is replayed into the window (torn tail and expired keys dropped) and rewritten
 * with just the live keys. It is rewritten the same way (temporary file, fdatasync, rename, fsync
 * of the directory) whenever it holds more than twice the window's size in records (at least 4096):
 * the file stays within a few times `x-cache-size` records, and the rewrite costs O(size) once
 * every `size` appends, O(1) per message.
 */
import { closeSync, existsSync, fdatasync, fdatasyncSync, mkdirSync, openSync, renameSync, rmSync, write, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { RECORD_HEADER, scanRecords, sealRecord } from '../store/record-format.js'
import { fsyncDir, readWhole } from '../store/segment-recovery.js'
import { DurableWaiters } from '../store/durable-waiters.js'
import type { DurableLog, DurableWaiter } from '../store/message-store.js'
import type { DedupWindow } from './dedup-window.js'

/** A key waiting for the stores its message went to. */
interface GatedKey {
  key: string
  expiresAt: number
  seq: number
  stores: DurableLog[]
  seqs: number[]
}

/** Dedup logs start with 'WRNX' and a format version. */
const MAGIC = Buffer.from('WRNX\u0001\u0000\u0000\u0000', 'latin1')
const MAX_RECORD = 64 * 1024
const MIN_COMPACT = 4096

/** See the file comment. Open with {@link DedupLog.open}. */
export class DedupLog implements DurableLog, DurableWaiter {
  lastSeq = 0
  durableSeq = 0
  /** sequence number of the last key put in the write buffer */
  private encodedSeq = 0
  private gated: GatedKey[] = []
  private gatedHead = 0
  /** set when a write or sync failed: nothing more is written, confirms waiting on it are nacked */
  failure: Error | null = null
  /** records in the file (for compaction) */
  private records = 0
  private fd = -1
  private pos = 0
  private cur = Buffer.allocUnsafe(16 * 1024)
  private len = 0
  private flying: Buffer | null = null
  private flyLen = 0
  private flyOff = 0
  private flushSeq = 0
  private flushing = false
  private scheduled = false
  private closed = false
  private closeWait: (() => void) | null = null
  private readonly waiters = new DurableWaiters()
  private readonly onWritten = (err: Error | null, n: number): void => this.written(err, n)
  private readonly onSynced = (err: Error | null): void => this.synced(err)
  private readonly flushLater = (): void => {
    this.scheduled = false
    this.flush()
  }

  private constructor(
    readonly file: string,
    private readonly window: DedupWindow,
    private readonly log: Logger,
  ) {}

  /**
   * Opens the log of `window` at `file`. `recover`: replay an existing file into the window (a
   * durable exchange coming back at boot); otherwise any file there is from an earlier incarnation
   * and is discarded.
   */
  static open(file: string, window: DedupWindow, log: Logger, recover: boolean): DedupLog {
    const d = new DedupLog(file, window, log)
    mkdirSync(path.dirname(file), { recursive: true })
    if (recover && existsSync(file)) d.replay()
    d.rewrite()
    return d
  }

  private replay(): void {
    const data = readWhole(this.file, { buf: Buffer.alloc(0) })
    if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
      this.log.warn({ file: this.file }, 'deduplication log has no valid header: starting with an empty window')
      return
    }
    const now = Date.now()
    const w = this.window
    const res = scanRecords(data, MAGIC.length, data.length, MAX_RECORD, {
      record(buf: Buffer, start: number, len: number): void {
        if (len < 8) return
        w.restore(buf.toString('utf8', start + 8, start + len), buf.readDoubleLE(start), now)
      },
    })
    if (res.tailAt >= 0 || res.damaged.length > 0) {
      this.log.warn({ file: this.file, damaged: res.damaged.length, tailAt: res.tailAt }, 'deduplication log: dropped damaged or torn records')
    }
  }

  /** Writes the window's live keys to a new file that replaces the log (synchronously, durably). */
  rewrite(): void {
    const tmp = `${this.file}.tmp`
    let size = MAGIC.length
    for (const k of this.window.entries.keys()) size += RECORD_HEADER + 8 + Buffer.byteLength(k)
    const buf = Buffer.allocUnsafe(size)
    MAGIC.copy(buf, 0)
    let at = MAGIC.length
    for (const [k, exp] of this.window.entries) {
      const n = buf.write(k, at + RECORD_HEADER + 8, 'utf8')
      buf.writeDoubleLE(exp, at + RECORD_HEADER)
      sealRecord(buf, at, 8 + n)
      at += RECORD_HEADER + 8 + n
    }
    const fd = openSync(tmp, 'w')
    try {
      for (let done = 0; done < size; ) done += writeSync(fd, buf, done, size - done)
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    fsyncDir(path.dirname(this.file))
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = openSync(this.file, 'r+')
    this.pos = size
    this.records = this.window.entries.size
  }

  /**
   * Appends a key that entered the window, to be written once every store in `gate` is durable up
   * to its current append; durable with the batch after that (lastSeq / addWaiter).
   */
  append(key: string, expiresAt: number, gate: readonly DurableLog[]): void {
    if (this.closed || this.failure !== null) return
    const seq = ++this.lastSeq
    let waits = false
    for (const s of gate) if (s.durableSeq < s.lastSeq && s !== this) waits = true
    if (!waits && this.gatedHead === this.gated.length) return this.encode(key, expiresAt, seq)
    const g: GatedKey = { key, expiresAt, seq, stores: [], seqs: [] }
    for (const s of gate) {
      if (s.durableSeq >= s.lastSeq || s === this) continue
      g.stores.push(s)
      g.seqs.push(s.lastSeq)
      s.addWaiter(this)
    }
    this.gated.push(g)
  }

  /** DurableWaiter: a store some gated key waits for has synced a batch. */
  storeDurable(): void {
    this.releaseGated()
  }

  /** DurableWaiter: such a store failed: its messages are not durable, their keys are forgotten. */
  storeFailed(store: DurableLog): void {
    for (let i = this.gatedHead; i < this.gated.length; i++) {
      const g = this.gated[i]
      const at = g.stores.indexOf(store)
      if (at < 0) continue
      // nothing to wait for any more, and nothing to write: the publisher was nacked and may retry
      g.stores.length = 0
      g.seqs.length = 0
      if (this.window.entries.get(g.key) === g.expiresAt) this.window.entries.delete(g.key)
      g.key = ''
    }
    this.releaseGated()
  }

  private releaseGated(): void {
    const q = this.gated
    while (this.gatedHead < q.length) {
      const g = q[this.gatedHead]
      let waiting: DurableLog | null = null
      for (let i = 0; i < g.stores.length; i++) if (g.stores[i].durableSeq < g.seqs[i]) waiting = g.stores[i]
      if (waiting !== null) {
        waiting.addWaiter(this)
        break
      }
      this.gatedHead++
      if (g.key === '') this.encodedSeq = g.seq
      else this.encode(g.key, g.expiresAt, g.seq)
    }
    if (this.gatedHead === q.length) {
      q.length = 0
      this.gatedHead = 0
    }
    this.schedule()
  }

  private schedule(): void {
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushLater)
    }
  }

  private encode(key: string, expiresAt: number, seq: number): void {
    const need = RECORD_HEADER + 8 + Buffer.byteLength(key)
    if (this.cur.length - this.len < need) {
      const grown = Buffer.allocUnsafe(Math.max(this.cur.length * 2, this.len + need))
      this.cur.copy(grown, 0, 0, this.len)
      this.cur = grown
    }
    const at = this.len
    this.cur.writeDoubleLE(expiresAt, at + RECORD_HEADER)
    const n = this.cur.write(key, at + RECORD_HEADER + 8, 'utf8')
    sealRecord(this.cur, at, 8 + n)
    this.len += RECORD_HEADER + 8 + n
    this.encodedSeq = seq
    this.records++
    this.schedule()
  }

  addWaiter(w: DurableWaiter): void {
    this.waiters.add(w)
  }

  private flush(): void {
    if (this.flushing || this.closed || this.failure !== null) return
    if (this.len === 0) {
      // only forgotten keys since the last batch: nothing to write, nothing to wait for
      if (this.encodedSeq > this.durableSeq) this.done(this.encodedSeq)
      return
    }
    // (not while keys wait for their gate: the window holds them already, the file must not yet)
    if (this.gatedHead === this.gated.length && this.records > Math.max(MIN_COMPACT, 2 * this.window.settings.size)) {
      // the window holds every appended key that is still live: rewriting it makes them all durable
      try {
        this.rewrite()
      } catch (err) {
        return this.fail(err as Error)
      }
      this.len = 0
      return this.done(this.encodedSeq)
    }
    this.flying = this.cur
    this.flyLen = this.len
    this.flyOff = 0
    this.cur = Buffer.allocUnsafe(this.cur.length)
    this.len = 0
    this.flushSeq = this.encodedSeq
    this.flushing = true
    write(this.fd, this.flying, 0, this.flyLen, this.pos, this.onWritten)
  }

  private written(err: Error | null, n: number): void {
    if (err !== null) return this.fail(err)
    this.flyOff += n
    this.pos += n
    if (this.flyOff < this.flyLen) {
      write(this.fd, this.flying!, this.flyOff, this.flyLen - this.flyOff, this.pos, this.onWritten)
      return
    }
    fdatasync(this.fd, this.onSynced)
  }

  private synced(err: Error | null): void {
    if (err !== null) return this.fail(err)
    this.flushing = false
    this.flying = null
    this.done(this.flushSeq)
    if (this.closeWait !== null) this.closeWait()
    else if (this.len > 0) this.flush()
  }

  private done(seq: number): void {
    if (seq > this.durableSeq) this.durableSeq = seq
    this.waiters.durable(this, this.durableSeq)
  }

  private fail(err: Error): void {
    this.flushing = false
    this.failure = err
    this.log.error({ err, file: this.file }, 'deduplication log write failed; the window is kept in memory only')
    this.waiters.failed(this, err)
    if (this.closeWait !== null) this.closeWait()
  }

  /** Writes and syncs what is buffered, then closes the file (the window stays on disk). */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.flushing) await new Promise<void>((resolve) => (this.closeWait = resolve))
    this.closed = true
    // the stores are flushed at close as well: keys still at their gate go with them
    for (let i = this.gatedHead; i < this.gated.length; i++) {
      const g = this.gated[i]
      if (g.key !== '') this.encode(g.key, g.expiresAt, g.seq)
    }
    this.gated.length = 0
    this.gatedHead = 0
    try {
      if (this.failure === null && this.len > 0) {
        for (let done = 0; done < this.len; ) done += writeSync(this.fd, this.cur, done, this.len - done, this.pos + done)
        fdatasyncSync(this.fd)
        this.done(this.encodedSeq)
      }
    } finally {
      closeSync(this.fd)
    }
  }

  /** The exchange is gone: closes and deletes the file. */
  destroy(): void {
    this.closed = true
    // a write in flight goes to the unlinked file; its completion only updates counters
    if (!this.flushing) closeSync(this.fd)
    else this.closeWait = () => closeSync(this.fd)
    rmSync(this.file, { force: true })
  }
}
