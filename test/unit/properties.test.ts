/**
 * Basic content-header properties: exact wire bytes, all 14 properties, set-but-zero values,
 * summarizeProperties over every combination of flags, decodeHeaders, truncation, fuzzing, and
 * cross-checks against amqplib's and @cloudamqp/amqp-client's property codecs.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { AMQPView } from '@cloudamqp/amqp-client/amqp-view'
import { DecodeError } from '../../core/errors.js'
import { encodeTable, fieldValuesEqual, type FieldTable } from '../../core/wire/field-table.js'
import {
  EMPTY_PROPERTIES,
  decodeHeaders,
  decodeProperties,
  encodeProperties,
  findReplyTo,
  REPLY_TO_FLAG_BYTE,
  summarizeProperties,
  type BasicProperties,
  type PropertySummary,
} from '../../core/wire/properties.js'

// ---------------------------------------------------------------------------------------------
// amqplib's generated codec (lib/defs.js), loaded by file path: its export map does not expose lib/.

interface AmqplibDefs {
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer
  decode(id: number, buf: Buffer): Record<string, unknown>
}
const require = createRequire(import.meta.url)
const defs = require(path.join(path.dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as AmqplibDefs
const BASIC = 60

/** amqplib writes a whole content-header frame; the property flags start at byte 19, frame-end last. */
function amqplibEncode(p: BasicProperties): Buffer {
  const frame = defs.encodeProperties(BASIC, 1, 0, p as Record<string, unknown>)
  expect(frame[frame.length - 1]).toBe(0xce)
  return Buffer.from(frame.subarray(19, frame.length - 1))
}
function amqplibDecode(raw: Buffer): BasicProperties {
  const out = defs.decode(BASIC, raw)
  const p: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(out)) if (v !== undefined) p[k] = v
  return p as BasicProperties
}

// ---------------------------------------------------------------------------------------------

const shortstr = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8')
  return Buffer.concat([Buffer.from([b.length]), b])
}
const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const u8 = (n: number): Buffer => Buffer.from([n])
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}
/** `{ a: 'b' }` as a table, by hand */
const HEADERS_AB = Buffer.from([0, 0, 0, 8, 1, 0x61, 0x53, 0, 0, 0, 1, 0x62])

/** Property names in wire order with their flag bits (0-9-1 §4.2.6.1, class basic). */
const ORDER = [
  ['contentType', 0x8000],
  ['contentEncoding', 0x4000],
  ['headers', 0x2000],
  ['deliveryMode', 0x1000],
  ['priority', 0x0800],
  ['correlationId', 0x0400],
  ['replyTo', 0x0200],
  ['expiration', 0x0100],
  ['messageId', 0x0080],
  ['timestamp', 0x0040],
  ['type', 0x0020],
  ['userId', 0x0010],
  ['appId', 0x0008],
  ['clusterId', 0x0004],
] as const satisfies readonly (readonly [keyof BasicProperties, number])[]

const ALL: Required<BasicProperties> = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: { a: 'b', n: 3000000000, nested: { arr: [1, 'x', null] }, 'ключ': '🐇' },
  deliveryMode: 2,
  priority: 9,
  correlationId: 'corr-1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: '60000',
  messageId: 'msg-ü-42',
  timestamp: 1_700_000_000,
  type: 'order.created',
  userId: 'guest',
  appId: 'warren-tests',
  clusterId: 'cluster-α',
}

/** ALL with headers every codec writes the same way (their integer encodings differ). */
const PORTABLE: Required<BasicProperties> = {
  ...ALL,
  headers: { a: 'b', flag: true, nested: { list: ['x', false, { deep: 'y' }] }, 'ключ': '🐇' },
}

