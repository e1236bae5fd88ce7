/**
 * Output side of a connection: frames are encoded straight into a large slab buffer and handed to
 * the socket once per tick (one write, or one writev when large bodies are sent zero-copy), which is
 * the Node docs' cork recipe and NATS's flush-after-batch.
 */
import type { Message } from '../../core/message.js'
import { Encoder } from '../../core/wire/field-table.js'
import { CLASS_BASIC, FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD } from './constants.js'
import { encodeMethod } from './methods.js'

/** The byte stream under a connection: a net.Socket, a TLS socket or a WebSocket adapter. */
export interface ByteSink {
  /** false: the kernel/socket buffer is full, wait for 'drain' */
  write(chunk: Buffer): boolean
  cork(): void
  uncork(): void
}

export interface FlushHooks {
  /** called before every flush, e.g. to coalesce publisher confirms into one multiple-ack */
  beforeFlush(): void
  /** the sink's buffer is full: stop producing deliveries until it drains */
  writeBlocked(): void
}

const SLAB_SIZE = 128 * 1024
/** Bodies at least this large are written as their own chunk instead of being copied. */
const ZERO_COPY_BODY = 16 * 1024

const HEARTBEAT_FRAME = Buffer.from([FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END])

export class FrameWriter {
  /** negotiated frame_max; bodies are split into frames of at most frameMax - 8 bytes */
  frameMax: number
  bytesOut = 0
  /** flushes to the socket (RabbitMQ's send_cnt counts socket sends) */
  sendCount = 0
  /** true when something was written since the caller last cleared it (heartbeat bookkeeping) */
  wroteSinceCheck = false
  private slab = Buffer.allocUnsafe(SLAB_SIZE)
  private pos = 0
  /** start of the bytes in slab not yet handed to the sink */
  private start = 0
  private readonly chunks: Buffer[] = []
  private scheduled = false
  private readonly enc = new Encoder(512)
  private readonly flushBound = (): void => {
    this.flush()
  }

  constructor(
    private readonly sink: ByteSink,
    frameMax: number,
    private readonly hooks: FlushHooks | null = null,
  ) {
    this.frameMax = frameMax
  }

  /** A method frame with arguments in spec order. */
  method(channel: number, classId: number, methodId: number, args: readonly unknown[] = []): void {
    const e = this.enc
    e.pos = 0
    encodeMethod(e, classId, methodId, args)
    this.reserve(e.pos + 8)
    const b = this.slab
    let p = this.pos
    b[p] = FRAME_METHOD
    b.writeUInt16BE(channel, p + 1)
    b.writeUInt32BE(e.pos, p + 3)
    e.buf.copy(b, p + 7, 0, e.pos)
    p += 7 + e.pos
    b[p] = FRAME_END
    this.pos = p + 1
    this.schedule()
  }

  /** basic.deliver + content header + body frames, encoded in place. */
  deliver(
    channel: number,
    consumerTag: Buffer,
    deliveryTag: number,
    redelivered: boolean,
    message: Message,
  ): void {
    const ex = message.exchange
    const rk = message.routingKey
    // worst case for the two short strings: 3 bytes per UTF-16 unit, capped at 255 by the protocol
    this.reserve(7 + 4 + 1 + consumerTag.length + 8 + 1 + 1 + 255 + 1 + 255 + 1)
    const b = this.slab
    const start = this.pos
    let p = start + 7
    b.writeUInt32BE((CLASS_BASIC << 16) | 60, p)
    p += 4
    b[p++] = consumerTag.length
    consumerTag.copy(b, p)
    p += consumerTag.length
    p = writeLongLong(b, p, deliveryTag)
    b[p++] = redelivered ? 1 : 0
    p = writeShortStr(b, p, ex)
    p = writeShortStr(b, p, rk)
    b[start] = FRAME_METHOD
    b.writeUInt16BE(channel, start + 1)
    b.writeUInt32BE(p - start - 7, start + 3)
    b[p] = FRAME_END
    this.pos = p + 1
    this.content(channel, message)
  }

  /** basic.get-ok + content. */
  getOk(channel: number, deliveryTag: number, redelivered: boolean, message: Message, messageCount: number): void {
    this.method(channel, CLASS_BASIC, 71, [deliveryTag, redelivered, message.exchange, message.routingKey, messageCount])
    this.content(channel, message)
  }

  /** basic.return + content. */
  basicReturn(channel: number, replyCode: number, replyText: string, message: Message): void {
    this.method(channel, CLASS_BASIC, 50, [replyCode, replyText, message.exchange, message.routingKey])
    this.content(channel, message)
  }

