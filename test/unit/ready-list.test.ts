/**
 * ReadyList: the ready messages of a queue. FifoList keeps arrival order; PriorityList serves the
 * highest priority first, FIFO within a priority, priorities above the maximum as the maximum.
 * Requeued items go back by sequence number (ahead of newer ones), shiftOldest takes the oldest item
 * of the lowest priority (drop-head). Checked case by case and against a reference model.
 */
import { describe, expect, test } from 'vitest'
import { FifoList, PriorityList, type ReadyList } from '../../core/ready-list.js'

interface Item {
  seq: number
  priority: number
}

const item = (seq: number, priority = 0): Item => ({ seq, priority })
const seqs = (list: Iterable<Item>): number[] => [...list].map((i) => i.seq)

function drain(list: ReadyList<Item>): number[] {
  const out: number[] = []
  for (let i = list.shift(); i !== undefined; i = list.shift()) out.push(i.seq)
  return out
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('FifoList', () => {
  test('push/shift/peek/length in arrival order; empty gives undefined', () => {
    const l = new FifoList<Item>()
    expect(l.length).toBe(0)
    expect(l.shift()).toBeUndefined()
    expect(l.peek()).toBeUndefined()
    for (let i = 0; i < 100; i++) l.push(item(i, i % 7)) // priorities are ignored
    expect(l.length).toBe(100)
    expect(l.peek()!.seq).toBe(0)
    expect(seqs(l)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(drain(l)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(l.length).toBe(0)
  })

  test('requeued items go back by sequence number, ahead of newer ones, whatever the requeue order', () => {
    const l = new FifoList<Item>()
    for (let i = 0; i < 10; i++) l.push(item(i))
    const taken = [l.shift()!, l.shift()!, l.shift()!, l.shift()!] // 0..3
    l.push(item(10))
    for (const i of [taken[2], taken[0], taken[3], taken[1]]) l.requeue(i)
    expect(l.length).toBe(11)
    expect(drain(l)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  test('requeue into an empty list, and of an item older than everything', () => {
    const l = new FifoList<Item>()
    l.requeue(item(5))
    l.requeue(item(2))
    l.push(item(9))
    l.requeue(item(7))
    expect(drain(l)).toEqual([2, 5, 7, 9])
  })

  test('shiftOldest is the head; clear empties', () => {
    const l = new FifoList<Item>()
    for (let i = 0; i < 5; i++) l.push(item(i))
    expect(l.shiftOldest()!.seq).toBe(0)
    expect(l.length).toBe(4)
    l.clear()
    expect(l.length).toBe(0)
    expect(l.shiftOldest()).toBeUndefined()
    l.push(item(42))
    expect(drain(l)).toEqual([42])
  })

  test('random pushes, shifts and requeues keep sequence order (reference model)', () => {
    const r = rng(1)
    const l = new FifoList<Item>()
    const model: number[] = []
    const out: Item[] = []
    let next = 0
    for (let step = 0; step < 5000; step++) {
      const x = r()
      if (x < 0.5) {
        l.push(item(next))
        model.push(next++)
      } else if (x < 0.8) {
        const got = l.shift()
        if (got?.seq !== model.shift()) throw new Error(`step ${step}: shift gave ${got?.seq}`)
        if (got !== undefined) out.push(got)
      } else if (out.length > 0) {
        const i = Math.floor(r() * out.length)
        const back = out.splice(i, 1)[0]
        l.requeue(back)
        model.push(back.seq)
        model.sort((a, b) => a - b)
      }
      if (l.length !== model.length) throw new Error(`step ${step}: length ${l.length}, expected ${model.length}`)
    }
    expect(drain(l)).toEqual(model)
  })
})

describe('PriorityList', () => {
  test('highest priority first, FIFO within a priority; above the maximum counts as the maximum', () => {
    const l = new PriorityList<Item>(3)
    const pushes: [number, number][] = [
      [0, 0],
      [1, 2],
      [2, 3],
      [3, 9], // as 3
      [4, 2],
      [5, 0],
      [6, 255], // as 3
      [7, 1],
    ]
    for (const [s, p] of pushes) l.push(item(s, p))
    expect(l.length).toBe(8)
    expect(l.peek()!.seq).toBe(2)
    expect(seqs(l)).toEqual([2, 3, 6, 1, 4, 7, 0, 5])
    expect(drain(l)).toEqual([2, 3, 6, 1, 4, 7, 0, 5])
    expect(l.length).toBe(0)
    expect(l.peek()).toBeUndefined()
  })

  test('requeue puts an item back in its own priority, by sequence number', () => {
    const l = new PriorityList<Item>(5)
    const all = [item(0, 1), item(1, 5), item(2, 1), item(3, 5), item(4, 9)]
    for (const i of all) l.push(i)
    const taken = [l.shift()!, l.shift()!, l.shift()!] // 1 (5), 3 (5), 4 (9→5)
    expect(taken.map((i) => i.seq)).toEqual([1, 3, 4])
    l.push(item(5, 5))
    l.push(item(6, 1))
    for (const i of [taken[2], taken[0], taken[1]]) l.requeue(i)
    expect(l.length).toBe(7)
    expect(drain(l)).toEqual([1, 3, 4, 5, 0, 2, 6])
  })

  test('shiftOldest takes the oldest of the lowest non-empty priority', () => {
    const l = new PriorityList<Item>(4)
    l.push(item(0, 4))
    l.push(item(1, 2))
    l.push(item(2, 2))
    l.push(item(3, 4))
    expect(l.shiftOldest()!.seq).toBe(1)
    expect(l.shiftOldest()!.seq).toBe(2)
    expect(l.shiftOldest()!.seq).toBe(0)
    expect(l.length).toBe(1)
    expect(l.shiftOldest()!.seq).toBe(3)
    expect(l.shiftOldest()).toBeUndefined()
    expect(l.length).toBe(0)
  })

  test('max priority 1 and 255: the extremes work', () => {
    const one = new PriorityList<Item>(1)
    one.push(item(0, 0))
    one.push(item(1, 1))
    one.push(item(2, 200))
    expect(drain(one)).toEqual([1, 2, 0])
    const top = new PriorityList<Item>(255)
    top.push(item(0, 0))
    top.push(item(1, 255))
    top.push(item(2, 128))
    expect(drain(top)).toEqual([1, 2, 0])
  })

  test('clear empties every level', () => {
    const l = new PriorityList<Item>(3)
    for (let i = 0; i < 12; i++) l.push(item(i, i % 4))
    l.clear()
    expect(l.length).toBe(0)
    expect(l.shift()).toBeUndefined()
    expect([...l]).toEqual([])
  })

  test('random pushes, shifts, requeues and shiftOldest match a reference model', () => {
    const max = 4
    const r = rng(7)
    const l = new PriorityList<Item>(max)
    let model: Item[] = []
    const out: Item[] = []
    const order = (a: Item, b: Item): number =>
      Math.min(b.priority, max) - Math.min(a.priority, max) || a.seq - b.seq
    let next = 0
    for (let step = 0; step < 4000; step++) {
      const x = r()
      if (x < 0.45) {
        const it = item(next++, Math.floor(r() * 7))
        l.push(it)
        model.push(it)
      } else if (x < 0.75) {
        model.sort(order)
        const expected = model.shift()
        const got = l.shift()
        if (got !== expected) throw new Error(`step ${step}: shift gave ${got?.seq}, expected ${expected?.seq}`)
        if (got !== undefined) out.push(got)
      } else if (x < 0.95) {
        if (out.length > 0) {
          const back = out.splice(Math.floor(r() * out.length), 1)[0]
          l.requeue(back)
          model.push(back)
        }
      } else {
        // oldest of the lowest priority
        const lowest = Math.min(...model.map((i) => Math.min(i.priority, max)))
        const candidates = model.filter((i) => Math.min(i.priority, max) === lowest).sort((a, b) => a.seq - b.seq)
        const got = l.shiftOldest()
        if (got !== candidates[0]) throw new Error(`step ${step}: shiftOldest gave ${got?.seq}`)
        model = model.filter((i) => i !== got)
      }
      if (l.length !== model.length) throw new Error(`step ${step}: length ${l.length}, expected ${model.length}`)
    }
    model.sort(order)
    expect(seqs(l)).toEqual(model.map((i) => i.seq))
    expect(drain(l)).toEqual(model.map((i) => i.seq))
  })
})
