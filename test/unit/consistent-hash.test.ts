/**
 * The x-consistent-hash router on its own: the plugin's weight and argument validation, even and
 * weighted spread over many keys, and consistency (removing or adding a binding moves only the keys
 * of that destination).
 */
import { describe, expect, it } from 'vitest'
import type { Binding, Destination, Exchange } from '../../core/exchange.js'
import { Message } from '../../core/message.js'
import { encodeProperties } from '../../core/wire/properties.js'
import {
  ConsistentHashRouter,
  hashString,
  jumpHash,
  parseWeight,
  validateConsistentHashArgs,
} from '../../exchanges/consistent-hash.js'

const X = { name: 'x', arguments: {} } as unknown as Exchange
const queue = (name: string): Destination => ({ kind: 'queue', name }) as unknown as Destination
const binding = (d: Destination, key: string): Binding => ({
  source: X,
  destination: d,
  routingKey: key,
  arguments: {},
  id: `${(d as unknown as { name: string }).name}\u0000${key}`,
})
const nameOf = (d: Destination): string => (d as unknown as { name: string }).name

function message(rk: string, props: Parameters<typeof encodeProperties>[0] = {}): Message {
  const raw = encodeProperties(props)
  return Message.fromWire('x', rk, raw, 0, raw.length, Buffer.alloc(0), 0, 0, {
    deliveryMode: 1,
    priority: 0,
    expiration: undefined,
    headersAt: props.headers === undefined ? -1 : findHeaders(raw),
  }, -1, Date.now())
}
// only headers are set in these tests: flags (2 bytes) then the table
const findHeaders = (_raw: Buffer): number => 2

function route(r: ConsistentHashRouter, m: Message): string {
  const out = new Set<Destination>()
  r.route(m, m.routingKey, out)
  expect(out.size).toBe(1)
  return nameOf([...out][0])
}

function assign(r: ConsistentHashRouter, n: number): string[] {
  const a: string[] = []
  for (let i = 0; i < n; i++) a.push(nameOf(r.pick(hashString(`key-${i}`))))
  return a
}

function counts(a: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const d of a) m.set(d, (m.get(d) ?? 0) + 1)
  return m
}

describe('validation (the plugin texts)', () => {
  it('binding key: an integer weight of at least 1', () => {
    expect(parseWeight('1')).toBe(1)
    expect(parseWeight('+3')).toBe(3)
    expect(parseWeight('0')).toBe('The binding key must be greater than 0')
    expect(parseWeight('-2')).toBe('The binding key must be greater than 0')
    expect(parseWeight('abc')).toBe('The binding key must be an integer: <<"abc">>')
    expect(parseWeight('')).toBe('The binding key must be an integer: <<>>')
    expect(parseWeight('1.5')).toBe('The binding key must be an integer: <<"1.5">>')
    expect(parseWeight('100001')).toBe('The binding key must be at most 10000')
  })

  it('hash-header and hash-property', () => {
    expect(validateConsistentHashArgs({})).toBeUndefined()
    expect(validateConsistentHashArgs({ 'hash-header': 'h' })).toBeUndefined()
    expect(validateConsistentHashArgs({ 'hash-property': 'message_id' })).toBeUndefined()
    expect(validateConsistentHashArgs({ 'hash-property': 'app_id' })).toBe('Unsupported property: app_id')
    expect(validateConsistentHashArgs({ 'hash-header': 'h', 'hash-property': 'message_id' })).toBe(
      'hash-header and hash-property are mutually exclusive',
    )
  })
})

describe('jumpHash', () => {
  it('a key changes bucket only to a new one when the count grows', () => {
    let bad = 0
    let jumps = 0
    for (let k = 0; k < 2000; k++) {
      const h = hashString(`k${k}`)
      let prev = jumpHash(h, 1)
      if (prev !== 0) bad++
      for (let n = 2; n <= 40; n++) {
        const b = jumpHash(h, n)
        if (b !== prev && b !== n - 1) bad++
        if (b !== prev) jumps++
        prev = b
      }
    }
    expect(bad).toBe(0)
    // a key moves to the new bucket with probability 1/n: about 2000 × (H(40) − 1) ≈ 6,600 moves
    expect(jumps).toBeGreaterThan(5500)
    expect(jumps).toBeLessThan(7700)
  })
})

