/**
 * A reader's place in a stream: the next offset to deliver and, when it reads from disk, the
 * segment and file position of that record. Readers at the tail take messages from the stream's
 * tail cache (no disk read, no decode). Readers behind it read the segment file in READ_CHUNK
 * pieces into their own buffer (allocated once, reused), so they neither share a read buffer with
 * each other nor touch the writer's batch; the page cache serves repeated reads. Records are
 * CRC-checked as they are read.
 */
import type { Message } from '../message.js'
import { RECORD_HEADER, crc32 } from '../store/record-format.js'
import { CorruptRecordError, SEGMENT_HEADER } from '../store/segment-log.js'
import { StreamLog, TS_AT, type StreamSegment } from './stream-log.js'

const READ_CHUNK = 256 * 1024

export class StreamReader {
  /** next offset to deliver */
  next: number
  /** stream position after the last message read (for lag in bytes) */
  lastEnd = 0
  /** record timestamp of the last message read (what a replica stores it with) */
  lastTs = 0
  /** segment of the record at `pos`, or null: find it through the index */
  private seg: StreamSegment | null = null
  private pos = 0
  // the record last found by record(): payload at rBuf[rAt, rAt + rLen) (fields, not an object per record)
  private rBuf: Buffer = Buffer.alloc(0)
  private rAt = 0
  private rLen = 0
  private buf: Buffer | null = null
  private bufSeg = -1
  private bufPos = 0
  private bufLen = 0

  constructor(private readonly stream: StreamLog, start: number) {
    this.next = start
  }

  /** Moves to `offset` (clamped to what the stream holds). */
  seek(offset: number): void {
    this.next = offset
    this.seg = null
  }

  /** Frees the read buffer (the reader caught up with the tail, or went away). */
  release(): void {
    this.buf = null
    this.bufSeg = -1
  }

  /** The next message, or undefined at the end of the stream. Advances `next`. */
  read(): Message | undefined {
    const s = this.stream
    if (this.next < s.firstOffset) this.seek(s.firstOffset)
    if (this.next >= s.nextOffset) return undefined
    const hit = s.cached(this.next)
    if (hit !== undefined) {
      this.lastEnd = s.cachedEnd(this.next)
      this.lastTs = s.cachedTs(this.next)
      this.next++
      // the file position is stale now; a reader back at the tail needs no buffer
      if (this.seg !== null) {
        this.seg = null
        this.release()
      }
      return hit
    }
    return this.readDisk()
  }

  private readDisk(): Message | undefined {
    const s = this.stream
    const files = s.files
    for (;;) {
      let seg = this.seg
      // a segment that retention deleted under the reader: find the record again
      if (seg === null || seg.first < s.firstOffset) {
        // first read, or back from the tail cache: find the record through the sparse index
        const found = s.segmentOf(this.next)
        if (found === undefined) return this.skipGap()
        seg = this.seg = found
        this.pos = s.seekPos(seg, this.next)
      }
      if (this.pos >= seg.bytes) {
        const nextSeg = s.segments[s.segments.indexOf(seg) + 1]
        if (nextSeg === undefined) return undefined
        this.seg = nextSeg
        this.pos = SEGMENT_HEADER
        continue
      }
      this.record(files, seg.id)
      const buf = this.rBuf
      const at = this.rAt
      const len = this.rLen
      const offset = buf.readDoubleLE(at)
      const end = seg.startPos + this.pos + RECORD_HEADER + len - SEGMENT_HEADER
      this.pos += RECORD_HEADER + len
      if (offset < this.next) continue
      this.next = offset + 1
      this.lastEnd = end
      this.lastTs = buf.readDoubleLE(at + TS_AT)
      return StreamLog.decode(buf, at, len)
    }
  }

  /** No segment holds `next` (damaged records were skipped at recovery): go on after the gap. */
  private skipGap(): Message | undefined {
    for (const x of this.stream.segments) {
      if (x.first > this.next) {
        this.next = x.first
        return this.read()
      }
    }
    return undefined
  }

  /** The payload of the record at this.pos: from this reader's buffer, refilled as needed. */
  private record(files: StreamLog['files'], segId: number): void {
    const { written } = files.segmentExtent(segId)
    if (this.pos >= written) {
      // still in the writer's batch (not in the file yet): read it from there
      const p = files.view(segId * 2 ** 32 + this.pos)
      this.rBuf = p
      this.rAt = 0
      this.rLen = p.length
      return
    }
    let b = this.buf
    if (b === null) b = this.buf = Buffer.allocUnsafe(READ_CHUNK)
    let at = this.pos - this.bufPos
    if (this.bufSeg !== segId || at < 0 || at + RECORD_HEADER > this.bufLen || at + RECORD_HEADER + b.readUInt32LE(at) > this.bufLen) {
      this.fill(files, segId, b)
      at = 0
      const need = this.bufLen >= RECORD_HEADER ? RECORD_HEADER + b.readUInt32LE(0) : 0
      if (need > this.bufLen) {
        if (need > b.length) {
          // a record bigger than the chunk: read it whole into its own buffer
          const big = Buffer.allocUnsafe(need)
          const n = files.readAt(segId, this.pos, big, 0, need)
          return this.checked(big, 0, n, segId)
        }
        throw new CorruptRecordError(`truncated stream record at ${segId}:${this.pos} in ${this.stream.dir}`)
      }
    }
    this.checked(b, at, this.bufLen, segId)
  }

  private fill(files: StreamLog['files'], segId: number, b: Buffer): void {
    this.bufSeg = segId
    this.bufPos = this.pos
    this.bufLen = files.readAt(segId, this.pos, b, 0, b.length)
  }

  private checked(b: Buffer, at: number, avail: number, segId: number): void {
    const len = avail - at >= RECORD_HEADER ? b.readUInt32LE(at) : -1
    const start = at + RECORD_HEADER
    if (len <= 0 || start + len > avail || crc32(b, start, start + len) !== b.readUInt32LE(at + 4)) {
      throw new CorruptRecordError(`bad stream record at ${segId}:${this.pos} in ${this.stream.dir}`)
    }
    this.rBuf = b
    this.rAt = start
    this.rLen = len
  }
}