  /** basic.ack / basic.nack for publisher confirms (the hot part of confirm mode). */
  confirm(channel: number, ack: boolean, deliveryTag: number, multiple: boolean): void {
    this.reserve(21)
    const b = this.slab
    const p = this.pos
    b[p] = FRAME_METHOD
    b.writeUInt16BE(channel, p + 1)
    b.writeUInt32BE(13, p + 3)
    b.writeUInt32BE((CLASS_BASIC << 16) | (ack ? 80 : 120), p + 7)
    writeLongLong(b, p + 11, deliveryTag)
    b[p + 19] = multiple ? 1 : 0 // for a nack the requeue bit means nothing to a publisher
    b[p + 20] = FRAME_END
    this.pos = p + 21
    this.schedule()
  }

  heartbeat(): void {
    this.reserve(8)
    HEARTBEAT_FRAME.copy(this.slab, this.pos)
    this.pos += 8
    this.schedule()
  }

  /** Bytes written as they are (protocol header on a bad handshake). */
  raw(buf: Buffer): void {
    this.reserve(buf.length)
    buf.copy(this.slab, this.pos)
    this.pos += buf.length
    this.schedule()
  }

  /** Hands everything buffered to the sink. Returns the sink's last write() result. */
  flush(): boolean {
    this.scheduled = false
    if (this.hooks !== null) this.hooks.beforeFlush()
    this.retire()
    const chunks = this.chunks
    if (chunks.length === 0) return true
    this.sendCount++
    let ok = true
    if (chunks.length === 1) {
      this.bytesOut += chunks[0].length
      ok = this.sink.write(chunks[0])
    } else {
      this.sink.cork()
      for (const c of chunks) {
        this.bytesOut += c.length
        ok = this.sink.write(c)
      }
      this.sink.uncork()
    }
    chunks.length = 0
    this.wroteSinceCheck = true
    if (!ok && this.hooks !== null) this.hooks.writeBlocked()
    return ok
  }

  /** Position in the output byte stream after everything encoded so far (flushed or not). */
  get streamEnd(): number {
    return this.bytesOut + this.pending
  }

  /** Frames waiting to be flushed, in bytes. */
  get pending(): number {
    let n = this.pos - this.start
    for (const c of this.chunks) n += c.length
    return n
  }

  private content(channel: number, message: Message): void {
    const data = message.data
    const propsLength = message.propsLength
    const bodySize = data.length - propsLength
    // content header frame: class, weight, body size, properties as received
    this.reserve(7 + 12 + propsLength + 1)
    const b = this.slab
    let p = this.pos
    b[p] = FRAME_HEADER
    b.writeUInt16BE(channel, p + 1)
    b.writeUInt32BE(12 + propsLength, p + 3)
    b.writeUInt32BE(CLASS_BASIC << 16, p + 7) // class 60, weight 0
    writeLongLong(b, p + 11, bodySize)
    data.copy(b, p + 19, 0, propsLength)
    p += 19 + propsLength
    b[p] = FRAME_END
    this.pos = p + 1
    const maxPayload = this.frameMax - 8
    for (let off = propsLength; off < data.length; off += maxPayload) {
      const n = Math.min(maxPayload, data.length - off)
      this.reserve(8 + (n >= ZERO_COPY_BODY ? 0 : n))
      const s = this.slab
      let q = this.pos
      s[q] = FRAME_BODY
      s.writeUInt16BE(channel, q + 1)
      s.writeUInt32BE(n, q + 3)
      q += 7
      if (n >= ZERO_COPY_BODY) {
        this.pos = q
        this.retire()
        this.chunks.push(data.subarray(off, off + n))
        this.reserve(1)
        q = this.pos
      } else {
        data.copy(s, q, off, off + n)
        q += n
      }
      this.slab[q] = FRAME_END
      this.pos = q + 1
    }
    this.schedule()
  }

  /** Ensures a flush happens at the end of this tick (e.g. for confirms coalesced in beforeFlush). */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true
      process.nextTick(this.flushBound)
    }
  }

  /** Moves the unflushed part of the slab to the chunk list. */
  private retire(): void {
    if (this.pos > this.start) {
      const c = this.slab.subarray(this.start, this.pos)
      this.chunks.push(c)
      this.start = this.pos
    }
  }

  /** Makes room for n contiguous bytes in the slab. */
  private reserve(n: number): void {
    if (this.slab.length - this.pos >= n) return
    this.retire()
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, n))
    this.pos = 0
    this.start = 0
  }
}

function writeLongLong(b: Buffer, p: number, v: number): number {
  b.writeUInt32BE(Math.floor(v / 0x100000000), p)
  b.writeUInt32BE(v >>> 0, p + 4)
  return p + 8
}

function writeShortStr(b: Buffer, p: number, s: string): number {
  const n = s.length === 0 ? 0 : b.write(s, p + 1, 255, 'utf8')
  b[p] = n
  return p + 1 + n
}
