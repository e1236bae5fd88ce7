/**
 * Queue-level deduplication, as the plugin's deduplicating backing queue does it: a message whose
 * key (dedup-settings.ts: the header, else Warren's message-id fallback) belongs to a message
 * currently in the queue, ready or delivered and not yet acknowledged, is dropped at enqueue; it
 * still counts as routed (no basic.return) and its publisher gets the confirm. The window is
 * exactly the queue's content: a key leaves when its message leaves (ack, no-ack delivery, expiry,
 * dead-lettering, drop-head), and a purge forgets every key (the plugin flushes its cache).
 * `x-cache-size` and `x-cache-ttl` play no part on a queue (the plugin ignores them there too).
 *
 * Nothing extra is stored: a durable queue's window comes back from its recovered messages, so a
 * confirmed persistent message's key survives kill -9 with the message itself.
 */
import type { Message } from '../message.js'
import { dedupKey } from './dedup-settings.js'

export class QueueDedup {
  /** key → messages with it in the queue (more than one only if they came back from disk so) */
  private readonly keys = new Map<string, number>()
  /** messages dropped as duplicates */
  duplicates = 0

  constructor(readonly header: string) {}

  /** True when `m` may be enqueued (its key, if any, is now counted); false for a duplicate. */
  admit(m: Message): boolean {
    const key = dedupKey(m, this.header)
    if (key === undefined) return true
    const n = this.keys.get(key)
    if (n !== undefined) {
      this.duplicates++
      return false
    }
    this.keys.set(key, 1)
    return true
  }

  /** Counts a message recovered from disk (never refused: it is in the queue already). */
  restore(m: Message): void {
    const key = dedupKey(m, this.header)
    if (key !== undefined) this.keys.set(key, (this.keys.get(key) ?? 0) + 1)
  }

  /** `m` left the queue for good. */
  forget(m: Message): void {
    const key = dedupKey(m, this.header)
    if (key === undefined) return
    const n = this.keys.get(key)
    if (n === undefined) return
    if (n <= 1) this.keys.delete(key)
    else this.keys.set(key, n - 1)
  }

  clear(): void {
    this.keys.clear()
  }

  /** Keys held. */
  get size(): number {
    return this.keys.size
  }
}
