/** DelayHeap: pops in (due, ref) order through growth and shrinking, against a sorted copy. */
import { describe, expect, it } from 'vitest'
import { DelayHeap } from '../../core/delayed/delay-heap.js'

describe('DelayHeap', () => {
  it('pops entries by due time, ties by ref, with their sizes', () => {
    const h = new DelayHeap()
    const entries: [number, number, number][] = []
    for (let i = 0; i < 5000; i++) entries.push([Math.floor(Math.random() * 300), i * 7 + 2 ** 32, i % 977])
    for (const [d, r, s] of entries) h.push(d, r, s)
    expect(h.length).toBe(5000)
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1])
    for (const [d, r, s] of entries) {
      expect(h.nextDue).toBe(d)
      expect(h.pop()).toBe(d)
      expect([h.poppedRef, h.poppedSize]).toEqual([r, s])
    }
    expect(h.length).toBe(0)
    expect(h.pop()).toBe(Infinity)
    expect(h.nextDue).toBe(Infinity)
  })

  it('keeps order when pushes and pops interleave', () => {
    const h = new DelayHeap()
    let last = -Infinity
    let t = 0
    for (let i = 0; i < 3000; i++) {
      h.push(t + Math.random() * 100, i, 1)
      if (i % 3 === 0) {
        const d = h.pop()
        expect(d).toBeGreaterThanOrEqual(last)
        last = d
        t = d
      }
    }
    while (h.length > 0) {
      const d = h.pop()
      expect(d).toBeGreaterThanOrEqual(last)
      last = d
    }
  })
})
