/**
 * Moving messages over HTTP (RabbitMQ rabbit_mgmt_wm_exchange_publish and _queue_get): publish
 * builds a core Message and routes it with VHost.publish, as a channel does; get takes messages with
 * Queue.get and settles them as the `ackmode` says once all are fetched (so a requeueing get of N
 * returns N different messages, which come back marked redelivered).
 */
import { userIdMismatchText } from '../../core/access-control.js'
import { ChannelError, notFound, preconditionFailed, ReplyCode } from '../../core/errors.js'
import type { Exchange } from '../../core/exchange.js'
import { expirationProblem, Message, parseExpiration } from '../../core/message.js'
import type { Envelope, Queue } from '../../core/queue.js'
import type { TraceOrigin } from '../../core/trace.js'
import type { VHost } from '../../core/vhost.js'
import { encodeProperties, summarizeProperties, type BasicProperties, type PropertySummary } from '../../core/wire/properties.js'
import { bool, int, objectBody, shortName, str, toFieldTable } from '../coerce.js'
import { ok, type ApiReply, type ApiRequest } from '../context.js'
import { isUtf8, propertiesFromJson, propertiesJson } from '../format.js'
import { badRequest } from '../http-errors.js'
import { accessFor, withChannel, withPublishChannel } from '../resource-access.js'

/**
 * How the firehose names a publish or get made over HTTP. RabbitMQ makes them on channel 1 of a direct
 * connection named after an Erlang pid; Warren has no such connection and names the API instead.
 */
function httpOrigin(req: ApiRequest): TraceOrigin {
  return { id: 1, userName: req.user.name, conn: HTTP_CONNECTION }
}
const HTTP_CONNECTION = { name: 'management API' }

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/

function payloadBytes(payload: string, encoding: string): Buffer {
  if (encoding === 'string') return Buffer.from(payload, 'utf8')
  if (encoding === 'base64') {
    if (!BASE64.test(payload)) throw badRequest('payload is not valid base64')
    return Buffer.from(payload, 'base64')
  }
  throw badRequest(`payload_encoding must be 'string' or 'base64', got '${encoding}'`)
}

/**
 * POST /api/exchanges/{vhost}/{name}/publish → `{"routed": true|false}`. RabbitMQ publishes on an
 * internal AMQP channel after decoding the body, so a missing exchange (`x` undefined) or an internal
 * one closes that channel and is answered 400 with the channel's code and reply text
 * (rabbit_mgmt_wm_exchange_publish: bad_request_exception "404 NOT_FOUND - no exchange …").
 */
export function publish(req: ApiRequest, v: VHost, x: Exchange | undefined, name: string): ApiReply {
  const o = objectBody(req.body)
  const routingKey = shortName(str(o, 'routing_key'), 'routing_key')
  const body = payloadBytes(str(o, 'payload'), str(o, 'payload_encoding', 'string'))
  const propsIn = o.properties ?? {}
  if (typeof propsIn !== 'object' || propsIn === null || Array.isArray(propsIn)) throw badRequest('properties must be a JSON object')
  const props = propertiesFromJson(propsIn as Record<string, unknown>, toFieldTable)
  const access = accessFor(req, v)
  const n = withPublishChannel(access, () => {
    // rabbit_channel basic.publish's order: size, write permission, exchange lookup, internal,
    // user_id, expiration; any channel error is answered 400 "<code> <reply text>"
    const max = req.ctx.broker.config.maxMessageSize
    if (body.length > max) throw preconditionFailed(`message size ${body.length} is larger than configured max size ${max}`)
    access.check('write', 'exchange', name)
    if (x === undefined) throw notFound('exchange', name, v.name)
    if (x.internal) {
      throw new ChannelError(ReplyCode.ACCESS_REFUSED, `cannot publish to internal exchange '${x.name}' in vhost '${v.name}'`)
    }
    access.checkTopic('write', x, routingKey)
    if (props.userId !== undefined && props.userId !== req.user.name) {
      throw preconditionFailed(userIdMismatchText(props.userId, req.user.name))
    }
    const ttl = parseExpiration(props.expiration)
    if (Number.isNaN(ttl)) throw preconditionFailed(`invalid expiration '${props.expiration}': ${expirationProblem(props.expiration!)}`)
    return route(req, v, x, routingKey, props, body, ttl)
  })
  // RabbitMQ: a queue at its length limit with x-overflow reject-publish nacks the publish
  if (v.refused) throw badRequest('rejected Unable to publish message. Check queue limits.')
  return ok({ routed: n > 0 })
}

