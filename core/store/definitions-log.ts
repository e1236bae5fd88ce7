/**
 * A durable key → JSON value map kept as an append-only log of CRC-framed records
 * (record-format.ts): `{"k":key,"v":value}` to set, `{"k":key,"d":1}` to delete. Replayed at
 * open; rewritten (new file, fsync, atomic rename, fsync of the directory) when the file grows
 * past `compactRatio` times the size of its live records. LavinMQ keeps its definitions the same
 * way (definitions.amqp, an append-only log of declare/bind frames compacted at boot); the
 * warren-specific records (exchanges, queues, bindings) are in definitions.ts.
 *
 * Definitions change rarely, so each change is written at once (a process crash cannot lose it)
 * and fdatasync'd on the next turn of the event loop, shared by every change of that turn; call
 * sync() where a reply must wait for the disk.
 */
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { newLogStats, type LogStats } from './group-commit.js'
import { RECORD_HEADER, scanRecords, sealRecord, type RecordVisitor } from './record-format.js'
import { fsyncDir, readWhole, truncateFile } from './segment-recovery.js'

/** Definitions files start with 'WRND' and a format version. */
const MAGIC = Buffer.from('WRND\u0001\u0000\u0000\u0000', 'latin1')
const MAX_RECORD = 64 * 1024 * 1024

/** Where and how a DefinitionsLog writes. */
export interface DefinitionsLogOptions {
  /** the log file, e.g. `<data>/definitions.log` */
  file: string
  log: Logger
  /** compact when the file exceeds this many times its live bytes (default 2) */
  compactRatio?: number
  /** never compact a file smaller than this (default 64 KiB) */
  compactMinBytes?: number
  /** fdatasync changes (default true) */
  sync?: boolean
  /** writes and syncs, for tests */
  stats?: LogStats
}

/** What open() found. */
export interface DefinitionsRecovery {
  records: number
  live: number
  damagedRanges: number
  truncatedBytes: number
  compacted: boolean
}

interface Entry {
  json: string
  /** bytes of its record in the file */
  size: number
}

/** A durable key → JSON map (see the file comment); open with DefinitionsLog.open. */
export class DefinitionsLog implements RecordVisitor {
  readonly stats: LogStats
  readonly recovery: DefinitionsRecovery = { records: 0, live: 0, damagedRanges: 0, truncatedBytes: 0, compacted: false }
  private readonly map = new Map<string, Entry>()
  private fd = -1
  private fileBytes = 0
  private liveRecordBytes = 0
  private dirty = false
  private scheduled = false
  private readonly ratio: number
  private readonly minBytes: number
  private readonly doSync: boolean
  private readonly syncLater = (): void => {
    this.scheduled = false
    try {
      this.sync()
    } catch (err) {
      // timer callback: log instead of crashing; the change is written, only its sync failed
      this.log.error({ err, file: this.file }, 'syncing the definitions log failed')
    }
  }

  private constructor(readonly file: string, private readonly log: Logger, o: DefinitionsLogOptions) {
    this.ratio = o.compactRatio ?? 2
    this.minBytes = o.compactMinBytes ?? 64 * 1024
    this.doSync = o.sync ?? true
    this.stats = o.stats ?? newLogStats()
  }

  /** Opens (or creates) the log and replays it; compacts it when it is mostly dead records. */
  static open(o: DefinitionsLogOptions): DefinitionsLog {
    const d = new DefinitionsLog(o.file, o.log, o)
    d.replay()
    d.fd = openSync(d.file, 'r+')
    if (d.needsCompaction()) {
      d.compact()
      d.recovery.compacted = true
    }
    return d
  }