/** Encodes one property's value by hand. */
function rawValue(name: keyof BasicProperties, v: unknown): Buffer {
  switch (name) {
    case 'headers':
      return encodeTable(v as FieldTable)
    case 'deliveryMode':
    case 'priority':
      return u8(v as number)
    case 'timestamp':
      return u64(v as number)
    default:
      return shortstr(v as string)
  }
}
/** Property bytes built by hand from a set of properties. */
function rawProps(p: BasicProperties): Buffer {
  let flags = 0
  const parts: Buffer[] = []
  for (const [name, bit] of ORDER) {
    if (p[name] === undefined) continue
    flags |= bit
    parts.push(rawValue(name, p[name]))
  }
  return Buffer.concat([u16(flags), ...parts])
}
const subset = (mask: number, values: BasicProperties = ALL): BasicProperties => {
  const p: Record<string, unknown> = {}
  ORDER.forEach(([name], i) => {
    if (mask & (1 << i)) p[name] = values[name]
  })
  return p as BasicProperties
}

const newSummary = (): PropertySummary => ({ deliveryMode: -1, priority: -1, expiration: 'stale', headersAt: -2 })

function expectDecodeError(fn: () => unknown): void {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught, 'expected a DecodeError').toBeInstanceOf(DecodeError)
  expect((caught as DecodeError).code).toBe(501)
}

// ---------------------------------------------------------------------------------------------

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
const randomBytes = (rng: Rng, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rng, 0, 255)))
function randomString(rng: Rng, maxLen: number): string {
  const chars = ['a', 'Z', '0', '-', '.', ' ', 'é', 'ж', '日', '🐇']
  let s = ''
  const n = int(rng, 0, maxLen)
  for (let i = 0; i < n; i++) s += pick(rng, chars)
  return s
}
function randomProps(rng: Rng, allowZero: boolean): BasicProperties {
  const p: BasicProperties = {}
  const str = (): string => (allowZero && rng() < 0.2 ? '' : randomString(rng, 30) || 'x')
  if (rng() < 0.5) p.contentType = str()
  if (rng() < 0.5) p.contentEncoding = str()
  if (rng() < 0.5)
    p.headers = rng() < 0.2 ? {} : { [randomString(rng, 5)]: randomString(rng, 10), n: int(rng, -1000, 1000), t: rng() < 0.5 }
  if (rng() < 0.5) p.deliveryMode = allowZero ? int(rng, 0, 2) : int(rng, 1, 2)
  if (rng() < 0.5) p.priority = allowZero ? int(rng, 0, 255) : int(rng, 1, 255)
  if (rng() < 0.5) p.correlationId = str()
  if (rng() < 0.5) p.replyTo = str()
  if (rng() < 0.5) p.expiration = allowZero && rng() < 0.2 ? '0' : String(int(rng, 1, 1e9))
  if (rng() < 0.5) p.messageId = str()
  if (rng() < 0.5) p.timestamp = allowZero && rng() < 0.2 ? 0 : int(rng, 1, 4_000_000_000)
  if (rng() < 0.5) p.type = str()
  if (rng() < 0.5) p.userId = str()
  if (rng() < 0.5) p.appId = str()
  return p
}

// =============================================================================================

