/**
 * A process-wide budget of open store files, in the spirit of RabbitMQ's file_handle_cache: every
 * segment, ack, delivered and delivery-count file of every queue store is a FileHandle that is
 * opened lazily, kept in an LRU, closed when the budget is full and it is the least recently used
 * idle one, and reopened on demand. Without it each priority level of each durable queue kept its
 * files open, and 85 queues with x-max-priority 255 used up the process's 20,000 descriptors:
 * new clients were refused and other queues failed with EMFILE.
 *
 * A handle is "pinned" while an asynchronous write or fdatasync uses its descriptor (group
 * commit): a pinned handle is never closed. Pinned files never exceed the budget: a batch that
 * would need more waits (tryPin fails, the group commit retries when a pin is released), so a
 * publisher spraying thousands of stores in one turn gets its confirms later, not EMFILE. Reads
 * may open a file beyond the budget for a moment; the next open or release trims it back.
 *
 * Budget: min(1024, soft fd limit / 4), at least 32. Sockets are what a broker must never run
 * short of (each client is one), so three quarters of the limit stay for them, the listeners,
 * logs and the definitions log; 1024 files are plenty to keep every busy queue's active segment
 * open (an idle queue's files are closed and reopened by one open() when it wakes up).
 */
import { closeSync, openSync } from 'node:fs'
import { openFileLimit } from '../fds.js'

/** One store file the budget may close and reopen (see the file comment). */
export class FileHandle {
  /** the open descriptor, or -1 while closed */
  fd = -1
  /** asynchronous operations using fd (not evictable while > 0) */
  pins = 0

  constructor(
    readonly file: string,
    /** flags to reopen it with (never 'w'/'wx': reopening must not truncate or fail) */
    readonly flags: string,
  ) {}
}

/** Soft limit on open files of this process (core/fds.ts; 1024 when unknown, 2^20 when unlimited). */
export function fdSoftLimit(): number {
  const limit = openFileLimit()
  return limit === Infinity ? 1 << 20 : limit
}

/** The default budget for a soft limit (see the file comment). */
export function defaultFileBudget(limit = fdSoftLimit()): number {
  return Math.max(32, Math.min(1024, Math.floor(limit / 4)))
}

/** A batch waiting for room to pin its files (GroupCommit). */
export interface BudgetWaiter {
  budgetRoom(): void
}

/** The LRU of open store files (see the file comment); one per process: `fileBudget`. */
export class FileBudget {
  /** open handles, least recently used first (Map keeps insertion order) */
  private readonly lru = new Map<FileHandle, true>()
  /** handles closed to stay within the budget (reporting, tests) */
  evictions = 0
  private pinned = 0
  private readonly waiters = new Set<BudgetWaiter>()
  private waking = false
  private readonly wake = (): void => {
    this.waking = false
    for (const w of this.waiters) {
      if (this.pinned >= this.limit) break
      this.waiters.delete(w)
      w.budgetRoom()
    }
  }

  constructor(public limit: number) {}

  /** Open store files. */
  get open(): number {
    return this.lru.size
  }

  /** The descriptor of `h`, opened (closing the least recently used idle file if full) when closed. */
  fd(h: FileHandle): number {
    if (h.fd >= 0) {
      this.lru.delete(h)
      this.lru.set(h, true)
      return h.fd
    }
    if (this.lru.size >= this.limit) this.evict(this.lru.size - this.limit + 1)
    h.fd = openSync(h.file, h.flags)
    this.lru.set(h, true)
    return h.fd
  }

  /** Adopts a descriptor just opened by the caller (a file created with 'wx+'). */
  adopt(h: FileHandle, fd: number): void {
    if (this.lru.size >= this.limit) this.evict(this.lru.size - this.limit + 1)
    h.fd = fd
    this.lru.set(h, true)
  }

  /**
   * Opens `h` if needed and keeps it open until unpin() (an asynchronous operation uses it).
   * Returns false, pinning nothing, when the budget is all pinned: wait(), then try again.
   */
  tryPin(h: FileHandle): boolean {
    if (h.pins === 0) {
      if (this.pinned >= this.limit) return false
      this.pinned++
    }
    h.pins++
    try {
      this.fd(h)
    } catch (err) {
      this.unpin(h)
      throw err
    }
    return true
  }

  unpin(h: FileHandle): void {
    if (h.pins === 0) return
    if (--h.pins > 0) return
    this.pinned--
    if (this.lru.size > this.limit) this.evict(this.lru.size - this.limit)
    if (this.waiters.size > 0 && !this.waking) {
      this.waking = true
      setImmediate(this.wake)
    }
  }

  /** Calls `w.budgetRoom()` once pinned files are under the budget again. */
  wait(w: BudgetWaiter): void {
    this.waiters.add(w)
    if (this.pinned < this.limit && !this.waking) {
      this.waking = true
      setImmediate(this.wake)
    }
  }

  /** Forgets a waiter (its log is closing). */
  cancelWait(w: BudgetWaiter): void {
    this.waiters.delete(w)
  }

  /** Closes `h` now (it may be reopened later by fd()). */
  close(h: FileHandle): void {
    if (h.fd < 0) return
    this.lru.delete(h)
    const fd = h.fd
    h.fd = -1
    if (h.pins > 0) this.pinned--
    h.pins = 0
    closeSync(fd)
  }

  private evict(n: number): void {
    for (const h of this.lru.keys()) {
      if (n <= 0) return
      if (h.pins > 0) continue
      this.lru.delete(h)
      const fd = h.fd
      h.fd = -1
      this.evictions++
      n--
      try {
        closeSync(fd)
      } catch {
        // already unusable (a failed disk): it is closed either way
      }
    }
  }
}

/** The process's store-file budget (tests may lower `limit`). */
export const fileBudget = new FileBudget(defaultFileBudget())
