/**
 * Queue arguments (x-…): validation at declare time and the equivalence check on redeclare, with
 * RabbitMQ's reply texts (`invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}`).
 */
import { preconditionFailed } from './errors.js'
import { MAX_EXPIRY } from './message.js'
import { parseInterval } from './stream/offset-spec.js'
import type { QueueOptions } from './queue.js'
import { fieldValuesEqual, type FieldTable, type FieldValue } from './wire/field-table.js'

/** Arguments RabbitMQ compares on redeclare; others are ignored (RabbitMQ: rabbit_amqqueue declare_args). */
const EQUIVALENCE_ARGS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-delivery-limit',
] as const

/**
 * What a stream compares on redeclare: its queue type's arguments (rabbit_stream_queue capabilities),
 * plus x-single-active-consumer, which Warren's streams accept for consumer groups.
 */
const STREAM_EQUIVALENCE_ARGS = [
  'x-max-length-bytes',
  'x-max-age',
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-queue-leader-locator',
  'x-single-active-consumer',
] as const

/**
 * Queue arguments RabbitMQ 3.10 knows for other queue types and refuses on a stream
 * (rabbit_amqqueue:check_arguments_key): `invalid arg 'x-message-ttl' for queue 's' in vhost '/' of
 * queue type rabbit_stream_queue`. x-single-active-consumer is allowed (consumer groups, as in 3.11).
 */
const STREAM_REFUSED = new Set([
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-dead-letter-strategy',
  'x-max-length',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-queue-version',
  'x-queue-master-locator',
  'x-delivery-limit',
  'x-max-in-memory-length',
  'x-max-in-memory-bytes',
  'x-quorum-initial-group-size',
])

/** Returns the first argument that differs between a redeclare and the existing queue, or undefined. */
export function queueArgumentsEquivalent(received: FieldTable, current: FieldTable): string | undefined {
  const names = current['x-queue-type'] === 'stream' ? STREAM_EQUIVALENCE_ARGS : EQUIVALENCE_ARGS
  for (const k of names) {
    if (!fieldValuesEqual(received[k], current[k])) return k
  }
  // x-queue-type: leaving it out on redeclare is fine (RabbitMQ 3.10+), naming another type is not.
  const rt = received['x-queue-type']
  if (rt !== undefined && !fieldValuesEqual(rt, current['x-queue-type'] ?? 'classic')) return 'x-queue-type'
  return undefined
}

type Check = (v: FieldValue) => string | undefined

const isInt = (v: FieldValue): v is number | bigint =>
  (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint'

function typeName(v: FieldValue): string {
  if (typeof v === 'string') return 'longstr'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double'
  if (v === null) return 'void'
  if (Array.isArray(v)) return 'array'
  return 'table'
}

const nonNegInt: Check = (v) => {
  if (!isInt(v)) return `{unacceptable_type,${typeName(v)}}`
  if (v < 0) return `{value_negative,${v}}`
  return undefined
}
const positiveInt: Check = (v) => {
  if (!isInt(v)) return `{unacceptable_type,${typeName(v)}}`
  if (v <= 0) return `{value_zero_or_less,${v}}`
  return undefined
}
/** TTLs are at most 4294967295 ms (rabbit_misc:check_expiry). */
const tooBig = (v: FieldValue): string | undefined => (Number(v) > MAX_EXPIRY ? `{value_too_big,${v}}` : undefined)
const str: Check = (v) => (typeof v === 'string' ? undefined : `{unacceptable_type,${typeName(v)}}`)
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `{unacceptable_type,${typeName(v)}}`)
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    typeof v !== 'string' ? `{unacceptable_type,${typeName(v)}}` : allowed.includes(v) ? undefined : `{invalid_value,${v}}`
/** RabbitMQ check_max_priority_arg: a non-negative integer up to 255 (0 is accepted: one level). */
const priority: Check = (v) => {
  const problem = nonNegInt(v)
  if (problem !== undefined) return problem
  if ((v as number) > 255) return `{max_value_exceeded,${v}}`
  return undefined
}

