/**
 * A published message, shared by every queue it was routed to. It is immutable after publish:
 * per-queue state (redelivered, delivery count, expiry) lives in the queue's Envelope.
 */
import type { FieldTable } from './wire/field-table.js'
import { decodeHeaders, decodeProperties, type BasicProperties, type PropertySummary } from './wire/properties.js'

export class Message {
  /** lazily decoded headers (undefined: not decoded yet; null: none) */
  private headersCache: FieldTable | null | undefined = undefined

  constructor(
    /** exchange the message was published to */
    readonly exchange: string,
    readonly routingKey: string,
    /** raw content-header property bytes (flags + list), forwarded as received */
    readonly props: Buffer,
    readonly body: Buffer,
    /** 1 transient, 2 persistent (0 when unset) */
    readonly deliveryMode: number,
    readonly priority: number,
    /** per-message TTL in ms from the expiration property, or -1 */
    readonly ttl: number,
    /** offset of the headers table in props, or -1 */
    readonly headersAt: number,
    /** publish time, ms since epoch */
    readonly timestamp: number,
  ) {}

  get bodySize(): number {
    return this.body.length
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
   * Builds a message from received bytes. `props` and `body` are copied into one allocation so the
   * message does not pin the socket chunk it arrived in.
   */
  static fromWire(
    exchange: string,
    routingKey: string,
    props: Buffer,
    body: Buffer,
    summary: PropertySummary,
    ttl: number,
    now: number,
  ): Message {
    const block = Buffer.allocUnsafe(props.length + body.length)
    props.copy(block, 0)
    body.copy(block, props.length)
    return new Message(
      exchange,
      routingKey,
      block.subarray(0, props.length),
      block.subarray(props.length),
      summary.deliveryMode,
      summary.priority,
      ttl,
      summary.headersAt,
      now,
    )
  }
}

/** Parses the expiration property as RabbitMQ does: a non-negative integer string of milliseconds. */
export function parseExpiration(expiration: string | undefined): number {
  if (expiration === undefined) return -1
  if (!/^\d{1,15}$/.test(expiration)) return Number.NaN
  return Number(expiration)
}
