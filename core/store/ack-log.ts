/**
 * Durable deletion for a segment log: one `acks.N` file per segment N holding the u32 offsets of
 * its records that were acked (or rejected, purged, expired, dropped), as LavinMQ's MessageStore
 * does. A segment whose records are all in its ack file is deleted by the owner, then its ack file.
 *
 * Acks need no fsync before anything is sent (basic.ack has no reply), so they are written once
 * per event-loop turn (one write per touched segment: survives kill -9, the page cache keeps it)
 * and fdatasync'd at most every `syncIntervalMs` (a power loss may bring back the last second of
 * acked messages once: at-least-once, as RabbitMQ's queue index journal).
 *
 * The same cadence persists the "delivered" watermark: the highest location ever handed to a
 * consumer. Delivery takes messages from the head in order, so every message at or below the
 * watermark was delivered at least once and comes back with redelivered=true after a restart.
 */
import { closeSync, existsSync, fdatasyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { FileHandle, fileBudget } from './file-budget.js'
import { crc32 } from './record-format.js'
import { fsyncDir, truncateFile } from './segment-recovery.js'
import { newLogStats, type LogStats } from './group-commit.js'

const DELIVERED_FILE = 'delivered'

/** File name of the ack file of segment `id`. */
export function ackFileName(id: number): string {
  return `acks.${String(id).padStart(10, '0')}`
}

/** Where and how an AckLog writes. */
export interface AckLogOptions {
  dir: string
  log: Logger
  /** fdatasync ack files at all (default true) */
  sync?: boolean
  /** longest time an ack stays written but not synced (default 1000 ms) */
  syncIntervalMs?: number
  /** appends count acks here, writes and syncs the ack files' */
  stats?: LogStats
}

interface AckFile {
  id: number
  /** opened on demand within the process-wide budget (file-budget.ts) */
  h: FileHandle
  /** offsets waiting for the next write, little-endian u32 each */
  buf: Buffer
  n: number
  /** written since the last sync */
  dirty: boolean
  /** its segment is gone (remove()) */
  removed: boolean
}

/** The ack files and delivered watermark of one segment log (see the file comment). */
export class AckLog {
  readonly stats: LogStats
  private readonly files = new Map<number, AckFile>()
  private last: AckFile | null = null
  private readonly pending: AckFile[] = []
  private delivered = -1
  private deliveredWritten = -1
  private deliveredFile: FileHandle | null = null
  private deliveredDirty = false
  private readonly deliveredBuf = Buffer.alloc(16)
  private scheduled = false
  private syncTimer: NodeJS.Timeout | null = null
  private dirDirty = false
  private readonly dir: string
  private readonly log: Logger
  private readonly doSync: boolean
  private readonly interval: number
  private closed = false
  // timer callbacks: a failing write must not take the process down; the acks stay pending and
  // are retried (a duplicate entry after a partial write is harmless)
  private readonly flushLater = (): void => {
    this.scheduled = false
    if (this.closed) return
    try {
      this.flush()
    } catch (err) {
      this.log.error({ err, dir: this.dir }, 'writing acks failed; will retry')
    }
  }
  private readonly syncLater = (): void => {
    this.syncTimer = null
    if (this.closed) return
    try {
      this.syncNow()
    } catch (err) {
      this.log.error({ err, dir: this.dir }, 'syncing acks failed')
    }
  }

  constructor(o: AckLogOptions) {
    this.dir = o.dir
    this.log = o.log
    this.doSync = o.sync ?? true
    this.interval = o.syncIntervalMs ?? 1000
    this.stats = o.stats ?? newLogStats()
  }

  /** Segment ids that have an ack file on disk. */
  ids(): number[] {
    const out: number[] = []
    for (const f of readdirSync(this.dir)) {
      const m = /^acks\.(\d{10})$/.exec(f)
      if (m !== null) out.push(Number(m[1]))
    }
    return out.sort((a, b) => a - b)
  }

  /** The acked offsets of segment `id`, ascending. A torn last entry (a partial u32) is cut off. */
  load(id: number): Uint32Array {
    const file = path.join(this.dir, ackFileName(id))
    if (!existsSync(file)) return new Uint32Array(0)
    const data = readFileSync(file)
    const n = data.length >>> 2
    if (n * 4 !== data.length) {
      this.log.warn({ file, bytes: data.length - n * 4 }, 'truncated a torn ack entry')
      truncateFile(file, n * 4)
    }
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i++) out[i] = data.readUInt32LE(i * 4)
    return out.sort()
  }

  /** Records that the record at `offset` of segment `id` is gone. Written on the next turn. */
  ack(id: number, offset: number): void {
    let f = this.last
    if (f === null || f.id !== id) {
      f = this.files.get(id) ?? this.openFile(id)
      this.last = f
    }
    if (f.n === f.buf.length) {
      const bigger = Buffer.allocUnsafe(f.buf.length * 2)
      f.buf.copy(bigger, 0, 0, f.n)
      f.buf = bigger
    }
    if (f.n === 0) this.pending.push(f)
    f.buf.writeUInt32LE(offset, f.n)
    f.n += 4
    this.stats.appends++
    this.schedule()
  }

  private openFile(id: number): AckFile {
    const f: AckFile = { id, h: new FileHandle(path.join(this.dir, ackFileName(id)), 'a'), buf: Buffer.allocUnsafe(256), n: 0, dirty: false, removed: false }
    this.files.set(id, f)
    this.dirDirty = true
    return f
  }

  /** Raises the delivered watermark to `loc` (ignored when lower). */
  setDelivered(loc: number): void {
    if (loc <= this.delivered) return
    this.delivered = loc
    this.schedule()
  }

  /** The persisted delivered watermark, or -1. */
  loadDelivered(): number {
    const file = path.join(this.dir, DELIVERED_FILE)
    if (!existsSync(file)) return -1
    const b = readFileSync(file)
    if (b.length < 12 || crc32(b, 0, 8) !== b.readUInt32LE(8)) return -1
    this.delivered = this.deliveredWritten = b.readDoubleLE(0)
    return this.delivered
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.flushLater)
  }

  /** Writes every pending ack and the watermark now (normally called on the next turn). */
  flush(): void {
    while (this.pending.length > 0) {
      const f = this.pending[this.pending.length - 1]
      if (!f.removed && f.n > 0) {
        const fd = fileBudget.fd(f.h)
        let done = 0
        while (done < f.n) done += writeSync(fd, f.buf, done, f.n - done)
        f.n = 0
        f.dirty = true
        this.stats.writes++
        if (f.buf.length > 64 * 1024) f.buf = Buffer.allocUnsafe(256) // a burst is over: shrink
      }
      this.pending.pop()
    }
    if (this.delivered !== this.deliveredWritten) this.writeDelivered()
    if (this.doSync && this.syncTimer === null) {
      this.syncTimer = setTimeout(this.syncLater, this.interval)
      this.syncTimer.unref()
    }
  }

  private writeDelivered(): void {
    const b = this.deliveredBuf
    b.writeDoubleLE(this.delivered, 0)
    b.writeUInt32LE(crc32(b, 0, 8), 8)
    let h = this.deliveredFile
    if (h === null) {
      h = this.deliveredFile = new FileHandle(path.join(this.dir, DELIVERED_FILE), 'r+')
      if (!existsSync(h.file)) fileBudget.adopt(h, openSync(h.file, 'w'))
    }
    // 16 bytes in place at offset 0: within one sector, so a crash leaves the old or the new value
    writeSync(fileBudget.fd(h), b, 0, b.length, 0)
    this.deliveredWritten = this.delivered
    this.deliveredDirty = true
  }

  /** fdatasyncs every ack file written since the last sync. */
  syncNow(): void {
    if (this.syncTimer !== null) clearTimeout(this.syncTimer)
    this.syncTimer = null
    if (!this.doSync) return
    for (const f of this.files.values()) {
      if (!f.dirty) continue
      // a file closed by the budget since its write is reopened: fdatasync flushes the inode's pages
      fdatasyncSync(fileBudget.fd(f.h))
      f.dirty = false
      this.stats.syncs++
    }
    if (this.deliveredDirty && this.deliveredFile !== null) {
      fdatasyncSync(fileBudget.fd(this.deliveredFile))
      this.deliveredDirty = false
      this.stats.syncs++
    }
    if (this.dirDirty) fsyncDir(this.dir)
    this.dirDirty = false
  }

  /** Forgets segment `id` and deletes its ack file (after the owner deleted the segment file). */
  remove(id: number): void {
    const f = this.files.get(id)
    if (f !== undefined) {
      fileBudget.close(f.h)
      f.removed = true
      f.n = 0
      this.files.delete(id)
      if (this.last === f) this.last = null
    }
    const file = path.join(this.dir, ackFileName(id))
    if (existsSync(file)) unlinkSync(file)
  }

  /** Flushes, syncs and closes every file. */
  close(): void {
    if (this.closed) return
    this.flush()
    this.syncNow()
    this.closed = true
    for (const f of this.files.values()) fileBudget.close(f.h)
    this.files.clear()
    this.last = null
    if (this.deliveredFile !== null) fileBudget.close(this.deliveredFile)
    this.deliveredFile = null
  }
}
