import { describe, it, expect } from 'vitest'
import type { Binding, Destination, Exchange } from '../../core/exchange.js'
import { Message } from '../../core/message.js'
import { Decimal, type FieldTable } from '../../core/wire/field-table.js'
import { encodeProperties } from '../../core/wire/properties.js'
import { HeadersRouter, headersMatch, validateHeadersBindingArgs } from '../../exchanges/headers.js'

const X = { name: 'hx' } as unknown as Exchange
let nextId = 0

function queue(name: string): Destination {
  return { kind: 'queue', name } as unknown as Destination
}

function binding(destination: Destination, args: FieldTable, routingKey = ''): Binding {
  return { source: X, destination, routingKey, arguments: args, id: `b${nextId++}` }
}

/** A message as it arrives: headers encoded in the property bytes, decoded lazily by Message. */
function msg(headers?: FieldTable): Message {
  const props = encodeProperties(headers === undefined ? {} : { headers })
  // with only the headers property set, the table starts right after the 2-byte flags
  return new Message('hx', 'ignored', props, props.length, 1, 0, -1, headers === undefined ? -1 : 2, Date.now())
}

function routed(r: HeadersRouter, m: Message): Destination[] {
  const out = new Set<Destination>()
  r.route(m, m.routingKey, out)
  return [...out]
}

/** Binds `args` alone and reports whether a message with `headers` is routed. */
function matches(args: FieldTable, headers?: FieldTable): boolean {
  const r = new HeadersRouter()
  r.bind(binding(queue('q'), args))
  const viaRouter = routed(r, msg(headers)).length === 1
  expect(headersMatch(args, headers)).toBe(viaRouter)
  return viaRouter
}

describe('headers exchange: x-match all (default)', () => {
  it('needs every argument present and equal', () => {
    const args = { a: 1, b: 'x' }
    expect(matches(args, { a: 1, b: 'x', c: 3 })).toBe(true)
    expect(matches(args, { a: 1, b: 'x' })).toBe(true)
    expect(matches(args, { a: 1 })).toBe(false)
    expect(matches(args, { a: 1, b: 'y' })).toBe(false)
    expect(matches(args, {})).toBe(false)
    expect(matches(args, undefined)).toBe(false)
  })

  it('is the mode when x-match is "all", absent, or an unknown value', () => {
    expect(matches({ 'x-match': 'all', a: 1, b: 2 }, { a: 1 })).toBe(false)
    expect(matches({ 'x-match': 'all', a: 1, b: 2 }, { a: 1, b: 2 })).toBe(true)
    // RabbitMQ: an invalid x-match (had it got past validation) falls back to all
    expect(matches({ 'x-match': 'bogus', a: 1, b: 2 }, { a: 1 })).toBe(false)
    expect(matches({ 'x-match': 5, a: 1 }, { a: 1 })).toBe(true)
  })

  it('with no (non-x) arguments matches every message, even one without headers', () => {
    expect(matches({}, undefined)).toBe(true)
    expect(matches({}, { a: 1 })).toBe(true)
    expect(matches({ 'x-match': 'all' }, undefined)).toBe(true)
    expect(matches({ 'x-match': 'all', 'x-foo': 'bar' }, {})).toBe(true)
  })

  it('ignores binding arguments starting with x-', () => {
    expect(matches({ 'x-match': 'all', 'x-foo': 'bar', a: 1 }, { a: 1 })).toBe(true)
    expect(matches({ 'x-foo': 'bar', a: 1 }, { a: 1, 'x-foo': 'other' })).toBe(true)
  })
})

describe('headers exchange: x-match any', () => {
  const args = { 'x-match': 'any', a: 1, b: 2 }
  it('needs one argument present and equal', () => {
    expect(matches(args, { b: 2 })).toBe(true)
    expect(matches(args, { a: 1, b: 3 })).toBe(true)
    expect(matches(args, { a: 2, b: 1 })).toBe(false)
    expect(matches(args, { c: 1 })).toBe(false)
    expect(matches(args, undefined)).toBe(false)
  })

  it('with no (non-x) arguments matches nothing', () => {
    expect(matches({ 'x-match': 'any' }, { a: 1 })).toBe(false)
    expect(matches({ 'x-match': 'any' }, undefined)).toBe(false)
    expect(matches({ 'x-match': 'any', 'x-foo': 'bar' }, { 'x-foo': 'bar' })).toBe(false)
  })
})

