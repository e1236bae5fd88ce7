/**
 * Issue 10 hole 6: durable priority queues opened one segment file per level per queue and kept
 * it open, so 85 queues with x-max-priority 255 exhausted the process's descriptors (EMFILE →
 * 541 for other tenants). Store files now live in a process-wide LRU budget (file-budget.ts):
 * the count of open store files stays under the budget through publish, recovery and consume.
 */
import { readdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { fileBudget } from '../../core/store/file-budget.js'
import { bodies, boot, connect, dataDir, drain, halt } from '../helpers/restart.js'

const openFds = (): number => readdirSync('/proc/self/fd').length
const saved = fileBudget.limit

afterEach(() => {
  fileBudget.limit = saved
})

describe('store file budget', () => {
  it('keeps open store files under the budget with many priority levels, and loses nothing', async () => {
    fileBudget.limit = 16
    const dir = dataDir()
    let b = await boot(dir)
    const fds0 = openFds()
    const ch = await (await connect(b)).createConfirmChannel()
    const levels = 64
    for (const q of ['prio-a', 'prio-b']) {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-max-priority': levels - 1 } })
      for (let p = 0; p < levels; p++) ch.sendToQueue(q, Buffer.from(`${q}-${p}`), { persistent: true, priority: p })
    }
    await ch.waitForConfirms()
    // one file per level per queue before: 128 segment files open here
    expect(fileBudget.open).toBeLessThanOrEqual(16)
    expect(openFds() - fds0).toBeLessThan(40)
    expect(fileBudget.evictions).toBeGreaterThan(0)
    await halt(b)

    b = await boot(dir)
    for (const q of ['prio-a', 'prio-b']) {
      const got = bodies(await drain(b, q))
      // highest priority first, every message once, read back from files closed and reopened
      expect(got).toEqual(Array.from({ length: levels }, (_, i) => `${q}-${levels - 1 - i}`))
      expect(fileBudget.open).toBeLessThanOrEqual(16)
    }
    await halt(b)
    b = await boot(dir)
    const ch2 = await (await connect(b)).createChannel()
    expect((await ch2.checkQueue('prio-a')).messageCount).toBe(0)
    expect((await ch2.checkQueue('prio-b')).messageCount).toBe(0)
  })
})
