/**
 * The committed offsets of a stream's consumer groups (`x-stream-consumer-name`), kept on the server
 * as Kafka keeps `__consumer_offsets`: name → highest contiguously acknowledged offset. Commits
 * are coalesced and written at most every FLUSH_MS as one snapshot (a CRC-framed record,
 * store/record-format.ts) to `offsets.tmp`, fdatasync'd and renamed over `offsets`, so a crash
 * leaves either the previous snapshot or the new one, never a torn file. A kill -9 can lose the
 * commits of the last FLUSH_MS: those messages are delivered again (at least once, as Kafka's
 * auto-commit).
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { RECORD_HEADER, isValidRecord, sealRecord } from '../store/record-format.js'
import { fsyncDir } from '../store/segment-recovery.js'

const FLUSH_MS = 100
const FILE = 'offsets'

export class GroupOffsets {
  /** group name → committed offset */
  readonly committed = new Map<string, number>()
  /** raised by every commit that moves an offset (a replicated stream's leader ships them when it changes) */
  version = 0
  private timer: NodeJS.Timeout | null = null
  private closed = false

  constructor(private readonly dir: string, private readonly log: Logger, private readonly sync: boolean) {
    this.load()
  }

  private load(): void {
    let data: Buffer
    try {
      data = readFileSync(path.join(this.dir, FILE))
    } catch {
      return
    }
    if (!isValidRecord(data, 0, data.length, data.length)) {
      this.log.warn({ dir: this.dir }, 'stream consumer offsets file is damaged: groups start over')
      return
    }
    const json = JSON.parse(data.toString('utf8', RECORD_HEADER, RECORD_HEADER + data.readUInt32LE(0))) as [string, number][]
    for (const [name, offset] of json) this.committed.set(name, offset)
  }

  /** Records that group `name` has processed everything up to `offset` (never moves back). */
  commit(name: string, offset: number): void {
    const cur = this.committed.get(name)
    if (cur !== undefined && cur >= offset) return
    this.committed.set(name, offset)
    this.version++
    if (this.timer === null && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.flush()
      }, FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Writes the snapshot now (synchronously: a handful of bytes, at most every FLUSH_MS). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const json = Buffer.from(JSON.stringify([...this.committed]), 'utf8')
    const rec = Buffer.allocUnsafe(RECORD_HEADER + json.length)
    json.copy(rec, RECORD_HEADER)
    sealRecord(rec, 0, json.length)
    const tmp = path.join(this.dir, `${FILE}.tmp`)
    try {
      const fd = openSync(tmp, 'w')
      try {
        writeSync(fd, rec, 0, rec.length, 0)
        if (this.sync) fdatasyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, path.join(this.dir, FILE))
      if (this.sync) fsyncDir(this.dir)
    } catch (err) {
      this.log.error({ err, dir: this.dir }, 'cannot write stream consumer offsets')
    }
  }

  /** Flushes pending commits and stops (the stream is closing). */
  close(): void {
    if (this.closed) return
    const pending = this.timer !== null
    this.closed = true
    if (pending) this.flush()
  }

  /** The stream is deleted: nothing more is written. */
  discard(): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