describe('encodeProperties / decodeProperties', () => {
  test('all 14 properties, byte for byte', () => {
    const raw = encodeProperties(ALL)
    expect(raw.readUInt16BE(0)).toBe(0xfffc)
    expect(raw).toEqual(rawProps(ALL))
    // spot-check the layout without any helper: flags, content type, ..., cluster id last
    expect(raw.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xfc, 16]))
    expect(raw.subarray(3, 19).toString()).toBe('application/json')
    expect(raw.subarray(raw.length - 1 - Buffer.byteLength('cluster-α')).toString('utf8')).toBe('\u000acluster-α')
  })

  test('all 14 properties round-trip', () => {
    expect(decodeProperties(encodeProperties(ALL))).toStrictEqual(ALL)
  })

  test('each property alone sets exactly its flag bit and round-trips', () => {
    for (const [name, bit] of ORDER) {
      const p = { [name]: ALL[name] } as BasicProperties
      const raw = encodeProperties(p)
      expect(raw.readUInt16BE(0), name).toBe(bit)
      expect(raw.subarray(2), name).toEqual(rawValue(name, ALL[name]))
      expect(decodeProperties(raw), name).toStrictEqual(p)
    }
  })

  test('hand-written property lists decode', () => {
    const raw = Buffer.concat([
      u16(0x8000 | 0x2000 | 0x1000 | 0x0100 | 0x0040 | 0x0004),
      shortstr('text/plain'),
      HEADERS_AB,
      u8(1),
      shortstr('1500'),
      u64(86400),
      shortstr('c'),
    ])
    expect(decodeProperties(raw)).toStrictEqual({
      contentType: 'text/plain',
      headers: { a: 'b' },
      deliveryMode: 1,
      expiration: '1500',
      timestamp: 86400,
      clusterId: 'c',
    })
  })

  test('set-but-zero values are kept: priority 0, deliveryMode 0, empty strings, timestamp 0, empty headers', () => {
    const p: BasicProperties = {
      contentType: '',
      contentEncoding: '',
      headers: {},
      deliveryMode: 0,
      priority: 0,
      correlationId: '',
      replyTo: '',
      expiration: '',
      messageId: '',
      timestamp: 0,
      type: '',
      userId: '',
      appId: '',
      clusterId: '',
    }
    const raw = encodeProperties(p)
    expect(raw.readUInt16BE(0)).toBe(0xfffc)
    // 10 empty short strings (1 byte each), empty table (4), two octets, 8-byte timestamp
    expect(raw.length).toBe(2 + 10 + 4 + 2 + 8)
    expect(decodeProperties(raw)).toStrictEqual(p)

    const s = summarizeProperties(raw, newSummary())
    expect(s).toEqual({ deliveryMode: 0, priority: 0, expiration: '', headersAt: 4, userId: '' })
    expect(decodeHeaders(raw, s.headersAt)).toStrictEqual({})

    const priorityZero = encodeProperties({ priority: 0 })
    expect(priorityZero).toEqual(Buffer.from([0x08, 0x00, 0x00]))
    expect(decodeProperties(priorityZero)).toStrictEqual({ priority: 0 })
    const modeZero = encodeProperties({ deliveryMode: 0 })
    expect(modeZero).toEqual(Buffer.from([0x10, 0x00, 0x00]))
    expect(decodeProperties(modeZero)).toStrictEqual({ deliveryMode: 0 })
    expect(decodeProperties(encodeProperties({ expiration: '0' }))).toStrictEqual({ expiration: '0' })
  })

  test('undefined properties are not written', () => {
    expect(encodeProperties({ contentType: undefined, priority: undefined })).toEqual(EMPTY_PROPERTIES)
    expect(encodeProperties({ contentType: undefined, priority: 5 })).toEqual(Buffer.from([0x08, 0x00, 5]))
  })

  test('EMPTY_PROPERTIES', () => {
    expect(EMPTY_PROPERTIES).toEqual(Buffer.from([0, 0]))
    expect(encodeProperties({})).toEqual(EMPTY_PROPERTIES)
    expect(decodeProperties(EMPTY_PROPERTIES)).toStrictEqual({})
    expect(summarizeProperties(EMPTY_PROPERTIES, newSummary())).toEqual({
      deliveryMode: 0,
      priority: 0,
      expiration: undefined,
      headersAt: -1,
    })
    expect(decodeHeaders(EMPTY_PROPERTIES, -1)).toBeUndefined()
  })

  test('255-byte short strings and unicode', () => {
    const p: BasicProperties = { messageId: 'm'.repeat(255), type: 'ü'.repeat(127), appId: '日本🐇' }
    expect(decodeProperties(encodeProperties(p))).toStrictEqual(p)
    expect(() => encodeProperties({ messageId: 'm'.repeat(256) })).toThrow(RangeError)
  })

  test('large timestamps and headers that outgrow the encoder', () => {
    const p: BasicProperties = {
      timestamp: 2 ** 53 - 1,
      headers: { big: 'x'.repeat(10_000), list: Array.from({ length: 500 }, (_, i) => i) },
      appId: 'after',
    }
    expect(decodeProperties(encodeProperties(p))).toStrictEqual(p)
    // timestamps are unsigned on the wire
    const raw = Buffer.concat([u16(0x0040), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])])
    expect(decodeProperties(raw).timestamp).toBe(0xffffffff * 2 ** 32)
  })

  test('a continuation bit is honoured: extra flag words are skipped', () => {
    const list = Buffer.concat([shortstr('text/plain'), u8(2), u8(7)])
    const withOne = Buffer.concat([u16(0x8000 | 0x1000 | 0x0800 | 1), u16(0), list])
    const withTwo = Buffer.concat([u16(0x8000 | 0x1000 | 0x0800 | 1), u16(0xfff1), u16(0x0000), list])
    for (const raw of [withOne, withTwo]) {
      expect(decodeProperties(raw)).toStrictEqual({ contentType: 'text/plain', deliveryMode: 2, priority: 7 })
      expect(summarizeProperties(raw, newSummary())).toEqual({
        deliveryMode: 2,
        priority: 7,
        expiration: undefined,
        headersAt: -1,
      })
    }
    // a continuation promised but missing
    expectDecodeError(() => decodeProperties(u16(0x8001)))
    expectDecodeError(() => summarizeProperties(u16(0x0001), newSummary()))
  })

  test('trailing bytes after the last property are ignored', () => {
    const raw = Buffer.concat([encodeProperties({ priority: 3 }), Buffer.from([1, 2, 3])])
    expect(decodeProperties(raw)).toStrictEqual({ priority: 3 })
    expect(summarizeProperties(raw, newSummary()).priority).toBe(3)
  })
})

