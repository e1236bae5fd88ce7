import { describe, it, expect } from 'vitest'
import { ExchangeTypeRegistry, type Binding, type Destination, type Exchange, type ExchangeRouter } from '../../core/exchange.js'
import { Message } from '../../core/message.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { EMPTY_PROPERTIES } from '../../core/wire/properties.js'
import type { VHost } from '../../core/vhost.js'
import { DirectRouter } from '../../exchanges/direct.js'
import { FanoutRouter } from '../../exchanges/fanout.js'
import { DEFAULT_EXCHANGE_TYPE, defaultRouterFactory } from '../../exchanges/default.js'
import { BUILTIN_EXCHANGE_TYPES, registerBuiltinExchanges } from '../../exchanges/index.js'
import { DestinationSet } from '../../exchanges/destination-set.js'

const X = { name: 'x', arguments: {} } as unknown as Exchange

function queue(name: string): Destination {
  return { kind: 'queue', name } as unknown as Destination
}

function binding(destination: Destination, routingKey: string, args: FieldTable = {}): Binding {
  const id = `${(destination as unknown as { name: string }).name}\u0000${routingKey}\u0000${JSON.stringify(args)}`
  return { source: X, destination, routingKey, arguments: args, id }
}

function routed(r: ExchangeRouter, rk: string): Destination[] {
  const out = new Set<Destination>()
  r.route(new Message('x', rk, EMPTY_PROPERTIES, EMPTY_PROPERTIES.length, 1, 0, -1, -1, Date.now()), rk, out)
  return [...out]
}

describe('DirectRouter', () => {
  it('routes on exact key equality only', () => {
    const r = new DirectRouter()
    const q1 = queue('q1')
    const q2 = queue('q2')
    r.bind(binding(q1, 'a'))
    r.bind(binding(q2, 'a'))
    r.bind(binding(q2, 'b'))
    expect(new Set(routed(r, 'a'))).toEqual(new Set([q1, q2]))
    expect(routed(r, 'b')).toEqual([q2])
    expect(routed(r, 'A')).toEqual([])
    expect(routed(r, 'a.b')).toEqual([])
    expect(routed(r, '*')).toEqual([])
    expect(routed(r, '')).toEqual([])
  })

  it('supports the empty binding key', () => {
    const r = new DirectRouter()
    const q = queue('q')
    r.bind(binding(q, ''))
    expect(routed(r, '')).toEqual([q])
    expect(routed(r, 'x')).toEqual([])
  })

  it('keeps a destination bound twice under one key until both bindings go', () => {
    const r = new DirectRouter()
    const q = queue('q')
    const b1 = binding(q, 'k')
    const b2 = binding(q, 'k', { extra: 1 })
    r.bind(b1)
    r.bind(b2)
    expect(routed(r, 'k')).toEqual([q])
    r.unbind(b1)
    expect(routed(r, 'k')).toEqual([q])
    r.unbind(b2)
    expect(routed(r, 'k')).toEqual([])
    expect(r.keyCount).toBe(0)
  })

  it('counts a repeated bind once and ignores unknown unbinds', () => {
    const r = new DirectRouter()
    const q = queue('q')
    const b = binding(q, 'k')
    r.bind(b)
    r.bind(b)
    r.unbind(binding(q, 'other'))
    r.unbind(b)
    expect(routed(r, 'k')).toEqual([])
    r.unbind(b)
    expect(r.keyCount).toBe(0)
  })

  it('unbinding one destination leaves the others on the key', () => {
    const r = new DirectRouter()
    const qs = [0, 1, 2, 3].map((i) => queue(`q${i}`))
    const bs = qs.map((q) => binding(q, 'k'))
    for (const b of bs) r.bind(b)
    r.unbind(bs[0])
    r.unbind(bs[2])
    expect(new Set(routed(r, 'k'))).toEqual(new Set([qs[1], qs[3]]))
  })
})

