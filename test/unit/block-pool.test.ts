/**
 * BlockPool (transport/block-pool.ts): size classes, reuse of given-back blocks only, each at most
 * once, nothing for disowned or foreign blocks, and the bound on idle bytes.
 */
import { describe, expect, it } from 'vitest'
import { BlockPool, blockClass, MIN_POOLED } from '../../transport/block-pool.js'

describe('BlockPool', () => {
  it('size classes are a sixteenth of a power of two', () => {
    expect(blockClass(1_048_576)).toBe(1_048_576)
    expect(blockClass(1_048_576 + 20)).toBe(1_048_576 + 65_536)
    expect(blockClass(65_537)).toBe(65_536 + 4096)
    for (const n of [MIN_POOLED, 100_000, 1_300_000, 16_000_000]) {
      expect(blockClass(n)).toBeGreaterThanOrEqual(n)
      expect(blockClass(n)).toBeLessThanOrEqual(n * 1.0625)
    }
  })

  it('reuses a block given back, once, for a body of the same class', () => {
    const pool = new BlockPool()
    const a = pool.take(1_048_600)
    expect(a.length).toBe(1_048_600)
    expect(pool.owns(a)).toBe(true)
    pool.give(a)
    pool.give(a) // a second give is ignored
    expect(pool.owns(a)).toBe(false)
    const b = pool.take(1_048_700)
    expect(b.buffer).toBe(a.buffer)
    const c = pool.take(1_048_700)
    expect(c.buffer).not.toBe(a.buffer)
    expect([pool.hits, pool.misses]).toEqual([1, 2])
  })

  it('never takes back a disowned block, a foreign one or a small one', () => {
    const pool = new BlockPool()
    const a = pool.take(200_000)
    pool.disown(a)
    pool.give(a)
    pool.give(Buffer.allocUnsafeSlow(200_000))
    const small = pool.take(1000)
    expect(pool.owns(small)).toBe(false)
    pool.give(small)
    expect(pool.idleSize).toBe(0)
  })

  it('keeps at most 64 MiB of idle blocks', () => {
    const pool = new BlockPool()
    const blocks = Array.from({ length: 8 }, () => pool.take(10_000_000))
    for (const b of blocks) pool.give(b)
    expect(pool.idleSize).toBeLessThanOrEqual(64 * 1024 * 1024)
    expect(pool.idleSize).toBeGreaterThan(0)
  })
})
