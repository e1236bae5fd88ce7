/**
 * Field tables: exact wire bytes, decoding of every RabbitMQ field type from hand-written bytes,
 * round trips, cross-checks against amqplib's and @cloudamqp/amqp-client's codecs, malformed input
 * and fuzzing (decoding either succeeds or throws DecodeError, 501), and fieldValuesEqual.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { AMQPView } from '@cloudamqp/amqp-client/amqp-view'
import { ConnectionError, DecodeError } from '../../core/errors.js'
import {
  Decimal,
  Decoder,
  Encoder,
  decodeTable,
  encodeTable,
  fieldValuesEqual,
  type FieldTable,
  type FieldValue,
} from '../../core/wire/field-table.js'

// ---------------------------------------------------------------------------------------------
// amqplib's codec, loaded by file path (its package export map does not expose lib/).

interface AmqplibCodec {
  encodeTable(buffer: Buffer, val: unknown, offset: number): number
  decodeFields(slice: Buffer): Record<string, unknown>
}
const require = createRequire(import.meta.url)
const amqplibCodec = require(path.join(path.dirname(require.resolve('amqplib')), 'lib', 'codec.js')) as AmqplibCodec

function amqplibEncode(t: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(1 << 20)
  const n = amqplibCodec.encodeTable(buf, t, 0)
  return Buffer.from(buf.subarray(0, n))
}

/** amqplib decodes a table body (without the length prefix). */
function amqplibDecode(encoded: Buffer): Record<string, unknown> {
  expect(encoded.readUInt32BE(0)).toBe(encoded.length - 4)
  return amqplibCodec.decodeFields(encoded.subarray(4))
}

// ---------------------------------------------------------------------------------------------
// Byte builders for hand-written encodings (independent of the Encoder under test).

const u8 = (n: number): Buffer => Buffer.from([n & 0xff])
function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}
function shortstr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  return Buffer.concat([u8(b.length), b])
}
function longstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  return Buffer.concat([u32(b.length), b])
}
/** A tagged field value: tag letter + payload bytes. */
const fv = (tag: string, ...payload: (number[] | Buffer)[]): Buffer =>
  Buffer.concat([Buffer.from(tag, 'latin1'), ...payload.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))])
const entry = (key: string, value: Buffer): Buffer => Buffer.concat([shortstr(key), value])
/** A table with its length prefix, from entries. */
const rawTable = (...entries: Buffer[]): Buffer => {
  const body = Buffer.concat(entries)
  return Buffer.concat([u32(body.length), body])
}
const rawArrayValue = (...values: Buffer[]): Buffer => {
  const body = Buffer.concat(values)
  return Buffer.concat([Buffer.from('A'), u32(body.length), body])
}
function i64(v: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(v)
  return b
}
function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(v)
  return b
}
function dbl(v: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeDoubleBE(v)
  return b
}
function flt(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeFloatBE(v)
  return b
}
/** decodes a table holding the single entry `v: <value>` and returns the value */
const decodeOne = (value: Buffer): FieldValue => {
  const t = decodeTable(rawTable(entry('v', value)))
  expect(Object.keys(t)).toEqual(['v'])
  return t.v
}
/** encodes `{ v: value }` and returns the bytes of the tagged value alone */
const encodeOne = (value: FieldValue): Buffer => {
  const b = encodeTable({ v: value })
  expect(b.readUInt32BE(0)).toBe(b.length - 4)
  expect(b.subarray(4, 6)).toEqual(shortstr('v'))
  return b.subarray(6)
}

const roundTrip = (t: FieldTable): FieldTable => decodeTable(encodeTable(t))

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32) and random value generators.

function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
type Rng = () => number
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]

const CODE_POINTS = [0x41, 0x7a, 0x30, 0x20, 0x2d, 0xe9, 0xf6, 0x416, 0x3b1, 0x65e5, 0x672c, 0x2713, 0x1f407, 0x1f511, 0x0]
function randomString(rng: Rng, maxLen: number): string {
  const n = int(rng, 0, maxLen)
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCodePoint(pick(rng, CODE_POINTS) + (rng() < 0.5 ? 0 : int(rng, 0, 5)))
  return s
}
function randomKey(rng: Rng, used: Set<string>): string {
  for (;;) {
    const k = randomString(rng, 12)
    // '__proto__' needs care in plain objects; amqplib treats a '!' key as its type trapdoor
    if (k !== '__proto__' && k !== '!' && !used.has(k)) {
      used.add(k)
      return k
    }
  }
}
function randomSafeInt(rng: Rng): number {
  const bits = pick(rng, [3, 7, 8, 15, 16, 31, 32, 33, 40, 52, 53])
  const v = Math.floor(rng() * 2 ** bits)
  const n = rng() < 0.5 ? -v : v
  return n === 0 ? 0 : Math.min(Math.max(n, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
}
function randomFraction(rng: Rng): number {
  for (;;) {
    const v = (rng() * 2 - 1) * 2 ** int(rng, -20, 40)
    if (!Number.isInteger(v)) return v
  }
}
const randomBytes = (rng: Rng, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rng, 0, 255)))

type Leaf = 'string' | 'bool' | 'int' | 'fraction' | 'null' | 'bytes' | 'date' | 'decimal' | 'int32' | 'float32'
/** A random value our Encoder can write and both oracles can read back losslessly, per `leaves`. */
function randomValue(rng: Rng, depth: number, leaves: readonly Leaf[]): FieldValue {
  const r = rng()
  if (depth > 0 && r < 0.12) return Array.from({ length: int(rng, 0, 4) }, () => randomValue(rng, depth - 1, leaves))
  if (depth > 0 && r < 0.24) return randomTable(rng, depth - 1, leaves)
  switch (pick(rng, leaves)) {
    case 'string':
      return randomString(rng, 20)
    case 'bool':
      return rng() < 0.5
    case 'int':
      return randomSafeInt(rng)
    case 'int32':
      return int(rng, -0x80000000, 0x7fffffff)
    case 'fraction':
      return randomFraction(rng)
    case 'float32': {
      // exactly representable in a float, not an integer
      const v = (int(rng, -(2 ** 20), 2 ** 20) * 2 + 1) / 2 ** int(rng, 1, 3)
      return v
    }
    case 'null':
      return null
    case 'bytes':
      return randomBytes(rng, int(rng, 0, 10))
    case 'date':
      return new Date(int(rng, 0, 4_000_000_000) * 1000)
    case 'decimal':
      return new Decimal(int(rng, 0, 255), int(rng, 0, 0x7fffffff))
  }
}
function randomTable(rng: Rng, depth: number, leaves: readonly Leaf[]): FieldTable {
  const t: FieldTable = {}
  const used = new Set<string>()
  const n = int(rng, 0, 6)
  for (let i = 0; i < n; i++) t[randomKey(rng, used)] = randomValue(rng, depth, leaves)
  return t
}

// ---------------------------------------------------------------------------------------------
// A table with every type the Encoder emits, and interesting edge values.

