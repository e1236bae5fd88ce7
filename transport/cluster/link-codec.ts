/**
 * The node link's framing (issue 13). One frame:
 *
 *   u32 length (of what follows) | u8 type | payload
 *
 * Strings are u16 length + UTF-8; numbers big-endian; sequence numbers doubles (exact to 2^53).
 * A message travels as: str exchange, str routing key, u8 delivery mode, u8 priority, f64 ttl
 * (-1 none), i32 headers offset, f64 timestamp, then the raw property bytes and the body to the end
 * of the frame (u32 property length first). Payloads by type:
 *
 *   HELLO, CHALLENGE, RESPONSE   JSON (link setup only, link-auth.ts); READY empty
 *   PUBLISH    f64 seq, str vhost, u16 n, n × str queue, message  (one frame for all queues of a node)
 *   ACCEPTED   f64 seq   every publish up to seq is in its queues (and on disk when it must be)
 *   REFUSED    f64 seq   a target queue refused it (x-overflow reject-publish, a full disk)
 *   CONSUME    u32 cid, str vhost, str queue, str tag, u32 prefetch, u32 credit, u8 flags (1 no-ack, 2 exclusive), i32 priority,
 *              u32 the channel's basic.qos prefetch, u32 its global prefetch,
 *              f64 the channel's consumer-group rank (core/stream/consumer-group.ts; unique on its node,
 *              it names the channel: its consumers are one group member at the home),
 *              AMQP field table (the consume arguments: x-stream-offset, x-stream-consumer-name, …)
 *   CONSUME_OK u32 cid    CONSUME_ERR u32 cid, u16 code, str text    CANCEL u32 cid    CANCELLED u32 cid
 *   CREDIT     u32 cid, u32 n
 *   DELIVER    u32 cid, u32 delivery id (0 no-ack), u8 redelivered, message
 *   SETTLE     u8 how (0 ack, 1 requeue, 2 reject), u32 n, n × u32 delivery id
 *   GET        u32 rid, str vhost, str queue, u8 no-ack
 *   GET_OK     u32 rid, u32 delivery id, u8 redelivered, u32 message count, message
 *   GET_EMPTY  u32 rid, u32 message count
 *   OP         u32 rid, u8 op (1 counts, 2 purge, 3 delete), u8 flags (1 if-unused, 2 if-empty), str vhost, str queue
 *   OP_OK      u32 rid, u32 a, u32 b                OP_ERR u32 rid, u16 code, str text (GET errors too)
 *   LIST       u32 rid   the counts of every queue living on the other node (the management API's listing)
 *   LIST_OK    u32 rid, u32 n, n × (str vhost, str queue, u32 ready, u32 unacked, u32 consumers)
 *   REPLY      str address, message   a reply to a direct reply-to consumer of the receiving node
 *   REPL       str vhost, str queue, f64 epoch, u32 n, n × record   a quorum queue leader's batch of a tick
 *              record: u8 kind (1 enqueue, 2 settle, 3 requeue, 4 reset), f64 seq, f64 ref, f64 n
 *              (enqueue: record timestamp; requeue: delivery count), enqueue: u32 length, message
 *   REPL_ACK   str vhost, str queue, f64 epoch, f64 seq   the follower holds every record up to seq durable
 *   VOTE       str vhost, str queue, f64 epoch, f64 seq   a follower's durable sequence in a failover
 *   REPL_SYNC  str vhost, str queue, f64 epoch, f64 seq   a follower's durable sequence: send me what I lack
 *   REPL_STATUS str vhost, str queue, str JSON figures    a leader's replica figures (core/cluster/replica-status.ts)
 *   (transport/cluster/replica-manager.ts, replica-election.ts)
 *   SREPL      str vhost, str stream, f64 epoch, f64 truncate (-1 none), u32 n, n × (f64 offset, f64 ts, u32 length, message)
 *              [, u32 g, g × (str group, f64 committed offset)]   a stream leader's records and, when they
 *              moved, its consumer groups' offsets (truncate ≥ 0: cut your log there, then SFOLLOW again)
 *   SACK       str vhost, str stream, f64 epoch, f64 next   the follower holds every offset below next durable
 *   SFOLLOW    str vhost, str stream, f64 epoch, f64 next, f64 last epoch   a follower asks for the records from next
 *   (transport/cluster/stream-replica-manager.ts)
 */
import { Message } from '../../core/message.js'
import { Decoder, type FieldTable } from '../../core/wire/field-table.js'

export const T = {
  HELLO: 1,
  CHALLENGE: 2,
  RESPONSE: 3,
  READY: 4,
  PUBLISH: 10,
  ACCEPTED: 11,
  REFUSED: 12,
  CONSUME: 20,
  CONSUME_OK: 21,
  CONSUME_ERR: 22,
  CANCEL: 23,
  CANCELLED: 24,
  CREDIT: 25,
  DELIVER: 26,
  SETTLE: 27,
  GET: 30,
  GET_OK: 31,
  GET_EMPTY: 32,
  OP: 40,
  OP_OK: 41,
  OP_ERR: 42,
  LIST: 43,
  LIST_OK: 44,
  REPLY: 45,
  REPL: 50,
  REPL_ACK: 51,
  VOTE: 52,
  REPL_SYNC: 53,
  REPL_STATUS: 54,
  SREPL: 60,
  SACK: 61,
  SFOLLOW: 62,
} as const

export const OP_COUNTS = 1
export const OP_PURGE = 2
export const OP_DELETE = 3

