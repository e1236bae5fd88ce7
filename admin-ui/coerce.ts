/**
 * Reading request bodies the way RabbitMQ's management API does: booleans and numbers may come as
 * strings (rabbitmqadmin sends `"durable": "false"`, `"count": "1"`), JSON objects become AMQP
 * field tables with RabbitMQ's typing (integer → long, other number → double, string → longstr),
 * and every wrong type is a 400 naming the field, never an exception deeper in the broker.
 */
import type { FieldTable, FieldValue } from '../core/wire/field-table.js'
import { badRequest } from './http-errors.js'

/** A JSON object body (anything else is a 400). Missing/empty bodies count as `{}`. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {}
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object')
  }
  return body as Record<string, unknown>
}

/** true/false or "true"/"false" (RabbitMQ rabbit_mgmt_format:parse_bool); `dflt` when absent. */
export function bool(o: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = o[key]
  if (v === undefined || v === null) return dflt
  if (v === true || v === 'true') return true
  if (v === false || v === 'false') return false
  throw badRequest(`${key} must be a boolean (true or false), got ${JSON.stringify(v)}`)
}

/** An integer (or its decimal string) within [min, max]; `dflt` when absent (undefined: required). */
export function int(o: Record<string, unknown>, key: string, min: number, max: number, dflt?: number): number {
  const v = o[key]
  if (v === undefined || v === null) {
    if (dflt === undefined) throw badRequest(`missing key '${key}'`)
    return dflt
  }
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw badRequest(`${key} must be an integer, got ${JSON.stringify(v)}`)
  }
  if (n < min || n > max) throw badRequest(`${key} must be between ${min} and ${max}, got ${n}`)
  return n
}

/** A string; `dflt` when absent (undefined: required). Numbers are not strings here. */
export function str(o: Record<string, unknown>, key: string, dflt?: string): string {
  const v = o[key]
  if (v === undefined || v === null) {
    if (dflt === undefined) throw badRequest(`missing key '${key}'`)
    return dflt
  }
  if (typeof v !== 'string') throw badRequest(`${key} must be a string, got ${JSON.stringify(v)}`)
  return v
}

/** AMQP short strings (names, routing keys) are limited to 255 bytes of UTF-8. */
export function shortName(value: string, what: string): string {
  const len = Buffer.byteLength(value, 'utf8')
  if (len > 255) throw badRequest(`${what} is ${len} bytes long; the limit is 255 bytes`)
  return value
}

const MAX_DEPTH = 64

/**
 * A JSON value as an AMQP field table, typed as RabbitMQ's rabbit_misc:to_amqp_table does. Keys are
 * put in byte order, as RabbitMQ (an Erlang map) has them, so properties_key hashes match.
 *
 * The table has no prototype: a JSON key `__proto__` (JSON.parse keeps it as an own key) is an
 * ordinary entry here, never the table's prototype, so it cannot plant hidden arguments such as
 * `{"__proto__": {"x-max-length": 1}}` that `args['x-max-length']` would then find.
 */
export function toFieldTable(v: unknown, key: string, depth = 0): FieldTable {
  if (v === undefined || v === null) return emptyTable()
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${key} must be a JSON object, got ${JSON.stringify(v)}`)
  if (depth > MAX_DEPTH) throw badRequest(`${key} is nested too deeply`)
  const out = emptyTable()
  const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  for (const k of keys) {
    shortName(k, `the key '${k.slice(0, 40)}' in ${key}`)
    out[k] = toFieldValue((v as Record<string, unknown>)[k], `${key}.${k}`, depth + 1)
  }
  return out
}

/** A field table without a prototype (see toFieldTable). */
export const emptyTable = (): FieldTable => Object.create(null) as FieldTable

function toFieldValue(v: unknown, key: string, depth: number): FieldValue {
  if (depth > MAX_DEPTH) throw badRequest(`${key} is nested too deeply`)
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      if (!Number.isFinite(v)) throw badRequest(`${key} must be a finite number`)
      return v
    case 'object':
      if (v === null) throw badRequest(`${key}: null values are not allowed in AMQP tables`)
      if (Array.isArray(v)) return v.map((x, i) => toFieldValue(x, `${key}[${i}]`, depth + 1))
      return toFieldTable(v, key, depth)
    default:
      throw badRequest(`${key} has an unsupported type`)
  }
}