// =============================================================================================

describe('summarizeProperties', () => {
  test('every one of the 2^14 flag combinations', () => {
    const s = newSummary()
    for (let mask = 0; mask < 1 << 14; mask++) {
      const p = subset(mask)
      const raw = encodeProperties(p)
      // compare cheaply and only build a diff on failure: 16k deep-equals dominate the run time
      const want = rawProps(p)
      if (!raw.equals(want)) expect(raw).toEqual(want)
      summarizeProperties(raw, s)
      let headersAt = -1
      if (p.headers !== undefined) headersAt = 2 + (p.contentType !== undefined ? 17 : 0) + (p.contentEncoding !== undefined ? 5 : 0)
      const expected: PropertySummary = {
        deliveryMode: p.deliveryMode ?? 0,
        priority: p.priority ?? 0,
        expiration: p.expiration,
        headersAt,
      }
      if (
        s.deliveryMode !== expected.deliveryMode ||
        s.priority !== expected.priority ||
        s.expiration !== expected.expiration ||
        s.headersAt !== expected.headersAt
      ) {
        expect({ mask: mask.toString(2), ...s }).toEqual({ mask: mask.toString(2), ...expected })
      }
      if (headersAt < 0) expect(decodeHeaders(raw, s.headersAt)).toBeUndefined()
      else if (mask % 31 === 0) expect(decodeHeaders(raw, s.headersAt)).toStrictEqual(ALL.headers)
      if (mask % 97 === 0) expect(decodeProperties(raw)).toStrictEqual(p)
    }
  })

  test('contentType + headers + deliveryMode + expiration', () => {
    const raw = encodeProperties({
      contentType: 'text/plain',
      headers: { 'x-match': 'all', n: 1 },
      deliveryMode: 2,
      expiration: '5000',
    })
    const s = summarizeProperties(raw, newSummary())
    expect(s).toEqual({ deliveryMode: 2, priority: 0, expiration: '5000', headersAt: 2 + 11 })
    expect(raw.readUInt32BE(s.headersAt)).toBe(encodeTable({ 'x-match': 'all', n: 1 }).length - 4)
    expect(decodeHeaders(raw, s.headersAt)).toStrictEqual({ 'x-match': 'all', n: 1 })
  })

  test('priority without delivery mode, expiration after correlation id and reply-to', () => {
    const raw = encodeProperties({ priority: 4, correlationId: 'abc', replyTo: 'q', expiration: '10', messageId: 'm' })
    expect(summarizeProperties(raw, newSummary())).toEqual({ deliveryMode: 0, priority: 4, expiration: '10', headersAt: -1 })
  })

  test('headers after a unicode content type and encoding', () => {
    const raw = encodeProperties({ contentType: 'тип/日本', contentEncoding: '🐇', headers: { k: [true] } })
    const s = summarizeProperties(raw, newSummary())
    expect(s.headersAt).toBe(2 + 1 + Buffer.byteLength('тип/日本') + 1 + 4)
    expect(decodeHeaders(raw, s.headersAt)).toStrictEqual({ k: [true] })
  })

  test('the output object is reset on every call', () => {
    const s = newSummary()
    summarizeProperties(encodeProperties({ headers: {}, deliveryMode: 2, priority: 5, expiration: '1' }), s)
    expect(s).toEqual({ deliveryMode: 2, priority: 5, expiration: '1', headersAt: 2 })
    summarizeProperties(encodeProperties({ appId: 'x' }), s)
    expect(s).toEqual({ deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 })
    summarizeProperties(EMPTY_PROPERTIES, s)
    expect(s).toEqual({ deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 })
    // and returns the same object
    expect(summarizeProperties(EMPTY_PROPERTIES, s)).toBe(s)
  })

  test('a property list inside a larger buffer (start, end): offsets are relative, end is a hard limit', () => {
    const props = encodeProperties({ contentType: 'text/plain', headers: { h: 'v' }, priority: 7, expiration: '99', appId: 'a' })
    const before = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01])
    const buf = Buffer.concat([before, props, Buffer.from([0xff, 0xff, 0xff])])
    const start = before.length
    const end = start + props.length
    const s = summarizeProperties(buf, newSummary(), start, end)
    expect(s).toEqual(summarizeProperties(props, newSummary()))
    expect(s.headersAt).toBe(2 + 11)
    expect(decodeHeaders(buf.subarray(start, end), s.headersAt)).toStrictEqual({ h: 'v' })
    // "no properties" at an offset
    const empty = Buffer.from([9, 9, 0, 0, 9])
    expect(summarizeProperties(empty, newSummary(), 2, 4)).toEqual({ deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 })
    // bytes after `end` do not complete a truncated list
    for (let cut = start; cut < end; cut++) expectDecodeError(() => summarizeProperties(buf, newSummary(), start, cut))
  })

  test('decodeHeaders reads the table at any offset and refuses a bad one', () => {
    const raw = encodeProperties({ contentType: 'a', headers: { h: 1 } })
    expect(decodeHeaders(raw, 4)).toStrictEqual({ h: 1 })
    expect(decodeHeaders(raw, -1)).toBeUndefined()
    expectDecodeError(() => decodeHeaders(raw, 3)) // misaligned: reads a length from the wrong bytes
    expectDecodeError(() => decodeHeaders(raw, raw.length))
  })
})

