/**
 * Issue 10 hole 8: a queue store that hit ENOSPC stayed broken until a restart, and every later
 * publish to the queue killed the publisher's connection with 541. Now: publishes it cannot write
 * are nacked (confirm mode) on a connection that stays open, and once space is back the store
 * reopens by itself (its tail read back from disk) and confirms again; after a restart every
 * confirmed message is there exactly once. On a real 2 MiB tmpfs, so the disk really fills.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ConfirmChannel } from 'amqplib'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { bodies, boot, connect, drain, halt } from '../helpers/restart.js'

const mnt = mkdtempSync(path.join(tmpdir(), 'warren-tmpfs-'))
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status === 0
if (!mounted) console.warn(`disk-full.test.ts skipped: cannot mount a tmpfs on ${mnt} (needs root)`)

afterAll(() => {
  if (mounted) spawnSync('umount', [mnt])
  rmSync(mnt, { recursive: true, force: true })
})

/** Publishes one persistent message; resolves true when confirmed, false when nacked. */
function publish(ch: ConfirmChannel, q: string, body: string): Promise<boolean> {
  return new Promise((resolve) => ch.sendToQueue(q, Buffer.from(body), { persistent: true }, (err) => resolve(err === null || err === undefined)))
}

/** Fills the file system with one file; returns its path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler')
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(4096, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC')
  } finally {
    closeSync(fd)
  }
  return file
}

describe.skipIf(!mounted)('a full disk under a queue store', () => {
  it('nacks what it cannot write, keeps the connection, and writes again once space is back', async () => {
    const dir = path.join(mnt, 'data')
    mkdirSync(dir)
    // the disk alarm would block the publisher first: here the store itself must cope
    let b = await boot(dir, { freeDiskBytes: () => 1e12 })
    const conn = await connect(b)
    let closed = false
    conn.on('close', () => (closed = true))
    const ch = await conn.createConfirmChannel()
    await ch.assertQueue('full', { durable: true })
    const confirmed: string[] = []
    for (let i = 0; i < 5; i++) {
      const body = `before-${i}`
      expect(await publish(ch, 'full', body)).toBe(true)
      confirmed.push(body)
    }

    const filler = fill(mnt)
    const big = 'x'.repeat(64 * 1024)
    const outcomes: boolean[] = []
    for (let i = 0; i < 4; i++) {
      const body = `during-${i}-${big}`
      const ok = await publish(ch, 'full', body)
      outcomes.push(ok)
      if (ok) confirmed.push(body)
    }
    // never confirmed unwritten data: the disk is full, so these were nacked
    expect(outcomes).toEqual([false, false, false, false])
    expect(closed).toBe(false)

    unlinkSync(filler)
    // the store reopens on a later publish (at most one try a second): no restart
    await waitFor(
      async () => {
        const body = `after-probe-${Date.now()}`
        const ok = await publish(ch, 'full', body)
        if (ok) confirmed.push(body)
        return ok || undefined
      },
      5000,
      'a publish confirmed after space came back',
    )
    for (let i = 0; i < 5; i++) {
      const body = `after-${i}`
      expect(await publish(ch, 'full', body)).toBe(true)
      confirmed.push(body)
    }
    expect(closed).toBe(false)
    await halt(b)

    b = await boot(dir, { freeDiskBytes: () => 1e12 })
    const got = bodies(await drain(b, 'full')).filter((m) => !m.startsWith('during-'))
    expect(got).toEqual(confirmed)
    await halt(b)
  })
})
