/**
 * A published message, shared by every queue it was routed to. It is immutable after publish:
 * per-queue state (redelivered, delivery count, expiry) lives in the queue's Envelope.
 */
import type { FieldTable } from './wire/field-table.js'
import {
  decodeHeaders,
  decodeProperties,
  summarizeProperties,
  type BasicProperties,
  type PropertySummary,
} from './wire/properties.js'

export class Message {
  /** lazily decoded headers (undefined: not decoded yet; null: none) */
  private headersCache: FieldTable | null | undefined = undefined

  constructor(
    /** exchange the message was published to */
    readonly exchange: string,
    readonly routingKey: string,
    /**
     * One allocation per message: the raw content-header property bytes (flags + list, forwarded
     * as received) followed by the body. Kept together so a message costs one Buffer object.
     */
    readonly data: Buffer,
    /** length of the property bytes at the start of data */
    readonly propsLength: number,
    /** 1 transient, 2 persistent (0 when unset) */
    readonly deliveryMode: number,
    readonly priority: number,
    /** per-message TTL in ms from the expiration property, or -1 */
    readonly ttl: number,
    /** offset of the headers table in the property bytes, or -1 */
    readonly headersAt: number,
    /** publish time, ms since epoch */
    readonly timestamp: number,
  ) {}

  get bodySize(): number {
    return this.data.length - this.propsLength
  }

  /** The raw property bytes (a view, not a copy). */
  get props(): Buffer {
    return this.data.subarray(0, this.propsLength)
  }

  /** The body (a view, not a copy). */
  get body(): Buffer {
    return this.data.subarray(this.propsLength)
  }

  get persistent(): boolean {
    return this.deliveryMode === 2
  }

  /** The headers table, decoded on first use. */
  get headers(): FieldTable | undefined {
    if (this.headersCache === undefined) this.headersCache = decodeHeaders(this.props, this.headersAt) ?? null
    return this.headersCache ?? undefined
  }

  get properties(): BasicProperties {
    return decodeProperties(this.props)
  }

  /**
   * Builds a message from received bytes: properties at props[ps, pe) and the body at
   * body[bs, be) are copied into one block, so the message does not pin the socket chunk.
   */
  static fromWire(
    exchange: string,
    routingKey: string,
    props: Buffer,
    ps: number,
    pe: number,
    body: Buffer,
    bs: number,
    be: number,
    summary: PropertySummary,
    ttl: number,
    now: number,
  ): Message {
    const propsLength = pe - ps
    const data = Buffer.allocUnsafe(propsLength + be - bs)
    props.copy(data, 0, ps, pe)
    body.copy(data, propsLength, bs, be)
    return new Message(exchange, routingKey, data, propsLength, summary.deliveryMode, summary.priority, ttl, summary.headersAt, now)
  }

  /**
   * A message with new property bytes and the same body (dead-lettering, x-delivery-count). A
   * dead-lettered message is a new publish: it gets a new `timestamp` (its TTL in the next queue
   * counts from then).
   */
  withProperties(
    props: Buffer,
    exchange = this.exchange,
    routingKey = this.routingKey,
    ttl = this.ttl,
    timestamp = this.timestamp,
  ): Message {
    const body = this.data.subarray(this.propsLength)
    const data = Buffer.allocUnsafe(props.length + body.length)
    props.copy(data, 0)
    body.copy(data, props.length)
    const headersAt = findHeadersAt(props)
    return new Message(exchange, routingKey, data, props.length, this.deliveryMode, this.priority, ttl, headersAt, timestamp)
  }
}

function findHeadersAt(props: Buffer): number {
  const s: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 }
  return summarizeProperties(props, s).headersAt
}

/** The longest TTL RabbitMQ accepts, in ms (rabbit_misc:check_expiry, ?MAX_EXPIRY_TIMER). */
export const MAX_EXPIRY = 4294967295

/** Parses the expiration property as RabbitMQ does: a non-negative integer string of milliseconds. */
export function parseExpiration(expiration: string | undefined): number {
  if (expiration === undefined) return -1
  if (!/^\+?\d{1,15}$/.test(expiration)) return Number.NaN // string:to_integer takes a leading +
  const ttl = Number(expiration)
  return ttl > MAX_EXPIRY ? Number.NaN : ttl
}

/**
 * Why RabbitMQ refuses an expiration (rabbit_basic:parse_expiration), printed as its reply text does:
 * `invalid expiration '<value>': <problem>`.
 */
export function expirationProblem(expiration: string): string {
  const m = /^[+-]?\d+/.exec(expiration)
  if (m === null) return 'no_integer'
  if (m[0].length < expiration.length) return `{leftover_string,${JSON.stringify(expiration.slice(m[0].length))}}`
  const n = Number(m[0])
  return n < 0 ? `{value_negative,${n}}` : `{value_too_big,${n}}`
}
