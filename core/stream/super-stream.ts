/**
 * Super streams (partitioned streams): an `x-consistent-hash` exchange `<name>` marked with the
 * argument `x-super-stream: true`, and N durable streams `<name>-0` … `<name>-(N-1)` bound to it
 * with weight "1" and the binding argument `x-stream-partition-order: i` (RabbitMQ's name for a
 * partition's place). Everything is an ordinary durable exchange, queue and binding, so it is kept
 * with the definitions and survives a restart. A routing key always reaches the same partition.
 * The partition index of a stream is what its consumer groups use to spread partitions over their
 * members (consumer-group.ts).
 */
import type { Authorize } from '../access-control.js'
import { ReplyCode, ChannelError } from '../errors.js'
import type { Exchange } from '../exchange.js'
import type { Queue } from '../queue.js'
import type { VHost } from '../vhost.js'
import type { FieldTable } from '../wire/field-table.js'

export const SUPER_STREAM_ARG = 'x-super-stream'
export const PARTITION_ORDER_ARG = 'x-stream-partition-order'
/** most partitions of one super stream (Warren's limit) */
export const MAX_PARTITIONS = 1000

export const isSuperStream = (x: Exchange): boolean => x.arguments[SUPER_STREAM_ARG] === true

const order = (args: FieldTable): number => {
  const o = args[PARTITION_ORDER_ARG]
  return typeof o === 'number' ? o : typeof o === 'bigint' ? Number(o) : -1
}

/** The partition streams of super stream `x`, in partition order. */
export function partitionsOf(x: Exchange): Queue[] {
  const out: { q: Queue; i: number }[] = []
  for (const b of x.bindings.values()) {
    const i = order(b.arguments)
    if (i >= 0 && b.destination.kind !== 'exchange') out.push({ q: b.destination as Queue, i })
  }
  return out.sort((a, b) => a.i - b.i).map((p) => p.q)
}

/** The super stream `q` is a partition of, and its index there; null when it is not a partition. */
export function partitionOf(q: Queue): { superStream: string; index: number } | null {
  for (const x of q.vhost.exchanges.values()) {
    if (!isSuperStream(x)) continue
    for (const b of x.bindings.values()) if (b.destination === q) return { superStream: x.name, index: order(b.arguments) }
  }
  return null
}

/** The partition index of stream `q` in a super stream, -1 when it is not a partition. */
export function partitionIndexOf(q: Queue): number {
  return partitionOf(q)?.index ?? -1
}

export const partitionName = (name: string, i: number): string => `${name}-${i}`

export interface SuperStreamChecks {
  /** configure on the exchange (declare) */
  exchange: Authorize
  /** configure on each stream (declare) */
  queue: Authorize
  /** throws unless every resource may be declared and bound (checked before anything is created) */
  all(names: string[]): void
}

/**
 * Creates super stream `name` with `n` partitions (their extra `args`, e.g. x-max-age). Returns
 * false when the same super stream exists already. Throws 406 (HTTP 400) when `name` or a partition
 * name is taken by something else; a bad argument fails on the first stream, before anything exists.
 */
export function declareSuperStream(v: VHost, name: string, n: number, args: FieldTable, checks: SuperStreamChecks): boolean {
  const names = Array.from({ length: n }, (_, i) => partitionName(name, i))
  checks.all(names)
  const x = v.exchanges.get(name)
  if (x !== undefined) {
    const same = isSuperStream(x) && partitionsOf(x).map((q) => q.name).join('\n') === names.join('\n')
    if (same) return false
    throw new ChannelError(ReplyCode.PRECONDITION_FAILED, `exchange '${name}' in vhost '${v.name}' already exists`)
  }
  for (const p of names) {
    if (v.queues.has(p)) throw new ChannelError(ReplyCode.PRECONDITION_FAILED, `queue '${p}' in vhost '${v.name}' already exists`)
  }
  const qArgs: FieldTable = { 'x-single-active-consumer': true, ...args, 'x-queue-type': 'stream' }
  for (const p of names) v.declareQueue(p, { durable: true, autoDelete: false, exclusiveOwner: null, arguments: qArgs }, false, null, checks.queue)
  v.declareExchange(name, 'x-consistent-hash', { durable: true, autoDelete: false, internal: false, arguments: { [SUPER_STREAM_ARG]: true } }, false, checks.exchange)
  names.forEach((p, i) => v.bindQueue(p, name, '1', { [PARTITION_ORDER_ARG]: i }, null))
  return true
}

/** Deletes super stream `x`: its partition streams, then the exchange. */
export function deleteSuperStream(v: VHost, x: Exchange): void {
  for (const q of partitionsOf(x)) v.deleteQueue(q.name, false, false, q.options.exclusiveOwner)
  v.deleteExchange(x.name, false)
}
