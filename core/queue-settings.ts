/**
 * The behaviour a queue's arguments and its policies ask for (x-message-ttl, x-max-length,
 * x-dead-letter-exchange …): computed at declare time and again when the policies that apply to the
 * queue change, never per message. Arguments are already validated (core/arguments.ts), policy
 * definitions too (core/policies.ts).
 *
 * Argument vs policy, as RabbitMQ 3.10 resolves them (rabbit_amqqueue_process:process_args_policy,
 * rabbit_quorum_queue): expires, message-ttl, max-length, max-length-bytes and delivery-limit take
 * the lower of the two; dead-letter-exchange and dead-letter-routing-key take the argument; overflow
 * takes the argument on classic queues and the policy on quorum queues. x-max-priority,
 * x-single-active-consumer and x-queue-type come from arguments only (no policy key sets them).
 */
import type { FieldTable, FieldValue } from './wire/field-table.js'

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx'

export interface QueueSettings {
  /** x-message-ttl in ms, or -1 */
  messageTtl: number
  /** x-expires in ms, or -1 */
  expires: number
  /** x-max-length, or -1 */
  maxLength: number
  /** x-max-length-bytes (body bytes of ready messages), or -1 */
  maxLengthBytes: number
  overflow: Overflow
  deadLetterExchange: string | undefined
  deadLetterRoutingKey: string | undefined
  /** x-delivery-limit: returns allowed before a message is dead-lettered, or -1 */
  deliveryLimit: number
  /** x-max-priority (0: not a priority queue) */
  maxPriority: number
  singleActiveConsumer: boolean
  /** x-queue-type as declared ('classic' when absent) */
  type: 'classic' | 'quorum' | 'stream'
  /** add x-delivery-count to redeliveries (quorum queues, and any queue with a delivery limit) */
  trackDeliveryCount: boolean
}

function num(v: FieldValue | undefined): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  return -1
}

/** The lower of argument and policy value (rabbit_amqqueue_process res_min), -1 when neither is set. */
function lower(args: FieldTable, policy: FieldTable, key: string): number {
  const a = num(args[`x-${key}`])
  const p = num(policy[key])
  return a < 0 ? p : p < 0 ? a : Math.min(a, p)
}

/** A string setting: the argument when set, else the policy's (res_arg), or the policy's first when `policyFirst`. */
function text(args: FieldTable, policy: FieldTable, key: string, policyFirst = false): string | undefined {
  const a = args[`x-${key}`]
  const p = policy[key]
  const first = policyFirst ? p : a
  const second = policyFirst ? a : p
  return typeof first === 'string' ? first : typeof second === 'string' ? second : undefined
}

/** The settings of a queue with these arguments under `policy` (the merged effective policy definition). */
export function queueSettings(args: FieldTable, policy: FieldTable = {}): QueueSettings {
  const t = args['x-queue-type']
  const type = t === 'quorum' || t === 'stream' ? t : 'classic'
  const deliveryLimit = lower(args, policy, 'delivery-limit')
  const overflow = text(args, policy, 'overflow', type === 'quorum')
  return {
    messageTtl: lower(args, policy, 'message-ttl'),
    expires: lower(args, policy, 'expires'),
    maxLength: lower(args, policy, 'max-length'),
    maxLengthBytes: lower(args, policy, 'max-length-bytes'),
    overflow: overflow === 'reject-publish' || overflow === 'reject-publish-dlx' ? overflow : 'drop-head',
    deadLetterExchange: text(args, policy, 'dead-letter-exchange'),
    deadLetterRoutingKey: text(args, policy, 'dead-letter-routing-key'),
    deliveryLimit,
    maxPriority: Math.max(0, num(args['x-max-priority'])),
    singleActiveConsumer: args['x-single-active-consumer'] === true,
    type,
    trackDeliveryCount: type === 'quorum' || deliveryLimit >= 0,
  }
}

/** The TTL that applies to a message in a queue: the shorter of the queue's and its own (ms, or -1). */
export function effectiveTtl(queueTtl: number, messageTtl: number): number {
  return messageTtl >= 0 && (queueTtl < 0 || messageTtl < queueTtl) ? messageTtl : queueTtl
}
