/**
 * Where a stream consumer starts (`x-stream-offset`) and RabbitMQ's interval strings (`x-max-age`,
 * and `x-stream-offset: "1h"`), parsed as rabbit_stream_queue:parse_offset_arg and
 * rabbit_amqqueue:check_max_age do: `first`, `last`, `next`, a numeric offset, an AMQP timestamp
 * (seconds) or an interval back from now (`30s`, `15m`, `1h`, `7D`, `1M`, `1Y`).
 */
import type { FieldValue } from '../wire/field-table.js'

export type OffsetSpec =
  | { kind: 'first' }
  | { kind: 'last' }
  | { kind: 'next' }
  | { kind: 'offset'; offset: number }
  /** the first message stored at or after this time (ms since epoch) */
  | { kind: 'timestamp'; ms: number }

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  D: 86_400_000,
  M: 30 * 86_400_000,
  Y: 365 * 86_400_000,
}

/**
 * An interval string in ms, or -1 when RabbitMQ would answer `invalid_max_age`: digits (more than
 * zero) followed by exactly one of Y, M, D, h, m, s.
 */
export function parseInterval(s: string): number {
  const m = /^([0-9]+)(.*)$/s.exec(s)
  if (m === null) return -1
  const n = Number(m[1])
  const unit = UNIT_MS[m[2]]
  if (!(n > 0) || unit === undefined || !Object.hasOwn(UNIT_MS, m[2])) return -1
  return n * unit
}

/**
 * The start named by an `x-stream-offset` consumer argument (undefined: none given), or a string
 * describing the bad value as RabbitMQ prints it in
 * `invalid arg 'x-stream-offset' for queue … : {invalid_stream_offset_arg,…}`.
 */
export function parseOffsetSpec(v: FieldValue | undefined, now: number): OffsetSpec | string {
  if (v === undefined) return { kind: 'next' }
  if (v === 'first' || v === 'last' || v === 'next') return { kind: v }
  if (typeof v === 'string') {
    const ms = parseInterval(v)
    if (ms < 0) return `{invalid_stream_offset_arg,{longstr,<<${JSON.stringify(v)}>>}}`
    return { kind: 'timestamp', ms: now - ms }
  }
  // an AMQP timestamp ('T') is in seconds
  if (v instanceof Date) return { kind: 'timestamp', ms: v.getTime() }
  if (typeof v === 'bigint') return v < 0n ? badValue('long', String(v)) : { kind: 'offset', offset: Number(v) }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return badValue('double', String(v))
    return v < 0 ? badValue('long', String(v)) : { kind: 'offset', offset: v }
  }
  return badValue(typeof v === 'boolean' ? 'bool' : v === null ? 'void' : Array.isArray(v) ? 'array' : 'table', String(v))
}

function badValue(type: string, shown: string): string {
  return `{invalid_stream_offset_arg,{${type},${shown}}}`
}
