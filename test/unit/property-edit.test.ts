/**
 * editProperties: the content-header rewrite used by dead-lettering (x-death, expiration removed) and
 * redeliveries (x-delivery-count). Untouched header entries must come out byte for byte (a 'b' byte
 * stays a byte, an 'f' float stays a float), every other property untouched, headers added at the
 * right place when absent, and malformed input refused.
 */
import { describe, expect, test } from 'vitest'
import { DecodeError } from '../../core/errors.js'
import { Decoder, encodeTable, type FieldTable } from '../../core/wire/field-table.js'
import { editProperties } from '../../core/wire/property-edit.js'
import { decodeProperties, encodeProperties, summarizeProperties, type PropertySummary } from '../../core/wire/properties.js'

// ---- raw builders -------------------------------------------------------------------------------

const u8 = (n: number): Buffer => Buffer.from([n])
const u16 = (n: number): Buffer => {
  const x = Buffer.alloc(2)
  x.writeUInt16BE(n)
  return x
}
const u32 = (n: number): Buffer => {
  const x = Buffer.alloc(4)
  x.writeUInt32BE(n >>> 0)
  return x
}
const u64 = (n: bigint): Buffer => {
  const x = Buffer.alloc(8)
  x.writeBigUInt64BE(n)
  return x
}
const shortstr = (s: string): Buffer => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)])
const longstr = (b: Buffer): Buffer => Buffer.concat([u32(b.length), b])
const entry = (name: string, type: string, value: Buffer): Buffer => Buffer.concat([shortstr(name), Buffer.from(type), value])

/** Header entries of every field type, with types a re-encoding broker would change ('b', 'f', 'u' …). */
function rawEntries(): Buffer[] {
  const f32 = Buffer.alloc(4)
  f32.writeFloatBE(1.5)
  const f64 = Buffer.alloc(8)
  f64.writeDoubleBE(-2.25)
  const inner = Buffer.concat([entry('deep', 'b', u8(0xff)), entry('s', 'S', longstr(Buffer.from('x')))])
  const arr = Buffer.concat([Buffer.from('b'), u8(3), Buffer.from('s'), u16(7), Buffer.from('F'), longstr(inner)])
  return [
    entry('t', 't', u8(1)),
    entry('b', 'b', u8(0xfb)), // -5
    entry('B', 'B', u8(200)),
    entry('s', 's', u16(0xfffe)),
    entry('u', 'u', u16(65000)),
    entry('I', 'I', u32(-16)),
    entry('i', 'i', u32(4000000000)),
    entry('l', 'l', u64(2n ** 40n)),
    entry('f', 'f', f32),
    entry('d', 'd', f64),
    entry('D', 'D', Buffer.concat([u8(2), u32(12345)])),
    entry('S', 'S', longstr(Buffer.from('héllo'))),
    entry('T', 'T', u64(1700000000n)),
    entry('F', 'F', longstr(inner)),
    entry('A', 'A', longstr(arr)),
    entry('V', 'V', Buffer.alloc(0)),
    entry('x', 'x', longstr(Buffer.from([0, 1, 255]))),
  ]
}

/** All 14 properties, headers built from `entries` (left out when undefined), expiration left out when null. */
function rawProps(entries: Buffer[] | undefined, expiration: string | null = '60000'): Buffer {
  let flags = 0xfffc
  if (entries === undefined) flags &= ~(1 << 13)
  if (expiration === null) flags &= ~(1 << 8)
  return Buffer.concat([
    u16(flags),
    shortstr('application/json'),
    shortstr('gzip'),
    ...(entries === undefined ? [] : [longstr(Buffer.concat(entries))]),
    u8(2),
    u8(7),
    shortstr('corr'),
    shortstr('reply.to'),
    ...(expiration === null ? [] : [shortstr(expiration)]),
    shortstr('msg-id'),
    u64(1700000001n),
    shortstr('kind'),
    shortstr('guest'),
    shortstr('app'),
    shortstr('cluster'),
  ])
}

