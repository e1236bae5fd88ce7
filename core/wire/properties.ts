/**
 * Basic content-header properties. The broker keeps the property bytes exactly as received
 * (`raw`: property flags + property list) and forwards them untouched; these helpers decode them
 * only when the broker must look inside (headers exchange, TTL, priority, dead-lettering).
 */
import { DecodeError } from '../errors.js'
import { Decoder, Encoder, type FieldTable } from './field-table.js'

export interface BasicProperties {
  contentType?: string
  contentEncoding?: string
  headers?: FieldTable
  deliveryMode?: number
  priority?: number
  correlationId?: string
  replyTo?: string
  expiration?: string
  messageId?: string
  /** seconds since the epoch, as on the wire */
  timestamp?: number
  type?: string
  userId?: string
  appId?: string
  clusterId?: string
}

// Flag bits, most significant first (0-9-1 §4.2.6.1).
const F_CONTENT_TYPE = 1 << 15
const F_CONTENT_ENCODING = 1 << 14
const F_HEADERS = 1 << 13
const F_DELIVERY_MODE = 1 << 12
const F_PRIORITY = 1 << 11
const F_CORRELATION_ID = 1 << 10
const F_REPLY_TO = 1 << 9
const F_EXPIRATION = 1 << 8
const F_MESSAGE_ID = 1 << 7
const F_TIMESTAMP = 1 << 6
const F_TYPE = 1 << 5
const F_USER_ID = 1 << 4
const F_APP_ID = 1 << 3
const F_CLUSTER_ID = 1 << 2

/** The few properties the broker needs on every publish, found without building objects. */
export interface PropertySummary {
  deliveryMode: number
  priority: number
  /** the expiration property as sent, or undefined */
  expiration: string | undefined
  /** offset of the headers table (its length prefix) in raw, or -1 */
  headersAt: number
  /** the user-id property, which RabbitMQ checks against the connection's user, or undefined */
  userId?: string | undefined
}

const dec = new Decoder(Buffer.alloc(0), 0, 0)

function readFlags(d: Decoder): number {
  let flags = d.short()
  // Continuation bit (bit 0) means another flag word follows; basic has 14 properties so only one
  // word carries meaning, but a peer may still set continuation: read and ignore the extra words.
  let word = flags
  while (word & 1) word = d.short()
  flags &= 0xfffe
  return flags
}

/** Fills `out` from raw property bytes; throws DecodeError on malformed input. */
export function summarizeProperties(
  raw: Buffer,
  out: PropertySummary,
  start = 0,
  end = raw.length,
): PropertySummary {
  out.deliveryMode = 0
  out.priority = 0
  out.expiration = undefined
  out.headersAt = -1
  out.userId = undefined
  if (end - start === 2 && raw[start] === 0 && raw[start + 1] === 0) return out
  const d = dec.reset(raw, start, end)
  const flags = readFlags(d)
  if (flags & F_CONTENT_TYPE) d.pos += 1 + peekLen(d)
  if (flags & F_CONTENT_ENCODING) d.pos += 1 + peekLen(d)
  if (flags & F_HEADERS) {
    out.headersAt = d.pos - start
    d.skipTable()
  }
  if (flags & F_DELIVERY_MODE) out.deliveryMode = d.octet()
  if (flags & F_PRIORITY) out.priority = d.octet()
  if (flags & F_CORRELATION_ID) d.pos += 1 + peekLen(d)
  if (flags & F_REPLY_TO) d.pos += 1 + peekLen(d)
  if (flags & F_EXPIRATION) out.expiration = d.shortstr()
  // The rest is not needed here, but the bytes are forwarded to consumers as they are: check that
  // they hold the properties the flags announce, so a truncated list is refused at publish.
  if (flags & F_MESSAGE_ID) d.pos += 1 + peekLen(d)
  if (flags & F_TIMESTAMP) {
    d.need(8)
    d.pos += 8
  }
  if (flags & F_TYPE) d.pos += 1 + peekLen(d)
  if (flags & F_USER_ID) out.userId = d.shortstr()
  if (flags & F_APP_ID) d.pos += 1 + peekLen(d)
  if (flags & F_CLUSTER_ID) d.pos += 1 + peekLen(d)
  if (d.pos > d.end) throw new DecodeError('truncated content header properties')
  return out
}

/**
 * Where the reply-to property is in raw[start, end): the offset of its length byte, or -1 when the
 * flags do not announce one. Callers test the flag byte first (`raw[start] & REPLY_TO_FLAG_BYTE`) so
 * messages without reply-to pay nothing; the list is assumed already checked by summarizeProperties.
 */
