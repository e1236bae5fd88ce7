/**
 * The total connection cap derived from the open-file limit (transport/fd-limit.ts) and the
 * per-address bookkeeping of ConnectionLimiter (transport/connection-limiter.ts).
 */
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ConnectionLimiter } from '../../transport/connection-limiter.js'
import { connectionCap, openFileLimit } from '../../transport/fd-limit.js'

describe('connectionCap', () => {
  it('keeps a tenth of the open-file limit (at least 64) for store files and HTTP', () => {
    expect(connectionCap(0, 20000)).toBe(18000)
    expect(connectionCap(0, 1024)).toBe(921)
    expect(connectionCap(0, 100)).toBe(36)
    expect(connectionCap(0, Infinity)).toBe(Infinity)
    expect(connectionCap(500, 20000)).toBe(500) // configured wins
    expect(openFileLimit()).toBeGreaterThan(0)
  })
})

describe('ConnectionLimiter', () => {
  it('caps per address and in total, counts ::ffff:a.b.c.d as a.b.c.d, and frees slots', () => {
    const l = new ConnectionLimiter(3, 2, pino({ level: 'silent' }))
    expect(l.admit('10.0.0.1')).toBe(true)
    expect(l.admit('::ffff:10.0.0.1')).toBe(true)
    expect(l.admit('10.0.0.1')).toBe(false) // per address
    expect(l.admit('10.0.0.2')).toBe(true)
    expect(l.admit('10.0.0.3')).toBe(false) // total
    l.release('::ffff:10.0.0.1')
    expect(l.count).toBe(2)
    expect(l.admit('10.0.0.3')).toBe(true)
    l.release('10.0.0.9') // never admitted: no effect
    expect(l.count).toBe(3)
  })
})
