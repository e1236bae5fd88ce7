/**
 * The firehose (RabbitMQ rabbit_trace): while tracing is on in a vhost, every message entering it is
 * copied to the vhost's `amq.rabbitmq.trace` topic exchange with routing key `publish.<exchange>`, and
 * every delivery (basic.deliver, basic.get) with `deliver.<queue>`. The copy has the original body and
 * a single property, headers, holding RabbitMQ's fields: exchange_name, routing_keys, properties (the
 * original basic properties keyed by their names), node, then redelivered (deliver only), vhost,
 * connection, channel, user, then routed_queues (publish only). Messages that came from the trace exchange itself
 * are never traced, so a consumer of a trace queue does not feed the firehose.
 *
 * A vhost holds a Tracer only while tracing is on (`VHost.tracer`); when off the hot path checks one
 * field and allocates nothing. Trace copies are transient and routed at most once, as RabbitMQ's
 * publish_at_most_once: no confirms, no mandatory returns, no publisher flow control.
 */
import type { Destination, Exchange } from './exchange.js'
import { Message } from './message.js'
import type { Envelope, Queue } from './queue.js'
import type { VHost } from './vhost.js'
import { Encoder, type FieldTable } from './wire/field-table.js'
import { decodeProperties, type BasicProperties } from './wire/properties.js'

/** The exchange every vhost has for the firehose (topic, durable, internal). */
export const TRACE_EXCHANGE = 'amq.rabbitmq.trace'

/** Who published or received a traced message: the transport's Channel, or the management API. */
export interface TraceOrigin {
  /** channel number (RabbitMQ: 0 for a publish that has no channel) */
  readonly id: number
  readonly userName: string | undefined
  /** the connection, named as RabbitMQ names it ("127.0.0.1:53422 -> 127.0.0.1:5672") */
  readonly conn: { readonly name: string }
}

/** rabbit_trace's property names, in the order its msg_to_table fold leaves them (reversed P_basic). */
const PROPERTY_KEYS: [string, keyof BasicProperties][] = [
  ['cluster_id', 'clusterId'],
  ['app_id', 'appId'],
  ['user_id', 'userId'],
  ['type', 'type'],
  ['timestamp', 'timestamp'],
  ['message_id', 'messageId'],
  ['expiration', 'expiration'],
  ['reply_to', 'replyTo'],
  ['correlation_id', 'correlationId'],
  ['priority', 'priority'],
  ['delivery_mode', 'deliveryMode'],
  ['headers', 'headers'],
  ['content_encoding', 'contentEncoding'],
  ['content_type', 'contentType'],
]

/** Offset of the headers table in trace property bytes: the flags word comes first, headers is the only property. */
const HEADERS_AT = 2
/** property flags with only the headers bit set (0-9-1 §4.2.6.1) */
const FLAGS_HEADERS_ONLY = 1 << 13
/** trace property bytes are encoded here, then copied once into the copy's data block */
let scratch = new Encoder(4096)

/** A table entry's key (shortstr) and type octet, encoded once. */
function entryHead(key: string, type: string): Buffer {
  const e = new Encoder(64)
  e.shortstr(key)
  e.octet(type.charCodeAt(0))
  return e.take()
}
// RabbitMQ's types: longstr S, array A, table F, signedint I
const EXCHANGE_NAME = entryHead('exchange_name', 'S')
const ROUTING_KEYS = entryHead('routing_keys', 'A')
const PROPERTIES = entryHead('properties', 'F')
const REDELIVERED = entryHead('redelivered', 'I')
const ROUTED_QUEUES = entryHead('routed_queues', 'A')

/**
 * A vhost's firehose; exists only while tracing is on. The headers are written straight into one
 * scratch buffer in RabbitMQ's order; the entries that depend only on the node, the vhost and the
 * channel (node, vhost, connection, channel, user) are encoded once per channel and copied.
 */
export class Tracer {
  private readonly nodeEntry: Buffer
  /** encoded vhost, connection, channel and user entries per origin (a channel lives as long as it is used) */
  private readonly originEntries = new WeakMap<TraceOrigin, Buffer>()
  private readonly noOrigin: Buffer

  constructor(
    private readonly vhost: VHost,
    /** the node name RabbitMQ puts in the `node` header (Warren's, as /api/nodes shows it) */
    node: string,
  ) {
    const e = new Encoder(256)
    e.bytes(entryHead('node', 'S'))
    e.longstr(node)
    this.nodeEntry = e.take()
    this.noOrigin = this.encodeOrigin(null)
  }

