/**
 * Formats decoded field values the way RabbitMQ's `~tp` prints the Erlang terms behind them, so error
 * texts built from client-supplied values read exactly like RabbitMQ's (e.g. `<<"foo">>`).
 *
 * Decoding loses the wire type of numbers; the type names below are those Warren's own encoder would
 * use for the value (RabbitMQ's rabbit_binary_parser type atoms).
 */
import { Decimal, type FieldTable, type FieldValue } from '../core/wire/field-table.js'

/** The rabbit_binary_parser type atom for a decoded value. */
export function amqpTypeName(v: FieldValue): string {
  switch (typeof v) {
    case 'string':
      return 'longstr'
    case 'boolean':
      return 'bool'
    case 'bigint':
      return 'long'
    case 'number':
      if (!Number.isInteger(v)) return 'double'
      return v >= -0x80000000 && v <= 0x7fffffff ? 'signedint' : 'long'
    default:
      if (v === null) return 'void'
      if (Buffer.isBuffer(v)) return 'binary'
      if (v instanceof Date) return 'timestamp'
      if (v instanceof Decimal) return 'decimal'
      return Array.isArray(v) ? 'array' : 'table'
  }
}

/** The Erlang term RabbitMQ holds for a decoded value, as `~tp` prints it. */
export function formatErlangValue(v: FieldValue): string {
  switch (typeof v) {
    case 'string':
      return formatBinary(Buffer.from(v, 'utf8'))
    case 'boolean':
    case 'bigint':
      return String(v)
    case 'number':
      return Number.isInteger(v) ? String(v) : formatFloat(v)
    default:
      if (v === null) return 'undefined'
      if (Buffer.isBuffer(v)) return formatBinary(v)
      if (v instanceof Date) return String(Math.floor(v.getTime() / 1000))
      if (v instanceof Decimal) return `{${v.scale},${v.value}}`
      if (Array.isArray(v)) return `[${v.map((e) => `{${amqpTypeName(e)},${formatErlangValue(e)}}`).join(',')}]`
      return formatTable(v)
  }
}

function formatTable(t: FieldTable): string {
  const parts = Object.keys(t).map((k) => {
    const e = t[k]
    return `{${formatBinary(Buffer.from(k, 'utf8'))},${amqpTypeName(e)},${formatErlangValue(e)}}`
  })
  return `[${parts.join(',')}]`
}

/** Erlang floats always show a fraction or an exponent: 2.0, 1.5, 1.0e21. */
function formatFloat(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  let s = String(v).replace('e+', 'e')
  const e = s.indexOf('e')
  const mantissa = e < 0 ? s : s.slice(0, e)
  if (!mantissa.includes('.')) s = e < 0 ? `${s}.0` : `${mantissa}.0${s.slice(e)}`
  return s
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 27: '\\e' }

/**
 * `~tp` of a binary: `<<"text">>` when printable ASCII, `<<"tëxt"/utf8>>` when printable UTF-8,
 * otherwise the bytes `<<1,2,3>>`.
 */
export function formatBinary(b: Buffer): string {
  if (b.length === 0) return '<<>>'
  let ascii = true
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (c >= 0x80) ascii = false
    else if ((c < 32 || c === 127) && ESCAPES[c] === undefined) return bytes(b)
  }
  const text = b.toString('utf8')
  if (!ascii) {
    // Not valid UTF-8 (the decoder substituted U+FFFD) or not printable: raw bytes.
    if (!Buffer.from(text, 'utf8').equals(b) || /[\u0080-\u009f\ufffd]/.test(text)) return bytes(b)
  }
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    out += ch === '"' ? '\\"' : ch === '\\' ? '\\\\' : (ESCAPES[c] ?? ch)
  }
  return ascii ? `<<"${out}">>` : `<<"${out}"/utf8>>`
}

function bytes(b: Buffer): string {
  return `<<${Array.from(b).join(',')}>>`
}