// =============================================================================================

describe('malformed property lists', () => {
  test('every proper prefix of a full property list is refused by both decoders', () => {
    const raw = encodeProperties(ALL)
    for (let n = 0; n < raw.length; n++) {
      const cut = raw.subarray(0, n)
      expectDecodeError(() => decodeProperties(cut))
      expectDecodeError(() => summarizeProperties(cut, newSummary()))
    }
  })

  test('every proper prefix of each single-property list is refused', () => {
    for (const [name] of ORDER) {
      const raw = encodeProperties({ [name]: ALL[name] })
      for (let n = 0; n < raw.length; n++) {
        expectDecodeError(() => decodeProperties(raw.subarray(0, n)))
        expectDecodeError(() => summarizeProperties(raw.subarray(0, n), newSummary()))
      }
    }
  })

  test('properties after expiration are checked by summarizeProperties too', () => {
    // message id announced but its short string runs past the end
    expectDecodeError(() => summarizeProperties(Buffer.concat([u16(0x0080), Buffer.from([5, 0x61])]), newSummary()))
    // timestamp cut short
    expectDecodeError(() => summarizeProperties(Buffer.concat([u16(0x1040), u8(2), Buffer.alloc(7)]), newSummary()))
    // cluster id flag with nothing behind it
    expectDecodeError(() => summarizeProperties(Buffer.concat([u16(0x0004)]), newSummary()))
  })

  test('a headers table whose length runs past the end', () => {
    const raw = Buffer.concat([u16(0x2000), Buffer.from([0, 0, 0, 20, 1, 0x61, 0x56])])
    expectDecodeError(() => decodeProperties(raw))
    expectDecodeError(() => summarizeProperties(raw, newSummary()))
    const huge = Buffer.concat([u16(0x2000), Buffer.from([0xff, 0xff, 0xff, 0xff])])
    expectDecodeError(() => decodeProperties(huge))
    expectDecodeError(() => summarizeProperties(huge, newSummary()))
  })

  test('a malformed headers table inside a correct length: summarize skips it, decoding it fails', () => {
    const raw = Buffer.concat([u16(0x2000 | 0x1000), Buffer.from([0, 0, 0, 3, 1, 0x61, 0x3f]), u8(2)])
    const s = summarizeProperties(raw, newSummary())
    expect(s).toEqual({ deliveryMode: 2, priority: 0, expiration: undefined, headersAt: 2 })
    expectDecodeError(() => decodeHeaders(raw, s.headersAt))
    expectDecodeError(() => decodeProperties(raw))
  })

  test('a short string length past the end, in each short-string property', () => {
    for (const [name, bit] of ORDER) {
      if (name === 'headers' || name === 'deliveryMode' || name === 'priority' || name === 'timestamp') continue
      const raw = Buffer.concat([u16(bit), Buffer.from([200]), Buffer.from('short')])
      expectDecodeError(() => decodeProperties(raw))
      expectDecodeError(() => summarizeProperties(raw, newSummary()))
    }
  })
})

