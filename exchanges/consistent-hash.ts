/**
 * The `x-consistent-hash` exchange (rabbitmq_consistent_hash_exchange): each message goes to exactly
 * one bound destination, chosen by a hash of its routing key, of one header (`hash-header` exchange
 * argument) or of one property (`hash-property`: message_id, correlation_id or timestamp). One key
 * always reaches the same queue (or stream, or exchange) while the bindings stay, so its order is kept.
 *
 * As in the plugin, a binding's key is its weight: an integer ≥ 1 giving it that many buckets, and a
 * jump consistent hash (Lamping & Veach) picks a bucket in O(log n). A message without the header or
 * property is hashed as "absent" (the plugin hashes `undefined`): all such messages reach one
 * destination. Validation and error texts are the plugin's.
 *
 * Where Warren differs, on purpose: the plugin renumbers the buckets behind a removed binding, which
 * moves keys of other destinations too; here a removed binding leaves holes that a key falling on
 * re-rolls out of, so removing a binding moves only that destination's keys, and adding one moves
 * keys only to it (new bindings fill holes first). When holes outnumber three quarters of the
 * buckets the ring is rebuilt (keys then move, as after a restart, which rebuilds it in binding
 * order). Each binding holds its own buckets (the plugin drops every bucket of a destination when
 * one of its bindings goes). A weight is at most {@link MAX_WEIGHT} and an exchange holds at most
 * {@link MAX_BUCKETS} buckets (the plugin has no limit and would allocate whatever it is asked).
 */
import type { Binding, Destination, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import { preconditionFailed } from '../core/errors.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'
import type { FieldTable, FieldValue } from '../core/wire/field-table.js'
import { formatErlangValue } from './erlang-term.js'

export const CONSISTENT_HASH_TYPE = 'x-consistent-hash'
/** the plugin's hashable properties */
const PROPERTIES = ['correlation_id', 'message_id', 'timestamp']
/** largest weight of one binding (Warren's limit) */
export const MAX_WEIGHT = 10_000
/** most buckets of one exchange (Warren's limit) */
export const MAX_BUCKETS = 1_000_000
/** re-rolls from holes before falling back to a scan (a key takes ~1.3 on average at the worst fill) */
const MAX_REROLLS = 32

const ON_ROUTING_KEY = 0
const ON_HEADER = 1
const ON_PROPERTY = 2

/** The plugin's validate/1: 406 texts for bad `hash-header` / `hash-property` arguments. */
export function validateConsistentHashArgs(args: FieldTable): string | undefined {
  const header = args['hash-header']
  const property = args['hash-property']
  if (header !== undefined && typeof header !== 'string') return `Invalid hash-header: ${formatErlangValue(header)}; expected longstr`
  if (property !== undefined && typeof property !== 'string') return `Invalid hash-property: ${formatErlangValue(property)}; expected longstr`
  if (header !== undefined && property !== undefined) return 'hash-header and hash-property are mutually exclusive'
  if (property !== undefined && !PROPERTIES.includes(property)) return `Unsupported property: ${property}`
  return undefined
}

/** The plugin's validate_binding/2: the binding key is the weight, an integer ≥ 1. */
export function parseWeight(key: string): number | string {
  // Erlang list_to_integer: an optional sign and decimal digits, nothing else
  if (!/^[+-]?\d+$/.test(key)) return `The binding key must be an integer: ${formatErlangValue(key)}`
  const w = Number(key)
  if (w < 1) return 'The binding key must be greater than 0'
  if (w > MAX_WEIGHT) return `The binding key must be at most ${MAX_WEIGHT}`
  return w
}

/** 32-bit FNV-1a over UTF-16 code units with a murmur3 finaliser; no allocation. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return fmix(h)
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** hash of "no header / no property" (the plugin hashes the atom undefined) */
const ABSENT = hashString('\u0000absent')

function hashValue(v: FieldValue | undefined): number {
  if (v === undefined || v === null) return ABSENT
  if (typeof v === 'string') return hashString(v)
  if (Buffer.isBuffer(v)) return hashString(v.toString('latin1'), 0x1b873593)
  if (typeof v === 'object' && !(v instanceof Date)) return hashString(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)), 0x2f0b1e3a)
  return hashString(v instanceof Date ? String(v.getTime()) : String(v), 0x5bd1e995)
}

/**
 * Jump consistent hash of `key` into [0, n): a key changes bucket when n grows only to a new bucket.
 * The 64-bit LCG of the paper is replaced by a 32-bit mixing generator (no BigInt).
 */
