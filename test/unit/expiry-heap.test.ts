/**
 * ExpiryHeap: a binary min-heap of items by expiry time (per-message TTLs that can expire before
 * messages ahead of them). Random pushes and pops must come out sorted; equal times, interleaving,
 * peek, length and clear are checked against a sorted reference.
 */
import { describe, expect, test } from 'vitest'
import { ExpiryHeap, RefExpiryHeap } from '../../core/expiry-heap.js'

interface Item {
  expiresAt: number
  id: number
}

function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function popAll(h: ExpiryHeap<Item>): number[] {
  const out: number[] = []
  for (let it = h.pop(); it !== undefined; it = h.pop()) out.push(it.expiresAt)
  return out
}

describe('ExpiryHeap', () => {
  test('empty: peek and pop give undefined, length 0', () => {
    const h = new ExpiryHeap<Item>()
    expect(h.length).toBe(0)
    expect(h.peek()).toBeUndefined()
    expect(h.pop()).toBeUndefined()
  })

  test('a single item, then ascending and descending inputs', () => {
    const h = new ExpiryHeap<Item>()
    h.push({ expiresAt: 5, id: 0 })
    expect(h.peek()!.expiresAt).toBe(5)
    expect(h.length).toBe(1)
    expect(h.pop()!.id).toBe(0)
    expect(h.length).toBe(0)
    for (let i = 0; i < 100; i++) h.push({ expiresAt: i, id: i })
    expect(popAll(h)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    for (let i = 99; i >= 0; i--) h.push({ expiresAt: i, id: i })
    expect(popAll(h)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  test('random pushes pop in ascending order, duplicates included (several seeds and sizes)', () => {
    for (const [seed, n] of [
      [1, 10],
      [2, 1000],
      [3, 20000],
      [4, 257],
    ]) {
      const r = rng(seed)
      const h = new ExpiryHeap<Item>()
      const times: number[] = []
      for (let i = 0; i < n; i++) {
        const t = Math.floor(r() * (n / 4)) // many duplicates
        times.push(t)
        h.push({ expiresAt: t, id: i })
      }
      expect(h.length).toBe(n)
      times.sort((a, b) => a - b)
      expect(h.peek()!.expiresAt).toBe(times[0])
      expect(popAll(h)).toEqual(times)
    }
  })

  test('interleaved pushes and pops always pop the current minimum (reference model)', () => {
    const r = rng(99)
    const h = new ExpiryHeap<Item>()
    const model: number[] = []
    for (let step = 0; step < 5000; step++) {
      if (r() < 0.55) {
        const t = 1_700_000_000_000 + Math.floor(r() * 100000)
        h.push({ expiresAt: t, id: step })
        model.push(t)
      } else {
        model.sort((a, b) => a - b)
        const peeked = h.peek()?.expiresAt
        const popped = h.pop()?.expiresAt
        const expected = model.shift()
        if (peeked !== expected || popped !== expected) throw new Error(`step ${step}: ${peeked}/${popped}, expected ${expected}`)
      }
      if (h.length !== model.length) throw new Error(`step ${step}: length ${h.length}, expected ${model.length}`)
    }
    model.sort((a, b) => a - b)
    expect(popAll(h)).toEqual(model)
  })

  test('the same item pushed twice is popped twice (callers skip stale entries lazily)', () => {
    const h = new ExpiryHeap<Item>()
    const a = { expiresAt: 10, id: 1 }
    h.push(a)
    h.push({ expiresAt: 5, id: 2 })
    h.push(a)
    expect([h.pop(), h.pop(), h.pop()].map((i) => i!.id)).toEqual([2, 1, 1])
  })

  test('retain drops the rejected items and keeps heap order (random, several sizes)', () => {
    for (const [seed, n] of [
      [11, 0],
      [12, 1],
      [13, 100],
      [14, 5000],
    ]) {
      const r = rng(seed)
      const h = new ExpiryHeap<Item>()
      const kept: number[] = []
      for (let i = 0; i < n; i++) {
        const t = Math.floor(r() * 1000)
        h.push({ expiresAt: t, id: i })
        if (i % 3 !== 0) kept.push(t)
      }
      h.retain((it) => it.id % 3 !== 0)
      expect(h.length).toBe(kept.length)
      // still a working heap: pushes after retain interleave correctly
      h.push({ expiresAt: 500, id: -1 })
      kept.push(500)
      kept.sort((a, b) => a - b)
      expect(popAll(h)).toEqual(kept)
    }
  })

  test('clear empties it and it stays usable', () => {
    const h = new ExpiryHeap<Item>()
    for (let i = 0; i < 50; i++) h.push({ expiresAt: 50 - i, id: i })
    h.clear()
    expect(h.length).toBe(0)
    expect(h.pop()).toBeUndefined()
    h.push({ expiresAt: 3, id: 0 })
    h.push({ expiresAt: 1, id: 1 })
    expect(popAll(h)).toEqual([1, 3])
  })
})

describe('RefExpiryHeap (stored messages: expiry and ref in typed arrays)', () => {
  test('pops by expiry, ties in ref order, retain drops entries and keeps heap order', () => {
    const h = new RefExpiryHeap()
    const model: [number, number][] = []
    let seed = 7
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let ref = 0; ref < 5000; ref++) {
      const at = 1000 + Math.floor(rnd() * 50) // many ties
      h.push(at, ref)
      model.push([at, ref])
    }
    h.retain((ref) => ref % 3 !== 0)
    const want = model.filter(([, r]) => r % 3 !== 0).sort((x, y) => x[0] - y[0] || x[1] - y[1])
    expect(h.length).toBe(want.length)
    const got: [number, number][] = []
    while (h.length > 0) {
      got.push([h.topAt, h.topRef])
      h.pop()
    }
    expect(got).toEqual(want)
    expect(h.topRef).toBe(-1)
  })
})