// =============================================================================================

/** Checks one input: only DecodeError may escape, and the two decoders agree. */
function checkProps(raw: Buffer): string | undefined {
  const hex = raw.toString('hex')
  let summary: PropertySummary | undefined
  let summaryError: unknown
  let props: BasicProperties | undefined
  let propsError: unknown
  try {
    summary = summarizeProperties(raw, newSummary())
  } catch (e) {
    summaryError = e
  }
  try {
    props = decodeProperties(raw)
  } catch (e) {
    propsError = e
  }
  for (const e of [summaryError, propsError]) {
    if (e !== undefined && !(e instanceof DecodeError && e.code === 501)) return `${hex}: ${(e as Error)?.constructor?.name} ${(e as Error)?.message}`
  }
  if (props && !summary) return `${hex}: decodeProperties succeeded but summarizeProperties threw`
  if (props && summary) {
    if (summary.deliveryMode !== (props.deliveryMode ?? 0)) return `${hex}: deliveryMode`
    if (summary.priority !== (props.priority ?? 0)) return `${hex}: priority`
    if (summary.expiration !== props.expiration) return `${hex}: expiration`
    if ((summary.headersAt >= 0) !== (props.headers !== undefined)) return `${hex}: headersAt`
    if (props.headers && !fieldValuesEqual(decodeHeaders(raw, summary.headersAt), props.headers))
      return `${hex}: headers differ`
  }
  if (summary && !props) {
    // summarize only skips over the headers table: that must be where decodeProperties failed
    try {
      decodeHeaders(raw, summary.headersAt)
      return `${hex}: summarizeProperties accepted a property list that decodeProperties refused`
    } catch (e) {
      if (!(e instanceof DecodeError)) return `${hex}: decodeHeaders threw ${(e as Error).message}`
    }
  }
  return undefined
}

function mutate(rng: Rng, src: Buffer): Buffer {
  let b = Buffer.from(src)
  const times = int(rng, 1, 3)
  for (let i = 0; i < times; i++) {
    const at = b.length ? int(rng, 0, b.length - 1) : 0
    switch (int(rng, 0, 6)) {
      case 0:
        if (b.length) b[at] ^= 1 << int(rng, 0, 7)
        break
      case 1:
        if (b.length) b[at] = int(rng, 0, 255)
        break
      case 2: // flip a flag bit
        if (b.length >= 2) b.writeUInt16BE(b.readUInt16BE(0) ^ (1 << int(rng, 0, 15)), 0)
        break
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + int(rng, 1, 4)))])
        break
      case 4:
        b = Buffer.concat([b.subarray(0, at), randomBytes(rng, int(rng, 1, 4)), b.subarray(at)])
        break
      case 5:
        b = b.subarray(0, at)
        break
      case 6:
        if (b.length) b[at] = (b[at] + (rng() < 0.5 ? 1 : 255)) & 0xff
        break
    }
  }
  return b
}