export function jumpHash(key: number, n: number): number {
  let b = -1
  let j = 0
  let state = key | 0
  while (j < n) {
    b = j
    state = (state + 0x9e3779b9) | 0
    const r = (fmix(state) + 1) / 4294967296
    j = Math.floor((b + 1) / r)
  }
  return b
}

interface HashBinding {
  readonly destination: Destination
  readonly slots: number[]
}

/** Router of one consistent-hash exchange: buckets (with holes) → destinations. */
export class ConsistentHashRouter implements ExchangeRouter {
  private buckets: (Destination | null)[] = []
  private holes: number[] = []
  private live = 0
  private readonly byId = new Map<string, HashBinding>()
  private readonly on: number
  private readonly name: string

  constructor(args: FieldTable) {
    const header = args['hash-header']
    const property = args['hash-property']
    this.on = typeof header === 'string' ? ON_HEADER : typeof property === 'string' ? ON_PROPERTY : ON_ROUTING_KEY
    this.name = typeof header === 'string' ? header : typeof property === 'string' ? property : ''
  }

  validateBinding(_args: FieldTable, routingKey: string): string | undefined {
    const w = parseWeight(routingKey)
    if (typeof w === 'string') return w
    if (this.live + w > MAX_BUCKETS) return `The exchange holds at most ${MAX_BUCKETS} buckets`
    return undefined
  }

  bind(binding: Binding): void {
    if (this.byId.has(binding.id)) return
    const w = parseWeight(binding.routingKey)
    if (typeof w === 'string') return
    const slots: number[] = []
    for (let i = 0; i < w; i++) {
      const at = this.holes.length > 0 ? this.holes.pop()! : this.buckets.push(null) - 1
      this.buckets[at] = binding.destination
      slots.push(at)
    }
    this.live += w
    this.byId.set(binding.id, { destination: binding.destination, slots })
  }

  unbind(binding: Binding): void {
    const b = this.byId.get(binding.id)
    if (b === undefined) return
    this.byId.delete(binding.id)
    for (const at of b.slots) this.buckets[at] = null
    this.live -= b.slots.length
    if (this.live === 0) {
      this.buckets = []
      this.holes = []
    } else if (this.live * 4 < this.buckets.length) this.rebuild()
    else {
      // lowest holes are filled first (popped from the end)
      for (const at of b.slots) this.holes.push(at)
      this.holes.sort((x, y) => y - x)
    }
  }

  /** Renumbers the buckets densely, bindings in the order they were made. */
  private rebuild(): void {
    this.buckets = []
    this.holes = []
    for (const b of this.byId.values()) {
      for (let i = 0; i < b.slots.length; i++) b.slots[i] = this.buckets.push(b.destination) - 1
    }
  }

  route(message: Message, routingKey: string, out: RouteTarget): void {
    if (this.live === 0) return
    out.add(this.pick(this.keyHash(message, routingKey)))
  }

  private keyHash(message: Message, routingKey: string): number {
    if (this.on === ON_ROUTING_KEY) return hashString(routingKey)
    if (this.on === ON_HEADER) {
      const h = message.headers
      return hashValue(h !== undefined && Object.hasOwn(h, this.name) ? h[this.name] : undefined)
    }
    const p = message.properties
    if (this.name === 'message_id') return hashValue(p.messageId)
    if (this.name === 'correlation_id') return hashValue(p.correlationId)
    return hashValue(p.timestamp === undefined ? undefined : String(p.timestamp))
  }

  /** The destination of a key hash: its jump-hash bucket, re-rolled while that is a hole. */
  pick(hash: number): Destination {
    const buckets = this.buckets
    const n = buckets.length
    let key = hash
    for (let i = 0; i < MAX_REROLLS; i++) {
      const d = buckets[jumpHash(key, n)]
      if (d !== null) return d
      key = fmix((key ^ 0x27d4eb2f) + i + 1)
    }
    // very unlikely: the first live bucket after the last pick
    let at = jumpHash(key, n)
    while (buckets[at] === null) at = (at + 1) % n
    return buckets[at]!
  }

  /** Buckets in use (the sum of the weights) and in the ring (holes included), for tests. */
  get size(): { live: number; buckets: number } {
    return { live: this.live, buckets: this.buckets.length }
  }
}

/** Factory registered as the "x-consistent-hash" exchange type; refuses bad arguments with 406. */
export const consistentHashRouterFactory: RouterFactory = (exchange: Exchange, _vhost: VHost) => {
  const invalid = validateConsistentHashArgs(exchange.arguments)
  if (invalid !== undefined) throw preconditionFailed(invalid)
  return new ConsistentHashRouter(exchange.arguments)
}
