/**
 * The ready list of a durable queue, backed by its MessageStore: what the queue sees as a
 * ReadyList<Envelope> is the store's compact ref index plus the bodies in segment files, so a deep
 * queue holds about 13 bytes per message in RAM instead of an Envelope and a Message.
 *
 * Envelopes are made when a message reaches the head (shift/peek). Only envelopes that carry state
 * the store does not keep are held in memory ("pinned", by ref): messages with an expiry time (the
 * queue's expiry heap points at them, and their TTL counts from the enqueue time, not the publish
 * time), and requeued messages (their delivery count, and a message rewritten with
 * x-delivery-count). Both are bounded in practice by TTL'd backlogs and the unacked window.
 *
 * Settlement: the queue calls ack() for a message that leaves it after being shifted (ack, reject,
 * expiry, overflow drop, noAck delivery), and tombstone() for a ready message expired in place
 * (per-message TTL): that one is acked now and skipped without a second ack when it reaches the
 * head.
 */
import type { Message } from '../message.js'
import type { ReadyList } from '../ready-list.js'
import type { Envelope } from '../queue.js'
import type { MessageStore } from './message-store.js'

/** Builds the envelope of a message read back from the store (ref, redelivered flag). */
export type EnvelopeFactory = (message: Message, ref: number, redelivered: boolean) => Envelope

/** A queue's ready list kept in a MessageStore (see the file comment). */
export class StoreList implements ReadyList<Envelope> {
  private readonly pinned = new Map<number, Envelope>()
  /** refs already acked while still in the ready index (expired in place) */
  private readonly tombs = new Set<number>()
  /** set when the queue is deleted: the store is about to be destroyed, write nothing more */
  detached = false

  constructor(
    readonly store: MessageStore,
    private readonly make: EnvelopeFactory,
    /**
     * stores that took a persistent message during the current publish (the vhost's list, read
     * by the channel to hold the publisher confirm until they are durable)
     */
    private readonly touched: MessageStore[],
  ) {}

  get length(): number {
    return this.store.readyCount
  }

  push(env: Envelope): void {
    const s = this.store
    env.ref = s.append(env.message)
    if (env.expiresAt !== 0) this.pinned.set(env.ref, env)
    if (s.durable && env.message.deliveryMode === 2 && this.touched[this.touched.length - 1] !== s) this.touched.push(s)
  }

  shift(): Envelope | undefined {
    const s = this.store
    const head = s.headRef
    if (head < 0) return undefined
    let env = this.pinned.get(head)
    let ref = head
    if (env !== undefined) {
      s.shiftRef()
      if (!this.tombs.delete(ref)) s.markDelivered(ref)
    } else {
      // shift() may skip unreadable records (logged and acked): the ref is the one it returns
      const msg = s.shift()
      if (msg === undefined) return undefined
      ref = s.shiftedRef
      env = this.pinned.get(ref) ?? this.make(msg, ref, false)
      this.tombs.delete(ref)
    }
    this.pinned.delete(ref)
    env.ref = ref
    if (s.shiftedRedelivered) env.redelivered = true
    return env
  }

  peek(): Envelope | undefined {
    const s = this.store
    const head = s.headRef
    if (head < 0) return undefined
    const pinned = this.pinned.get(head)
    if (pinned !== undefined) return pinned
    const msg = s.peek()
    if (msg === undefined) return undefined
    // pinned so that the shift() after a peek() returns this very object
    const env = this.make(msg, s.headRef, false)
    env.ref = s.headRef
    this.pinned.set(env.ref, env)
    return env
  }

  requeue(env: Envelope): void {
    this.store.requeue(env.ref, env.message.bodySize, env.message)
    this.pinned.set(env.ref, env)
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
  tombstone(env: Envelope): void {
    if (this.detached) return
    this.store.ack(env.ref, env.message.bodySize)
    this.tombs.add(env.ref)
  }

  /** Envelopes held in memory (a purge marks them gone without reading the whole store). */
  pinnedEnvelopes(): IterableIterator<Envelope> {
    return this.pinned.values()
  }

  /** Every ready message, head first, read back from disk (management listings; O(n)). */
  *[Symbol.iterator](): Iterator<Envelope> {
    const s = this.store
    for (const e of s.readyEntries()) {
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
      const env = this.make(msg, e.ref, (e.flags & 1) !== 0)
      env.ref = e.ref
      yield env
    }
  }
}
