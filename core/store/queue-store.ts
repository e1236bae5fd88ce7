/**
 * The ready list of a durable queue, backed by its MessageStore: what the queue sees as a
 * ReadyList<Envelope> is the store's compact ref index plus the bodies in segment files, so a deep
 * queue holds about 13 bytes per message in RAM instead of an Envelope and a Message.
 *
 * Envelopes are made when a message reaches the head (shift/peek). Only envelopes that carry state
 * the store does not keep are held in memory ("pinned", by ref): the head after a peek(), and
 * requeued messages (their delivery count, and a message rewritten with x-delivery-count), bounded
 * by the unacked window. A message with an expiry time is not pinned: its record keeps the enqueue
 * time its TTL counts from, so the envelope made at the head has the right expiry, and the queue
 * tracks per-message expirations by ref (isReadyRef/expireRef, an expiry heap of typed arrays).
 * (A priority level store tracks them by ref and level, PriorityStoreList.expiryKey; `pinExpiring`
 * keeps such envelopes pinned instead.)
 *
 * Settlement: the queue calls ack() for a message that leaves it after being shifted (ack, reject,
 * expiry, overflow drop, noAck delivery), and tombstone()/expireRef() for a ready message expired
 * in place (per-message TTL): that one is acked now, no longer counted in `length`, and skipped
 * without a second ack when it reaches the head.
 *
 * Across a restart: a record keeps the time the message entered the queue (its TTL counts from
 * then), and the store keeps each returned message's delivery count, both handed back to the
 * queue through the envelope factory.
 */
import type { Message } from '../message.js'
import { effectiveTtl } from '../queue-settings.js'
import type { Envelope, FlowWaiter } from '../queue.js'
import type { DurableWaiter, MessageStore } from './message-store.js'
import type { DurableSource } from './message-store-options.js'
import { storeFlow, type StoredList } from './stored-list.js'

/** Builds the envelope of a message read back from the store (ref, redelivered flag, return count). */
export type EnvelopeFactory = (message: Message, ref: number, redelivered: boolean, deliveryCount: number) => Envelope

/** A queue's ready list kept in a MessageStore (see the file comment). */
export class StoreList implements StoredList, DurableWaiter {
  private readonly pinned = new Map<number, Envelope>()
  /** refs already acked while still in the ready index (expired in place) */
  private readonly tombs = new Set<number>()
  /** set when the queue is deleted: the store is about to be destroyed, write nothing more */
  detached = false
  /** publishers paused until the store's pending batch is written (storeFlow) */
  private flowWaiters: Set<FlowWaiter> | null = null

  constructor(
    readonly store: MessageStore,
    private readonly make: EnvelopeFactory,
    /**
     * stores that took a persistent message during the current publish (the vhost's list, read
     * by the channel to hold the publisher confirm until they are durable)
     */
    private readonly touched: DurableSource[],
    /** keep the envelopes of messages with an expiry in memory (see the file comment) */
    private readonly pinExpiring = false,
  ) {}

  get expiresByRef(): boolean {
    return !this.pinExpiring
  }

  get length(): number {
    return this.store.readyCount - this.tombs.size
  }

  get readyBytes(): number {
    return this.store.readyBytes
  }
  get pendingBytes(): number {
    return this.store.pendingBytes
  }
  get persistentCount(): number {
    return this.store.readyPersistent
  }
  get dir(): string {
    return this.store.dir
  }

  push(env: Envelope): void {
    const s = this.store
    const m = env.message
    // the record keeps the enqueue time: the TTL is counted from it again after a restart
    env.ref = s.append(m, env.expiresAt === 0 ? m.timestamp : env.expiresAt - effectiveTtl(env.queue.settings.messageTtl, m.ttl))
    if (env.expiresAt !== 0 && this.pinExpiring) this.pinned.set(env.ref, env)
    if (s.durable && env.message.deliveryMode === 2 && this.touched[this.touched.length - 1] !== s) this.touched.push(s)
  }

  /** Drops expired-in-place (already acked) entries at the head; returns the head ref or -1. */
  private skipTombs(): number {
    const s = this.store
    let head = s.headRef
    while (head >= 0 && this.tombs.size > 0 && this.tombs.delete(head)) {
      s.shiftRef()
      this.pinned.delete(head)
      head = s.headRef
    }
    return head
  }

  shift(): Envelope | undefined {
    const s = this.store
    let env: Envelope | undefined
    let ref: number
    for (;;) {
      const head = this.skipTombs()
      if (head < 0) return undefined
      env = this.pinned.get(head)
      ref = head
      if (env !== undefined) {
        s.shiftRef()
        s.markDelivered(ref)
        break
      }
      // shift() may skip unreadable records (logged and acked): the ref is the one it returns
      const msg = s.shift()
      if (msg === undefined) return undefined
      ref = s.shiftedRef
      if (this.tombs.delete(ref)) continue // behind an unreadable one: already acked
      env = this.pinned.get(ref) ?? this.make(msg, ref, false, s.deliveryCount(ref))
      break
    }
    this.pinned.delete(ref)
    env.ref = ref
    if (s.shiftedRedelivered) env.redelivered = true
    return env
  }

