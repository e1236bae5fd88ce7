/**
 * The deduplication window of an exchange: the keys seen, at most `size` of them, each until its
 * TTL runs out. A Map in insertion order is the LRU: a new key goes to the back and, once the window
 * is full, the oldest one leaves from the front; a duplicate does not refresh its key (the plugin's
 * Cache.insert leaves an existing entry alone), so "least recently used" means least recently
 * inserted. Expired keys are dropped when looked up or when they reach the front. O(1) per message.
 *
 * A durable window writes each new key to its DedupLog (dedup-log.ts) once the publish has been
 * enqueued (stage, then commit with the stores the message went to), and the publish's confirm
 * waits for that log's fdatasync, so a confirmed message's key survives kill -9.
 */
import type { Message } from '../message.js'
import type { DurableLog } from '../store/message-store.js'
import type { DedupLog } from './dedup-log.js'
import { dedupKey, messageCacheTtl, type DedupSettings } from './dedup-settings.js'

export class DedupWindow {
  /** key → absolute expiry in ms (0: none), oldest first */
  readonly entries = new Map<string, number>()
  /** messages dropped as duplicates (management, tests) */
  duplicates = 0
  /** the key entered by the publish in progress, written to the log by commit() */
  private stagedKey = ''
  private stagedExp = 0
  /** walks the keys oldest first, for eviction */
  private oldest: IterableIterator<string> = this.entries.keys()

  constructor(
    readonly settings: DedupSettings,
    /** where a durable window writes its keys, or null */
    public log: DedupLog | null = null,
  ) {}

  /**
   * True when `m` is a duplicate (its key is in the window); otherwise remembers its key. When the
   * window is on disk, the new key is staged (this window added to `staged`) for commit() after
   * the enqueue; a duplicate's publish waits for the log (`touched`): its confirm must not overtake
   * the durability of the key it matched.
   */
  seen(m: Message, now: number, touched: DurableLog[], staged: DedupWindow[]): boolean {
    const key = dedupKey(m, this.settings.header)
    if (key === undefined) return false
    const log = this.log
    const exp = this.entries.get(key)
    if (exp !== undefined) {
      if (exp === 0 || exp > now) {
        this.duplicates++
        if (log !== null && log.durableSeq < log.lastSeq) touched.push(log)
        return true
      }
      this.entries.delete(key)
    }
    if (this.entries.size >= this.settings.size) this.evictOldest()
    const ttl = messageCacheTtl(m) || this.settings.ttl
    const expiresAt = ttl > 0 ? now + ttl : 0
    this.entries.set(key, expiresAt)
    if (log !== null) {
      this.stagedKey = key
      this.stagedExp = expiresAt
      staged.push(this)
    }
    return false
  }

  /**
   * The staged key goes to the log, written once the stores in `touched` (where the message was
   * just enqueued) are durable; the log joins `touched`, so the confirm waits for the key as well.
   */
  commit(touched: DurableLog[]): void {
    const log = this.log
    if (log === null || this.stagedKey === '') return
    log.append(this.stagedKey, this.stagedExp, touched)
    this.stagedKey = ''
    touched.push(log)
  }

  /** Puts back a key read from the log at boot (skipped when already expired). */
  restore(key: string, expiresAt: number, now: number): void {
    this.entries.delete(key)
    if (expiresAt !== 0 && expiresAt <= now) return
    if (this.entries.size >= this.settings.size) this.evictOldest()
    this.entries.set(key, expiresAt)
  }

  /**
   * At boot: the key of a recovered message that was published to this exchange. Its key went to
   * the log only once the message was durable, so a crash between the two syncs leaves the message
   * without its key in the log; the message itself still carries it.
   */
  restoreFromMessage(m: Message, now: number): void {
    const key = dedupKey(m, this.settings.header)
    if (key === undefined || this.entries.has(key)) return
    const ttl = messageCacheTtl(m) || this.settings.ttl
    this.restore(key, ttl > 0 ? m.timestamp + ttl : 0, now)
  }

  /**
   * Drops the oldest key. One live iterator walks the map from the front: a fresh keys() iterator
   * would step over every slot deleted since the map last rehashed (quadratic in a busy window).
   */
  private evictOldest(): void {
    let r = this.oldest.next()
    if (r.done === true) {
      this.oldest = this.entries.keys()
      r = this.oldest.next()
      if (r.done === true) return
    }
    this.entries.delete(r.value)
  }

  /** Number of keys remembered (expired ones not yet dropped included). */
  get size(): number {
    return this.entries.size
  }
}
