/**
 * Delivery counts of a durable store's messages (how many times each was returned to the queue),
 * so that x-delivery-count and x-delivery-limit keep counting across a restart. RabbitMQ's
 * quorum queues keep the count in the Raft log; here a message record is immutable, so each
 * return appends a 16-byte entry `[loc f64][count u32][crc32 u32]` to a `counts` file in the
 * store directory, and the last entry per location wins at boot.
 *
 * Entries are written once per event-loop turn (like acks: a kill -9 keeps them, the page cache
 * has them) and fdatasync'd only at close: a power loss may forget the last returns, which can
 * only let a message be delivered more often, never lose it. The file is rewritten with the live
 * entries only when it holds mostly dead ones, so it stays proportional to the returned messages
 * still in the queue.
 */
import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { FileHandle, fileBudget } from './file-budget.js'
import { crc32 } from './record-format.js'

const FILE = 'counts'
const ENTRY = 16
/** rewrite the file once it holds this many entries more than twice the live ones */
const COMPACT_SLACK = 4096

/** The delivery-count file of one store (see the file comment). */
export class DeliveryCounts {
  /** live counts by message location */
  readonly live = new Map<number, number>()
  /** the append handle, opened on demand within the process-wide budget (file-budget.ts) */
  private readonly h: FileHandle
  private entries = 0
  private buf = Buffer.allocUnsafe(256)
  private n = 0
  private scheduled = false
  private dirty = false
  private closed = false
  /** load() found a file: recovered() rewrites it (a store that never returned a message has none) */
  private existed = false
  private readonly file: string
  private readonly flushLater = (): void => {
    this.scheduled = false
    if (this.closed) return
    try {
      this.flush()
    } catch (err) {
      // the counts stay buffered and are retried; a count lost this way only undercounts returns
      this.log.error({ err, file: this.file }, 'writing delivery counts failed')
    }
  }

  constructor(dir: string, private readonly log: Logger) {
    this.file = path.join(dir, FILE)
    this.h = new FileHandle(this.file, 'a')
  }

  /** Every count in the file (last entry per location wins); entries with a bad CRC are skipped. */
  load(): Map<number, number> {
    const out = new Map<number, number>()
    if (!existsSync(this.file)) return out
    this.existed = true
    const b = readFileSync(this.file)
    let bad = 0
    for (let at = 0; at + ENTRY <= b.length; at += ENTRY) {
      if (crc32(b, at, at + 12) !== b.readUInt32LE(at + 12)) {
        bad++
        continue
      }
      out.set(b.readDoubleLE(at), b.readUInt32LE(at + 8))
    }
    if (bad > 0 || b.length % ENTRY !== 0) this.log.warn({ file: this.file, bad }, 'skipped damaged delivery-count entries')
    return out
  }

  /** Keeps the recovered counts of live messages and rewrites the file with only those. */
  recovered(live: Map<number, number>): void {
    for (const [loc, n] of live) this.live.set(loc, n)
    if (this.existed) this.rewrite()
  }

  /** Records that the message at `loc` was returned `count` times in all. */
  set(loc: number, count: number): void {
    this.live.set(loc, count)
    if (this.n + ENTRY > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2)
      this.buf.copy(bigger, 0, 0, this.n)
      this.buf = bigger
    }
    const b = this.buf
    b.writeDoubleLE(loc, this.n)
    b.writeUInt32LE(count, this.n + 8)
    b.writeUInt32LE(crc32(b, this.n, this.n + 12), this.n + 12)
    this.n += ENTRY
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushLater)
    }
  }

  /** The message at `loc` left the store: its count is no longer needed. */
  delete(loc: number): void {
    this.live.delete(loc)
  }

  /** Writes the buffered entries (normally on the next turn), compacting a mostly dead file. */
  flush(): void {
    if (this.n === 0) return
    if (this.entries + this.n / ENTRY > 2 * this.live.size + COMPACT_SLACK) {
      this.n = 0
      this.rewrite()
      return
    }
    const fd = fileBudget.fd(this.h)
    let done = 0
    while (done < this.n) done += writeSync(fd, this.buf, done, this.n - done)
    this.entries += this.n / ENTRY
    this.n = 0
    this.dirty = true
    if (this.buf.length > 64 * 1024) this.buf = Buffer.allocUnsafe(256)
  }

  /** Replaces the file with the live counts (write a temp file, then rename over: atomic). */
  private rewrite(): void {
    fileBudget.close(this.h)
    const b = Buffer.allocUnsafe(this.live.size * ENTRY)
    let at = 0
    for (const [loc, n] of this.live) {
      b.writeDoubleLE(loc, at)
      b.writeUInt32LE(n, at + 8)
      b.writeUInt32LE(crc32(b, at, at + 12), at + 12)
      at += ENTRY
    }
    const tmp = `${this.file}.tmp`
    const fd = openSync(tmp, 'w')
    try {
      writeSync(fd, b, 0, b.length, 0)
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    this.entries = this.live.size
    this.dirty = false
  }

  /** Writes, syncs and closes the file. */
  close(): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    if (this.dirty) fdatasyncSync(fileBudget.fd(this.h))
    fileBudget.close(this.h)
  }
}