  peek(): Envelope | undefined {
    const s = this.store
    const head = this.skipTombs()
    if (head < 0) return undefined
    const pinned = this.pinned.get(head)
    if (pinned !== undefined) return pinned
    const msg = s.peek()
    if (msg === undefined) return undefined
    // pinned so that the shift() after a peek() returns this very object
    const env = this.make(msg, s.headRef, false, s.deliveryCount(s.headRef))
    env.ref = s.headRef
    this.pinned.set(env.ref, env)
    return env
  }

  requeue(env: Envelope): void {
    const s = this.store
    s.requeue(env.ref, env.message.bodySize, env.message)
    this.pinned.set(env.ref, env)
    // x-delivery-count and x-delivery-limit keep counting after a restart
    if (s.durable && env.message.deliveryMode === 2 && !this.detached) s.setDeliveryCount(env.ref, env.deliveryCount)
  }

  /** Drops every ready message from the store (durably, for a purge). */
  clear(): void {
    this.pinned.clear()
    if (this.detached) return
    const s = this.store
    for (let ref = s.shiftRef(); ref >= 0; ref = s.shiftRef()) {
      if (!this.tombs.delete(ref)) s.ack(ref, s.shiftedSize)
    }
    this.tombs.clear()
    s.purge()
  }

  shiftOldest(): Envelope | undefined {
    return this.shift()
  }

  /** A shifted message left the queue: delete it from the store. */
  ack(env: Envelope): void {
    if (!this.detached) this.store.ack(env.ref, env.message.bodySize)
  }

  /** A ready message expired where it sits (it stays in the index until it reaches the head). */
  tombstone(env: Envelope): boolean {
    if (this.detached) return false
    this.store.ack(env.ref, env.message.bodySize)
    this.tombs.add(env.ref)
    this.pinned.delete(env.ref)
    return false
  }

  expiryKey(env: Envelope): number {
    return env.ref
  }

  isReadyRef(ref: number): boolean {
    return !this.tombs.has(ref) && this.store.isReady(ref)
  }

  expireRef(ref: number): Envelope | undefined {
    if (this.detached || !this.isReadyRef(ref)) return undefined
    const s = this.store
    let env = this.pinned.get(ref)
    if (env === undefined) {
      let msg: Message
      try {
        msg = s.read(ref)
      } catch {
        return undefined // reported and dropped when the queue reaches it
      }
      env = this.make(msg, ref, false, s.deliveryCount(ref))
      env.ref = ref
    }
    this.tombstone(env)
    return env
  }

  /** Envelopes held in memory (a purge marks them gone without reading the whole store). */
  pinnedEnvelopes(): IterableIterator<Envelope> {
    return this.pinned.values()
  }

  /** Every ready message, head first, read back from disk (O(n): use page() for listings). */
  [Symbol.iterator](): Iterator<Envelope> {
    return this.from(0)
  }

  page(skip: number, count: number): Envelope[] {
    const out: Envelope[] = []
    if (count <= 0) return out
    for (const env of this.from(skip)) if (out.push(env) >= count) break
    return out
  }

  private *from(skip: number): Generator<Envelope> {
    const s = this.store
    for (const e of s.readyEntries(skip)) {
      if (this.tombs.has(e.ref)) continue
      const pinned = this.pinned.get(e.ref)
      if (pinned !== undefined) {
        yield pinned
        continue
      }
      let msg: Message
      try {
        msg = s.read(e.ref)
      } catch {
        continue // reported when the queue reaches it
      }
      const env = this.make(msg, e.ref, (e.flags & 1) !== 0, s.deliveryCount(e.ref))
      env.ref = e.ref
      yield env
    }
  }

  recoverExpiring(): Envelope[] {
    const s = this.store
    const out: Envelope[] = []
    for (const ref of s.takeRecoveredExpiring()) {
      let msg: Message
      try {
        msg = s.read(ref)
      } catch {
        continue // reported and dropped when the queue reaches it
      }
      const env = this.make(msg, ref, false, s.deliveryCount(ref))
      env.ref = ref
      // by ref otherwise: the queue keeps (ref, expiry) only, not the envelope
      if (this.pinExpiring) this.pinned.set(ref, env)
      out.push(env)
    }
    return out
  }

  messageStores(): MessageStore[] {
    return [this.store]
  }

  throttle(publisher: FlowWaiter): void {
    if (this.store.pendingBytes <= storeFlow.high || this.detached) return
    if (this.flowWaiters === null) {
      this.flowWaiters = new Set()
      this.store.addWaiter(this)
    }
    if (!this.flowWaiters.has(publisher)) {
      this.flowWaiters.add(publisher)
      publisher.blockFlow()
    }
  }

  /** @internal DurableWaiter: a batch is written; resume publishers once under the low-water mark. */
  storeDurable(store: MessageStore): void {
    if (this.flowWaiters === null) return
    if (store.pendingBytes > storeFlow.low && !this.detached) store.addWaiter(this)
    else this.releaseFlow()
  }

  /** @internal DurableWaiter: the store failed; nothing will drain, so nobody may stay paused. */
  storeFailed(): void {
    this.releaseFlow()
  }

  private releaseFlow(): void {
    const ws = this.flowWaiters
    this.flowWaiters = null
    if (ws !== null) for (const w of ws) w.resumeFlow()
  }

  close(): Promise<void> {
    this.releaseFlow()
    return this.store.close()
  }

  destroy(): Promise<void> {
    this.releaseFlow()
    return this.store.destroy()
  }
}