/** Header entries of property bytes as raw buffers, in order. */
function entriesOf(props: Buffer): [string, Buffer][] {
  const s: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 }
  summarizeProperties(props, s)
  if (s.headersAt < 0) return []
  const d = new Decoder(props, s.headersAt, props.length)
  const end = d.long() + d.pos
  const out: [string, Buffer][] = []
  while (d.pos < end) {
    const start = d.pos
    const key = d.shortstr()
    d.fieldValue()
    out.push([key, Buffer.from(props.subarray(start, d.pos))])
  }
  return out
}

const withoutHeaders = <T extends { headers?: unknown }>(p: T): Omit<T, 'headers'> => {
  const { headers: _h, ...rest } = p
  return rest
}

// ---- tests --------------------------------------------------------------------------------------

describe('editProperties', () => {
  test('an empty edit returns the same bytes', () => {
    const raw = rawProps(rawEntries())
    expect(editProperties(raw, {}).equals(raw)).toBe(true)
    expect(editProperties(raw, { setHeaders: undefined, removeHeaders: [] }).equals(raw)).toBe(true)
  })

  test('adding headers keeps every existing entry byte for byte, in order, and appends the new ones', () => {
    const entries = rawEntries()
    const raw = rawProps(entries)
    const out = editProperties(raw, { setHeaders: { 'x-death': [{ count: 1n, reason: 'rejected' }], 'x-new': 'v' } })
    const got = entriesOf(out)
    expect(got.slice(0, entries.length).map(([, b]) => b)).toEqual(entries)
    expect(got.slice(entries.length).map(([k]) => k)).toEqual(['x-death', 'x-new'])
    const headers = decodeProperties(out).headers!
    expect(headers['x-new']).toBe('v')
    expect(headers['x-death']).toEqual([{ count: 1, reason: 'rejected' }])
    // the table's length prefix is right: the properties after it decode unchanged
    expect(withoutHeaders(decodeProperties(out))).toEqual(withoutHeaders(decodeProperties(raw)))
  })

  test("x-death's count is written as a 64-bit long ('l') when given as a bigint", () => {
    const out = editProperties(rawProps(undefined), { setHeaders: { n: 1n } })
    expect(entriesOf(out)).toEqual([['n', entry('n', 'l', u64(1n))]])
  })

  test('setting an existing header replaces it; the others stay in place', () => {
    const entries = rawEntries()
    const out = editProperties(rawProps(entries), { setHeaders: { s: 'replaced' } })
    const got = entriesOf(out)
    const expected = entries.filter((e) => !e.equals(entry('s', 's', u16(0xfffe))))
    expect(got.slice(0, -1).map(([, b]) => b)).toEqual(expected)
    expect(got.at(-1)).toEqual(['s', entry('s', 'S', longstr(Buffer.from('replaced')))])
    expect(got.filter(([k]) => k === 's')).toHaveLength(1)
  })

  test('removeHeaders drops entries; removing every entry leaves an empty table', () => {
    const entries = rawEntries()
    const out = editProperties(rawProps(entries), { removeHeaders: ['b', 'x', 'missing'] })
    expect(entriesOf(out).map(([k]) => k)).toEqual(['t', 'B', 's', 'u', 'I', 'i', 'l', 'f', 'd', 'D', 'S', 'T', 'F', 'A', 'V'])
    const all = editProperties(rawProps(entries), { removeHeaders: entriesOf(rawProps(entries)).map(([k]) => k) })
    expect(decodeProperties(all).headers).toEqual({})
    expect(withoutHeaders(decodeProperties(all))).toEqual(withoutHeaders(decodeProperties(rawProps(entries))))
  })

  test('removeExpiration drops only the expiration: the other 13 properties are byte-identical', () => {
    const entries = rawEntries()
    const out = editProperties(rawProps(entries, '60000'), { removeExpiration: true })
    expect(out.equals(rawProps(entries, null))).toBe(true)
    expect(decodeProperties(out).expiration).toBeUndefined()
    // no expiration to remove: unchanged
    const none = rawProps(entries, null)
    expect(editProperties(none, { removeExpiration: true }).equals(none)).toBe(true)
  })

  test('dead-lettering edit (headers + expiration) equals the hand-built expected bytes', () => {
    const entries = rawEntries()
    const out = editProperties(rawProps(entries, '5000'), { setHeaders: { 'x-first-death-queue': 'q' }, removeExpiration: true })
    const expected = rawProps([...entries, entry('x-first-death-queue', 'S', longstr(Buffer.from('q')))], null)
    expect(out.equals(expected)).toBe(true)
  })

  test('headers are added when absent, at their place between content-encoding and delivery-mode', () => {
    const raw = rawProps(undefined, '100')
    const out = editProperties(raw, { setHeaders: { 'x-delivery-count': 1 } })
    const expected = rawProps([entry('x-delivery-count', 'I', u32(1))], '100')
    expect(out.equals(expected)).toBe(true)
    expect(decodeProperties(out)).toMatchObject({ contentEncoding: 'gzip', deliveryMode: 2, headers: { 'x-delivery-count': 1 } })
  })

  test('works on minimal property lists: none at all, and headers only', () => {
    const empty = Buffer.from([0, 0])
    const out = editProperties(empty, { setHeaders: { a: 'b' }, removeExpiration: true })
    expect(decodeProperties(out)).toEqual({ headers: { a: 'b' } })
    const onlyHeaders = encodeProperties({ headers: { keep: true } })
    const out2 = editProperties(onlyHeaders, { setHeaders: { add: 1 } })
    expect(decodeProperties(out2)).toEqual({ headers: { keep: true, add: 1 } })
    expect(out2.subarray(0, 2).readUInt16BE(0)).toBe(1 << 13)
  })

  test('the continuation flag words of the input are dropped, the properties kept', () => {
    const raw = encodeProperties({ contentType: 'text/plain', priority: 4 })
    // flags word with the continuation bit, then one extra (empty) flags word
    const flags = raw.readUInt16BE(0) | 1
    const withContinuation = Buffer.concat([u16(flags), u16(0), raw.subarray(2)])
    const out = editProperties(withContinuation, { setHeaders: { h: 'v' } })
    expect(decodeProperties(out)).toEqual({ contentType: 'text/plain', priority: 4, headers: { h: 'v' } })
    expect(out.readUInt16BE(0) & 1).toBe(0)
  })

  test('does not modify its input buffer', () => {
    const raw = rawProps(rawEntries())
    const copy = Buffer.from(raw)
    editProperties(raw, { setHeaders: { x: 1 }, removeHeaders: ['b'], removeExpiration: true })
    expect(raw.equals(copy)).toBe(true)
  })

  test('a large header set grows the output buffer correctly', () => {
    const big: FieldTable = {}
    for (let i = 0; i < 200; i++) big[`key-${i}`] = 'v'.repeat(50)
    const raw = encodeProperties({ headers: { orig: 1 }, messageId: 'm' })
    const out = editProperties(raw, { setHeaders: big })
    const h = decodeProperties(out).headers!
    expect(Object.keys(h)).toHaveLength(201)
    expect(decodeProperties(out).messageId).toBe('m')
  })

  test('truncated or malformed property bytes are refused with a DecodeError', () => {
    const raw = rawProps(rawEntries())
    for (const cut of [1, 5, 20, raw.length - 1]) {
      expect(() => editProperties(raw.subarray(0, cut), { setHeaders: { a: 1 } }), `cut at ${cut}`).toThrow(DecodeError)
    }
    // a header table whose length runs past the end
    const bad = Buffer.concat([u16(1 << 13), u32(1000), encodeTable({ a: 1 }).subarray(4)])
    expect(() => editProperties(bad, { setHeaders: { b: 2 } })).toThrow(DecodeError)
  })
})
