/**
 * Disk checks: the data directory must be writable (clear error otherwise), free space is read
 * with statfs, and the disk alarm goes on below the limit and off above it, once each way.
 */
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  DEFAULT_DISK_FREE_LIMIT,
  DataDirError,
  DiskMonitor,
  assertFreeSpace,
  ensureDataDir,
  freeDiskBytes,
  type DiskAlarmListener,
} from '../../core/store/disk.js'
import { captureLogger, tempDir } from './store-helpers.js'

describe('data directory', () => {
  test('is created when missing and proven writable', () => {
    const dir = path.join(tempDir(), 'a', 'b')
    ensureDataDir(dir)
    ensureDataDir(dir)
  })

  test('a path that cannot be a directory gives an error naming it', () => {
    const file = path.join(tempDir(), 'plain-file')
    writeFileSync(file, 'x')
    const dir = path.join(file, 'data')
    expect(() => ensureDataDir(dir)).toThrow(DataDirError)
    expect(() => ensureDataDir(dir)).toThrow(new RegExp(`data directory '${dir}' is not writable: ENOTDIR`))
  })

  // root ignores permission bits, so this only means something for an ordinary user
  test.skipIf(process.getuid?.() === 0)('a read-only directory is refused', () => {
    const dir = tempDir()
    chmodSync(dir, 0o500)
    try {
      expect(() => ensureDataDir(dir)).toThrow(/EACCES/)
    } finally {
      chmodSync(dir, 0o700)
    }
  })
})

describe('free space', () => {
  test('statfs reports free bytes; the start check refuses a limit above them', () => {
    const dir = tempDir()
    const free = freeDiskBytes(dir)
    expect(free).toBeGreaterThan(0)
    expect(DEFAULT_DISK_FREE_LIMIT).toBe(50_000_000)
    assertFreeSpace(dir, 1)
    expect(() => assertFreeSpace(dir, free * 4 + 1e15)).toThrow(/is full: \d+ bytes free/)
  })

  test('the disk alarm goes on below the limit and off above it, telling the listener once each way', () => {
    const { log, warnings, lines } = captureLogger()
    let free = 100e6
    const events: [boolean, number][] = []
    const listener: DiskAlarmListener = { diskAlarm: (on, f) => events.push([on, f]) }
    const m = new DiskMonitor({ dir: tempDir(), log, listener, limit: 50e6, freeBytes: () => free })
    expect(m.check()).toBe(false)
    free = 10e6
    expect(m.check()).toBe(true)
    expect(m.check()).toBe(true)
    free = 60e6
    expect(m.check()).toBe(false)
    expect(events).toEqual([
      [true, 10e6],
      [false, 60e6],
    ])
    expect(warnings().some((w) => /disk alarm/.test(w.msg))).toBe(true)
    expect(lines.some((l) => /disk alarm cleared/.test(l.msg))).toBe(true)
  })

  test('a failing probe is logged and leaves the alarm as it was', () => {
    const { log, lines } = captureLogger()
    const m = new DiskMonitor({
      dir: '/nonexistent',
      log,
      listener: { diskAlarm: () => undefined },
      freeBytes: () => {
        throw new Error('EIO')
      },
    })
    m.start()
    m.stop()
    expect(m.alarmed).toBe(false)
    expect(lines.some((l) => l.level === 50)).toBe(true)
  })
})