describe('fuzzing: summarizeProperties and decodeProperties return or throw DecodeError, and agree', () => {
  test('2000 random buffers', () => {
    const rng = prng(2024)
    const failures: string[] = []
    let accepted = 0
    for (let i = 0; i < 2000; i++) {
      let raw: Buffer
      if (i % 3 === 0) raw = randomBytes(rng, int(rng, 0, 40))
      else {
        // random flags, and for each flag a piece that is mostly of the right shape
        let flags = 0
        const parts: Buffer[] = []
        for (const [name, bit] of ORDER) {
          if (rng() > 0.3) continue
          flags |= bit
          const r = rng()
          if (r < 0.1) parts.push(randomBytes(rng, int(rng, 0, 6)))
          else if (name === 'headers') {
            const body = rng() < 0.7 ? encodeTable({ [randomString(rng, 4)]: randomString(rng, 4) }).subarray(4) : randomBytes(rng, int(rng, 0, 12))
            parts.push(Buffer.concat([Buffer.from([0, 0, 0, r < 0.9 ? body.length : int(rng, 0, 255)]), body]))
          } else if (name === 'deliveryMode' || name === 'priority') parts.push(randomBytes(rng, 1))
          else if (name === 'timestamp') parts.push(randomBytes(rng, r < 0.9 ? 8 : int(rng, 0, 7)))
          else parts.push(r < 0.9 ? shortstr(randomString(rng, 6)) : Buffer.concat([Buffer.from([int(rng, 0, 255)]), randomBytes(rng, int(rng, 0, 6))]))
        }
        if (rng() < 0.1) flags |= int(rng, 0, 3) // reserved bit / continuation
        raw = Buffer.concat([u16(flags), ...parts])
      }
      const f = checkProps(raw)
      if (f) failures.push(f)
      try {
        summarizeProperties(raw, newSummary())
        accepted++
      } catch {
        // counted above
      }
    }
    expect(failures).toEqual([])
    expect(accepted).toBeGreaterThan(300)
  })

  test('2000 mutations of valid property lists', () => {
    const rng = prng(77)
    const corpus: Buffer[] = [encodeProperties(ALL), encodeProperties(subset(0b00000100101101))]
    for (let i = 0; i < 20; i++) corpus.push(encodeProperties(randomProps(rng, true)))
    const failures: string[] = []
    for (let i = 0; i < 2000; i++) {
      const f = checkProps(mutate(rng, pick(rng, corpus)))
      if (f) failures.push(f)
    }
    expect(failures).toEqual([])
  })

  test('500 random property sets round-trip and summarize consistently', () => {
    const rng = prng(5)
    for (let i = 0; i < 500; i++) {
      const p = randomProps(rng, true)
      const raw = encodeProperties(p)
      expect(decodeProperties(raw)).toStrictEqual(p)
      const s = summarizeProperties(raw, newSummary())
      expect(s.deliveryMode).toBe(p.deliveryMode ?? 0)
      expect(s.priority).toBe(p.priority ?? 0)
      expect(s.expiration).toBe(p.expiration)
      expect(decodeHeaders(raw, s.headersAt)).toStrictEqual(p.headers)
    }
  })
})

// =============================================================================================

describe('cross-check with amqplib', () => {
  test('all 14 properties: same bytes both ways', () => {
    const theirs = amqplibEncode(PORTABLE)
    expect(theirs).toEqual(encodeProperties(PORTABLE))
    expect(decodeProperties(theirs)).toStrictEqual(PORTABLE)
    expect(amqplibDecode(encodeProperties(PORTABLE))).toStrictEqual(PORTABLE)
    // with numbers in the headers amqplib picks narrower integer types; the values still agree
    expect(decodeProperties(amqplibEncode(ALL))).toStrictEqual(ALL)
    expect(amqplibDecode(encodeProperties(ALL))).toStrictEqual(ALL)
  })

  test('set-but-zero values, which amqplib keeps too', () => {
    const p: BasicProperties = { deliveryMode: 0, priority: 0, expiration: '', timestamp: 0, headers: {}, contentType: '' }
    expect(amqplibEncode(p)).toEqual(encodeProperties(p))
    expect(amqplibDecode(encodeProperties(p))).toStrictEqual(p)
  })

  test('500 random property sets both ways', () => {
    const rng = prng(11)
    for (let i = 0; i < 500; i++) {
      const p = randomProps(rng, true)
      if (rng() < 0.3) p.clusterId = randomString(rng, 10)
      const ours = encodeProperties(p)
      expect(amqplibDecode(ours)).toStrictEqual(p)
      const theirs = amqplibEncode(p)
      expect(decodeProperties(theirs)).toStrictEqual(p)
      const s = summarizeProperties(theirs, newSummary())
      expect(s.deliveryMode).toBe(p.deliveryMode ?? 0)
      expect(s.priority).toBe(p.priority ?? 0)
      expect(s.expiration).toBe(p.expiration)
      expect(decodeHeaders(theirs, s.headersAt)).toStrictEqual(p.headers)
    }
  })
})