  private replay(): void {
    if (!existsSync(this.file)) {
      mkdirSync(path.dirname(this.file), { recursive: true })
      this.writeFresh(this.file, MAGIC)
      if (this.doSync) fsyncDir(path.dirname(this.file))
      this.fileBytes = MAGIC.length
      return
    }
    const data = readWhole(this.file, { buf: Buffer.alloc(0) })
    if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
      if (data.length === 0 || MAGIC.subarray(0, data.length).equals(data)) {
        this.writeFresh(this.file, MAGIC) // a crash while creating it
        this.fileBytes = MAGIC.length
        return
      }
      throw new Error(`${this.file} is not a Warren definitions log (bad header)`)
    }
    const res = scanRecords(data, MAGIC.length, data.length, MAX_RECORD, this)
    this.recovery.records = res.records
    for (const [from, to] of res.damaged) {
      this.log.warn({ file: this.file, from, to }, 'skipped damaged definition records (bad CRC)')
      this.recovery.damagedRanges++
    }
    this.fileBytes = data.length
    if (res.tailAt >= 0) {
      this.log.warn({ file: this.file, at: res.tailAt, bytes: data.length - res.tailAt }, 'truncated a torn tail of the definitions log')
      truncateFile(this.file, res.tailAt)
      this.recovery.truncatedBytes = data.length - res.tailAt
      this.fileBytes = res.tailAt
    }
    this.recovery.live = this.map.size
  }

  /** @internal replay visitor */
  record(buf: Buffer, start: number, len: number): void {
    let rec: { k?: unknown; v?: unknown; d?: unknown }
    try {
      rec = JSON.parse(buf.toString('utf8', start, start + len)) as typeof rec
    } catch {
      this.log.warn({ file: this.file }, 'skipped a definition record that is not JSON')
      return
    }
    if (typeof rec.k !== 'string') return
    this.apply(rec.k, rec.d === undefined ? JSON.stringify(rec.v) : undefined, RECORD_HEADER + len)
  }

  private apply(key: string, json: string | undefined, size: number): void {
    const old = this.map.get(key)
    if (old !== undefined) {
      this.liveRecordBytes -= old.size
      this.map.delete(key) // a re-put moves the key to the end: replay order follows the last change
    }
    if (json === undefined) return
    this.map.set(key, { json, size })
    this.liveRecordBytes += size
  }

  /** Live entries. */
  get size(): number {
    return this.map.size
  }
  /** Bytes of the file. */
  get bytes(): number {
    return this.fileBytes
  }
  /** Bytes a compacted file would have. */
  get liveBytes(): number {
    return MAGIC.length + this.liveRecordBytes
  }

  /** The value of `key` (a fresh copy), or undefined. */
  get<V = unknown>(key: string): V | undefined {
    const e = this.map.get(key)
    return e === undefined ? undefined : (JSON.parse(e.json) as V)
  }

  has(key: string): boolean {
    return this.map.has(key)
  }

  /** Every live key, in order of their last change. */
  keys(): IterableIterator<string> {
    return this.map.keys()
  }

  /** Every live entry (fresh copies), in order of their last change. */
  *entries<V = unknown>(): IterableIterator<[string, V]> {
    for (const [k, e] of this.map) yield [k, JSON.parse(e.json) as V]
  }

  /** Sets `key`; returns false (and writes nothing) when the value is unchanged. */
  put(key: string, value: unknown): boolean {
    const json = JSON.stringify(value)
    if (json === undefined) throw new TypeError('definition values must be JSON-serialisable')
    if (this.map.get(key)?.json === json) return false
    const size = this.append(`{"k":${JSON.stringify(key)},"v":${json}}`)
    this.apply(key, json, size)
    this.afterWrite()
    return true
  }

  /** Deletes `key`; returns false when it was not there. */
  delete(key: string): boolean {
    if (!this.map.has(key)) return false
    const size = this.append(`{"k":${JSON.stringify(key)},"d":1}`)
    this.apply(key, undefined, size)
    this.afterWrite()
    return true
  }

  private append(payload: string): number {
    if (this.fd < 0) throw new Error(`definitions log ${this.file} is closed`)
    const len = Buffer.byteLength(payload)
    const buf = Buffer.allocUnsafe(RECORD_HEADER + len)
    buf.write(payload, RECORD_HEADER, 'utf8')
    sealRecord(buf, 0, len)
    let done = 0
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, this.fileBytes + done)
    this.fileBytes += buf.length
    this.stats.appends++
    this.stats.writes++
    this.stats.bytes += buf.length
    return buf.length
  }

  private afterWrite(): void {
    if (this.needsCompaction()) return this.compact()
    this.dirty = true
    if (this.doSync && !this.scheduled) {
      this.scheduled = true
      setImmediate(this.syncLater)
    }
  }

  private needsCompaction(): boolean {
    return this.fileBytes > this.minBytes && this.fileBytes > this.ratio * this.liveBytes
  }

  /** fdatasyncs the changes written so far (no-op when there are none). */
  sync(): void {
    if (!this.dirty || this.fd < 0) return
    this.dirty = false
    if (!this.doSync) return
    fdatasyncSync(this.fd)
    this.stats.syncs++
  }

  /**
   * Rewrites the file with only the live entries: to `<file>.compact`, fsync, rename over the
   * old file, fsync the directory (the rename is atomic: a crash leaves the old or the new file).
   */
  compact(): void {
    const parts: Buffer[] = [MAGIC]
    for (const [k, e] of this.map) {
      const payload = `{"k":${JSON.stringify(k)},"v":${e.json}}`
      const buf = Buffer.allocUnsafe(RECORD_HEADER + Buffer.byteLength(payload))
      buf.write(payload, RECORD_HEADER, 'utf8')
      sealRecord(buf, 0, buf.length - RECORD_HEADER)
      e.size = buf.length
      parts.push(buf)
    }
    const tmp = `${this.file}.compact`
    const all = Buffer.concat(parts)
    this.writeFresh(tmp, all)
    renameSync(tmp, this.file)
    if (this.doSync) fsyncDir(path.dirname(this.file))
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = openSync(this.file, 'r+')
    this.fileBytes = all.length
    this.dirty = false
    this.log.info({ file: this.file, bytes: all.length, entries: this.map.size }, 'compacted the definitions log')
  }

  private writeFresh(file: string, content: Buffer): void {
    const fd = openSync(file, 'w')
    try {
      let done = 0
      while (done < content.length) done += writeSync(fd, content, done, content.length - done, done)
      if (this.doSync) {
        fdatasyncSync(fd)
        this.stats.syncs++
      }
    } finally {
      closeSync(fd)
    }
    this.stats.writes++
  }

  /** Syncs and closes the file. */
  close(): void {
    this.sync()
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}
