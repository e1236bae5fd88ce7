/**
 * RabbitMQ's binding properties_key: quote_plus of the routing key, `~` alone for an empty key, and
 * `~` + base64url(phash2(args)) when there are arguments (erts make_hash2, ported), checked against
 * values a real RabbitMQ 3.10 produced.
 */
import { describe, expect, it } from 'vitest'
import type { FieldTable } from '../../core/wire/field-table.js'
import { argsHash, packBindingProps, phash2, unpackBindingProps } from '../../admin-ui/properties-key.js'

describe('properties_key', () => {
  it('matches RabbitMQ 3.10 for a binding with arguments', () => {
    // GET /api/bindings on RabbitMQ 3.10.8: routing_key "a.#", arguments {"foo": "bar"}
    expect(packBindingProps('a.#', { foo: 'bar' })).toBe('a.%23~lwiNYA')
    expect(argsHash({ foo: 'bar' })).toBe('lwiNYA')
  })

  it('quotes keys as mochiweb quote_plus does, with ~ escaped', () => {
    expect(packBindingProps('', {})).toBe('~')
    expect(packBindingProps('eco.q', {})).toBe('eco.q')
    expect(packBindingProps('a b*c', {})).toBe('a+b%2Ac')
    expect(packBindingProps('x~y', {})).toBe('x%7Ey')
    expect(packBindingProps('é', {})).toBe('%C3%A9')
    expect(packBindingProps('', { a: 1 })).toMatch(/^~[A-Za-z0-9_-]{6}$/)
  })

  it('unpacks what it packs (after the URL decoding the router does)', () => {
    const cases: [string, FieldTable][] = [
      ['', {}],
      ['a.#', { foo: 'bar' }],
      ['a b+c/d', {}],
      ['x~y', { n: 1, nested: { t: true }, list: [1, 'two'] }],
    ]
    for (const [rk, args] of cases) {
      const packed = packBindingProps(rk, args)
      const { routingKey, hash } = unpackBindingProps(decodeURIComponent(encodeURIComponent(packed)))
      expect(routingKey).toBe(rk)
      expect(hash).toBe(Object.keys(args).length === 0 ? undefined : argsHash(args))
    }
    expect(unpackBindingProps('a.%23~lwiNYA')).toEqual({ routingKey: 'a.#', hash: 'lwiNYA' })
  })

  it('hashes terms as erts make_hash2 does', () => {
    // erlang:phash2([]) is the documented constant of erts' NIL fast path
    expect(phash2({ t: 'nil' })).toBe(3468870702)
    expect(phash2({ t: 'list', items: [] })).toBe(3468870702)
    // different argument values, types and orders give different hashes
    const hashes = new Set([argsHash({ a: 1 }), argsHash({ a: 2 }), argsHash({ a: '1' }), argsHash({ a: 1.5 }), argsHash({ a: true }), argsHash({ a: 1, b: 2 }), argsHash({ b: 2, a: 1 })])
    expect(hashes.size).toBe(7)
    // large integers and byte-sized runs take erts' other paths without throwing
    expect(argsHash({ big: 2 ** 40, neg: -(2 ** 40), bytes: [1, 2, 3, 4, 5, 300] })).toMatch(/^[A-Za-z0-9_-]{6}$/)
  })
})
