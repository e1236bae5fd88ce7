/**
 * Dead-lettering as RabbitMQ does it: a message rejected without requeue, expired, dropped by a length
 * limit or over its delivery limit is republished to the queue's dead-letter exchange with the
 * `x-death` history (one entry per queue and reason, newest first, with a count), the
 * `x-first-death-*` and `x-last-death-*` headers, and without its expiration property. A message that
 * would go round a dead-letter cycle without any client rejecting it is dropped, so failing messages
 * never loop forever.
 */
import type { Message } from './message.js'
import type { Queue } from './queue.js'
import type { FieldTable, FieldValue } from './wire/field-table.js'
import { editProperties } from './wire/property-edit.js'
import { decodeProperties } from './wire/properties.js'

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit'

/** Dead-letters `message` from `queue`; returns the number of queues it reached (0: dropped). */
export function deadLetter(queue: Queue, message: Message, reason: DeathReason): number {
  const dlxName = queue.settings.deadLetterExchange
  if (dlxName === undefined) return 0
  const vhost = queue.vhost
  const dlx = vhost.exchanges.get(dlxName)
  if (dlx === undefined) {
    vhost.warnOnce(`dlx:${queue.name}:${dlxName}`, { queue: queue.name, dlx: dlxName }, 'dead-letter exchange not found, message dropped')
    return 0
  }
  const deaths = recordDeath(message, queue.name, reason)
  const props = editProperties(message.props, {
    setHeaders: deathHeaders(message.headers, deaths, queue.name, reason, message.exchange),
    removeExpiration: true,
  })
  const routingKey = queue.settings.deadLetterRoutingKey ?? message.routingKey
  // republished now: a TTL in the queues it reaches counts from now, not from the original publish
  const dead = message.withProperties(props, dlx.name, routingKey, -1, Date.now())
  let n = 0
  for (const q of vhost.routeOnly(dlx, dead)) {
    if (isCycle(deaths, q.name)) {
      vhost.warnOnce(`cycle:${queue.name}:${q.name}`, { queue: queue.name, target: q.name, reason }, 'dead-letter cycle detected, message dropped')
      continue
    }
    if (q.push(dead)) n++
  }
  return n
}

/**
 * RabbitMQ's cycle check (mc:is_death_cycle): the message was dead-lettered from `target` before and
 * no death since then, that one included, was a client rejection. Deaths are newest first.
 */
function isCycle(deaths: FieldTable[], target: string): boolean {
  for (const d of deaths) {
    if (d.reason === 'rejected') return false
    if (d.queue === target) return true
  }
  return false
}

/** The new x-death array: this death first, an existing (queue, reason) entry counted up. */
function recordDeath(message: Message, queue: string, reason: DeathReason): FieldTable[] {
  const existing = message.headers?.['x-death']
  const deaths = Array.isArray(existing) ? (existing.filter(isTable) as FieldTable[]) : []
  const i = deaths.findIndex((d) => d.queue === queue && d.reason === reason)
  let entry: FieldTable
  if (i >= 0) {
    entry = { ...deaths[i], count: BigInt(toNumber(deaths[i].count) + 1) }
    deaths.splice(i, 1)
  } else {
    entry = {
      count: 1n,
      reason,
      queue,
      time: new Date(),
      exchange: message.exchange,
      'routing-keys': [message.routingKey],
    }
    const expiration = message.ttl >= 0 ? decodeProperties(message.props).expiration : undefined
    if (expiration !== undefined) entry['original-expiration'] = expiration
  }
  // counts are 64-bit on the wire (RabbitMQ's type 'long'), whatever width they were decoded from
  const rest = deaths.map((d) => ({ ...d, count: BigInt(toNumber(d.count)) }))
  return [entry, ...rest]
}

function deathHeaders(
  headers: FieldTable | undefined,
  deaths: FieldTable[],
  queue: string,
  reason: DeathReason,
  exchange: string,
): FieldTable {
  const h: FieldTable = { 'x-death': deaths }
  if (headers?.['x-first-death-queue'] === undefined) {
    h['x-first-death-queue'] = queue
    h['x-first-death-reason'] = reason
    h['x-first-death-exchange'] = exchange
  }
  // RabbitMQ 3.13+
  h['x-last-death-queue'] = queue
  h['x-last-death-reason'] = reason
  h['x-last-death-exchange'] = exchange
  return h
}

function isTable(v: FieldValue): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date)
}

function toNumber(v: FieldValue | undefined): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  return 0
}