  /** A message entered the vhost through `exchange` and was routed to `routed` (tap_in). */
  published(exchange: string, message: Message, routed: Iterable<Destination>, origin: TraceOrigin | null): void {
    if (exchange === TRACE_EXCHANGE) return
    const x = this.target()
    if (x === undefined) return
    const e = this.begin(message)
    e.bytes(this.nodeEntry)
    e.bytes(this.originBytes(origin))
    e.bytes(ROUTED_QUEUES)
    const at = e.pos
    e.long(0)
    for (const d of routed) {
      if (d.kind !== 'queue') continue
      e.octet(0x53)
      e.longstr(d.name)
    }
    e.buf.writeUInt32BE(e.pos - at - 4, at)
    this.emit(x, `publish.${exchange}`, message)
  }

  /** `env` was delivered from `queue` to a consumer or a basic.get (tap_out). */
  delivered(queue: Queue, env: Envelope, origin: TraceOrigin | null): void {
    const message = env.message
    if (message.exchange === TRACE_EXCHANGE) return
    const x = this.target()
    if (x === undefined) return
    const e = this.begin(message)
    e.bytes(this.nodeEntry)
    e.bytes(REDELIVERED)
    e.long(env.redelivered ? 1 : 0)
    e.bytes(this.originBytes(origin))
    this.emit(x, `deliver.${queue.name}`, message)
  }

  /**
   * The trace exchange when something is bound to it. With nothing bound the copy would go nowhere:
   * it is counted as published in and not built.
   */
  private target(): Exchange | undefined {
    const x = this.vhost.exchanges.get(TRACE_EXCHANGE)
    if (x === undefined || x.bindings.size > 0) return x
    x.publishIn++
    return undefined
  }

  /** Starts the trace properties in the scratch buffer: flags, the table length (patched in emit) and the message's entries. */
  private begin(message: Message): Encoder {
    const e = scratch
    e.pos = 0
    e.short(FLAGS_HEADERS_ONLY)
    e.long(0)
    e.bytes(EXCHANGE_NAME)
    e.longstr(message.exchange)
    e.bytes(ROUTING_KEYS)
    e.long(5 + Buffer.byteLength(message.routingKey))
    e.octet(0x53)
    e.longstr(message.routingKey)
    e.bytes(PROPERTIES)
    e.table(propertiesTable(message))
    return e
  }

  private originBytes(origin: TraceOrigin | null): Buffer {
    if (origin === null) return this.noOrigin
    let b = this.originEntries.get(origin)
    if (b === undefined) this.originEntries.set(origin, (b = this.encodeOrigin(origin)))
    return b
  }

  /** The vhost, connection, channel and user entries (rabbit_trace's Extra, in its order). */
  private encodeOrigin(origin: TraceOrigin | null): Buffer {
    const e = new Encoder(256)
    const t: FieldTable = {
      vhost: this.vhost.name,
      connection: origin?.conn.name ?? '',
      channel: origin?.id ?? 0,
      user: origin?.userName ?? '',
    }
    e.table(t)
    // the entries without the table's length prefix
    return Buffer.from(e.buf.subarray(4, e.pos))
  }

  /** Finishes the scratch properties, builds the copy (those bytes and the original body) and routes it. */
  private emit(x: Exchange, routingKey: string, original: Message): void {
    const e = scratch
    const n = e.pos
    e.buf.writeUInt32BE(n - HEADERS_AT - 4, HEADERS_AT)
    const body = original.body
    const data = Buffer.allocUnsafe(n + body.length)
    e.buf.copy(data, 0, 0, n)
    body.copy(data, n)
    // a message with huge headers grew the scratch buffer: do not keep that much memory around
    if (e.buf.length > 65536) scratch = new Encoder(4096)
    const copy = new Message(TRACE_EXCHANGE, routingKey, data, n, 0, 0, -1, HEADERS_AT, Date.now())
    for (const q of this.vhost.routeOnly(x, copy)) q.push(copy)
  }
}

/** The message's basic properties as a table keyed by RabbitMQ's names; unset ones are left out. */
function propertiesTable(message: Message): FieldTable {
  const p = decodeProperties(message.props)
  const t: FieldTable = {}
  for (const [name, field] of PROPERTY_KEYS) {
    const v = p[field]
    if (v !== undefined) t[name] = v
  }
  return t
}