const CHECK_LIST: Record<string, Check> = {
  'x-message-ttl': (v) => nonNegInt(v) ?? tooBig(v),
  'x-expires': (v) => positiveInt(v) ?? tooBig(v),
  'x-max-length': nonNegInt,
  'x-max-length-bytes': nonNegInt,
  'x-delivery-limit': nonNegInt,
  'x-dead-letter-exchange': str,
  'x-dead-letter-routing-key': str,
  'x-overflow': oneOf('drop-head', 'reject-publish', 'reject-publish-dlx'),
  'x-max-priority': priority,
  'x-single-active-consumer': bool,
  'x-queue-mode': oneOf('default', 'lazy'),
  'x-queue-type': oneOf('classic', 'quorum', 'stream'),
  // rabbit_amqqueue:check_queue_leader_locator_arg (3.10): client-local or balanced
  'x-queue-leader-locator': (v) =>
    typeof v !== 'string' ? `{unacceptable_type,${typeName(v)}}` : v === 'client-local' || v === 'balanced' ? undefined : 'invalid_queue_locator_arg',
}
/** A Map: an argument named `__proto__` or `constructor` is unknown, not Object.prototype's. */
const CHECKS = new Map(Object.entries(CHECK_LIST))
/** Arguments only streams take (left alone on other queues, as Warren ignores unknown ones). */
const STREAM_CHECKS = new Map<string, Check>([
  ['x-max-age', (v) => (typeof v !== 'string' ? `{unacceptable_type,${typeName(v)}}` : parseInterval(v) < 0 ? 'invalid_max_age' : undefined)],
  ['x-stream-max-segment-size-bytes', nonNegInt],
])

/** Throws 406 for a queue argument RabbitMQ would refuse. */
export function validateQueueArguments(queue: string, vhost: string, o: QueueOptions): void {
  const where = `for queue '${queue}' in vhost '${vhost}'`
  if (o.arguments['x-queue-type'] === 'stream') return validateStream(where, o)
  for (const [k, v] of Object.entries(o.arguments)) {
    const check = CHECKS.get(k)
    const problem = check?.(v)
    if (problem !== undefined) throw preconditionFailed(`invalid arg '${k}' ${where}: ${problem}`)
  }
  if (o.arguments['x-dead-letter-routing-key'] !== undefined && o.arguments['x-dead-letter-exchange'] === undefined) {
    throw preconditionFailed(
      `invalid arg 'x-dead-letter-routing-key' ${where}: {missing_dead_letter_exchange}`,
    )
  }
  if (o.arguments['x-queue-type'] === 'quorum') durableOnly(where, o)
}

/** RabbitMQ: quorum queues and streams are always durable and never exclusive or auto-delete (in this order). */
function durableOnly(where: string, o: QueueOptions): void {
  if (o.autoDelete) throw preconditionFailed(`invalid property 'auto-delete' ${where}`)
  if (o.exclusiveOwner !== null) throw preconditionFailed(`invalid property 'exclusive-owner' ${where}`)
  if (!o.durable) throw preconditionFailed(`invalid property 'non-durable' ${where}`)
}

/**
 * A stream's arguments as rabbit_amqqueue:check_declare_arguments and rabbit_stream_queue:declare
 * check them: values of its own arguments, then arguments of other queue types (refused), then
 * the properties, then the segment size limit.
 */
function validateStream(where: string, o: QueueOptions): void {
  const args = o.arguments
  for (const [k, v] of Object.entries(args)) {
    if (STREAM_REFUSED.has(k)) continue
    const problem = (STREAM_CHECKS.get(k) ?? CHECKS.get(k))?.(v)
    if (problem !== undefined) throw preconditionFailed(`invalid arg '${k}' ${where}: ${problem}`)
  }
  for (const k of Object.keys(args)) {
    if (STREAM_REFUSED.has(k)) throw preconditionFailed(`invalid arg '${k}' ${where} of queue type rabbit_stream_queue`)
  }
  durableOnly(where, o)
  const seg = args['x-stream-max-segment-size-bytes']
  if (seg !== undefined && Number(seg) > 3_000_000_000) {
    throw preconditionFailed('Exceeded max value for x-stream-max-segment-size-bytes')
  }
}