/** Largest frame before the peer has authenticated. */
export const PRE_AUTH_MAX = 4096
/** Largest frame of an authenticated link (a 128 MiB message and its envelope). */
export const LINK_FRAME_MAX = 256 * 1024 * 1024

/** Bytes of the fixed part of an encoded message besides its strings and data. */
const MSG_FIXED = 2 + 2 + 1 + 1 + 8 + 4 + 8 + 4

export function strLen(s: string): number {
  return 2 + Buffer.byteLength(s)
}

/** A cursor writing into a frame allocated at its final size. */
export class Out {
  pos = 5
  readonly buf: Buffer
  /** `after`: bytes of the frame sent separately after this buffer (send2) */
  constructor(type: number, payload: number, after = 0) {
    this.buf = Buffer.allocUnsafe(5 + payload)
    this.buf.writeUInt32BE(1 + payload + after, 0)
    this.buf[4] = type
  }
  u8(v: number): this {
    this.buf[this.pos++] = v
    return this
  }
  u16(v: number): this {
    this.buf.writeUInt16BE(v, this.pos)
    this.pos += 2
    return this
  }
  u32(v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.pos)
    this.pos += 4
    return this
  }
  i32(v: number): this {
    this.buf.writeInt32BE(v, this.pos)
    this.pos += 4
    return this
  }
  f64(v: number): this {
    this.buf.writeDoubleBE(v, this.pos)
    this.pos += 8
    return this
  }
  str(s: string): this {
    const n = this.buf.write(s, this.pos + 2)
    this.buf.writeUInt16BE(n, this.pos)
    this.pos += 2 + n
    return this
  }
  bytes(b: Buffer): this {
    this.pos += b.copy(this.buf, this.pos)
    return this
  }
}

export function messageLen(m: Message): number {
  return MSG_FIXED + Buffer.byteLength(m.exchange) + Buffer.byteLength(m.routingKey) + m.data.length
}

/** Bytes of a message's fields before its data (writeMessageHead). */
export function messageHeadLen(m: Message): number {
  return messageLen(m) - m.data.length
}

/** A message's fields; its data (properties and body) follows, written by the caller. */
export function writeMessageHead(o: Out, m: Message): void {
  o.str(m.exchange).str(m.routingKey).u8(m.deliveryMode).u8(m.priority).f64(m.ttl).i32(m.headersAt).f64(m.timestamp).u32(m.propsLength)
}

export function writeMessage(o: Out, m: Message): void {
  writeMessageHead(o, m)
  o.bytes(m.data)
}

/** A cursor reading one received frame's payload; out-of-bounds reads throw (the link closes). */
export class In {
  pos: number
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start
  }
  private need(n: number): void {
    if (this.pos + n > this.end) throw new Error('truncated link frame')
  }
  u8(): number {
    this.need(1)
    return this.buf[this.pos++]
  }
  u16(): number {
    this.need(2)
    const v = this.buf.readUInt16BE(this.pos)
    this.pos += 2
    return v
  }
  u32(): number {
    this.need(4)
    const v = this.buf.readUInt32BE(this.pos)
    this.pos += 4
    return v
  }
  i32(): number {
    this.need(4)
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }
  f64(): number {
    this.need(8)
    const v = this.buf.readDoubleBE(this.pos)
    this.pos += 8
    return v
  }
  str(): string {
    const n = this.u16()
    this.need(n)
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }
  /** An AMQP field table with its u32 length prefix (core/wire/field-table.ts). */
  table(): FieldTable {
    const d = new Decoder(this.buf, this.pos, this.end)
    const t = d.table()
    this.pos = d.pos
    return t
  }
  /** A message: its property bytes and body are copied into one block of its own. */
  message(): Message {
    const exchange = this.str()
    const routingKey = this.str()
    const deliveryMode = this.u8()
    const priority = this.u8()
    const ttl = this.f64()
    const headersAt = this.i32()
    const timestamp = this.f64()
    const propsLength = this.u32()
    const n = this.end - this.pos
    if (propsLength > n) throw new Error('truncated link frame')
    const data = Buffer.allocUnsafe(n)
    this.buf.copy(data, 0, this.pos, this.end)
    this.pos = this.end
    return new Message(exchange, routingKey, data, propsLength, deliveryMode, priority, ttl, headersAt, timestamp)
  }
}

/** Cuts a byte stream into frames: `onFrame(type, buf, start, end)` gets each payload in place. */
export class LinkReader {
  private chunks: Buffer[] = []
  private size = 0
  maxFrame = PRE_AUTH_MAX

  constructor(private readonly onFrame: (type: number, buf: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    if (this.size > 0) {
      this.chunks.push(chunk)
      this.size += chunk.length
      // wait for the whole frame before joining the chunks (one copy per frame split across reads)
      const first = this.chunks[0]
      const need = first.length >= 4 ? first.readUInt32BE(0) + 4 : 4
      if (this.size < need) return
      chunk = Buffer.concat(this.chunks, this.size)
      this.chunks = []
      this.size = 0
    }
    let pos = 0
    while (chunk.length - pos >= 4) {
      const len = chunk.readUInt32BE(pos)
      if (len < 1 || len > this.maxFrame) throw new Error(`link frame of ${len} bytes refused`)
      if (chunk.length - pos - 4 < len) break
      this.onFrame(chunk[pos + 4], chunk, pos + 5, pos + 4 + len)
      pos += 4 + len
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos)
      if (rest.length >= 4 && rest.readUInt32BE(0) > this.maxFrame) throw new Error('link frame too large')
      this.chunks.push(rest)
      this.size = rest.length
    }
  }
}
