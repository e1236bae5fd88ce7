/**
 * RefIndex, the compact ready index: FIFO across blocks, ordered insertion for requeues at any
 * position, sizes and flags kept with their refs, and storage that grows with the queue and is
 * given back when it drains.
 */
import { describe, expect, test } from 'vitest'
import { FLAG_REDELIVERED, RefIndex } from '../../core/store/ref-index.js'

describe('RefIndex', () => {
  test('has(): membership by ref across blocks, after shifts and requeues', () => {
    const ix = new RefIndex()
    for (let i = 0; i < 50_000; i++) ix.push(i * 2, 1, 0)
    for (let i = 0; i < 100; i++) ix.shift()
    ix.insert(10, 1, FLAG_REDELIVERED)
    expect(ix.has(10)).toBe(true)
    expect(ix.has(12)).toBe(false) // shifted
    expect(ix.has(200)).toBe(true)
    expect(ix.has(201)).toBe(false)
    expect(ix.has(99_998)).toBe(true)
    expect(ix.has(100_000)).toBe(false)
  })

  test('FIFO over many blocks, with sizes, flags and byte totals', () => {
    const ix = new RefIndex()
    const n = 100_000
    for (let i = 0; i < n; i++) ix.push(2 ** 32 * (i >> 10) + i, i % 500, i % 3 === 0 ? FLAG_REDELIVERED : 0)
    expect(ix.length).toBe(n)
    expect(ix.capacityBytes / n).toBeLessThan(16)
    let bytes = 0
    for (let i = 0; i < n; i++) bytes += i % 500
    expect(ix.bytes).toBe(bytes)
    const wrong: number[] = []
    for (let i = 0; i < n; i++) {
      const want = 2 ** 32 * (i >> 10) + i
      const head = ix.peek()
      const ref = ix.shift()
      if (head !== want || ref !== want || ix.shiftedSize !== i % 500 || ix.shiftedFlags !== (i % 3 === 0 ? 1 : 0)) wrong.push(i)
    }
    expect(wrong).toEqual([])
    expect(ix.shift()).toBe(-1)
    expect(ix.peek()).toBe(-1)
    expect(ix.bytes).toBe(0)
    expect(ix.capacityBytes).toBe(0)
  })

  test('insert keeps ref order at the head, in the middle, across blocks and at the tail', () => {
    const ix = new RefIndex()
    for (let i = 10; i < 200; i += 2) ix.push(i, 1, 0)
    expect(ix.insert(5, 1, FLAG_REDELIVERED)).toBe(0)
    expect(ix.insert(4, 1, FLAG_REDELIVERED)).toBe(0)
    expect(ix.insert(11, 7, FLAG_REDELIVERED)).toBe(3)
    expect(ix.insert(101, 1, 0)).toBe(49)
    expect(ix.insert(500, 1, 0)).toBe(ix.length - 1)
    const refs = [...ix.entries()].map((e) => e.ref)
    expect(refs).toEqual([...refs].sort((a, b) => a - b))
    expect(ix.refAt(3)).toBe(11)
    const e = [...ix.entries()].find((x) => x.ref === 11)!
    expect(e).toEqual({ ref: 11, size: 7, flags: FLAG_REDELIVERED })
    expect(ix.length).toBe(95 + 5)
  })

  test('insert into an empty index, and after draining', () => {
    const ix = new RefIndex()
    expect(ix.insert(42, 3, 1)).toBe(0)
    expect(ix.shift()).toBe(42)
    ix.push(7, 1, 0)
    expect(ix.insert(3, 1, 0)).toBe(0)
    expect([...ix.entries()].map((x) => x.ref)).toEqual([3, 7])
    ix.clear()
    expect(ix.length).toBe(0)
    expect(ix.bytes).toBe(0)
  })

  test('a small queue costs one small block', () => {
    const ix = new RefIndex()
    for (let i = 0; i < 10; i++) ix.push(i, 1, 0)
    expect(ix.capacityBytes).toBe(16 * 13)
  })
})
