/**
 * RabbitMQ's binding `properties_key` (rabbit_mgmt_format:pack_binding_props): `~` for an empty
 * routing key without arguments, the quote_plus'ed routing key, and `key~hash` when the binding has
 * arguments, where hash = base64url(<<erlang:phash2(Args, 1 bsl 32):32>>) over the arguments as
 * RabbitMQ holds them: a list of {Name, Type, Value} tuples. phash2 (erts make_hash2) is ported
 * below for the terms a field table can contain.
 *
 * Warren's field tables do not keep the wire type of integers, so integers hash as RabbitMQ's
 * `long` (what RabbitMQ's HTTP API makes of a JSON integer). Bindings declared over AMQP with `I`,
 * `s` or `b` integer arguments therefore get a different hash than RabbitMQ would give; the key
 * is still stable and unique within Warren.
 */
import { Decimal, type FieldTable, type FieldValue } from '../core/wire/field-table.js'

type Term =
  | { t: 'list'; items: Term[] }
  | { t: 'tuple'; items: Term[] }
  | { t: 'bin'; b: Buffer }
  | { t: 'atom'; s: string }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'nil' }

// (HCONST * n) mod 2^32, erts erl_term_hashing.c
const HCONST = 0x9e3779b9
const HCONST_2 = 0x3c6ef372
const HCONST_3 = 0xdaa66d2b
const HCONST_4 = 0x78dde6e4
const HCONST_9 = 0x8ff34781
const HCONST_10 = 0x2e2ac13a
const HCONST_11 = 0xcc623af3
const HCONST_12 = 0x6a99b4ac
const HCONST_13 = 0x08d12e65
/** tag_val_def of [] in erts */
const NIL_DEF = 2

/** Bob Jenkins' mix, on unsigned 32-bit values. */
function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 13)) >>> 0
  b = (b - c - a) >>> 0; b = (b ^ (a << 8)) >>> 0
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 13)) >>> 0
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 12)) >>> 0
  b = (b - c - a) >>> 0; b = (b ^ (a << 16)) >>> 0
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 5)) >>> 0
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 3)) >>> 0
  b = (b - c - a) >>> 0; b = (b ^ (a << 10)) >>> 0
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 15)) >>> 0
  return [a, b, c]
}

/** erts block_hash over a binary, seeded with `init`. */
function blockHash(buf: Buffer, init: number): number {
  let a = HCONST
  let b = HCONST
  let c = init >>> 0
  let k = 0
  while (buf.length - k >= 12) {
    a = (a + buf.readUInt32LE(k)) >>> 0
    b = (b + buf.readUInt32LE(k + 4)) >>> 0
    c = (c + buf.readUInt32LE(k + 8)) >>> 0
    ;[a, b, c] = mix(a, b, c)
    k += 12
  }
  const rem = buf.length - k
  c = (c + buf.length) >>> 0
  const at = (i: number, shift: number): number => (buf[k + i] * 2 ** shift) >>> 0
  // erts: a switch that falls through from the number of remaining bytes down to 1
  if (rem >= 11) c = (c + at(10, 24)) >>> 0
  if (rem >= 10) c = (c + at(9, 16)) >>> 0
  if (rem >= 9) c = (c + at(8, 8)) >>> 0
  if (rem >= 8) b = (b + at(7, 24)) >>> 0
  if (rem >= 7) b = (b + at(6, 16)) >>> 0
  if (rem >= 6) b = (b + at(5, 8)) >>> 0
  if (rem >= 5) b = (b + at(4, 0)) >>> 0
  if (rem >= 4) a = (a + at(3, 24)) >>> 0
  if (rem >= 3) a = (a + at(2, 16)) >>> 0
  if (rem >= 2) a = (a + at(1, 8)) >>> 0
  if (rem >= 1) a = (a + at(0, 0)) >>> 0
  return mix(a, b, c)[2]
}

/** erts atom_hash: hashpjw over the (latin-1) name. */
function atomHash(name: string): number {
  let h = 0
  for (const ch of Buffer.from(name, 'latin1')) {
    h = ((h << 4) + ch) >>> 0
    const g = (h & 0xf0000000) >>> 0
    if (g !== 0) h = (h ^ (g >>> 24) ^ g) >>> 0
  }
  return h
}

