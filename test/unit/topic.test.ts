import { describe, it, expect } from 'vitest'
import type { Binding, Destination, Exchange } from '../../core/exchange.js'
import { Message } from '../../core/message.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { EMPTY_PROPERTIES } from '../../core/wire/properties.js'
import { TopicRouter, topicWords } from '../../exchanges/topic.js'

const X = { name: 'tx' } as unknown as Exchange

function queue(name: string): Destination {
  return { kind: 'queue', name } as unknown as Destination
}

function binding(destination: Destination, routingKey: string, args: FieldTable = {}): Binding {
  const id = `${(destination as unknown as { name: string }).name}\u0000${routingKey}\u0000${JSON.stringify(args)}`
  return { source: X, destination, routingKey, arguments: args, id }
}

function msg(rk: string): Message {
  return new Message('tx', rk, EMPTY_PROPERTIES, EMPTY_PROPERTIES.length, 1, 0, -1, -1, Date.now())
}

function routed(r: TopicRouter, rk: string): Destination[] {
  const out = new Set<Destination>()
  r.route(msg(rk), rk, out)
  return [...out]
}

/** Independent reference matcher: plain recursion over word arrays, RabbitMQ's word splitting. */
function refMatch(bindingKey: string, routingKey: string): boolean {
  const b = bindingKey === '' ? [] : bindingKey.split('.')
  const k = routingKey === '' ? [] : routingKey.split('.')
  const go = (i: number, j: number): boolean => {
    if (i === b.length) return j === k.length
    if (b[i] === '#') return go(i + 1, j) || (j < k.length && go(i, j + 1))
    if (j === k.length) return false
    return (b[i] === '*' || b[i] === k[j]) && go(i + 1, j + 1)
  }
  return go(0, 0)
}