describe('headers exchange: *-with-x', () => {
  it('all-with-x makes x- arguments take part (except x-match)', () => {
    const args = { 'x-match': 'all-with-x', 'x-foo': 'bar', a: 1 }
    expect(matches(args, { a: 1 })).toBe(false)
    expect(matches(args, { a: 1, 'x-foo': 'bar' })).toBe(true)
    expect(matches(args, { a: 1, 'x-foo': 'baz' })).toBe(false)
    expect(matches({ 'x-match': 'all-with-x' }, undefined)).toBe(true)
  })

  it('any-with-x matches on an x- header alone', () => {
    const args = { 'x-match': 'any-with-x', 'x-foo': 'bar', a: 1 }
    expect(matches(args, { 'x-foo': 'bar' })).toBe(true)
    expect(matches(args, { a: 1 })).toBe(true)
    expect(matches(args, { 'x-foo': 'baz', a: 2 })).toBe(false)
    expect(matches(args, {})).toBe(false)
  })

  it('x-match is never a header to match', () => {
    expect(matches({ 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' })).toBe(false)
    expect(matches({ 'x-match': 'all-with-x' }, { 'x-match': 'something else' })).toBe(true)
  })
})

describe('headers exchange: void arguments and value equality', () => {
  it('a void argument matches presence with any value', () => {
    expect(matches({ a: null }, { a: 'anything' })).toBe(true)
    expect(matches({ a: null }, { a: null })).toBe(true)
    expect(matches({ a: null }, { a: { nested: 1 } })).toBe(true)
    expect(matches({ a: null }, { b: 1 })).toBe(false)
    expect(matches({ a: null }, undefined)).toBe(false)
    expect(matches({ 'x-match': 'any', a: null, b: 1 }, { a: 5 })).toBe(true)
    expect(matches({ 'x-match': 'all', a: null, b: 1 }, { a: 5, b: 1 })).toBe(true)
  })

  it('a void header does not equal a non-void argument', () => {
    expect(matches({ a: 'x' }, { a: null })).toBe(false)
  })

  it('compares with type: "1" is not 1, true is not 1', () => {
    expect(matches({ a: '1' }, { a: 1 })).toBe(false)
    expect(matches({ a: 1 }, { a: '1' })).toBe(false)
    expect(matches({ a: true }, { a: 1 })).toBe(false)
    expect(matches({ a: 0 }, { a: false })).toBe(false)
    expect(matches({ a: '' }, { a: null })).toBe(false)
  })

  it('compares richer values structurally', () => {
    expect(matches({ a: 1.5 }, { a: 1.5 })).toBe(true)
    expect(matches({ a: 2 ** 40 }, { a: 2 ** 40 })).toBe(true)
    expect(matches({ a: true }, { a: true })).toBe(true)
    expect(matches({ a: new Decimal(2, 314) }, { a: new Decimal(2, 314) })).toBe(true)
    expect(matches({ a: new Decimal(2, 314) }, { a: new Decimal(3, 314) })).toBe(false)
    expect(matches({ a: new Date(1_700_000_000_000) }, { a: new Date(1_700_000_000_000) })).toBe(true)
    expect(matches({ a: [1, 'x'] }, { a: [1, 'x'] })).toBe(true)
    expect(matches({ a: [1, 'x'] }, { a: ['x', 1] })).toBe(false)
    expect(matches({ a: { b: 1 } }, { a: { b: 1 } })).toBe(true)
    expect(matches({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false)
  })

  it('a longstr and a byte array with the same bytes are equal (both Erlang binaries)', () => {
    expect(matches({ a: Buffer.from('abc') }, { a: 'abc' })).toBe(true)
    expect(matches({ a: 'abc' }, { a: Buffer.from('abc') })).toBe(true)
    expect(matches({ a: 'abc' }, { a: Buffer.from('abd') })).toBe(false)
  })

  it('keys are compared exactly, including inherited-looking names', () => {
    expect(matches({ constructor: null }, {})).toBe(false)
    expect(matches({ toString: null }, { a: 1 })).toBe(false)
    expect(matches({ A: 1 }, { a: 1 })).toBe(false)
  })
})

describe('HeadersRouter bindings', () => {
  it('routes each matching destination once and ignores the routing key', () => {
    const r = new HeadersRouter()
    const q1 = queue('q1')
    const q2 = queue('q2')
    r.bind(binding(q1, { a: 1 }))
    r.bind(binding(q1, { 'x-match': 'any', b: 2 }))
    r.bind(binding(q2, { 'x-match': 'any', a: 1, z: 9 }, 'some.key'))
    expect(new Set(routed(r, msg({ a: 1, b: 2 })))).toEqual(new Set([q1, q2]))
    expect(routed(r, msg({ b: 2 }))).toEqual([q1])
    expect(routed(r, msg({ c: 3 }))).toEqual([])
  })

  it('unbinding one of two bindings of a destination keeps the other', () => {
    const r = new HeadersRouter()
    const q = queue('q')
    const b1 = binding(q, { a: 1 })
    const b2 = binding(q, { b: 2 })
    r.bind(b1)
    r.bind(b2)
    r.unbind(b1)
    expect(routed(r, msg({ a: 1 }))).toEqual([])
    expect(routed(r, msg({ b: 2 }))).toEqual([q])
    r.unbind(b2)
    expect(r.size).toBe(0)
    expect(routed(r, msg({ b: 2 }))).toEqual([])
  })

  it('keeps the remaining bindings intact after removing from the middle', () => {
    const r = new HeadersRouter()
    const qs = [0, 1, 2, 3].map((i) => queue(`q${i}`))
    const bs = qs.map((q, i) => binding(q, { k: i }))
    for (const b of bs) r.bind(b)
    r.unbind(bs[1])
    r.unbind(bs[0])
    expect(routed(r, msg({ k: 2 }))).toEqual([qs[2]])
    expect(routed(r, msg({ k: 3 }))).toEqual([qs[3]])
    expect(routed(r, msg({ k: 1 }))).toEqual([])
  })

  it('counts a repeated bind once and ignores unknown unbinds', () => {
    const r = new HeadersRouter()
    const b = binding(queue('q'), {})
    r.bind(b)
    r.bind(b)
    expect(r.size).toBe(1)
    r.unbind(binding(queue('q'), {}))
    expect(r.size).toBe(1)
    r.unbind(b)
    expect(r.size).toBe(0)
  })

  it('routes a message without headers to match-all bindings without arguments only', () => {
    const r = new HeadersRouter()
    const q1 = queue('q1')
    r.bind(binding(q1, {}))
    r.bind(binding(queue('q2'), { a: null }))
    r.bind(binding(queue('q3'), { 'x-match': 'any' }))
    expect(routed(r, msg())).toEqual([q1])
  })
})

describe('validateHeadersBindingArgs', () => {
  it('accepts a missing or valid x-match', () => {
    expect(validateHeadersBindingArgs({})).toBeUndefined()
    expect(validateHeadersBindingArgs({ a: 1, 'x-other': 'x' })).toBeUndefined()
    for (const v of ['all', 'any', 'all-with-x', 'any-with-x']) {
      expect(validateHeadersBindingArgs({ 'x-match': v })).toBeUndefined()
    }
  })

  it("rejects other strings with RabbitMQ's text", () => {
    expect(validateHeadersBindingArgs({ 'x-match': 'foo' })).toBe(
      'Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x',
    )
    expect(validateHeadersBindingArgs({ 'x-match': 'ALL' })).toBe(
      'Invalid x-match field value <<"ALL">>; expected all, any, all-with-x, or any-with-x',
    )
    expect(validateHeadersBindingArgs({ 'x-match': '' })).toBe(
      'Invalid x-match field value <<>>; expected all, any, all-with-x, or any-with-x',
    )
    expect(validateHeadersBindingArgs({ 'x-match': 'a"b\\c' })).toBe(
      'Invalid x-match field value <<"a\\"b\\\\c">>; expected all, any, all-with-x, or any-with-x',
    )
    expect(validateHeadersBindingArgs({ 'x-match': 'héllo' })).toBe(
      'Invalid x-match field value <<"héllo"/utf8>>; expected all, any, all-with-x, or any-with-x',
    )
  })

  it('rejects non-string values with the type error text', () => {
    expect(validateHeadersBindingArgs({ 'x-match': 1 })).toBe(
      'Invalid x-match field type signedint (value 1); expected longstr',
    )
    expect(validateHeadersBindingArgs({ 'x-match': true })).toBe(
      'Invalid x-match field type bool (value true); expected longstr',
    )
    expect(validateHeadersBindingArgs({ 'x-match': null })).toBe(
      'Invalid x-match field type void (value undefined); expected longstr',
    )
    expect(validateHeadersBindingArgs({ 'x-match': Buffer.from('all') })).toBe(
      'Invalid x-match field type binary (value <<"all">>); expected longstr',
    )
    expect(validateHeadersBindingArgs({ 'x-match': 2.5 })).toBe(
      'Invalid x-match field type double (value 2.5); expected longstr',
    )
    expect(validateHeadersBindingArgs({ 'x-match': Buffer.from([0, 1, 2]) })).toBe(
      'Invalid x-match field type binary (value <<0,1,2>>); expected longstr',
    )
  })
})
