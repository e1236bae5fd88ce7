/**
 * Boot-time recovery of one segment file: header check, record scan, torn-tail truncation and a
 * warning per damaged range. Kept apart from the append path (segment-log.ts).
 */
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync } from 'node:fs'
import type { Logger } from 'pino'
import { scanRecords, type RecordVisitor } from './record-format.js'

/** Segment files start with 'WRNS' and a format version, so a foreign or future file is refused. */
export const SEGMENT_MAGIC = Buffer.from('WRNS\u0001\u0000\u0000\u0000', 'latin1')
/** Bytes of the segment file header; the first record is at this offset. */
export const SEGMENT_HEADER = SEGMENT_MAGIC.length

/** Receives every valid record of a log at open, oldest first. */
export interface LogRecordVisitor {
  /** `loc` as returned by append; payload at buf[start, start + len), valid during the call only */
  record(loc: number, buf: Buffer, start: number, len: number): void
}

/** What opening a log found. */
export interface LogRecovery {
  segments: number
  records: number
  /** bytes in the recovered segment files */
  bytes: number
  /** ranges of damaged records skipped (each reported as a warning) */
  damagedRanges: number
  damagedBytes: number
  /** bytes cut from torn tails */
  truncatedBytes: number
}

/** Reads a whole file into `scratch.buf` (replaced when too small); returns a view of its bytes. */
export function readWhole(file: string, scratch: { buf: Buffer }): Buffer {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (scratch.buf.length < size) scratch.buf = Buffer.allocUnsafe(size)
    const buf = scratch.buf
    let n = 0
    while (n < size) {
      const r = readSync(fd, buf, n, size - n, n)
      if (r === 0) break
      n += r
    }
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/** fsync of a directory, so that file creations, renames and deletions in it survive a power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Cuts a file at `size` and syncs it. */
export function truncateFile(file: string, size: number): void {
  const fd = openSync(file, 'r+')
  try {
    ftruncateSync(fd, size)
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

class LocVisitor implements RecordVisitor {
  base = 0
  target: LogRecordVisitor | undefined = undefined
  record(buf: Buffer, start: number, len: number, at: number): void {
    this.target?.record(this.base + at, buf, start, len)
  }
}
const adapter = new LocVisitor()

/**
 * Recovers segment `id` whose bytes are `data`. Returns the size the segment has afterwards, or
 * -1 when it is not usable: an empty file (a crash right after creating it; deleted) or a file
 * without a Warren header (left alone for inspection, warned).
 */
export function recoverSegment(
  file: string,
  id: number,
  data: Buffer,
  maxRecord: number,
  visitor: LogRecordVisitor | undefined,
  r: LogRecovery,
  log: Logger,
): number {
  if (data.length <= SEGMENT_HEADER && SEGMENT_MAGIC.subarray(0, data.length).equals(data)) {
    // created (and maybe its header written) but no record ever reached it
    unlinkSync(file)
    return -1
  }
  if (data.length < SEGMENT_HEADER || !data.subarray(0, SEGMENT_HEADER).equals(SEGMENT_MAGIC)) {
    log.warn({ file }, 'not a Warren segment file (bad header): skipped, its messages are not recovered')
    return -1
  }
  adapter.base = id * 2 ** 32
  adapter.target = visitor
  const res = scanRecords(data, SEGMENT_HEADER, data.length, maxRecord, adapter)
  adapter.target = undefined
  for (const [from, to] of res.damaged) {
    // RabbitMQ and LavinMQ stop at the first bad record; skipping it saves the rest of the queue
    log.warn({ file, from, to, bytes: to - from }, 'skipped damaged records (bad length or CRC) in a segment')
    r.damagedRanges++
    r.damagedBytes += to - from
  }
  let size = data.length
  if (res.tailAt >= 0) {
    // a write cut short by a crash: it was never confirmed, so dropping it loses nothing promised
    log.warn({ file, at: res.tailAt, bytes: size - res.tailAt }, 'truncated a torn tail (partial or corrupt last record)')
    truncateFile(file, res.tailAt)
    r.truncatedBytes += size - res.tailAt
    size = res.tailAt
  }
  r.segments++
  r.records += res.records
  r.bytes += size
  return size
}
