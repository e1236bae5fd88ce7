/**
 * The behaviour a queue's arguments ask for (x-message-ttl, x-max-length, x-dead-letter-exchange …),
 * read once at declare time. Arguments are already validated (core/arguments.ts).
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

export function queueSettings(args: FieldTable): QueueSettings {
  const t = args['x-queue-type']
  const type = t === 'quorum' || t === 'stream' ? t : 'classic'
  const deliveryLimit = num(args['x-delivery-limit'])
  const overflow = args['x-overflow']
  return {
    messageTtl: num(args['x-message-ttl']),
    expires: num(args['x-expires']),
    maxLength: num(args['x-max-length']),
    maxLengthBytes: num(args['x-max-length-bytes']),
    overflow: overflow === 'reject-publish' || overflow === 'reject-publish-dlx' ? overflow : 'drop-head',
    deadLetterExchange: typeof args['x-dead-letter-exchange'] === 'string' ? args['x-dead-letter-exchange'] : undefined,
    deadLetterRoutingKey:
      typeof args['x-dead-letter-routing-key'] === 'string' ? args['x-dead-letter-routing-key'] : undefined,
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
