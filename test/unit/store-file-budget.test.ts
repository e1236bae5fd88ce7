/**
 * FileBudget (core/store/file-budget.ts): an LRU of open store files that closes the least
 * recently used idle file, never a pinned one, and makes a batch wait when every file is pinned.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FileBudget, FileHandle, defaultFileBudget } from '../../core/store/file-budget.js'
import { waitFor } from '../helpers/broker.js'

const dir = mkdtempSync(path.join(tmpdir(), 'warren-budget-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function handles(n: number): FileHandle[] {
  return Array.from({ length: n }, (_, i) => {
    const f = path.join(dir, `f${i}`)
    writeFileSync(f, `file ${i}`)
    return new FileHandle(f, 'r+')
  })
}

describe('FileBudget', () => {
  it('derives the budget from the soft fd limit: a quarter, at most 1024, at least 32', () => {
    expect(defaultFileBudget(20000)).toBe(1024)
    expect(defaultFileBudget(1024)).toBe(256)
    expect(defaultFileBudget(64)).toBe(32)
  })

  it('closes the least recently used idle file, never a pinned one, and reopens on demand', () => {
    const b = new FileBudget(3)
    const [h0, h1, h2, h3, h4] = handles(5)
    b.fd(h0)
    b.fd(h1)
    b.fd(h2)
    b.fd(h0) // h1 is now the least recently used
    expect(b.tryPin(h1)).toBe(true)
    b.fd(h3) // h1 is pinned: h2 goes
    expect([h0.fd >= 0, h1.fd >= 0, h2.fd >= 0, h3.fd >= 0]).toEqual([true, true, false, true])
    expect(b.open).toBe(3)
    b.fd(h4)
    expect(h0.fd).toBe(-1)
    expect(b.fd(h2)).toBeGreaterThanOrEqual(0) // reopened
    expect(b.open).toBe(3)
    expect(b.evictions).toBe(3)
    b.unpin(h1)
    for (const h of [h0, h1, h2, h3, h4]) b.close(h)
    expect(b.open).toBe(0)
  })

  it('refuses a pin beyond the budget and wakes the waiter when a pin is released', async () => {
    const b = new FileBudget(2)
    const [h0, h1, h2] = handles(3)
    expect(b.tryPin(h0)).toBe(true)
    expect(b.tryPin(h1)).toBe(true)
    expect(b.tryPin(h2)).toBe(false)
    let woken = 0
    b.wait({ budgetRoom: () => woken++ })
    await new Promise((r) => setImmediate(r))
    expect(woken).toBe(0)
    b.unpin(h0)
    await waitFor(() => woken === 1, 1000, 'the waiter')
    expect(b.tryPin(h2)).toBe(true)
    expect(h0.fd).toBe(-1) // over the budget once unpinned: closed
    for (const h of [h0, h1, h2]) b.close(h)
  })
})