const SAMPLE: FieldTable = {
  str: 'hello',
  emptyStr: '',
  unicode: 'héllo wörld ✓ 日本語 🐇 \u0000 end',
  'ключ-🔑': 'unicode key',
  '': 'empty key',
  yes: true,
  no: false,
  zero: 0,
  one: 1,
  minusOne: -1,
  i32max: 2147483647,
  i32min: -2147483648,
  justOver: 2147483648,
  justUnder: -2147483649,
  three: 3000000000,
  minusThree: -3000000000,
  safeMax: Number.MAX_SAFE_INTEGER,
  safeMin: Number.MIN_SAFE_INTEGER,
  big: 2n ** 53n,
  bigNeg: -(2n ** 53n) - 1n,
  i64max: 2n ** 63n - 1n,
  i64min: -(2n ** 63n),
  tenth: 0.1,
  negFrac: -2.5,
  denormal: 5e-324,
  huge: Number.MAX_VALUE,
  inf: Infinity,
  negInf: -Infinity,
  nil: null,
  bytes: Buffer.from([0, 1, 2, 0x7f, 0x80, 0xff]),
  noBytes: Buffer.alloc(0),
  date: new Date(1_700_000_000_000),
  epoch: new Date(0),
  decimal: new Decimal(2, 12345),
  negDecimal: new Decimal(3, -5),
  arr: [1, 'two', true, null, [3, [4, []]], { x: 1 }, 0.5, Buffer.from('x')],
  emptyArr: [],
  nested: { a: { b: { c: 'deep', d: [1, 2, { e: null }], f: {} } } },
  emptyTable: {},
}

// =============================================================================================

