/**
 * Turns a byte stream cut at arbitrary points into AMQP frames. A frame wholly inside a chunk is
 * handed over as (chunk, start, end) without copying; only a frame split across chunks is assembled
 * into a buffer of its exact size, except a large body frame, whose payload the handler may have
 * written straight to its final place (bodyTarget: the message block being assembled), so a large
 * message costs one copy from the socket chunks instead of two, or none when the connection reads
 * straight into the block (readTarget/targetFilled).
 */
import { ConnectionError, ReplyCode } from '../../core/errors.js'
import { FRAME_BODY, FRAME_END, FRAME_HEADER_SIZE, FRAME_OVERHEAD } from './constants.js'

export interface FrameHandler {
  /** payload is buf[start, end); buf may be kept (chunks are never reused). */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void
  /**
   * Optional: a body frame with `size` payload bytes on `channel` is split across chunks. The handler
   * may name where its payload goes (buf[offset, offset + size)); the reader then copies the bytes
   * there as they arrive and calls onFrame(3, channel, buf, offset, offset + size) once the frame,
   * frame-end byte included, is complete. null: the frame is assembled as usual.
   */
  bodyTarget?(channel: number, size: number): BodyTarget | null
}

export interface BodyTarget {
  buf: Buffer
  offset: number
}

/** Body frames at least this large are offered to bodyTarget when split across chunks. */
const BODY_TARGET_MIN = 1024

export class FrameError extends ConnectionError {
  constructor(detail: string) {
    super(ReplyCode.FRAME_ERROR, detail)
  }
}

