/**
 * The binary record of a message in a segment file. Fixed fields first, then the exchange and
 * routing key bytes, then the property bytes exactly as received and the body (Message.data):
 *
 * ```
 * 0  u8  format version (1)        6  f64 timestamp, ms       26 u32 property bytes length
 * 1  u8  flags (bit 0: persistent) 14 f64 ttl, ms or -1       30 exchange, routing key,
 * 2  u8  delivery mode             22 i32 headers offset or -1   properties, body
 * 3  u8  priority
 * 4  u8  exchange length
 * 5  u8  routing key length
 * ```
 *
 * No JSON on this path; shortstr limits (255 bytes) bound both names, as on the wire (0-9-1
 * §4.2.5.3). The properties are not re-encoded: delivery forwards them as they came (LavinMQ
 * stores the AMQP properties the same way).
 */
import { Message } from '../message.js'

const VERSION = 1
/** Record flag: the message was persistent in a durable queue (recovered at boot). */
export const REC_PERSISTENT = 1
/** Bytes before the exchange name. */
export const MESSAGE_RECORD_FIXED = 30

// byte lengths measured by messageRecordSize() for the encodeMessage() that follows it
let exLen = 0
let rkLen = 0

/**
 * Size of the record of `msg`. Must be called right before {@link encodeMessage} for the same
 * message: it measures the names once for both.
 */
export function messageRecordSize(msg: Message): number {
  exLen = Buffer.byteLength(msg.exchange)
  rkLen = Buffer.byteLength(msg.routingKey)
  if (exLen > 255 || rkLen > 255) throw new RangeError('exchange and routing key are limited to 255 bytes')
  return MESSAGE_RECORD_FIXED + exLen + rkLen + msg.data.length
}

/**
 * Writes the record of `msg` at buf[at]; `messageRecordSize(msg)` must have been called just
 * before. `timestamp` is what the record keeps as the message's time: a queue passes the time the
 * message entered it, which is what its TTL counts from after a restart.
 */
export function encodeMessage(msg: Message, buf: Buffer, at: number, persistent: boolean, timestamp = msg.timestamp): void {
  buf[at] = VERSION
  buf[at + 1] = persistent ? REC_PERSISTENT : 0
  buf[at + 2] = msg.deliveryMode
  buf[at + 3] = msg.priority
  buf[at + 4] = exLen
  buf[at + 5] = rkLen
  buf.writeDoubleLE(timestamp, at + 6)
  buf.writeDoubleLE(msg.ttl, at + 14)
  buf.writeInt32LE(msg.headersAt, at + 22)
  buf.writeUInt32LE(msg.propsLength, at + 26)
  let p = at + MESSAGE_RECORD_FIXED
  if (exLen > 0) p += buf.write(msg.exchange, p, exLen, 'utf8')
  if (rkLen > 0) p += buf.write(msg.routingKey, p, rkLen, 'utf8')
  msg.data.copy(buf, p)
}

/** Rebuilds the message of a record (its data is a copy: the record buffer may be reused). */
export function decodeMessage(buf: Buffer, start: number, len: number): Message {
  if (len < MESSAGE_RECORD_FIXED || buf[start] !== VERSION) throw new RangeError('not a version 1 message record')
  const ex = buf[start + 4]
  const rk = buf[start + 5]
  let p = start + MESSAGE_RECORD_FIXED
  const exchange = ex === 0 ? '' : buf.toString('utf8', p, p + ex)
  p += ex
  const routingKey = rk === 0 ? '' : buf.toString('utf8', p, p + rk)
  p += rk
  const end = start + len
  if (p > end) throw new RangeError('message record too short')
  const data = Buffer.allocUnsafe(end - p)
  buf.copy(data, 0, p, end)
  return new Message(
    exchange,
    routingKey,
    data,
    buf.readUInt32LE(start + 26),
    buf[start + 2],
    buf[start + 3],
    buf.readDoubleLE(start + 14),
    buf.readInt32LE(start + 22),
    buf.readDoubleLE(start + 6),
  )
}

/** Record flags (REC_PERSISTENT), read without decoding the message. */
export function recordFlags(buf: Buffer, start: number): number {
  return buf[start + 1]
}

/** Body size of a record, read without decoding the message. */
export function recordBodySize(buf: Buffer, start: number, len: number): number {
  return len - MESSAGE_RECORD_FIXED - buf[start + 4] - buf[start + 5] - buf.readUInt32LE(start + 26)
}

/** The timestamp field of a record (the queue's arrival time; a delayed message's due time). */
export function recordTimestamp(buf: Buffer, start = 0): number {
  return buf.readDoubleLE(start + 6)
}