/** Builds the message and routes it as a channel does; returns the number of queues reached. */
function route(req: ApiRequest, v: VHost, x: Exchange, routingKey: string, props: BasicProperties, body: Buffer, ttl: number): number {
  const propBytes = encodeProperties(props)
  const s: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 }
  summarizeProperties(propBytes, s)
  const data = Buffer.concat([propBytes, body])
  const msg = new Message(x.name, routingKey, data, propBytes.length, s.deliveryMode, s.priority, ttl, s.headersAt, Date.now())
  // RabbitMQ publishes on an internal channel in confirm mode: counted as any confirmed publish
  const { broker } = req.ctx
  broker.stats.publish++
  broker.stats.receivedConfirm++
  broker.messageSizes.observe(body.length)
  const n = v.publish(x, msg, null, httpOrigin(req))
  if (n === 0) broker.stats.returned++ // published mandatory, as RabbitMQ does
  if (!v.refused) broker.stats.confirm++
  return n
}

const ACKMODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false']

function ackmode(o: Record<string, unknown>): string {
  if (o.ackmode === undefined && o.requeue !== undefined) {
    // the pre-3.7 form: {"requeue": true|false}
    return bool(o, 'requeue', true) ? 'ack_requeue_true' : 'ack_requeue_false'
  }
  const mode = str(o, 'ackmode')
  if (!ACKMODES.includes(mode)) throw badRequest(`ackmode must be one of ${ACKMODES.join(', ')}, got '${mode}'`)
  return mode
}

function messageJson(env: Envelope, remaining: number, encoding: string, truncate: number | undefined): Record<string, unknown> {
  const m = env.message
  const body = m.body
  const shown = truncate === undefined || truncate >= body.length ? body : body.subarray(0, truncate)
  const asString = encoding === 'auto' && isUtf8(shown)
  return {
    payload_bytes: body.length,
    redelivered: env.redelivered,
    exchange: m.exchange,
    routing_key: m.routingKey,
    message_count: remaining,
    properties: propertiesJson(m.properties),
    payload: asString ? shown.toString('utf8') : shown.toString('base64'),
    payload_encoding: asString ? 'string' : 'base64',
  }
}

/** POST /api/queues/{vhost}/{name}/get. */
export function getMessages(req: ApiRequest, v: VHost, queue: Queue): ApiReply {
  const o = objectBody(req.body)
  const count = int(o, 'count', 0, 2 ** 31 - 1, 1)
  const mode = ackmode(o)
  const encoding = str(o, 'encoding', 'auto')
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest(`encoding must be 'auto' or 'base64', got '${encoding}'`)
  const truncate = o.truncate === undefined || o.truncate === null ? undefined : int(o, 'truncate', 0, 2 ** 31 - 1)
  // like basic.get on a fresh channel: read permission, then another connection's exclusive queue
  // is locked (405 → 400 "405 RESOURCE_LOCKED - …")
  const access = accessFor(req, v)
  const q = withChannel(access, () => {
    access.check('read', 'queue', queue.name)
    return v.getQueue(queue.name, null)
  })
  const noAck = mode === 'ack_requeue_false'
  const origin = httpOrigin(req)
  const taken: Envelope[] = []
  const out: Record<string, unknown>[] = []
  for (let i = 0; i < count; i++) {
    const env = q.get(noAck, origin)
    if (env === undefined) break
    out.push(messageJson(env, q.messageCount, encoding, truncate))
    if (!noAck) taken.push(env)
  }
  for (const env of taken) {
    if (mode === 'reject_requeue_false') q.reject(env)
    else q.requeue(env)
  }
  if (taken.length > 0) q.scheduleDrain()
  return ok(out)
}