describe('Encoder wire format', () => {
  test('empty, null and undefined tables encode as a zero length', () => {
    expect(encodeTable({})).toEqual(Buffer.from([0, 0, 0, 0]))
    expect(encodeTable(null)).toEqual(Buffer.from([0, 0, 0, 0]))
    expect(encodeTable(undefined)).toEqual(Buffer.from([0, 0, 0, 0]))
  })

  test('a simple table, byte for byte', () => {
    expect(encodeTable({ a: true, bc: 'xyz' })).toEqual(
      Buffer.from([0, 0, 0, 15, 1, 0x61, 0x74, 1, 2, 0x62, 0x63, 0x53, 0, 0, 0, 3, 0x78, 0x79, 0x7a]),
    )
  })

  test.each<[string, FieldValue, Buffer]>([
    ['true', true, fv('t', [1])],
    ['false', false, fv('t', [0])],
    ['0 as I', 0, fv('I', [0, 0, 0, 0])],
    ['-1 as I', -1, fv('I', [0xff, 0xff, 0xff, 0xff])],
    ['2^31-1 as I', 2147483647, fv('I', [0x7f, 0xff, 0xff, 0xff])],
    ['-2^31 as I', -2147483648, fv('I', [0x80, 0, 0, 0])],
    ['2^31 as l', 2147483648, fv('l', i64(2147483648n))],
    ['-2^31-1 as l', -2147483649, fv('l', i64(-2147483649n))],
    ['3000000000 as l', 3000000000, fv('l', [0, 0, 0, 0, 0xb2, 0xd0, 0x5e, 0x00])],
    ['MAX_SAFE_INTEGER as l', Number.MAX_SAFE_INTEGER, fv('l', i64(2n ** 53n - 1n))],
    ['2^60 (a number) as l', 2 ** 60, fv('l', i64(2n ** 60n))],
    ['-2^63 (a number) as l', -(2 ** 63), fv('l', i64(-(2n ** 63n)))],
    ['2^63 (a number, beyond int64) as d', 2 ** 63, fv('d', dbl(2 ** 63))],
    ['1e20 as d', 1e20, fv('d', dbl(1e20))],
    ['-1e300 as d', -1e300, fv('d', dbl(-1e300))],
    ['0.1 as d', 0.1, fv('d', [0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a])],
    ['-2.5 as d', -2.5, fv('d', dbl(-2.5))],
    ['Infinity as d', Infinity, fv('d', dbl(Infinity))],
    ['bigint 5n as l', 5n, fv('l', i64(5n))],
    ['bigint -1n as l', -1n, fv('l', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['bigint 2^63-1 as l', 2n ** 63n - 1n, fv('l', i64(2n ** 63n - 1n))],
    ['bigint -2^63 as l', -(2n ** 63n), fv('l', i64(-(2n ** 63n)))],
    ['bigint 2^64-1 (beyond int64) as d, not wrapped to -1', 2n ** 64n - 1n, fv('d', dbl(2 ** 64))],
    ['bigint -2^63-1 (beyond int64) as d', -(2n ** 63n) - 1n, fv('d', dbl(-(2 ** 63)))],
    ['string as S', 'héllo', fv('S', longstr('héllo'))],
    ['empty string as S', '', fv('S', [0, 0, 0, 0])],
    ['Buffer as x', Buffer.from([1, 2, 3]), fv('x', [0, 0, 0, 3, 1, 2, 3])],
    ['null as V', null, fv('V')],
    ['Date as T seconds', new Date(1_700_000_000_000), fv('T', u64(1_700_000_000n))],
    ['Date with milliseconds: T floors to seconds', new Date(1_700_000_000_999), fv('T', u64(1_700_000_000n))],
    ['Decimal as D', new Decimal(2, 12345), fv('D', [2, 0, 0, 0x30, 0x39])],
    ['negative Decimal as D', new Decimal(1, -1), fv('D', [1, 0xff, 0xff, 0xff, 0xff])],
    ['array as A', [1, 'a', null], fv('A', u32(12), fv('I', [0, 0, 0, 1]), fv('S', longstr('a')), fv('V'))],
    ['empty array', [], fv('A', [0, 0, 0, 0])],
    ['nested table as F', { k: false }, fv('F', u32(4), shortstr('k'), fv('t', [0]))],
    ['empty nested table', {}, fv('F', [0, 0, 0, 0])],
  ])('%s', (_name, value, bytes) => {
    expect(encodeOne(value)).toEqual(bytes)
  })

  test('NaN encodes as a double NaN', () => {
    const b = encodeOne(NaN)
    expect(b[0]).toBe(0x64)
    expect(Number.isNaN(b.readDoubleBE(1))).toBe(true)
  })

  test('undefined entries are skipped in tables, undefined array items become void', () => {
    expect(encodeTable({ a: undefined as unknown as FieldValue, b: 1 })).toEqual(
      rawTable(entry('b', fv('I', [0, 0, 0, 1]))),
    )
    expect(encodeOne([undefined as unknown as FieldValue])).toEqual(fv('A', u32(1), fv('V')))
  })

  test('keys are short strings with their UTF-8 byte length', () => {
    const key = 'ключ🔑'
    const b = encodeTable({ [key]: null })
    expect(b[4]).toBe(Buffer.byteLength(key))
    expect(b.subarray(5, 5 + b[4]).toString('utf8')).toBe(key)
    expect(b[b.length - 1]).toBe(0x56)
  })

  test('a key of 255 bytes is fine, 256 bytes is refused', () => {
    expect(roundTrip({ ['k'.repeat(255)]: 1 })).toEqual({ ['k'.repeat(255)]: 1 })
    expect(() => encodeTable({ ['k'.repeat(256)]: 1 })).toThrow(RangeError)
    expect(() => encodeTable({ ['é'.repeat(128)]: 1 })).toThrow(RangeError) // 256 bytes, 128 chars
  })

  test('encodeTable returns a fresh buffer each time (the scratch encoder is not shared with results)', () => {
    const a = encodeTable({ a: 'first' })
    const copy = Buffer.from(a)
    const b = encodeTable({ b: 'second, longer value' })
    expect(a).toEqual(copy)
    expect(decodeTable(a)).toEqual({ a: 'first' })
    expect(decodeTable(b)).toEqual({ b: 'second, longer value' })
  })

  test('encodeTable grows past its scratch size', () => {
    const t = { big: 'x'.repeat(300_000), blob: Buffer.alloc(70_000, 7), after: 1 }
    const b = encodeTable(t)
    expect(b.length).toBe(4 + (1 + 3 + 1 + 4 + 300_000) + (1 + 4 + 1 + 4 + 70_000) + (1 + 5 + 1 + 4))
    expect(decodeTable(b)).toEqual(t)
    // and the scratch encoder still works for small tables afterwards
    expect(encodeTable({ a: 1 })).toEqual(rawTable(entry('a', fv('I', [0, 0, 0, 1]))))
  })

  test('new Encoder(0) can grow (a zero-size buffer once doubled to zero forever)', () => {
    const e = new Encoder(0)
    e.longstr('x'.repeat(100))
    expect(e.take()).toEqual(longstr('x'.repeat(100)))
  })

  test('Encoder primitives and growth from a tiny initial size', () => {
    for (const size of [1, 3, 16]) {
      const e = new Encoder(size)
      e.octet(0xab)
      e.short(0xbeef)
      e.long(0xdeadbeef)
      e.long(-1)
      e.longlong(2 ** 53 - 1)
      e.longlong(2n ** 64n - 1n)
      e.longlong(3000000000)
      e.shortstr('hé')
      e.longstr('wörld')
      e.longstr(Buffer.from([9, 8]))
      e.bytes(Buffer.from([1, 2, 3, 4, 5]), 1, 4)
      e.table({ t: [1, { u: 'v' }] })
      e.array([true, null])
      const out = e.take()
      expect(e.pos).toBe(0)
      const d = new Decoder(out, 0, out.length)
      expect(d.octet()).toBe(0xab)
      expect(d.short()).toBe(0xbeef)
      expect(d.long()).toBe(0xdeadbeef)
      expect(d.long()).toBe(0xffffffff)
      expect(d.longlong()).toBe(2 ** 53 - 1)
      expect(out.readBigUInt64BE(d.pos)).toBe(2n ** 64n - 1n)
      d.pos += 8
      expect(d.longlong()).toBe(3000000000)
      expect(d.shortstr()).toBe('hé')
      expect(d.longstr()).toBe('wörld')
      expect(d.longstrBytes()).toEqual(Buffer.from([9, 8]))
      expect([d.octet(), d.octet(), d.octet()]).toEqual([2, 3, 4])
      expect(d.table()).toEqual({ t: [1, { u: 'v' }] })
      expect(d.array()).toEqual([true, null])
      expect(d.pos).toBe(out.length)
    }
  })

  test('take() returns a copy and resets the encoder', () => {
    const e = new Encoder(8)
    e.shortstr('abc')
    const first = e.take()
    e.shortstr('zzz')
    expect(first).toEqual(shortstr('abc'))
    expect(e.take()).toEqual(shortstr('zzz'))
  })
})

// =============================================================================================

describe('decoding every field type from hand-written bytes', () => {
  test.each<[string, Buffer, FieldValue]>([
    ["'t' 0", fv('t', [0]), false],
    ["'t' 1", fv('t', [1]), true],
    ["'t' 2 (any non-zero is true)", fv('t', [2]), true],
    ["'b' -128", fv('b', [0x80]), -128],
    ["'b' 127", fv('b', [0x7f]), 127],
    ["'b' -1", fv('b', [0xff]), -1],
    ["'B' 255", fv('B', [0xff]), 255],
    ["'B' 0", fv('B', [0]), 0],
    ["'s' -32768 (RabbitMQ: signed short)", fv('s', [0x80, 0x00]), -32768],
    ["'s' 32767", fv('s', [0x7f, 0xff]), 32767],
    ["'s' -2", fv('s', [0xff, 0xfe]), -2],
    ["'u' 65535", fv('u', [0xff, 0xff]), 65535],
    ["'u' 258", fv('u', [0x01, 0x02]), 258],
    ["'I' -2^31", fv('I', [0x80, 0, 0, 0]), -2147483648],
    ["'I' 2^31-1", fv('I', [0x7f, 0xff, 0xff, 0xff]), 2147483647],
    ["'I' -1", fv('I', [0xff, 0xff, 0xff, 0xff]), -1],
    ["'i' 2^32-1 (unsigned)", fv('i', [0xff, 0xff, 0xff, 0xff]), 4294967295],
    ["'i' 3000000000", fv('i', u32(3000000000)), 3000000000],
    ["'l' 3000000000", fv('l', i64(3000000000n)), 3000000000],
    ["'l' -1", fv('l', i64(-1n)), -1],
    ["'l' 2^53-1 stays a number", fv('l', i64(2n ** 53n - 1n)), Number.MAX_SAFE_INTEGER],
    ["'l' -(2^53-1) stays a number", fv('l', i64(-(2n ** 53n) + 1n)), Number.MIN_SAFE_INTEGER],
    ["'l' 2^53 becomes a bigint", fv('l', i64(2n ** 53n)), 2n ** 53n],
    ["'l' -2^53 becomes a bigint", fv('l', i64(-(2n ** 53n))), -(2n ** 53n)],
    ["'l' 2^63-1", fv('l', i64(2n ** 63n - 1n)), 2n ** 63n - 1n],
    ["'l' -2^63", fv('l', [0x80, 0, 0, 0, 0, 0, 0, 0]), -(2n ** 63n)],
    ["'l' 1234567890123456789", fv('l', i64(1234567890123456789n)), 1234567890123456789n],
    ["'L' 5", fv('L', u64(5n)), 5],
    ["'L' 2^64-1 (unsigned)", fv('L', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 2n ** 64n - 1n],
    ["'L' 2^63", fv('L', u64(2n ** 63n)), 2n ** 63n],
    ["'f' 1.5", fv('f', flt(1.5)), 1.5],
    ["'f' -0.25", fv('f', [0xbe, 0x80, 0, 0]), -0.25],
    ["'f' 0.1 (float precision)", fv('f', flt(0.1)), Math.fround(0.1)],
    ["'f' -Infinity", fv('f', flt(-Infinity)), -Infinity],
    ["'d' 0.1", fv('d', [0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]), 0.1],
    ["'d' -1e300", fv('d', dbl(-1e300)), -1e300],
    ["'d' 3.0 (an integer-valued double)", fv('d', dbl(3)), 3],
    ["'D' scale 2 value 12345", fv('D', [2, 0, 0, 0x30, 0x39]), new Decimal(2, 12345)],
    ["'D' scale 255 value -1", fv('D', [255, 0xff, 0xff, 0xff, 0xff]), new Decimal(255, -1)],
    ["'S' empty", fv('S', [0, 0, 0, 0]), ''],
    ["'S' unicode", fv('S', longstr('日本語 🐇')), '日本語 🐇'],
    ["'S' with NUL bytes", fv('S', longstr('a\u0000b')), 'a\u0000b'],
    ["'A' empty", fv('A', [0, 0, 0, 0]), []],
    [
      "'A' mixed",
      rawArrayValue(fv('b', [0xfe]), fv('u', [0, 7]), fv('S', longstr('s')), fv('V'), rawArrayValue(fv('t', [1]))),
      [-2, 7, 's', null, [true]],
    ],
    ["'T' 1700000000 s", fv('T', u64(1_700_000_000n)), new Date(1_700_000_000_000)],
    ["'T' 0", fv('T', u64(0n)), new Date(0)],
    ["'F' empty", fv('F', [0, 0, 0, 0]), {}],
    ["'F' nested", fv('F', rawTable(entry('x', fv('F', rawTable(entry('y', fv('B', [9]))))))), { x: { y: 9 } }],
    ["'V'", fv('V'), null],
    ["'x' bytes", fv('x', [0, 0, 0, 3, 0, 0xff, 0x80]), Buffer.from([0, 0xff, 0x80])],
    ["'x' empty", fv('x', [0, 0, 0, 0]), Buffer.alloc(0)],
  ])('%s', (_name, value, expected) => {
    const got = decodeOne(value)
    expect(got).toStrictEqual(expected)
    expect(typeof got).toBe(typeof expected)
  })

  test("'f' NaN and 'd' NaN decode as NaN", () => {
    expect(decodeOne(fv('f', flt(NaN)))).toBeNaN()
    expect(decodeOne(fv('d', dbl(NaN)))).toBeNaN()
  })

  test("'d' -0 keeps its sign", () => {
    expect(Object.is(decodeOne(fv('d', dbl(-0))), -0)).toBe(true)
  })

  test("'x' decodes to a copy that does not alias the input buffer", () => {
    const buf = rawTable(entry('v', fv('x', [0, 0, 0, 2, 1, 2])))
    const v = decodeTable(buf).v as Buffer
    buf[buf.length - 1] = 99
    expect(v).toEqual(Buffer.from([1, 2]))
  })

  test('a table with every type at once, hand-written', () => {
    const bytes = rawTable(
      entry('t', fv('t', [1])),
      entry('b', fv('b', [0x9c])),
      entry('B', fv('B', [200])),
      entry('s', fv('s', [0xfc, 0x18])),
      entry('u', fv('u', [0xea, 0x60])),
      entry('I', fv('I', [0xff, 0xff, 0xff, 0x9c])),
      entry('i', fv('i', u32(4000000000))),
      entry('l', fv('l', i64(-9007199254740993n))),
      entry('L', fv('L', u64(18446744073709551000n))),
      entry('f', fv('f', flt(3.25))),
      entry('d', fv('d', dbl(0.1))),
      entry('D', fv('D', [3, 0, 0, 0x04, 0xd2])),
      entry('S', fv('S', longstr('str'))),
      entry('A', rawArrayValue(fv('I', [0, 0, 0, 1]), fv('S', longstr('2')))),
      entry('T', fv('T', u64(86400n))),
      entry('F', fv('F', rawTable(entry('in', fv('V'))))),
      entry('V', fv('V')),
      entry('x', fv('x', [0, 0, 0, 1, 0x42])),
    )
    expect(decodeTable(bytes)).toStrictEqual({
      t: true,
      b: -100,
      B: 200,
      s: -1000,
      u: 60000,
      I: -100,
      i: 4000000000,
      l: -9007199254740993n,
      L: 18446744073709551000n,
      f: 3.25,
      d: 0.1,
      D: new Decimal(3, 1234),
      S: 'str',
      A: [1, '2'],
      T: new Date(86_400_000),
      F: { in: null },
      V: null,
      x: Buffer.from([0x42]),
    })
  })

  test('decodeTable honours its offset and ignores bytes after the table', () => {
    const t = encodeTable({ a: 'b' })
    const buf = Buffer.concat([Buffer.from([0xde, 0xad, 0xbe]), t, Buffer.from([0xff, 0xff])])
    expect(decodeTable(buf, 3)).toEqual({ a: 'b' })
  })

  test('a repeated key keeps the last value', () => {
    const t = decodeTable(rawTable(entry('k', fv('I', [0, 0, 0, 1])), entry('k', fv('S', longstr('two')))))
    expect(t).toStrictEqual({ k: 'two' })
  })

  test("a '__proto__' key is an ordinary own key, and does not change the table's prototype", () => {
    const withTable = decodeTable(rawTable(entry('__proto__', fv('F', rawTable(entry('polluted', fv('t', [1])))))))
    expect(Object.getPrototypeOf(withTable)).toBe(Object.prototype)
    expect((withTable as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.keys(withTable)).toEqual(['__proto__'])
    expect(Object.getOwnPropertyDescriptor(withTable, '__proto__')?.value).toEqual({ polluted: true })

    const withString = decodeTable(rawTable(entry('__proto__', fv('S', longstr('x'))), entry('a', fv('V'))))
    expect(Object.keys(withString)).toEqual(['__proto__', 'a'])
    expect(Object.getOwnPropertyDescriptor(withString, '__proto__')?.value).toBe('x')
    // and it survives a re-encode
    expect(encodeTable(withString)).toEqual(rawTable(entry('__proto__', fv('S', longstr('x'))), entry('a', fv('V'))))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

// =============================================================================================

describe('round trips', () => {
  test('the sample table with every encoder type round-trips exactly', () => {
    const back = roundTrip(SAMPLE)
    expect(back).toStrictEqual(SAMPLE)
    expect(Object.keys(back)).toEqual(Object.keys(SAMPLE))
    // number vs bigint is preserved where it matters
    expect(typeof back.three).toBe('number')
    expect(typeof back.safeMax).toBe('number')
    expect(typeof back.big).toBe('bigint')
    expect(back.decimal).toBeInstanceOf(Decimal)
    expect(back.date).toBeInstanceOf(Date)
    expect(Buffer.isBuffer(back.bytes)).toBe(true)
  })

  test('re-encoding a decoded table gives the same bytes', () => {
    const once = encodeTable(SAMPLE)
    expect(encodeTable(decodeTable(once))).toEqual(once)
  })

  test('3000000000 round-trips as a number through a long-long', () => {
    const b = encodeTable({ n: 3000000000 })
    expect(b[6]).toBe(0x6c) // 'l'
    const back = decodeTable(b).n
    expect(back).toBe(3000000000)
    expect(typeof back).toBe('number')
  })

  test('0.1 round-trips as a double, exactly', () => {
    const b = encodeTable({ n: 0.1 })
    expect(b[6]).toBe(0x64) // 'd'
    expect(decodeTable(b).n).toBe(0.1)
  })

  test('Date round-trips as whole seconds', () => {
    expect(roundTrip({ d: new Date(1_234_567_890_123) }).d).toEqual(new Date(1_234_567_890_000))
    expect(roundTrip({ d: new Date('2038-01-19T03:14:08Z') }).d).toEqual(new Date('2038-01-19T03:14:08Z'))
    expect(roundTrip({ d: new Date('2200-01-01T00:00:00Z') }).d).toEqual(new Date('2200-01-01T00:00:00Z'))
  })

  test('64-bit integers beyond 2^53 come back as bigint, inside as number', () => {
    const values = [
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 53n),
      -(2n ** 53n) - 1n,
      2n ** 62n + 12345n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ]
    for (const v of values) expect(roundTrip({ v }).v).toBe(v)
    for (const v of [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n) + 1n, 3000000000n]) expect(roundTrip({ v }).v).toBe(Number(v))
  })

  test('integers given as numbers beyond 2^53 keep their exact value', () => {
    expect(roundTrip({ v: 2 ** 60 }).v).toBe(2n ** 60n)
    expect(roundTrip({ v: -(2 ** 63) }).v).toBe(-(2n ** 63n))
    // beyond int64: a double, not a RangeError and not a wrapped value
    expect(roundTrip({ v: 2 ** 63 }).v).toBe(2 ** 63)
    expect(roundTrip({ v: 1e20 }).v).toBe(1e20)
    expect(roundTrip({ v: -1e25 }).v).toBe(-1e25)
  })

  test("an unsigned 'L' beyond int64 re-encodes without changing sign", () => {
    const decoded = decodeTable(rawTable(entry('v', fv('L', u64(2n ** 64n - 1n)))))
    expect(decoded.v).toBe(2n ** 64n - 1n)
    const again = roundTrip(decoded).v
    expect(typeof again).toBe('number')
    expect(again).toBe(2 ** 64)
  })

  test('negative numbers of every width', () => {
    const t = { a: -1, b: -128, c: -32768, d: -2147483648, e: -2147483649, f: -(2 ** 40), g: -0.5, h: -1e-10 }
    expect(roundTrip(t)).toStrictEqual(t)
  })

  test('unicode keys and strings', () => {
    const t: FieldTable = {
      日本語: 'にほんご',
      '🐇🐇': '🥕',
      'é\u0301': 'combining',
      ключ: { вложенный: ['ё', 'Ω', '\u{10ffff}'] },
    }
    expect(roundTrip(t)).toStrictEqual(t)
  })

  test('empty things', () => {
    const t: FieldTable = { s: '', a: [], t: {}, x: Buffer.alloc(0), nested: [[], [{}], { e: [] }] }
    expect(roundTrip(t)).toStrictEqual(t)
    expect(roundTrip({})).toStrictEqual({})
  })

  test('deep nesting (50 levels) of arrays and tables', () => {
    let v: FieldValue = 'leaf'
    for (let i = 0; i < 50; i++) v = i % 2 ? [v, i] : { [`k${i}`]: v, i }
    expect(roundTrip({ v })).toStrictEqual({ v })
  })

  test('500 random tables round-trip', () => {
    const rng = prng(42)
    const leaves: Leaf[] = ['string', 'bool', 'int', 'fraction', 'null', 'bytes', 'date', 'decimal']
    for (let i = 0; i < 500; i++) {
      const t = randomTable(rng, 3, leaves)
      const b = encodeTable(t)
      expect(decodeTable(b)).toStrictEqual(t)
      expect(encodeTable(decodeTable(b))).toEqual(b)
    }
  })
})

// =============================================================================================

/** Converts amqplib's decoded values to ours: typed '!' wrappers for timestamp and decimal. */
function fromAmqplib(v: unknown): FieldValue {
  if (Array.isArray(v)) return v.map(fromAmqplib)
  if (v === null || typeof v !== 'object') return v as FieldValue
  if (Buffer.isBuffer(v)) return Buffer.from(v)
  const o = v as Record<string, unknown>
  if (o['!'] === 'timestamp') return new Date((o.value as number) * 1000)
  if (o['!'] === 'decimal') {
    const d = o.value as { places: number; digits: number }
    return new Decimal(d.places, d.digits)
  }
  const t: FieldTable = {}
  for (const k of Object.keys(o)) t[k] = fromAmqplib(o[k])
  return t
}

/** Converts our values to what amqplib must encode them from (Date and Decimal as typed values). */
function toAmqplib(v: FieldValue): unknown {
  if (Array.isArray(v)) return v.map(toAmqplib)
  if (v instanceof Date) return { '!': 'timestamp', value: v.getTime() / 1000 }
  if (v instanceof Decimal) return { '!': 'decimal', value: { places: v.scale, digits: v.value } }
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v
  const o: Record<string, unknown> = {}
  for (const k of Object.keys(v)) o[k] = toAmqplib(v[k])
  return o
}

describe('cross-check with amqplib', () => {
  test('amqplib encodes, we decode: its smallest-int choices (b, s, I, l) and typed values', () => {
    const encoded = amqplibEncode({
      byte: 100,
      negByte: -128,
      short: 1000,
      negShort: -32768,
      int: 100000,
      negInt: -2147483648,
      long: 3000000000,
      negLong: -(2 ** 40),
      maxSafe: Number.MAX_SAFE_INTEGER,
      dbl: 0.1,
      str: 'héllo',
      bool: true,
      nil: null,
      buf: Buffer.from([1, 2]),
      arr: [1, 'a', [false]],
      tbl: { inner: -5 },
      float: { '!': 'float', value: 1.5 },
      uint8: { '!': 'uint8', value: 250 },
      uint16: { '!': 'uint16', value: 65000 },
      uint32: { '!': 'uint32', value: 4000000000 },
      int64: { '!': 'int64', value: 2 ** 60 },
      ts: { '!': 'timestamp', value: 1_700_000_000 },
      dec: { '!': 'decimal', value: { places: 2, digits: 31415 } },
    })
    // amqplib really used the narrow types we want to exercise
    const tags = new Set<string>()
    const d = new Decoder(encoded, 4, encoded.length)
    while (d.pos < d.end) {
      d.shortstr()
      tags.add(String.fromCharCode(encoded[d.pos]))
      d.fieldValue()
    }
    expect([...tags].sort()).toEqual(['A', 'B', 'D', 'F', 'I', 'S', 'T', 'V', 'b', 'd', 'f', 'i', 'l', 's', 't', 'u', 'x'])

    expect(decodeTable(encoded)).toStrictEqual({
      byte: 100,
      negByte: -128,
      short: 1000,
      negShort: -32768,
      int: 100000,
      negInt: -2147483648,
      long: 3000000000,
      negLong: -(2 ** 40),
      maxSafe: Number.MAX_SAFE_INTEGER,
      dbl: 0.1,
      str: 'héllo',
      bool: true,
      nil: null,
      buf: Buffer.from([1, 2]),
      arr: [1, 'a', [false]],
      tbl: { inner: -5 },
      float: 1.5,
      uint8: 250,
      uint16: 65000,
      uint32: 4000000000,
      int64: 2n ** 60n,
      ts: new Date(1_700_000_000_000),
      dec: new Decimal(2, 31415),
    })
  })

  test('we encode, amqplib decodes the sample (safe values)', () => {
    const safe: FieldTable = {
      str: SAMPLE.str,
      emptyStr: '',
      unicode: SAMPLE.unicode,
      'ключ-🔑': 'unicode key',
      yes: true,
      no: false,
      i32min: -2147483648,
      three: 3000000000,
      minusThree: -3000000000,
      safeMax: Number.MAX_SAFE_INTEGER,
      safeMin: Number.MIN_SAFE_INTEGER,
      tenth: 0.1,
      inf: Infinity,
      nil: null,
      bytes: SAMPLE.bytes,
      date: new Date(1_700_000_000_000),
      decimal: new Decimal(2, 12345),
      arr: [1, 'two', true, null, [3, [4, []]], { x: 1 }, 0.5],
      nested: SAMPLE.nested,
      emptyTable: {},
    }
    expect(fromAmqplib(amqplibDecode(encodeTable(safe)))).toStrictEqual(safe)
  })

  test('2000 random tables both ways', () => {
    const rng = prng(7)
    const leaves: Leaf[] = ['string', 'bool', 'int', 'fraction', 'null', 'bytes', 'date', 'decimal']
    for (let i = 0; i < 2000; i++) {
      const t = randomTable(rng, 3, leaves)
      // ours → amqplib
      const ours = encodeTable(t)
      expect(fromAmqplib(amqplibDecode(ours))).toStrictEqual(t)
      // amqplib → ours
      const theirs = amqplibEncode(toAmqplib(t) as Record<string, unknown>)
      expect(decodeTable(theirs)).toStrictEqual(t)
    }
  })
})

/** Converts AMQPView's decoded values to ours (byte arrays are Uint8Array views). */
function fromView(v: unknown): FieldValue {
  if (Array.isArray(v)) return v.map(fromView)
  if (v instanceof Uint8Array) return Buffer.from(v)
  if (v === null || typeof v !== 'object' || v instanceof Date) return v as FieldValue
  const o = v as Record<string, unknown>
  const t: FieldTable = {}
  for (const k of Object.keys(o)) t[k] = fromView(o[k])
  return t
}
function viewEncode(t: FieldTable): Buffer {
  const ab = new ArrayBuffer(1 << 20)
  const n = new AMQPView(ab).setTable(0, t)
  return Buffer.from(ab, 0, n)
}
function viewDecode(b: Buffer): FieldTable {
  const [t, n] = new AMQPView(b.buffer, b.byteOffset, b.byteLength).getTable(0)
  expect(n).toBe(b.length)
  return fromView(t) as FieldTable
}

describe('cross-check with @cloudamqp/amqp-client AMQPView', () => {
  test('it encodes, we decode (int32, float-exact fractions, strings, bytes, dates, nesting)', () => {
    const t: FieldTable = {
      s: 'héllo 🐇',
      n: -123456,
      max: 2147483647,
      half: 0.5,
      q: -3.75,
      b: false,
      nil: null,
      x: Buffer.from([0, 1, 255]),
      d: new Date(1_600_000_000_000),
      a: [1, [2, 'x'], { y: true }],
      f: { g: { h: 'i' } },
    }
    const b = viewEncode(t)
    // AMQPView narrows fractions to 'f': make sure that is what we decoded
    expect(b.includes(Buffer.concat([shortstr('half'), Buffer.from('f')]))).toBe(true)
    expect(decodeTable(b)).toStrictEqual(t)
  })

  test('we encode, it decodes (including longs and doubles)', () => {
    const t: FieldTable = {
      s: 'ключ',
      n: -7,
      three: 3000000000,
      neg: -(2 ** 50),
      tenth: 0.1,
      b: true,
      nil: null,
      x: Buffer.from('bytes'),
      d: new Date(1_600_000_000_000),
      a: [[], {}, 'z'],
      f: { deep: [1, 2, 3] },
    }
    expect(viewDecode(encodeTable(t))).toStrictEqual(t)
    // decimals: it reads scale and value as a number value / 10^scale
    expect(viewDecode(encodeTable({ dec: new Decimal(2, 31415) }))).toEqual({ dec: 31415 / 100 })
  })

  test('1000 random tables both ways', () => {
    const rng = prng(99)
    const leaves: Leaf[] = ['string', 'bool', 'int32', 'float32', 'null', 'bytes', 'date']
    for (let i = 0; i < 1000; i++) {
      const t = randomTable(rng, 3, leaves)
      expect(viewDecode(encodeTable(t))).toStrictEqual(t)
      expect(decodeTable(viewEncode(t))).toStrictEqual(t)
    }
  })
})

// =============================================================================================

type Outcome = { ok: true; value: FieldTable } | { ok: false; error: unknown }
function attempt(buf: Buffer): Outcome {
  try {
    return { ok: true, value: decodeTable(buf) }
  } catch (error) {
    return { ok: false, error }
  }
}
function isDecodeError(e: unknown): boolean {
  return e instanceof DecodeError && e instanceof ConnectionError && e.code === 501 && e.hard === true
}
function expectDecodeError(buf: Buffer, message?: RegExp): void {
  const r = attempt(buf)
  expect(r.ok, `decoded ${buf.toString('hex')} without error`).toBe(false)
  if (!r.ok) {
    expect(r.error).toBeInstanceOf(DecodeError)
    expect((r.error as DecodeError).code).toBe(501)
    expect((r.error as DecodeError).message).toMatch(/^FRAME_ERROR - /)
    if (message) expect((r.error as DecodeError).message).toMatch(message)
  }
}

describe('malformed input', () => {
  test('every proper prefix of a valid encoding is refused', () => {
    const full = encodeTable(SAMPLE)
    for (let n = 0; n < full.length; n++) expectDecodeError(full.subarray(0, n))
  })

  test('cutting the body (with a length prefix that matches the cut) works only at entry boundaries', () => {
    const entries = Object.entries(SAMPLE)
    const body = encodeTable(SAMPLE).subarray(4)
    const boundaries = new Map<number, number>() // body length → number of whole entries
    for (let k = 0; k <= entries.length; k++) boundaries.set(encodeTable(Object.fromEntries(entries.slice(0, k))).length - 4, k)
    for (let cut = 0; cut <= body.length; cut++) {
      const buf = Buffer.concat([u32(cut), body.subarray(0, cut)])
      const k = boundaries.get(cut)
      if (k === undefined) expectDecodeError(buf)
      else expect(decodeTable(buf)).toStrictEqual(Object.fromEntries(entries.slice(0, k)))
    }
  })

  test('table length beyond the buffer', () => {
    expectDecodeError(Buffer.from([0, 0, 0, 1]))
    expectDecodeError(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 0x61, 0x56]))
    expectDecodeError(Buffer.concat([u32(8), entry('a', fv('V'))]))
    expectDecodeError(Buffer.from([0, 0, 0]))
    expectDecodeError(Buffer.alloc(0))
  })

  test('a table length shorter than its content cuts an entry in two', () => {
    const good = encodeTable({ a: 'xyz' })
    const short = Buffer.from(good)
    short.writeUInt32BE(good.length - 5)
    expectDecodeError(short)
  })

  test('inner lengths are bounded by the enclosing table, not by the buffer', () => {
    // outer table claims 11 bytes: key 'a', 'F', inner length 10, then only 4 of the inner bytes;
    // the remaining 6 inner bytes exist in the buffer but after the outer table's end
    const inner = rawTable(entry('b', fv('S', longstr('c')))) // 4 + 8 = 12 bytes, body 8
    const outerBody = Buffer.concat([shortstr('a'), Buffer.from('F'), inner])
    const buf = Buffer.concat([u32(outerBody.length - 4), outerBody])
    expectDecodeError(buf)
    // same for an array inside a table, and a string inside an array
    const arr = rawArrayValue(fv('S', longstr('hello')))
    const arrBody = Buffer.concat([shortstr('a'), arr])
    expectDecodeError(Buffer.concat([u32(arrBody.length - 2), arrBody]))
    // and a table inside a Decoder whose end is before the buffer's end
    const t = encodeTable({ k: 'value' })
    const padded = Buffer.concat([t, Buffer.alloc(16)])
    expect(() => new Decoder(padded, 0, t.length - 1).table()).toThrow(DecodeError)
    expect(new Decoder(padded, 0, t.length).table()).toEqual({ k: 'value' })
  })

  test('string and byte-array lengths beyond the data', () => {
    expectDecodeError(rawTable(entry('s', fv('S', [0xff, 0xff, 0xff, 0xff], Buffer.from('abc')))))
    expectDecodeError(rawTable(entry('x', fv('x', [0, 0, 0, 4, 1, 2, 3]))))
    expectDecodeError(rawTable(entry('A', fv('A', [0x7f, 0xff, 0xff, 0xff]))))
    expectDecodeError(rawTable(entry('F', fv('F', [0, 0, 1, 0]))))
    // key length beyond the table
    expectDecodeError(rawTable(Buffer.from([5, 0x61, 0x62])))
    // fixed-size values cut short
    for (const [tag, size] of [
      ['b', 1],
      ['B', 1],
      ['s', 2],
      ['u', 2],
      ['I', 4],
      ['i', 4],
      ['l', 8],
      ['L', 8],
      ['f', 4],
      ['d', 8],
      ['D', 5],
      ['T', 8],
      ['t', 1],
    ] as const) {
      for (let n = 0; n < size; n++) expectDecodeError(rawTable(entry('k', fv(tag, Buffer.alloc(n)))), /truncated/)
      expect(() => decodeTable(rawTable(entry('k', fv(tag, Buffer.alloc(size)))))).not.toThrow()
    }
  })

  test('every unknown type tag is refused with DecodeError', () => {
    const known = new Set('tbBsuIilLfdDSATFVx')
    let unknown = 0
    for (let tag = 0; tag < 256; tag++) {
      if (known.has(String.fromCharCode(tag))) continue
      unknown++
      expectDecodeError(rawTable(entry('k', Buffer.concat([u8(tag), Buffer.alloc(8)]))), /unknown field type/)
      // also inside an array
      expectDecodeError(rawTable(entry('k', rawArrayValue(Buffer.concat([u8(tag), Buffer.alloc(8)])))), /unknown/)
    }
    expect(unknown).toBe(256 - 18)
  })

  test("0-8 and 0-9-1-spec-only tags RabbitMQ does not use ('U', 'c', ...) are refused", () => {
    for (const tag of ['U', 'c', 'C', 'o', 'O', 'n', 'N']) expectDecodeError(rawTable(entry('k', fv(tag, Buffer.alloc(8)))))
  })

  test('nesting deep enough to exhaust the stack is a DecodeError, not a RangeError', () => {
    for (const [tag, depth] of [
      ['A', 20_000],
      ['F', 15_000],
      ['A', 1_000],
    ] as const) {
      // build from the inside out: A <len> A <len> ... (tables: F <len> 01 'k' F ...)
      let inner: Buffer = Buffer.alloc(0)
      for (let i = 0; i < depth; i++) {
        inner =
          tag === 'A'
            ? Buffer.concat([Buffer.from('A'), u32(inner.length), inner])
            : Buffer.concat([Buffer.from('F'), u32(inner.length + (inner.length ? 2 : 0)), inner.length ? shortstr('k') : Buffer.alloc(0), inner])
      }
      const buf = rawTable(entry('v', inner))
      expect(buf.length).toBeLessThan(131072) // fits in one frame at the default frame_max
      expectDecodeError(buf, /nested/)
    }
    // realistic nesting is fine
    let v: Buffer = fv('V')
    for (let i = 0; i < 100; i++) v = rawArrayValue(v)
    let expected: FieldValue = null
    for (let i = 0; i < 100; i++) expected = [expected]
    expect(decodeTable(rawTable(entry('v', v)))).toStrictEqual({ v: expected })
  })

  test('a shared Decoder is usable again after reset() following an error mid-table', () => {
    const d = new Decoder(Buffer.alloc(0), 0, 0)
    let deep: Buffer = fv('V')
    for (let i = 0; i < 5000; i++) deep = rawArrayValue(deep)
    const bad = rawTable(entry('v', deep))
    expect(() => d.reset(bad, 0, bad.length).table()).toThrow(DecodeError)
    let ok: Buffer = fv('V')
    for (let i = 0; i < 100; i++) ok = rawArrayValue(ok)
    const good = rawTable(entry('v', ok), entry('w', fv('S', longstr('after'))))
    const t = d.reset(good, 0, good.length).table()
    expect(t.w).toBe('after')
    expect(d.pos).toBe(good.length)
    expect(d.end).toBe(good.length)
  })

  test('Decoder primitives refuse to read past end', () => {
    const buf = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(() => new Decoder(buf, 10, 10).octet()).toThrow(DecodeError)
    expect(() => new Decoder(buf, 9, 10).short()).toThrow(DecodeError)
    expect(() => new Decoder(buf, 7, 10).long()).toThrow(DecodeError)
    expect(() => new Decoder(buf, 3, 10).longlong()).toThrow(DecodeError)
    expect(() => new Decoder(buf, 0, 4).longlong()).toThrow(DecodeError) // end before buffer end
    expect(() => new Decoder(Buffer.from([3, 0x61, 0x62]), 0, 3).shortstr()).toThrow(DecodeError)
    expect(() => new Decoder(Buffer.from([0, 0, 0, 2, 0x61]), 0, 5).longstr()).toThrow(DecodeError)
    expect(() => new Decoder(Buffer.from([0, 0, 0, 2, 0x61]), 0, 5).longstrBytes()).toThrow(DecodeError)
    expect(() => new Decoder(Buffer.from([0, 0, 0, 2, 0x61]), 0, 5).skipTable()).toThrow(DecodeError)
    expect(new Decoder(buf, 2, 4).short()).toBe(0x0304)
    const d = new Decoder(Buffer.concat([encodeTable({ a: 1 }), Buffer.from([7])]), 0, 12)
    d.skipTable()
    expect(d.pos).toBe(11)
    expect(d.octet()).toBe(7)
  })
})

// =============================================================================================

/** Decodes; returns a description of what went wrong (not a DecodeError, or unstable re-encoding). */
function checkDecode(buf: Buffer): string | undefined {
  const r = attempt(buf)
  if (!r.ok) {
    if (isDecodeError(r.error)) return undefined
    const e = r.error as Error
    return `${buf.toString('hex')}: ${e?.constructor?.name} ${e?.message}`
  }
  // whatever decodes must re-encode, and re-encoding is stable after one normalisation
  // (NaN payloads, 'f' → 'd', 'b' → 'I', invalid dates and unsigned 'L' settle after one pass)
  try {
    const e1 = encodeTable(r.value)
    const e2 = encodeTable(decodeTable(e1))
    if (!e1.equals(e2)) return `${buf.toString('hex')}: unstable re-encoding`
  } catch (error) {
    return `${buf.toString('hex')}: re-encoding threw ${(error as Error).message}`
  }
  return undefined
}

const TAGS = Buffer.from('tbBsuIilLfdDSATFVx')
const INTERESTING_U32 = [0, 1, 2, 3, 4, 5, 8, 0x7f, 0xff, 0x100, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]

/** Random bytes that look a little like a table: key, tag, some payload, repeated. */
function structuredRandom(rng: Rng): Buffer {
  const parts: Buffer[] = []
  const n = int(rng, 0, 6)
  for (let i = 0; i < n; i++) {
    parts.push(shortstr(randomString(rng, 3)))
    parts.push(u8(rng() < 0.9 ? pick(rng, [...TAGS]) : int(rng, 0, 255)))
    const r = rng()
    if (r < 0.3) parts.push(u32(rng() < 0.5 ? int(rng, 0, 12) : pick(rng, INTERESTING_U32)))
    parts.push(randomBytes(rng, int(rng, 0, 12)))
  }
  const body = Buffer.concat(parts)
  return Buffer.concat([u32(rng() < 0.8 ? body.length : int(rng, 0, body.length + 4)), body])
}

function mutate(rng: Rng, src: Buffer): Buffer {
  let b = Buffer.from(src)
  const times = int(rng, 1, 4)
  for (let i = 0; i < times; i++) {
    const at = b.length ? int(rng, 0, b.length - 1) : 0
    switch (int(rng, 0, 7)) {
      case 0: // flip a bit
        if (b.length) b[at] ^= 1 << int(rng, 0, 7)
        break
      case 1: // random byte
        if (b.length) b[at] = int(rng, 0, 255)
        break
      case 2: // a type tag somewhere
        if (b.length) b[at] = pick(rng, [...TAGS])
        break
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + int(rng, 1, 6)))])
        break
      case 4: // insert bytes
        b = Buffer.concat([b.subarray(0, at), randomBytes(rng, int(rng, 1, 6)), b.subarray(at)])
        break
      case 5: // truncate
        b = b.subarray(0, at)
        break
      case 6: // overwrite with an interesting 32-bit length
        if (at + 4 <= b.length) b.writeUInt32BE(pick(rng, INTERESTING_U32), at)
        break
      case 7: // nudge a byte by one (lengths off by one)
        if (b.length) b[at] = (b[at] + (rng() < 0.5 ? 1 : 255)) & 0xff
        break
    }
  }
  // mostly keep the outer length consistent so the damage inside gets decoded
  if (b.length >= 4 && rng() < 0.7) b.writeUInt32BE(b.length - 4, 0)
  return b
}