describe('cross-check with @cloudamqp/amqp-client AMQPView (non-zero values only: it drops falsy ones)', () => {
  function viewEncode(p: BasicProperties): Buffer {
    const ab = new ArrayBuffer(65536)
    const { timestamp, clusterId: _clusterId, ...rest } = p
    const n = new AMQPView(ab).setProperties(0, {
      ...rest,
      ...(timestamp !== undefined ? { timestamp: new Date(timestamp * 1000) } : {}),
    })
    return Buffer.from(ab, 0, n)
  }
  function viewDecode(raw: Buffer): BasicProperties {
    const [p, n] = new AMQPView(raw.buffer, raw.byteOffset, raw.byteLength).getProperties(0)
    expect(n).toBe(raw.length)
    const out: Record<string, unknown> = { ...p }
    if (p.timestamp !== undefined) out.timestamp = p.timestamp.getTime() / 1000
    return out as BasicProperties
  }

  test('all properties it knows (no cluster id)', () => {
    const { clusterId: _c, ...p } = PORTABLE
    const theirs = viewEncode(p)
    expect(theirs).toEqual(encodeProperties(p))
    expect(decodeProperties(theirs)).toStrictEqual(p)
    expect(viewDecode(encodeProperties(p))).toStrictEqual(p)
  })

  test('300 random property sets both ways', () => {
    const rng = prng(3)
    for (let i = 0; i < 300; i++) {
      const p = randomProps(rng, false)
      // its table encoder is only safe for strings, int32 and booleans, which randomProps uses
      const theirs = viewEncode(p)
      expect(decodeProperties(theirs)).toStrictEqual(p)
      expect(viewDecode(encodeProperties(p))).toStrictEqual(p)
      const s = summarizeProperties(theirs, newSummary())
      expect([s.deliveryMode, s.priority, s.expiration]).toEqual([p.deliveryMode ?? 0, p.priority ?? 0, p.expiration])
    }
  })
})

describe('findReplyTo (direct reply-to rewrite)', () => {
  test('finds the reply-to length byte after every property that can precede it, at any start offset', () => {
    const before: BasicProperties = {
      contentType: 'text/plain',
      contentEncoding: 'gzip',
      headers: { a: 1, nested: { b: 'c' } },
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr',
    }
    const keys = Object.keys(before) as (keyof BasicProperties)[]
    for (let mask = 0; mask < 1 << keys.length; mask++) {
      const p: BasicProperties = { replyTo: 'amq.rabbitmq.reply-to', expiration: '5', appId: 'x' }
      keys.forEach((k, i) => {
        if (mask & (1 << i)) (p as Record<string, unknown>)[k] = before[k]
      })
      const raw = Buffer.concat([Buffer.from([9, 9, 9]), encodeProperties(p)])
      expect(raw[3] & REPLY_TO_FLAG_BYTE).not.toBe(0)
      const at = findReplyTo(raw, 3, raw.length)
      expect(raw[at]).toBe(21)
      expect(raw.toString('latin1', at + 1, at + 22)).toBe('amq.rabbitmq.reply-to')
    }
  })

  test('no reply-to: the flag bit is clear and the offset is -1', () => {
    const raw = encodeProperties({ contentType: 'a', correlationId: 'b', expiration: '1' })
    expect(raw[0] & REPLY_TO_FLAG_BYTE).toBe(0)
    expect(findReplyTo(raw, 0, raw.length)).toBe(-1)
  })
})