describe('ConsistentHashRouter', () => {
  const N = 100_000

  it('equal weights: each of 4 queues gets 25% ± 2% of 100k keys', () => {
    const r = new ConsistentHashRouter({})
    for (const q of ['a', 'b', 'c', 'd']) r.bind(binding(queue(q), '1'))
    const c = counts(assign(r, N))
    expect(c.size).toBe(4)
    for (const n of c.values()) expect(Math.abs(n / N - 0.25)).toBeLessThan(0.02)
  })

  it('weight 2 against 1: about 2:1', () => {
    const r = new ConsistentHashRouter({})
    r.bind(binding(queue('heavy'), '2'))
    r.bind(binding(queue('light'), '1'))
    const c = counts(assign(r, N))
    const ratio = c.get('heavy')! / c.get('light')!
    expect(ratio).toBeGreaterThan(1.9)
    expect(ratio).toBeLessThan(2.1)
  })

  it('removing a binding moves only the keys of its destination; adding one moves keys only to it', () => {
    const r = new ConsistentHashRouter({})
    const qs = ['a', 'b', 'c', 'd', 'e'].map(queue)
    for (const q of qs) r.bind(binding(q, '1'))
    const before = assign(r, 20_000)
    r.unbind(binding(qs[1], '1'))
    const after = assign(r, 20_000)
    let moved = 0
    let wrong = 0
    for (let i = 0; i < before.length; i++) {
      if (before[i] === 'b') moved++
      if (before[i] === 'b' ? after[i] === 'b' : after[i] !== before[i]) wrong++
    }
    expect(wrong).toBe(0)
    expect(moved).toBeGreaterThan(3000)
    // b's keys spread over the others, not onto one of them
    const c = counts(after)
    for (const n of c.values()) expect(Math.abs(n / 20_000 - 0.25)).toBeLessThan(0.03)
    r.bind(binding(queue('f'), '1'))
    const added = assign(r, 20_000)
    let strays = 0
    for (let i = 0; i < added.length; i++) if (added[i] !== after[i] && added[i] !== 'f') strays++
    expect(strays).toBe(0)
    expect(counts(added).get('f')! / 20_000).toBeGreaterThan(0.15)
  })

  it('rebuilds densely once most buckets are holes', () => {
    const r = new ConsistentHashRouter({})
    for (let i = 0; i < 10; i++) r.bind(binding(queue(`q${i}`), '1'))
    for (let i = 0; i < 8; i++) r.unbind(binding(queue(`q${i}`), '1'))
    expect(r.size).toEqual({ live: 2, buckets: 2 })
    expect(new Set(assign(r, 1000))).toEqual(new Set(['q8', 'q9']))
  })

  it('hashes a header or a property; messages without it all reach one destination', () => {
    const byHeader = new ConsistentHashRouter({ 'hash-header': 'h' })
    const byId = new ConsistentHashRouter({ 'hash-property': 'message_id' })
    for (const r of [byHeader, byId]) for (const q of ['a', 'b', 'c', 'd']) r.bind(binding(queue(q), '1'))
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      // the routing key plays no part
      expect(route(byHeader, message(`rk${i}`, { headers: { h: 'same' } }))).toBe(route(byHeader, message('x', { headers: { h: 'same' } })))
      seen.add(route(byHeader, message('rk', { headers: { h: `v${i}` } })))
      expect(route(byId, message(`rk${i}`, { messageId: 'm1' }))).toBe(route(byId, message('x', { messageId: 'm1' })))
    }
    expect(seen.size).toBe(4)
    const absent = new Set<string>()
    for (let i = 0; i < 50; i++) absent.add(route(byHeader, message(`rk${i}`, { headers: { other: i } })))
    expect(absent.size).toBe(1)
  })
})