/** erlang:phash2(Term, 1 bsl 32): erts make_hash2 with an explicit stack. */
export function phash2(term: Term): number {
  let hash = 0
  const u2 = (x: number, y: number, k: number): void => {
    hash = mix((k + x) >>> 0, (k + y) >>> 0, hash)[2]
  }
  const stack: Term[] = [term]
  while (stack.length > 0) {
    const t = stack.pop()!
    switch (t.t) {
      case 'list': {
        // erts hashes runs of byte-sized integers ("strings") four at a time
        let i = 0
        let c = 0
        let sh = 0
        const items = t.items
        while (i < items.length && isByte(items[i])) {
          sh = ((sh << 8) + Number((items[i] as { v: bigint }).v)) >>> 0
          if (c === 3) {
            u2(sh, 0, HCONST_4)
            c = sh = 0
          } else c++
          i++
        }
        if (c > 0) u2(sh, 0, HCONST_4)
        if (i < items.length) {
          stack.push({ t: 'list', items: items.slice(i + 1) })
          stack.push(items[i])
        } else stack.push({ t: 'nil' })
        break
      }
      case 'nil':
        if (hash === 0) hash = mix((HCONST_2 + NIL_DEF) >>> 0, HCONST_2, 0)[2]
        else u2(NIL_DEF, 0, HCONST_2)
        break
      case 'tuple':
        u2(t.items.length, 0, HCONST_9)
        for (let i = t.items.length - 1; i >= 0; i--) stack.push(t.items[i])
        break
      case 'bin': {
        const con = (HCONST_13 + hash) >>> 0
        hash = t.b.length === 0 ? con : blockHash(t.b, con)
        break
      }
      case 'atom':
        if (hash === 0) hash = atomHash(t.s)
        else u2(atomHash(t.s), 0, HCONST_3)
        break
      case 'int':
        hashInt(t.v, u2)
        break
      case 'float': {
        const f = Buffer.alloc(8)
        f.writeDoubleLE(t.v === 0 ? 0 : t.v)
        u2(f.readUInt32LE(4), f.readUInt32LE(0), HCONST_12)
        break
      }
    }
  }
  return hash >>> 0
}

function isByte(t: Term): boolean {
  return t.t === 'int' && t.v >= 0n && t.v <= 255n
}

function hashInt(v: bigint, u2: (x: number, y: number, k: number) => void): void {
  if (v >= -(2n ** 27n) && v < 2n ** 27n) {
    // SINT32_HASH: negative numbers are mixed twice
    const y = Number(v)
    if (y < 0) u2(-y >>> 0, 0, HCONST)
    u2(y >>> 0, 0, HCONST)
    return
  }
  // NOT_SSMALL28_HASH and bignums: 64-bit digits of the magnitude, low word first
  const con = v < 0n ? HCONST_10 : HCONST_11
  let m = v < 0n ? -v : v
  do {
    u2(Number(m & 0xffffffffn), Number((m >> 32n) & 0xffffffffn), con)
    m >>= 64n
  } while (m > 0n)
}

const bin = (s: string | Buffer): Term => ({ t: 'bin', b: typeof s === 'string' ? Buffer.from(s, 'utf8') : s })
const atom = (s: string): Term => ({ t: 'atom', s })

/** {Type, Value} of a field value as RabbitMQ's decoder makes it. */
function typed(v: FieldValue): [Term, Term] {
  if (typeof v === 'string') return [atom('longstr'), bin(v)]
  if (typeof v === 'boolean') return [atom('bool'), atom(String(v))]
  if (typeof v === 'bigint') return [atom('long'), { t: 'int', v }]
  if (typeof v === 'number') {
    return Number.isInteger(v) ? [atom('long'), { t: 'int', v: BigInt(v) }] : [atom('double'), { t: 'float', v }]
  }
  if (v === null) return [atom('void'), atom('undefined')]
  if (Buffer.isBuffer(v)) return [atom('binary'), bin(v)]
  if (v instanceof Date) return [atom('timestamp'), { t: 'int', v: BigInt(Math.floor(v.getTime() / 1000)) }]
  if (v instanceof Decimal) {
    return [atom('decimal'), { t: 'tuple', items: [{ t: 'int', v: BigInt(v.scale) }, { t: 'int', v: BigInt(v.value) }] }]
  }
  if (Array.isArray(v)) return [atom('array'), { t: 'list', items: v.map((x) => ({ t: 'tuple', items: typed(x) }) as Term) }]
  return [atom('table'), tableTerm(v)]
}

function tableTerm(t: FieldTable): Term {
  return { t: 'list', items: Object.entries(t).map(([k, v]) => ({ t: 'tuple', items: [bin(k), ...typed(v)] }) as Term) }
}

/** rabbit_mgmt_format:args_hash. */
export function argsHash(args: FieldTable): string {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(phash2(tableTerm(args)))
  return b.toString('base64url')
}

/** mochiweb quote_plus, then `~` → %7E (rabbit_mgmt_format:quote_binding). */
function quoteBinding(s: string): string {
  let out = ''
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte)
    if (/[A-Za-z0-9._-]/.test(c)) out += c
    else if (c === ' ') out += '+'
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** The properties_key of a binding. */
export function packBindingProps(routingKey: string, args: FieldTable): string {
  const hasArgs = Object.keys(args).length > 0
  if (!hasArgs) return routingKey === '' ? '~' : quoteBinding(routingKey)
  return `${quoteBinding(routingKey)}~${quoteBinding(argsHash(args))}`
}

/**
 * Splits a properties_key from a URL (already percent-decoded once by the router) into the routing
 * key and the args hash (undefined: no arguments), as rabbit_mgmt_format:unpack_binding_props.
 */
export function unpackBindingProps(props: string): { routingKey: string; hash: string | undefined } {
  if (props === '~') return { routingKey: '', hash: undefined }
  const i = props.indexOf('~')
  if (i < 0) return { routingKey: unquote(props), hash: undefined }
  return { routingKey: unquote(props.slice(0, i)), hash: unquote(props.slice(i + 1)) }
}

function unquote(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}
