/**
 * Message deduplication arguments and keys, with the names of the rabbitmq-message-deduplication
 * plugin (also LavinMQ's): `x-message-deduplication: true` on an exchange or a queue turns it on;
 * an exchange takes `x-cache-size` (required, as the plugin's exchange requires it), `x-cache-ttl`
 * and `x-cache-persistence`, plus LavinMQ's `x-deduplication-header` naming the header that holds
 * the key. A message's key is the value of that header (`x-deduplication-header` by default) or,
 * Warren's addition, its message-id property when the header is absent; a message with neither is
 * never a duplicate. Its own `x-cache-ttl` header overrides the exchange's TTL.
 */
import type { Message } from '../message.js'
import type { FieldTable, FieldValue } from '../wire/field-table.js'
import { decodeProperties } from '../wire/properties.js'

export const DEDUP_ARG = 'x-message-deduplication'
/** the plugin's exchange type: a fanout exchange that always deduplicates */
export const DEDUP_EXCHANGE_TYPE = 'x-message-deduplication'
export const DEDUP_HEADER = 'x-deduplication-header'
export const CACHE_TTL = 'x-cache-ttl'

/** The window of a deduplicating exchange. */
export interface DedupSettings {
  /** most keys remembered (x-cache-size) */
  size: number
  /** ms a key is remembered (x-cache-ttl), 0 for as long as it stays within `size` */
  ttl: number
  /** the header holding the key */
  header: string
  /** x-cache-persistence is not 'memory': a durable exchange keeps its window on disk */
  persist: boolean
}

/** A positive integer from a number or a decimal string (the plugin takes both), or undefined. */
function positiveInt(v: FieldValue | undefined): number | undefined {
  if (typeof v === 'bigint') v = Number(v)
  if (typeof v === 'string' && /^\+?\d+$/.test(v)) v = Number(v)
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined
}

/** Whether the arguments (or, for an exchange, the plugin's exchange type) turn deduplication on. */
export function dedupEnabled(args: FieldTable, type = ''): boolean {
  return args[DEDUP_ARG] === true || type === DEDUP_EXCHANGE_TYPE
}

/** The plugin's validate/1 for an exchange with deduplication on: the 406 reason, or undefined. */
export function validateExchangeDedupArgs(args: FieldTable, type: string): string | undefined {
  if (!dedupEnabled(args, type)) return undefined
  if (positiveInt(args['x-cache-size']) === undefined) {
    return "Missing or invalid argument, 'x-cache-size' must be an integer greater than 0"
  }
  if (args[CACHE_TTL] !== undefined && positiveInt(args[CACHE_TTL]) === undefined) {
    return "Invalid argument, 'x-cache-ttl' must be an integer greater than 0"
  }
  const p = args['x-cache-persistence']
  if (p !== undefined && p !== 'disk' && p !== 'memory') {
    return "Invalid argument, 'x-cache-persistence' must be either 'disk' or 'memory'"
  }
  const h = args[DEDUP_HEADER]
  if (h !== undefined && typeof h !== 'string') return `Invalid argument, '${DEDUP_HEADER}' must be a string`
  return undefined
}

/** The settings of an exchange with deduplication on (arguments already validated), else null. */
export function exchangeDedupSettings(args: FieldTable, type: string): DedupSettings | null {
  if (!dedupEnabled(args, type)) return null
  const h = args[DEDUP_HEADER]
  return {
    size: positiveInt(args['x-cache-size']) ?? 1,
    ttl: positiveInt(args[CACHE_TTL]) ?? 0,
    header: typeof h === 'string' ? h : DEDUP_HEADER,
    persist: args['x-cache-persistence'] !== 'memory',
  }
}

/** The header of a queue with deduplication on (LavinMQ's x-deduplication-header argument, or the default). */
export function queueDedupHeader(args: FieldTable): string | null {
  if (!dedupEnabled(args)) return null
  const h = args[DEDUP_HEADER]
  return typeof h === 'string' ? h : DEDUP_HEADER
}

/**
 * The key of a message: the header value (typed, so the number 1 and the string "1" differ, as in
 * Erlang), else the message-id property; undefined when it has neither. Tables and arrays are not
 * keys (the plugin does not handle them either).
 */
export function dedupKey(m: Message, header: string): string | undefined {
  const h = m.headers
  if (h !== undefined && Object.hasOwn(h, header)) {
    const v = h[header]
    switch (typeof v) {
      case 'string':
        return `s${v}`
      case 'number':
      case 'bigint':
        return `n${v}`
      case 'boolean':
        return `b${v}`
      default:
        if (v === null) return 'v'
        if (Buffer.isBuffer(v)) return `s${v.toString()}`
        if (v instanceof Date) return `t${v.getTime()}`
    }
  }
  // Warren: without the header, the message-id property is the key
  if (m.propsLength <= 2) return undefined
  const id = decodeProperties(m.props).messageId
  return id === undefined ? undefined : `s${id}`
}

/** The message's own `x-cache-ttl` header in ms, or 0 when it has none (the window's TTL applies). */
export function messageCacheTtl(m: Message): number {
  const h = m.headers
  if (h === undefined || !Object.hasOwn(h, CACHE_TTL)) return 0
  return positiveInt(h[CACHE_TTL]) ?? 0
}
