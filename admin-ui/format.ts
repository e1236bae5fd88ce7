/**
 * Converting broker values to the JSON RabbitMQ's management API shows (rabbit_mgmt_format):
 * field tables, basic properties, timestamps; and message properties from a publish request.
 */
import { Decimal, type FieldTable, type FieldValue } from '../core/wire/field-table.js'
import type { BasicProperties } from '../core/wire/properties.js'
import { badRequest } from './http-errors.js'

/** A field table as JSON (RabbitMQ amqp_table): nested tables and arrays, void as null. */
export function tableJson(t: FieldTable | undefined): Record<string, unknown> {
  // no prototype: a table key `__proto__` is shown as a key, not made the object's prototype
  const out = Object.create(null) as Record<string, unknown>
  if (t === undefined) return out
  for (const [k, v] of Object.entries(t)) out[k] = valueJson(v)
  return out
}

function valueJson(v: FieldValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (Buffer.isBuffer(v)) return isUtf8(v) ? v.toString('utf8') : v.toString('base64')
  if (v instanceof Date) return Math.floor(v.getTime() / 1000)
  if (v instanceof Decimal) return v.value / 10 ** v.scale
  if (Array.isArray(v)) return v.map(valueJson)
  return tableJson(v)
}

/** True when the bytes are valid UTF-8 (RabbitMQ's `auto` payload encoding test). */
export function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b)
    return true
  } catch {
    return false
  }
}

const PROPERTY_NAMES: [keyof BasicProperties, string][] = [
  ['contentType', 'content_type'],
  ['contentEncoding', 'content_encoding'],
  ['headers', 'headers'],
  ['deliveryMode', 'delivery_mode'],
  ['priority', 'priority'],
  ['correlationId', 'correlation_id'],
  ['replyTo', 'reply_to'],
  ['expiration', 'expiration'],
  ['messageId', 'message_id'],
  ['timestamp', 'timestamp'],
  ['type', 'type'],
  ['userId', 'user_id'],
  ['appId', 'app_id'],
  ['clusterId', 'cluster_id'],
]

const INT_PROPERTIES: Readonly<Record<string, number>> = { delivery_mode: 255, priority: 255, timestamp: Number.MAX_SAFE_INTEGER }

/** Basic properties with RabbitMQ's names (only those set). */
export function propertiesJson(p: BasicProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [js, json] of PROPERTY_NAMES) {
    const v = p[js]
    if (v === undefined) continue
    out[json] = js === 'headers' ? tableJson(v as FieldTable) : v
  }
  return out
}

/**
 * Basic properties from a publish request (RabbitMQ rabbit_mgmt_format:to_basic_properties):
 * delivery_mode, priority and timestamp are integers (numeric strings accepted), headers a table,
 * the rest short strings. Unknown keys are ignored, as RabbitMQ does.
 */
export function propertiesFromJson(o: Record<string, unknown>, toTable: (v: unknown, key: string) => FieldTable): BasicProperties {
  const p: Record<string, unknown> = {}
  for (const [js, json] of PROPERTY_NAMES) {
    const v = o[json]
    if (v === undefined || v === null) continue
    if (json === 'headers') p[js] = toTable(v, 'properties.headers')
    else if (json in INT_PROPERTIES) {
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > INT_PROPERTIES[json]) {
        throw badRequest(`properties.${json} must be an integer from 0 to ${INT_PROPERTIES[json]}, got ${JSON.stringify(v)}`)
      }
      p[js] = n
    } else {
      if (typeof v !== 'string') throw badRequest(`properties.${json} must be a string, got ${JSON.stringify(v)}`)
      if (Buffer.byteLength(v) > 255) throw badRequest(`properties.${json} is longer than 255 bytes`)
      p[js] = v
    }
  }
  return p as BasicProperties
}

/** RabbitMQ's timestamp format for idle_since and the like: 2026-11-22T02:38:23.976+00:00. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00')
}

/** `{ rate }` as RabbitMQ shows it under `*_details`, per second. */
export function details(rate: number): { rate: number } {
  return { rate }
}
