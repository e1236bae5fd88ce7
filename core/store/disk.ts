/**
 * Disk checks: a data directory that can be written (checked at start, so a read-only mount or a
 * wrong owner is a clear error instead of a failure at the first durable publish), and free
 * space, for RabbitMQ's disk alarm: below `disk_free_limit` (default 50 MB) publishers are
 * blocked (connection.blocked) until space comes back.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'

/** RabbitMQ's default disk_free_limit: 50 MB. */
export const DEFAULT_DISK_FREE_LIMIT = 50_000_000

/** A problem with the data directory; the message says what and where. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

/**
 * Creates `dir` if needed and proves it writable by creating, writing, syncing and deleting a
 * probe file. Throws DataDirError naming the directory and the system error.
 */
export function ensureDataDir(dir: string): void {
  const probe = path.join(dir, `.write-test-${process.pid}`)
  try {
    mkdirSync(dir, { recursive: true })
    const fd = openSync(probe, 'w')
    try {
      writeSync(fd, Buffer.from('warren'))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    unlinkSync(probe)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DataDirError(`data directory '${path.resolve(dir)}' is not writable: ${e.code ?? ''} ${e.message}`.trim())
  }
}

/** Bytes available to this (unprivileged) process on the file system holding `dir`. */
export function freeDiskBytes(dir: string): number {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

/** Throws DataDirError when the file system of `dir` has less than `limit` bytes free. */
export function assertFreeSpace(dir: string, limit: number = DEFAULT_DISK_FREE_LIMIT): void {
  const free = freeDiskBytes(dir)
  if (free < limit) {
    throw new DataDirError(`disk of data directory '${path.resolve(dir)}' is full: ${free} bytes free, at least ${limit} needed`)
  }
}

/** Told when the disk alarm goes on or off. */
export interface DiskAlarmListener {
  diskAlarm(on: boolean, freeBytes: number): void
}

/** What a DiskMonitor watches and whom it tells. */
export interface DiskMonitorOptions {
  dir: string
  log: Logger
  listener: DiskAlarmListener
  /** alarm below this many free bytes (default 50 MB) */
  limit?: number
  /** ms between checks (default 1000; RabbitMQ checks about every 10 s, faster near the limit) */
  intervalMs?: number
  /** free-space probe, replaceable in tests */
  freeBytes?: (dir: string) => number
}

/** Polls free space and raises/clears the disk alarm (with a log line each way). */
export class DiskMonitor {
  /** the alarm is on */
  alarmed = false
  /** free bytes at the last check */
  free = 0
  private timer: NodeJS.Timeout | null = null
  private readonly limit: number
  private readonly probe: (dir: string) => number

  constructor(private readonly o: DiskMonitorOptions) {
    this.limit = o.limit ?? DEFAULT_DISK_FREE_LIMIT
    this.probe = o.freeBytes ?? freeDiskBytes
  }

  /** Checks now and then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    this.check()
    if (this.timer !== null) return
    this.timer = setInterval(() => this.check(), this.o.intervalMs ?? 1000)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** One check; returns whether the alarm is on. A failing probe leaves the state unchanged. */
  check(): boolean {
    let free: number
    try {
      free = this.probe(this.o.dir)
    } catch (err) {
      this.o.log.error({ err, dir: this.o.dir }, 'cannot read free disk space')
      return this.alarmed
    }
    this.free = free
    const on = free < this.limit
    if (on !== this.alarmed) {
      this.alarmed = on
      if (on) this.o.log.warn({ free, limit: this.limit }, 'disk alarm: free space below the limit, publishers blocked')
      else this.o.log.info({ free, limit: this.limit }, 'disk alarm cleared')
      this.o.listener.diskAlarm(on, free)
    }
    return on
  }
}