describe('fuzzing: decode returns a value or throws DecodeError', () => {
  test('2000 random buffers', () => {
    const rng = prng(1234)
    const failures: string[] = []
    let decoded = 0
    for (let i = 0; i < 2000; i++) {
      const buf = i % 2 ? randomBytes(rng, int(rng, 0, 48)) : structuredRandom(rng)
      if (i % 4 === 1 && buf.length >= 4) buf.writeUInt32BE(buf.length - 4, 0)
      const f = checkDecode(buf)
      if (f) failures.push(f)
      if (attempt(buf).ok) decoded++
    }
    expect(failures).toEqual([])
    // the generator is not trivially rejected at the first byte
    expect(decoded).toBeGreaterThan(100)
  })

  test('2000 mutations of valid encodings', () => {
    const rng = prng(5678)
    const corpus: Buffer[] = [
      encodeTable(SAMPLE),
      encodeTable(SAMPLE.nested as FieldTable),
      encodeTable({ arr: SAMPLE.arr }),
      amqplibEncode({ a: 1, b: -300, c: 70000, d: 2 ** 40, f: { '!': 'float', value: 2.5 }, u: { '!': 'uint16', value: 9 } }),
      rawTable(
        entry('L', fv('L', u64(2n ** 64n - 1n))),
        entry('i', fv('i', u32(0xffffffff))),
        entry('B', fv('B', [7])),
        entry('T', fv('T', u64(2n ** 63n))),
        entry('D', fv('D', [1, 0x80, 0, 0, 0])),
      ),
    ]
    for (let i = 0; i < 10; i++) corpus.push(encodeTable(randomTable(rng, 3, ['string', 'int', 'fraction', 'bytes', 'date', 'decimal'])))
    const failures: string[] = []
    let decoded = 0
    for (let i = 0; i < 2000; i++) {
      const buf = mutate(rng, pick(rng, corpus))
      const f = checkDecode(buf)
      if (f) failures.push(f)
      if (attempt(buf).ok) decoded++
    }
    expect(failures).toEqual([])
    expect(decoded).toBeGreaterThan(50)
  })

  test('fieldValue on random bytes at random offsets with a Decoder bounded inside the buffer', () => {
    const rng = prng(4321)
    const failures: string[] = []
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.concat([u8(pick(rng, [...TAGS])), randomBytes(rng, int(rng, 0, 24))])
      const end = int(rng, 0, buf.length)
      const d = new Decoder(buf, 0, end)
      try {
        d.fieldValue()
        if (d.pos > end) failures.push(`${buf.toString('hex')} end ${end}: read past end to ${d.pos}`)
      } catch (e) {
        if (!isDecodeError(e)) failures.push(`${buf.toString('hex')}: ${(e as Error).message}`)
      }
    }
    expect(failures).toEqual([])
  })
})

