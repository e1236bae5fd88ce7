/**
 * The sparse offset index of one stream segment, kept in a file beside it (`msgs.0000000001.idx`):
 * one 16-byte entry per INDEX_EVERY bytes of records, `[offset − segment's first offset: u32]
 * [record position in the file: u32][timestamp ms: f64]`, little-endian. A reader that seeks reads
 * the file and starts from the nearest entry at or before its target, then walks at most
 * INDEX_EVERY bytes of records; nothing of it stays in memory (Kafka's `.index`/`.timeindex`,
 * osiris's `.index` files do the same). Entries not yet written wait in a small buffer: the file may
 * lag behind a crash, so recovery rebuilds it from the segment (stream-log.ts).
 */
import { closeSync, existsSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'

/** Bytes of records between two index entries. */
export const INDEX_EVERY = 4096
export const ENTRY = 16
/** Entries buffered before they are appended to the file. */
const PENDING_MAX = 256

export function indexFileOf(segmentFile: string): string {
  return `${segmentFile}.idx`
}

/** The index being written for the active segment (or rebuilt at recovery). */
export class IndexWriter {
  private pending = Buffer.allocUnsafe(ENTRY * PENDING_MAX)
  private n = 0
  /** entries written to the file or pending */
  entries = 0
  /** file position of the record the last entry names (-1: none yet) */
  lastPos = -INDEX_EVERY

  constructor(readonly file: string) {}

  /** Called for every record in order; adds an entry when INDEX_EVERY bytes passed since the last one. */
  record(rel: number, pos: number, ts: number): void {
    if (pos - this.lastPos < INDEX_EVERY) return
    this.lastPos = pos
    const at = this.n * ENTRY
    this.pending.writeUInt32LE(rel, at)
    this.pending.writeUInt32LE(pos, at + 4)
    this.pending.writeDoubleLE(ts, at + 8)
    this.n++
    this.entries++
    if (this.n === PENDING_MAX) this.flush()
  }

  /** Appends the pending entries to the file. */
  flush(): void {
    if (this.n === 0) return
    const fd = openSync(this.file, 'a')
    try {
      writeSync(fd, this.pending, 0, this.n * ENTRY)
    } finally {
      closeSync(fd)
    }
    this.n = 0
  }

  /** Pending entries (not in the file yet), for lookups in the active segment. */
  pendingView(): Buffer {
    return this.pending.subarray(0, this.n * ENTRY)
  }

  /** Recovery: true when the file on disk already holds exactly these entries. */
  fileMatches(): boolean {
    return existsSync(this.file) && statSync(this.file).size === this.entries * ENTRY
  }

  /** Recovery: rewrites the file from the entries collected (kept whole in `pending`). */
  rewrite(all: Buffer): void {
    if (existsSync(this.file)) unlinkSync(this.file)
    const fd = openSync(this.file, 'w')
    try {
      writeSync(fd, all, 0, all.length)
    } finally {
      closeSync(fd)
    }
  }
}

/** Reads the entries of a segment's index file (plus `pending`, for the active segment). */
export function readIndex(file: string, pending: Buffer | null): Buffer {
  let disk: Buffer
  try {
    disk = readFileSync(file)
  } catch {
    disk = Buffer.alloc(0)
  }
  disk = disk.subarray(0, disk.length - (disk.length % ENTRY))
  return pending === null || pending.length === 0 ? disk : Buffer.concat([disk, pending])
}

/**
 * The last entry at or before a target: by relative offset (`byTime` false) or by timestamp
 * strictly before `target` (`byTime` true). Returns the file position to start walking from, or
 * -1 when the target is before every entry.
 */
export function findEntry(idx: Buffer, target: number, byTime: boolean): number {
  let lo = 0
  let hi = idx.length / ENTRY - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = byTime ? idx.readDoubleLE(mid * ENTRY + 8) : idx.readUInt32LE(mid * ENTRY)
    if (byTime ? v < target : v <= target) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found < 0 ? -1 : idx.readUInt32LE(found * ENTRY + 4)
}
