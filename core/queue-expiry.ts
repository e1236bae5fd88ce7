/**
 * Message TTL for a queue (x-message-ttl, per-message expiration): dead-letters expired ready
 * messages on time even with no consumer.
 *
 * - Queue TTL only: expiry times grow along the queue, so expiry is decided at the head; nothing
 *   per message is kept here (a store-backed queue keeps the enqueue time in each record, so its
 *   envelopes are made only when a message reaches the head).
 * - A message's own, shorter expiration (and any TTL in a priority queue, whose head is not the
 *   oldest message) can expire before messages ahead of it: it is tracked in a min-heap. Messages
 *   held in memory are tracked by envelope; messages in a message store by (expiry, ref) only, in
 *   typed arrays (RefExpiryHeap, 16 bytes each), and expired in place by ref through the store,
 *   so a deep queue of such messages does not keep their bodies in RAM.
 */
import { ExpiryHeap, RefExpiryHeap } from './expiry-heap.js'
import type { Envelope, Queue } from './queue.js'

/** Envelope states (Envelope.state) */
export const READY = 0
export const DELIVERED = 1
export const GONE = 2

/** The longest delay a Node timer takes (2^31-1 ms, about 24.8 days); longer TTLs re-arm. */
export const MAX_TIMER = 0x7fffffff

/** Heap entries kept before stale ones (of messages delivered since) are dropped in bulk. */
const COMPACT_AT = 1024

/** See the file comment. */
export class QueueExpiry {
  /** ready messages held in memory that can expire out of queue order */
  private readonly heap = new ExpiryHeap<Envelope>()
  /** the same for messages in the queue's store, by ref */
  private readonly refHeap = new RefExpiryHeap()
  private timer: NodeJS.Timeout | null = null
  private at = 0
  private readonly fire = (): void => {
    this.timer = null
    this.at = 0
    this.q.guard(() => this.expire())
  }

  constructor(private readonly q: Queue) {}

  /** Heap entries (envelopes and refs; tests and the bounded-memory checks). */
  get length(): number {
    return this.heap.length + this.refHeap.length
  }
  /** Envelopes held by the heap (each keeps a message body in memory). */
  get envelopes(): number {
    return this.heap.length
  }

  /**
   * Tracks a ready message that can expire out of queue order. Entries of messages delivered since
   * leave lazily; when they dominate they are dropped in bulk, so settled messages are not kept
   * until their expiry time (amortised O(1)).
   */
  track(env: Envelope): void {
    const q = this.q
    const store = q.store
    if (env.ref >= 0 && store !== null && store.expiresByRef) {
      const h = this.refHeap
      h.push(env.expiresAt, store.expiryKey(env))
      if (h.length > COMPACT_AT && h.length > 2 * q.messageCount) h.retain((ref) => store.isReadyRef(ref))
      return
    }
    const heap = this.heap
    heap.push(env)
    if (heap.length > COMPACT_AT && heap.length > 2 * q.messageCount) heap.retain((e) => e.state === READY)
  }

  /** Makes sure the expiry timer fires by time `at`. */
  arm(at: number): void {
    if (this.q.deleted || (this.timer !== null && this.at <= at)) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.at = at
    // a longer delay than a Node timer holds would fire after 1 ms: wake up early and re-arm instead
    this.timer = setTimeout(this.fire, Math.min(MAX_TIMER, Math.max(0, at - Date.now() + 1)))
    this.timer.unref()
  }

  /** Dead-letters every expired ready message, even with no consumer (RabbitMQ expires at the head). */
  expire(): void {
    const q = this.q
    if (q.deleted) return
    const now = Date.now()
    const ready = q.ready
    // queue TTL: expiry times grow along the queue, so the head is the earliest
    for (let head = ready.peek(); head !== undefined; head = ready.peek()) {
      if (head.state === GONE) {
        ready.shift()
        q.tombstones--
        continue
      }
      if (head.expiresAt === 0 || head.expiresAt >= now) break
      ready.shift()
      q.dropExpired(head, false)
    }
    // per-message TTL: from the heaps, wherever they sit in the queue
    for (let top = this.heap.peek(); top !== undefined && top.expiresAt < now; top = this.heap.peek()) {
      this.heap.pop()
      if (top.state !== READY) continue
      // an in-memory envelope stays in the ready list as a tombstone; a stored one is skipped by the store
      if (q.store === null || q.store.tombstone(top)) q.tombstones++
      q.dropExpired(top, true)
    }
    const store = q.store
    const rh = this.refHeap
    while (rh.length > 0 && rh.topAt < now) {
      const ref = rh.topRef
      rh.pop()
      const env = store?.expireRef(ref)
      if (env !== undefined) q.dropExpired(env, true)
    }
    const head = ready.peek()
    let next = head !== undefined && head.expiresAt !== 0 ? head.expiresAt : 0
    const top = this.heap.peek()
    if (top !== undefined && (next === 0 || top.expiresAt < next)) next = top.expiresAt
    const rt = rh.topAt
    if (rh.length > 0 && (next === 0 || rt < next)) next = rt
    if (next !== 0) this.arm(next)
  }

  /** Forgets every tracked message (purge). */
  clear(): void {
    this.heap.clear()
    this.refHeap.clear()
  }

  /** Cancels the timer (queue deleted). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