describe('FanoutRouter', () => {
  it('routes to every bound destination whatever the key', () => {
    const r = new FanoutRouter()
    const q1 = queue('q1')
    const x2 = { kind: 'exchange', name: 'x2' } as unknown as Destination
    r.bind(binding(q1, 'ignored'))
    r.bind(binding(x2, ''))
    expect(new Set(routed(r, ''))).toEqual(new Set([q1, x2]))
    expect(new Set(routed(r, 'anything.at.all'))).toEqual(new Set([q1, x2]))
  })

  it('routes to nothing without bindings', () => {
    expect(routed(new FanoutRouter(), 'k')).toEqual([])
  })

  it('keeps a destination bound with two keys until both bindings go', () => {
    const r = new FanoutRouter()
    const q = queue('q')
    const b1 = binding(q, 'a')
    const b2 = binding(q, 'b')
    const b3 = binding(q, 'b', { x: 1 })
    r.bind(b1)
    r.bind(b2)
    r.bind(b3)
    expect(r.size).toBe(1)
    r.unbind(b2)
    r.unbind(b1)
    expect(routed(r, 'z')).toEqual([q])
    r.unbind(b3)
    expect(routed(r, 'z')).toEqual([])
    expect(r.size).toBe(0)
  })

  it('counts a repeated bind once', () => {
    const r = new FanoutRouter()
    const b = binding(queue('q'), 'a')
    r.bind(b)
    r.bind(b)
    r.unbind(b)
    expect(r.size).toBe(0)
  })
})

describe('DestinationSet', () => {
  it('reference-counts and swaps on removal', () => {
    const s = new DestinationSet()
    const [a, b, c] = ['a', 'b', 'c'].map(queue)
    expect(s.add(a)).toBe(true)
    expect(s.add(b)).toBe(true)
    expect(s.add(a)).toBe(false)
    expect(s.add(c)).toBe(true)
    expect(s.count(a)).toBe(2)
    expect(s.remove(a)).toBe(false)
    expect(s.remove(a)).toBe(true)
    expect(s.remove(a)).toBe(false)
    expect(new Set(s.destinations)).toEqual(new Set([b, c]))
    expect(s.remove(c)).toBe(true)
    expect(s.destinations).toEqual([b])
    expect(s.remove(b)).toBe(true)
    expect(s.size).toBe(0)
  })
})

describe('default exchange router', () => {
  const q1 = queue('q1')
  const vhost = { queues: new Map([['q1', q1]]) } as unknown as VHost
  const r = defaultRouterFactory({ name: '' } as unknown as Exchange, vhost)

  it('routes to the queue named by the routing key', () => {
    expect(routed(r, 'q1')).toEqual([q1])
    expect(routed(r, 'q2')).toEqual([])
    expect(routed(r, '')).toEqual([])
  })

  it('sees queues declared after it was made', () => {
    const q2 = queue('q2')
    ;(vhost.queues as Map<string, unknown>).set('q2', q2)
    expect(routed(r, 'q2')).toEqual([q2])
  })

  it('refuses explicit bindings', () => {
    expect(() => r.bind(binding(q1, 'q1'))).toThrow()
    expect(() => r.unbind(binding(q1, 'q1'))).toThrow()
  })
})

describe('registerBuiltinExchanges', () => {
  it('registers the built-in types (x-consistent-hash included) and the default router', () => {
    const reg = new ExchangeTypeRegistry()
    registerBuiltinExchanges(reg)
    expect(new Set(reg.names())).toEqual(new Set([...BUILTIN_EXCHANGE_TYPES, DEFAULT_EXCHANGE_TYPE]))
    expect(BUILTIN_EXCHANGE_TYPES).toEqual(['direct', 'fanout', 'topic', 'headers', 'x-consistent-hash', 'x-message-deduplication', 'x-delayed-message'])
    expect(reg.get(DEFAULT_EXCHANGE_TYPE)).toBe(defaultRouterFactory)
    const vhost = {} as unknown as VHost
    // x-delayed-message needs its x-delayed-type argument (test/integration/delayed-message.test.ts)
    for (const t of BUILTIN_EXCHANGE_TYPES.filter((t) => t !== 'x-delayed-message')) {
      const router = reg.get(t)!(X, vhost)
      expect(typeof router.route).toBe('function')
    }
  })
})
