/**
 * Warren's durable definitions as DefinitionsLog entries: durable exchanges, durable queues and
 * the bindings between durable ends (RabbitMQ: a binding is durable when both its source and its
 * destination are). Arguments are kept as the base64 of their AMQP field-table encoding, so every
 * field type (byte arrays, decimals, 64-bit integers, timestamps) survives exactly; JSON alone
 * could not represent them.
 *
 * Replay order at boot: exchanges, then queues, then bindings (see {@link splitDefinitions}).
 */
import { decodeTable, encodeTable, type FieldTable } from '../wire/field-table.js'
import type { DefinitionsLog } from './definitions-log.js'

/** A durable exchange as recorded (durable is implied: only durable ones are recorded). */
export interface ExchangeDefinition {
  vhost: string
  name: string
  type: string
  autoDelete: boolean
  internal: boolean
  /** encodeArguments() of the declare arguments */
  arguments: string
}

/** A durable, non-exclusive queue as recorded. */
export interface QueueDefinition {
  vhost: string
  name: string
  autoDelete: boolean
  arguments: string
}

/** A binding between durable ends as recorded. */
export interface BindingDefinition {
  vhost: string
  source: string
  destinationType: 'queue' | 'exchange'
  destination: string
  routingKey: string
  arguments: string
}

/** Field table → string for a definition ('' for an empty table). */
export function encodeArguments(t: FieldTable): string {
  return Object.keys(t).length === 0 ? '' : encodeTable(t).toString('base64')
}

/** The inverse of encodeArguments. */
export function decodeArguments(s: string): FieldTable {
  return s === '' ? {} : decodeTable(Buffer.from(s, 'base64'))
}

/** Keys: JSON arrays, so no name (which may contain any character) can collide with another. */
export const definitionKey = {
  exchange: (vhost: string, name: string): string => JSON.stringify(['x', vhost, name]),
  queue: (vhost: string, name: string): string => JSON.stringify(['q', vhost, name]),
  binding: (b: BindingDefinition): string =>
    JSON.stringify(['b', b.vhost, b.source, b.destinationType, b.destination, b.routingKey, b.arguments]),
}

/** Records a durable exchange (idempotent). */
export function putExchange(log: DefinitionsLog, x: ExchangeDefinition): void {
  log.put(definitionKey.exchange(x.vhost, x.name), x)
}

/** Records a durable queue (idempotent). */
export function putQueue(log: DefinitionsLog, q: QueueDefinition): void {
  log.put(definitionKey.queue(q.vhost, q.name), q)
}

/** Records a binding between durable ends (idempotent). */
export function putBinding(log: DefinitionsLog, b: BindingDefinition): void {
  log.put(definitionKey.binding(b), b)
}

/** Forgets an exchange and every binding from or to it. */
export function deleteExchange(log: DefinitionsLog, vhost: string, name: string): void {
  log.delete(definitionKey.exchange(vhost, name))
  deleteBindingsOf(log, vhost, 'exchange', name)
}

/** Forgets a queue and every binding to it. */
export function deleteQueue(log: DefinitionsLog, vhost: string, name: string): void {
  log.delete(definitionKey.queue(vhost, name))
  deleteBindingsOf(log, vhost, 'queue', name)
}

/** Forgets one binding. */
export function deleteBinding(log: DefinitionsLog, b: BindingDefinition): void {
  log.delete(definitionKey.binding(b))
}

function deleteBindingsOf(log: DefinitionsLog, vhost: string, kind: 'queue' | 'exchange', name: string): void {
  const doomed: string[] = []
  for (const k of log.keys()) {
    if (!k.startsWith('["b",')) continue
    const [, v, source, destinationType, destination] = JSON.parse(k) as string[]
    if (v !== vhost) continue
    if ((destinationType === kind && destination === name) || (kind === 'exchange' && source === name)) doomed.push(k)
  }
  for (const k of doomed) log.delete(k)
}

/** The definitions to re-declare at boot, in a safe order. */
export interface SplitDefinitions {
  exchanges: ExchangeDefinition[]
  queues: QueueDefinition[]
  bindings: BindingDefinition[]
}

/** Sorts the log's entries by kind: declare exchanges, then queues, then bindings. */
export function splitDefinitions(log: DefinitionsLog): SplitDefinitions {
  const out: SplitDefinitions = { exchanges: [], queues: [], bindings: [] }
  for (const [k, v] of log.entries()) {
    const kind = k.slice(2, 3)
    if (kind === 'x') out.exchanges.push(v as ExchangeDefinition)
    else if (kind === 'q') out.queues.push(v as QueueDefinition)
    else if (kind === 'b') out.bindings.push(v as BindingDefinition)
  }
  return out
}
