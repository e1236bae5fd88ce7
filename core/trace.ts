/**
 * The firehose (RabbitMQ rabbit_trace): while tracing is on in a vhost, every message entering it is
 * copied to the vhost's `amq.rabbitmq.trace` topic exchange with routing key `publish.<exchange>`, and
 * every delivery (basic.deliver, basic.get) with `deliver.<queue>`. The copy has the original body and
 * a single property, headers, holding RabbitMQ's fields: exchange_name, routing_keys, properties (the
 * original basic properties keyed by their names), node, then vhost, connection, channel, user and
 * routed_queues (publish) or redelivered (deliver). Messages that came from the trace exchange itself
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
import type { FieldTable, FieldValue } from './wire/field-table.js'
import { decodeProperties, encodeProperties, type BasicProperties } from './wire/properties.js'

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

/** A vhost's firehose; exists only while tracing is on. */
export class Tracer {
  constructor(
    private readonly vhost: VHost,
    /** the node name RabbitMQ puts in the `node` header (Warren's, as /api/nodes shows it) */
    private readonly node: string,
  ) {}

  /** A message entered the vhost through `exchange` and was routed to `routed` (tap_in). */
  published(exchange: string, message: Message, routed: Iterable<Destination>, origin: TraceOrigin | null): void {
    if (exchange === TRACE_EXCHANGE) return
    const x = this.target()
    if (x === undefined) return
    const queues: FieldValue[] = []
    for (const d of routed) if (d.kind === 'queue') queues.push(d.name)
    const headers = this.common(message)
    headers.vhost = this.vhost.name
    headers.connection = origin?.conn.name ?? ''
    headers.channel = origin?.id ?? 0
    headers.user = origin?.userName ?? ''
    headers.routed_queues = queues
    this.emit(x, `publish.${exchange}`, headers, message)
  }

  /** `env` was delivered from `queue` to a consumer or a basic.get (tap_out). */
  delivered(queue: Queue, env: Envelope, origin: TraceOrigin | null): void {
    const message = env.message
    if (message.exchange === TRACE_EXCHANGE) return
    const x = this.target()
    if (x === undefined) return
    const headers = this.common(message)
    headers.redelivered = env.redelivered ? 1 : 0
    headers.vhost = this.vhost.name
    headers.connection = origin?.conn.name ?? ''
    headers.channel = origin?.id ?? 0
    headers.user = origin?.userName ?? ''
    this.emit(x, `deliver.${queue.name}`, headers, message)
  }

  /** The headers every trace message starts with (rabbit_trace:msg_to_table). */
  private common(message: Message): FieldTable {
    return {
      exchange_name: message.exchange,
      routing_keys: [message.routingKey],
      properties: propertiesTable(message),
      node: this.node,
    }
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

  /** Routes a trace copy through amq.rabbitmq.trace into the queues bound to it. */
  private emit(x: Exchange, routingKey: string, headers: FieldTable, original: Message): void {
    const props = encodeProperties({ headers })
    const body = original.body
    const data = Buffer.allocUnsafe(props.length + body.length)
    props.copy(data, 0)
    body.copy(data, props.length)
    const copy = new Message(TRACE_EXCHANGE, routingKey, data, props.length, 0, 0, -1, HEADERS_AT, Date.now())
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