// =============================================================================================

describe('fieldValuesEqual', () => {
  test.each<[string, FieldValue | undefined, FieldValue | undefined, boolean]>([
    ['same string', 'a', 'a', true],
    ['different strings', 'a', 'b', false],
    ['same number', 5, 5, true],
    ['integer-valued double equals integer', 3.0, 3, true],
    ['different numbers', 5, 6, false],
    ['number and bigint with the same value', 1, 1n, true],
    ['bigint and number with the same value', 2n ** 60n, 2 ** 60, true],
    ['bigint and number, beyond the safe range, different', 2n ** 60n + 1n, 2 ** 60, false],
    ['bigint and number, different', 2n, 3, false],
    ['bigint and fraction', 1n, 1.5, false],
    ['bigint and bigint', 2n ** 63n - 1n, 2n ** 63n - 1n, true],
    ['bigint and its decimal string are different types', 2n ** 60n, String(2n ** 60n), false],
    ['string and bigint are different types', '1', 1n, false],
    ['number and its string are different types', 1, '1', false],
    ['bigint and boolean', 1n, true, false],
    ['number and boolean', 1, true, false],
    ['booleans', true, true, true],
    ['different booleans', true, false, false],
    ['null and null', null, null, true],
    ['null and undefined', null, undefined, false],
    ['undefined and undefined', undefined, undefined, true],
    ['undefined and a value', undefined, 0, false],
    ['null and a table', null, {}, false],
    ['null and 0', null, 0, false],
    ['empty string and null', '', null, false],
    ['equal buffers', Buffer.from([1, 2]), Buffer.from([1, 2]), true],
    ['different buffers', Buffer.from([1, 2]), Buffer.from([1, 3]), false],
    ['buffer and string with the same bytes', Buffer.from('ab'), 'ab', false],
    ['buffer and array', Buffer.from([1]), [1], false],
    ['equal dates', new Date(1000), new Date(1000), true],
    ['different dates', new Date(1000), new Date(2000), false],
    ['date and its time as a number', new Date(1000), 1000, false],
    ['date and a table', new Date(0), {}, false],
    ['equal decimals', new Decimal(2, 100), new Decimal(2, 100), true],
    ['decimals with a different scale', new Decimal(1, 10), new Decimal(2, 100), false],
    ['decimals with a different value', new Decimal(2, 100), new Decimal(2, 101), false],
    ['decimal and number', new Decimal(0, 5), 5, false],
    ['decimal and a table with the same fields', new Decimal(0, 5), { scale: 0, value: 5 }, false],
    ['equal arrays', [1, 'a', [null]], [1, 'a', [null]], true],
    ['arrays in another order', [1, 2], [2, 1], false],
    ['arrays of different length', [1], [1, 1], false],
    ['empty arrays', [], [], true],
    ['array and table', [], {}, false],
    ['array and table with index keys', ['a'], { 0: 'a' }, false],
    ['tables with keys in another order', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
    ['tables with different values', { a: 1 }, { a: 2 }, false],
    ['tables with different keys', { a: 1 }, { b: 1 }, false],
    ['table with an extra key', { a: 1 }, { a: 1, b: 2 }, false],
    ['empty tables', {}, {}, true],
    ['nested equal', { a: [{ b: new Date(5) }, Buffer.from('x')] }, { a: [{ b: new Date(5) }, Buffer.from('x')] }, true],
    ['nested, 1 and 1n deep inside', { a: [{ b: 1 }] }, { a: [{ b: 1n }] }, true],
    ['nested different', { a: [{ b: new Date(5) }] }, { a: [{ b: new Date(6) }] }, false],
  ])('%s', (_name, a, b, expected) => {
    expect(fieldValuesEqual(a, b)).toBe(expected)
    expect(fieldValuesEqual(b, a)).toBe(expected)
  })

  test('decoded values compare equal to the values they were encoded from', () => {
    const rng = prng(31)
    for (let i = 0; i < 200; i++) {
      const t = randomTable(rng, 3, ['string', 'bool', 'int', 'fraction', 'null', 'bytes', 'date', 'decimal'])
      expect(fieldValuesEqual(roundTrip(t), t)).toBe(true)
    }
    // with bigint and long-long values
    expect(fieldValuesEqual(roundTrip({ a: 2n ** 60n, b: 3000000000 }), { a: 2n ** 60n, b: 3000000000n })).toBe(true)
  })

  test('a one-byte change in an encoding is noticed', () => {
    const a = decodeTable(encodeTable({ k: 'value', n: 1, x: Buffer.from('ab') }))
    const b = decodeTable(encodeTable({ k: 'valuf', n: 1, x: Buffer.from('ab') }))
    const c = decodeTable(encodeTable({ k: 'value', n: 1, x: Buffer.from('ac') }))
    expect(fieldValuesEqual(a, b)).toBe(false)
    expect(fieldValuesEqual(a, c)).toBe(false)
  })
})
