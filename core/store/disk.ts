/**
 * Disk checks: a data directory that can be written (checked at start, so a read-only mount or a
 * wrong owner is a clear error instead of a failure at the first durable publish), and free
 * space, for RabbitMQ's disk alarm: below `disk_free_limit` (default 50 MB) publishers are
 * blocked (connection.blocked) until space comes back.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { Poller } from '../poller.js'

/** RabbitMQ's default disk_free_limit: 50 MB. */
export const DEFAULT_DISK_FREE_LIMIT = 50_000_000

/** A problem with the data directory; the message says what and where. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

/**
 * Pseudo file systems (statfs f_type) that hold no data: a data dir there can never work, and
 * Node's recursive mkdir loops forever on /proc (mkdir answers ENOENT for a parent that exists).
 */
const VIRTUAL_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
])

/**
 * Creates `dir` if needed and proves it writable by creating, writing, syncing and deleting a
 * probe file. Throws DataDirError naming the directory and the system error. Fails fast on a
 * directory under a pseudo file system (/proc, /sys, …) and never retries a failing mkdir.
 */
export function ensureDataDir(dir: string): void {
  const abs = path.resolve(dir)
  const probe = path.join(abs, `.write-test-${process.pid}`)
  try {
    refuseVirtual(abs)
    makeDirs(abs)
    const fd = openSync(probe, 'w')
    try {
      writeSync(fd, Buffer.from('warren'))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    unlinkSync(probe)
  } catch (err) {
    if (err instanceof DataDirError) throw err
    const e = err as NodeJS.ErrnoException
    throw new DataDirError(`data directory '${abs}' is not writable: ${e.code ?? ''} ${e.message}`.trim())
  }
}

/** Throws DataDirError when the nearest existing ancestor of `abs` is on a pseudo file system. */
function refuseVirtual(abs: string): void {
  let p = abs
  while (!existsSync(p) && path.dirname(p) !== p) p = path.dirname(p)
  let type: number
  try {
    type = statfsSync(p).type
  } catch {
    return // the mkdir or the probe below reports the real problem
  }
  const name = VIRTUAL_FS.get(type)
  if (name !== undefined) {
    throw new DataDirError(`data directory '${abs}' is on a ${name} pseudo file system (${p}), which cannot hold data: choose another --data-dir`)
  }
}

/**
 * mkdir -p, one level at a time from the nearest existing ancestor: each mkdir is tried once and
 * its error thrown (Node's `recursive: true` retries a parent that "does not exist" forever on
 * /proc, at 100% CPU and deaf to signals since it never returns to the event loop).
 */
function makeDirs(abs: string): void {
  const missing: string[] = []
  for (let p = abs; !existsSync(p); p = path.dirname(p)) {
    missing.push(p)
    if (path.dirname(p) === p) break
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i])
    } catch (err) {
      // created meanwhile by someone else: fine if it is a directory now
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(missing[i]).isDirectory()) throw err
    }
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
export class DiskMonitor extends Poller {
  /** the alarm is on */
  alarmed = false
  /** free bytes at the last check */
  free = 0
  private readonly limit: number
  private readonly probe: (dir: string) => number

  constructor(private readonly o: DiskMonitorOptions) {
    super(o.intervalMs ?? 1000)
    this.limit = o.limit ?? DEFAULT_DISK_FREE_LIMIT
    this.probe = o.freeBytes ?? freeDiskBytes
  }

  /** One check; returns whether the alarm is on. A failing probe leaves the state unchanged. */
  override check(): boolean {
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