// [binding key, routing key, matches]
const CASES: Array<[string, string, boolean]> = [
  // `#` alone matches everything, the empty key included
  ['#', 'a', true],
  ['#', '', true],
  ['#', 'a.b.c', true],
  ['#', '.', true],
  ['#', '..', true],
  // the empty key is zero words (RabbitMQ split_topic_key(<<>>) = [])
  ['', '', true],
  ['', 'a', false],
  ['', '.', false],
  ['*', '', false],
  ['*', 'a', true],
  ['*', 'a.b', false],
  ['*', '.', false],
  ['*.*', '.', true],
  ['.', '.', true],
  ['.', '', false],
  // a.#.b
  ['a.#.b', 'a.b', true],
  ['a.#.b', 'a.x.b', true],
  ['a.#.b', 'a.x.y.z.b', true],
  ['a.#.b', 'a.b.b', true],
  ['a.#.b', 'a.b.c', false],
  ['a.#.b', 'b.a.b', false],
  ['a.#.b', 'a', false],
  ['a.#.b', 'a..b', true],
  // #.#, *.#, #.*, a.*.#
  ['#.#', '', true],
  ['#.#', 'a', true],
  ['#.#', 'a.b', true],
  ['#.#.#', 'a.b.c.d', true],
  ['*.#', '', false],
  ['*.#', 'a', true],
  ['*.#', 'a.b.c', true],
  ['#.*', '', false],
  ['#.*', 'a', true],
  ['#.*', 'a.b', true],
  ['#.*.#', '', false],
  ['#.*.#', 'a', true],
  ['#.*.#', 'a.b.c', true],
  ['a.*.#', 'a', false],
  ['a.*.#', 'a.b', true],
  ['a.*.#', 'a.b.c.d', true],
  ['a.*.#', 'b.b', false],
  // empty words
  ['a..b', 'a..b', true],
  ['a.*.b', 'a..b', true],
  ['a.b', 'a..b', false],
  ['a..b', 'a.b', false],
  ['a.', 'a.', true],
  ['a', 'a.', false],
  ['a.', 'a', false],
  ['a.#', 'a.', true],
  ['#.', '', false],
  ['#.', '.', true],
  ['#.', 'a.', true],
  ['#.', 'a', false],
  ['.#', '', false],
  ['.#', '.a.b', true],
  ['.#', 'a', false],
  // trailing / leading #
  ['a.#', 'a', true],
  ['a.#', 'a.b.c', true],
  ['a.#', 'ab', false],
  ['a.#', 'b.a', false],
  ['#.a', 'a', true],
  ['#.a', 'b.a', true],
  ['#.a', 'a.b', false],
  ['#.a.#', 'x.y.a.z', true],
  ['#.a.#', 'a', true],
  ['#.a.#', 'x.y.z', false],
  ['#.a.#.a.#', 'a.a', true],
  ['#.a.#.a.#', 'a', false],
  ['#.a.#.a.#', 'b.a.c.a.d', true],
  // plain words and *
  ['a.b.c', 'a.b.c', true],
  ['a.b.c', 'a.b', false],
  ['a.b', 'a.b.c', false],
  ['a.*.c', 'a.b.c', true],
  ['a.*.c', 'a.b.d', false],
  ['a.*', 'a', false],
  ['*.*.*', 'a.b', false],
  ['*.*.*', 'a.b.c', true],
  ['*.b.*.d.#.z', 'a.b.c.d.z', true],
  ['*.b.*.d.#.z', 'a.b.c.d.e.f.z', true],
  ['*.b.*.d.#.z', 'a.b.c.z', false],
  // wildcards are whole words only; wildcard characters in routing keys are plain words
  ['a.b#', 'a.b#', true],
  ['a.b#', 'a.bc', false],
  ['a.*b', 'a.xb', false],
  ['*', '*', true],
  ['a', '*', false],
  ['#', '#', true],
  ['x', '#', false],
  ['a.#', 'a.#', true],
  // case and unicode are plain bytes
  ['A', 'a', false],
  ['é.*', 'é.x', true],
  // many words
  ['#.z', 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z', true],
  ['a.#.m.#.z', 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z', true],
  ['a.#.m.#.y', 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z', false],
  ['*.*.*.*.*', 'a.b.c.d.e.f', false],
]

describe('topic matching table', () => {
  it('has enough rows', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
  })

  it.each(CASES)('binding %j, routing key %j → %s', (bk, rk, expected) => {
    const r = new TopicRouter()
    const q = queue('q')
    r.bind(binding(q, bk))
    expect(routed(r, rk)).toEqual(expected ? [q] : [])
    // twice: the second answer comes from the cache
    expect(routed(r, rk)).toEqual(expected ? [q] : [])
  })

  it('the reference matcher agrees with every row', () => {
    for (const [bk, rk, expected] of CASES) expect(refMatch(bk, rk), `${bk} / ${rk}`).toBe(expected)
  })

  it('all table bindings in one trie route like the reference matcher', () => {
    const r = new TopicRouter()
    const keys = [...new Set(CASES.map((c) => c[0]))]
    const dests = new Map(keys.map((k) => [k, queue(`q:${k}`)]))
    for (const k of keys) r.bind(binding(dests.get(k)!, k))
    for (const rk of new Set(CASES.map((c) => c[1]))) {
      const want = keys.filter((k) => refMatch(k, rk)).map((k) => dests.get(k)!)
      expect(new Set(routed(r, rk)), `routing key ${JSON.stringify(rk)}`).toEqual(new Set(want))
    }
  })

  it('random bindings and keys agree with the reference matcher', () => {
    let seed = 12345
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
    const alphabet = ['a', 'b', '', '*', '#']
    const gen = (wild: boolean) => {
      const n = rnd(5)
      const words: string[] = []
      for (let i = 0; i < n; i++) words.push(alphabet[rnd(wild ? 5 : 3)])
      return words.join('.')
    }
    const r = new TopicRouter()
    const bks = [...new Set(Array.from({ length: 150 }, () => gen(true)))]
    const dests = new Map(bks.map((k) => [k, queue(`q:${k}`)]))
    for (const k of bks) r.bind(binding(dests.get(k)!, k))
    for (let i = 0; i < 300; i++) {
      const rk = gen(false)
      const want = bks.filter((k) => refMatch(k, rk)).map((k) => dests.get(k)!)
      expect(new Set(routed(r, rk)), `routing key ${JSON.stringify(rk)}`).toEqual(new Set(want))
    }
  })

  it('many # in a binding key stay fast on a long non-matching key', () => {
    const r = new TopicRouter()
    r.bind(binding(queue('q'), '#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.b'))
    r.bind(binding(queue('q2'), '#.#.#.#.#.#.#.#.#.#.c'))
    const rk = Array.from({ length: 120 }, () => 'a').join('.')
    const t = Date.now()
    expect(routed(r, rk)).toEqual([])
    expect(Date.now() - t).toBeLessThan(1000)
  })
})

describe('topicWords', () => {
  it('splits like RabbitMQ', () => {
    expect(topicWords('')).toEqual([])
    expect(topicWords('a')).toEqual(['a'])
    expect(topicWords('a..b')).toEqual(['a', '', 'b'])
    expect(topicWords('.')).toEqual(['', ''])
    expect(topicWords('a.')).toEqual(['a', ''])
  })

  it('collapses runs of # in binding keys only when asked', () => {
    expect(topicWords('#.#.a.#.#.#')).toEqual(['#', '#', 'a', '#', '#', '#'])
    expect(topicWords('#.#.a.#.#.#', true)).toEqual(['#', 'a', '#'])
    expect(topicWords('#.*.#', true)).toEqual(['#', '*', '#'])
  })
})

describe('TopicRouter bindings', () => {
  it('invalidates the cache on bind and unbind', () => {
    const r = new TopicRouter()
    const q1 = queue('q1')
    const q2 = queue('q2')
    r.bind(binding(q1, 'a.*'))
    expect(routed(r, 'a.b')).toEqual([q1])
    expect(r.cachedKeys).toBe(1)
    const b2 = binding(q2, 'a.#')
    r.bind(b2)
    expect(r.cachedKeys).toBe(0)
    expect(new Set(routed(r, 'a.b'))).toEqual(new Set([q1, q2]))
    r.unbind(b2)
    expect(r.cachedKeys).toBe(0)
    expect(routed(r, 'a.b')).toEqual([q1])
  })

  it('caches unroutable keys too, and bounds the cache', () => {
    const r = new TopicRouter(4)
    r.bind(binding(queue('q'), 'x.#'))
    for (let i = 0; i < 10; i++) expect(routed(r, `k${i}`)).toEqual([])
    expect(r.cachedKeys).toBe(4)
    // the newest keys are the ones kept: still answered correctly
    expect(routed(r, 'k9')).toEqual([])
    expect(routed(r, 'x.y')).toEqual([queue('q')])
  })

  it('keeps a destination bound twice under one key until both bindings go', () => {
    const r = new TopicRouter()
    const q = queue('q')
    const b1 = binding(q, 'a.*', {})
    const b2 = binding(q, 'a.*', { tag: 'second' })
    r.bind(b1)
    r.bind(b2)
    expect(routed(r, 'a.b')).toEqual([q])
    r.unbind(b1)
    expect(routed(r, 'a.b')).toEqual([q])
    r.unbind(b2)
    expect(routed(r, 'a.b')).toEqual([])
  })

  it('counts a repeated bind of the same binding once', () => {
    const r = new TopicRouter()
    const q = queue('q')
    const b = binding(q, 'a')
    r.bind(b)
    r.bind(b)
    r.unbind(b)
    expect(routed(r, 'a')).toEqual([])
    r.unbind(b) // unknown binding: no-op
    r.unbind(binding(q, 'never.bound'))
    expect(routed(r, 'a')).toEqual([])
  })

  it('routes a destination matched by several bindings once', () => {
    const r = new TopicRouter()
    const q = queue('q')
    r.bind(binding(q, 'a.*'))
    r.bind(binding(q, '#'))
    r.bind(binding(q, 'a.b'))
    expect(r.match('a.b')).toEqual([q])
  })

  it('keeps other bindings on a shared path when one is removed', () => {
    const r = new TopicRouter()
    const q1 = queue('q1')
    const q2 = queue('q2')
    const q3 = queue('q3')
    const b1 = binding(q1, 'a.b.c')
    r.bind(b1)
    r.bind(binding(q2, 'a.b'))
    r.bind(binding(q3, 'a.#.c'))
    r.unbind(b1)
    expect(routed(r, 'a.b.c')).toEqual([q3])
    expect(routed(r, 'a.b')).toEqual([q2])
  })

  it('treats # and #.# bindings as distinct bindings on the same trie node', () => {
    const r = new TopicRouter()
    const q = queue('q')
    const b1 = binding(q, '#')
    const b2 = binding(q, '#.#')
    r.bind(b1)
    r.bind(b2)
    r.unbind(b2)
    expect(routed(r, 'x')).toEqual([q])
    r.unbind(b1)
    expect(routed(r, 'x')).toEqual([])
  })

  it('prunes the trie when the last binding goes', () => {
    const r = new TopicRouter()
    const bs = ['a.b.c', 'a.*.#', '#.x', '', '*', 'a..b'].map((k, i) => binding(queue(`q${i}`), k))
    for (const b of bs) r.bind(b)
    for (const b of bs) r.unbind(b)
    const root = (r as unknown as { root: { isEmpty(): boolean } }).root
    expect(root.isEmpty()).toBe(true)
  })

  it('routes to exchanges as well as queues', () => {
    const r = new TopicRouter()
    const x2 = { kind: 'exchange', name: 'x2' } as unknown as Destination
    r.bind(binding(x2, 'logs.#'))
    expect(routed(r, 'logs.error')).toEqual([x2])
  })
})