export class FrameReader {
  /** largest accepted frame including header and frame-end (negotiated frame_max) */
  maxFrameSize: number
  /** set to stop parsing the rest of the current chunk (connection closing) */
  stopped = false
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_SIZE)
  private headerLen = 0
  private partial: Buffer | null = null
  private partialFilled = 0
  /** body frame being copied to a handler's buffer: target[targetPos, targetEnd) still to come */
  private target: Buffer | null = null
  private targetStart = 0
  private targetPos = 0
  private targetEnd = 0
  private targetChannel = 0

  constructor(
    private readonly handler: FrameHandler,
    maxFrameSize: number,
  ) {
    this.maxFrameSize = maxFrameSize
  }

  /** Feeds bytes; throws FrameError (501) for a malformed frame. */
  push(chunk: Buffer): void {
    let pos = 0
    const len = chunk.length
    if (this.headerLen > 0 || this.partial !== null || this.target !== null) {
      pos = this.continuePartial(chunk)
      if (pos < 0) return
    }
    const h = this.handler
    while (pos + FRAME_HEADER_SIZE <= len && !this.stopped) {
      const size = chunk.readUInt32BE(pos + 3)
      this.checkSize(size)
      const end = pos + FRAME_HEADER_SIZE + size
      if (end >= len) break
      if (chunk[end] !== FRAME_END) throw new FrameError(`frame end byte 0x${chunk[end].toString(16)} is not 0xce`)
      h.onFrame(chunk[pos], chunk.readUInt16BE(pos + 1), chunk, pos + FRAME_HEADER_SIZE, end)
      pos = end + 1
    }
    if (pos < len && !this.stopped) this.stash(chunk, pos)
  }

  private checkSize(size: number): void {
    if (size + FRAME_OVERHEAD > this.maxFrameSize) {
      throw new FrameError(`frame size ${size + FRAME_OVERHEAD} exceeds frame_max ${this.maxFrameSize}`)
    }
  }

  /** Keeps the incomplete frame at chunk[pos…] for the next push. */
  private stash(chunk: Buffer, pos: number): void {
    const rest = chunk.length - pos
    if (rest < FRAME_HEADER_SIZE) {
      chunk.copy(this.header, 0, pos)
      this.headerLen = rest
      return
    }
    const size = chunk.readUInt32BE(pos + 3)
    if (chunk[pos] === FRAME_BODY && this.startTarget(chunk.readUInt16BE(pos + 1), size)) {
      // the frame-end byte is not in this chunk (push stops before such a frame): -1 here
      this.continueTarget(chunk, pos + FRAME_HEADER_SIZE)
      return
    }
    this.partial = Buffer.allocUnsafe(size + FRAME_OVERHEAD)
    chunk.copy(this.partial, 0, pos)
    this.partialFilled = rest
  }

  /** Completes a stashed frame; returns the position after it, or -1 if the chunk ran out. */
  private continuePartial(chunk: Buffer): number {
    let pos = 0
    if (this.target !== null) return this.continueTarget(chunk, 0)
    if (this.partial === null) {
      const take = Math.min(FRAME_HEADER_SIZE - this.headerLen, chunk.length)
      chunk.copy(this.header, this.headerLen, 0, take)
      this.headerLen += take
      pos = take
      if (this.headerLen < FRAME_HEADER_SIZE) return -1
      const size = this.header.readUInt32BE(3)
      this.checkSize(size)
      if (this.header[0] === FRAME_BODY && this.startTarget(this.header.readUInt16BE(1), size)) {
        this.headerLen = 0
        return this.continueTarget(chunk, pos)
      }
      this.partial = Buffer.allocUnsafe(size + FRAME_OVERHEAD)
      this.header.copy(this.partial, 0)
      this.partialFilled = FRAME_HEADER_SIZE
      this.headerLen = 0
    }
    const frame = this.partial
    const take = Math.min(frame.length - this.partialFilled, chunk.length - pos)
    chunk.copy(frame, this.partialFilled, pos, pos + take)
    this.partialFilled += take
    pos += take
    if (this.partialFilled < frame.length) return -1
    this.partial = null
    this.partialFilled = 0
    const end = frame.length - 1
    if (frame[end] !== FRAME_END) throw new FrameError(`frame end byte 0x${frame[end].toString(16)} is not 0xce`)
    this.handler.onFrame(frame[0], frame.readUInt16BE(1), frame, FRAME_HEADER_SIZE, end)
    return pos
  }

  /**
   * Where the next socket read may land (direct reads, transport/direct-read.ts): the rest of the
   * large body frame being received, plus up to 8 bytes after it. Those 8 hold the frame-end byte
   * and the next frame's header; they fall on body bytes still to come (the block never extends past
   * the message), so the next body frame's payload simply overwrites them. null: no such frame.
   */
  readTarget(): Buffer | null {
    const t = this.target
    if (t === null || this.stopped) return null
    const end = Math.min(this.targetEnd + FRAME_OVERHEAD, t.length)
    return end > this.targetPos ? t.subarray(this.targetPos, end) : null
  }

  /** n bytes were read into the buffer readTarget() returned. Throws FrameError as push does. */
  targetFilled(n: number): void {
    const room = this.targetEnd - this.targetPos
    if (n <= room) {
      // the frame completes when its frame-end byte arrives (next read)
      this.targetPos += n
      return
    }
    // the bytes after the payload are parsed as a chunk of their own (at most 8: copied out first,
    // since the next payload lands on them)
    const extra = Buffer.allocUnsafe(n - room)
    this.target!.copy(extra, 0, this.targetEnd, this.targetPos + n)
    this.targetPos = this.targetEnd
    this.push(extra)
  }

  /** Asks the handler where a large body frame's payload goes; false: assemble it as usual. */
  private startTarget(channel: number, size: number): boolean {
    if (size < BODY_TARGET_MIN || this.handler.bodyTarget === undefined) return false
    const t = this.handler.bodyTarget(channel, size)
    if (t === null) return false
    this.target = t.buf
    this.targetStart = this.targetPos = t.offset
    this.targetEnd = t.offset + size
    this.targetChannel = channel
    return true
  }

  /** Copies payload bytes from chunk[pos…] to the target; returns the position after the frame, or -1. */
  private continueTarget(chunk: Buffer, pos: number): number {
    const take = Math.min(this.targetEnd - this.targetPos, chunk.length - pos)
    if (take > 0) {
      chunk.copy(this.target!, this.targetPos, pos, pos + take)
      this.targetPos += take
      pos += take
    }
    if (this.targetPos < this.targetEnd || pos >= chunk.length) return -1
    const buf = this.target!
    this.target = null
    if (chunk[pos] !== FRAME_END) throw new FrameError(`frame end byte 0x${chunk[pos].toString(16)} is not 0xce`)
    this.handler.onFrame(FRAME_BODY, this.targetChannel, buf, this.targetStart, this.targetEnd)
    return pos + 1
  }
}