export function findReplyTo(raw: Buffer, start: number, end: number): number {
  const d = dec.reset(raw, start, end)
  const flags = readFlags(d)
  if ((flags & F_REPLY_TO) === 0) return -1
  if (flags & F_CONTENT_TYPE) d.pos += 1 + peekLen(d)
  if (flags & F_CONTENT_ENCODING) d.pos += 1 + peekLen(d)
  if (flags & F_HEADERS) d.skipTable()
  if (flags & F_DELIVERY_MODE) d.pos += 1
  if (flags & F_PRIORITY) d.pos += 1
  if (flags & F_CORRELATION_ID) d.pos += 1 + peekLen(d)
  peekLen(d)
  return d.pos
}

/** The reply-to flag (bit 9 of the first flag word) as a bit of the word's first byte. */
export const REPLY_TO_FLAG_BYTE = F_REPLY_TO >>> 8

function peekLen(d: Decoder): number {
  d.need(1)
  const len = d.buf[d.pos]
  d.need(1 + len)
  return len
}

/** Decodes every property. */
export function decodeProperties(raw: Buffer): BasicProperties {
  const d = new Decoder(raw, 0, raw.length)
  const flags = readFlags(d)
  const p: BasicProperties = {}
  if (flags & F_CONTENT_TYPE) p.contentType = d.shortstr()
  if (flags & F_CONTENT_ENCODING) p.contentEncoding = d.shortstr()
  if (flags & F_HEADERS) p.headers = d.table()
  if (flags & F_DELIVERY_MODE) p.deliveryMode = d.octet()
  if (flags & F_PRIORITY) p.priority = d.octet()
  if (flags & F_CORRELATION_ID) p.correlationId = d.shortstr()
  if (flags & F_REPLY_TO) p.replyTo = d.shortstr()
  if (flags & F_EXPIRATION) p.expiration = d.shortstr()
  if (flags & F_MESSAGE_ID) p.messageId = d.shortstr()
  if (flags & F_TIMESTAMP) p.timestamp = d.longlong()
  if (flags & F_TYPE) p.type = d.shortstr()
  if (flags & F_USER_ID) p.userId = d.shortstr()
  if (flags & F_APP_ID) p.appId = d.shortstr()
  if (flags & F_CLUSTER_ID) p.clusterId = d.shortstr()
  return p
}

/** Decodes only the headers table, or returns undefined when there is none. */
export function decodeHeaders(raw: Buffer, headersAt: number): FieldTable | undefined {
  if (headersAt < 0) return undefined
  return new Decoder(raw, headersAt, raw.length).table()
}

/** Encodes properties to raw bytes (flags + list). Every set property is written, zero values too. */
export function encodeProperties(p: BasicProperties): Buffer {
  const e = new Encoder(64)
  e.short(0)
  let flags = 0
  if (p.contentType !== undefined) (flags |= F_CONTENT_TYPE), e.shortstr(p.contentType)
  if (p.contentEncoding !== undefined) (flags |= F_CONTENT_ENCODING), e.shortstr(p.contentEncoding)
  if (p.headers !== undefined) (flags |= F_HEADERS), e.table(p.headers)
  if (p.deliveryMode !== undefined) (flags |= F_DELIVERY_MODE), e.octet(p.deliveryMode)
  if (p.priority !== undefined) (flags |= F_PRIORITY), e.octet(p.priority)
  if (p.correlationId !== undefined) (flags |= F_CORRELATION_ID), e.shortstr(p.correlationId)
  if (p.replyTo !== undefined) (flags |= F_REPLY_TO), e.shortstr(p.replyTo)
  if (p.expiration !== undefined) (flags |= F_EXPIRATION), e.shortstr(p.expiration)
  if (p.messageId !== undefined) (flags |= F_MESSAGE_ID), e.shortstr(p.messageId)
  if (p.timestamp !== undefined) (flags |= F_TIMESTAMP), e.longlong(p.timestamp)
  if (p.type !== undefined) (flags |= F_TYPE), e.shortstr(p.type)
  if (p.userId !== undefined) (flags |= F_USER_ID), e.shortstr(p.userId)
  if (p.appId !== undefined) (flags |= F_APP_ID), e.shortstr(p.appId)
  if (p.clusterId !== undefined) (flags |= F_CLUSTER_ID), e.shortstr(p.clusterId)
  e.buf.writeUInt16BE(flags, 0)
  return e.take()
}

/** Raw bytes of "no properties". */
export const EMPTY_PROPERTIES: Buffer = Buffer.from([0, 0])
