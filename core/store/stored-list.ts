/**
 * What a queue sees of a ready list whose messages live (at least partly) in message stores: a
 * durable FIFO queue (StoreList), a durable priority queue (PriorityStoreList, one store per
 * level) and a transient queue that pages its backlog to disk (PagedList) all look like this.
 */
import type { FlowWaiter, Envelope } from '../queue.js'
import type { ReadyList } from '../ready-list.js'
import type { MessageStore } from './message-store.js'

/** A ready list backed by message stores (see the file comment). */
export interface StoredList extends ReadyList<Envelope> {
  /** set when the queue is deleted: its stores are about to be destroyed, write nothing more */
  detached: boolean
  /** body bytes of the ready messages (the queue's readyBytes at open) */
  readonly readyBytes: number
  /** ready persistent messages (management API), without reading any message */
  readonly persistentCount: number
  /** bytes appended to the stores and not yet written/synced (publisher flow control) */
  readonly pendingBytes: number
  /** the directory holding the stores */
  readonly dir: string
  /** a shifted message left the queue: delete it from its store */
  ack(env: Envelope): void
  /**
   * a ready message expired where it sits (per-message TTL): deleted now, skipped at the head.
   * Returns true when its envelope stays in the list as a tombstone the queue counts (an
   * in-memory one), false when the list skips it by itself (not counted in `length` any more).
   */
  tombstone(env: Envelope): boolean
  /**
   * true: the ready messages in a store (ref >= 0) are not kept in memory for their expiry; the
   * queue tracks them by ref (isReadyRef/expireRef). false: it keeps their envelopes (pinned).
   */
  readonly expiresByRef: boolean
  /**
   * the key the queue tracks a stored (ref >= 0) envelope's expiry by, for isReadyRef/expireRef:
   * its ref, or for per-level stores its ref and level (refs are unique only within a level)
   */
  expiryKey(env: Envelope): number
  /** whether the stored message at `ref` (an expiryKey) is still ready (not delivered, settled or expired) */
  isReadyRef(ref: number): boolean
  /**
   * The ready stored message at `ref` expired where it sits: deleted now (as tombstone() does) and
   * returned, read back, for dead-lettering; undefined when it is no longer ready.
   */
  expireRef(ref: number): Envelope | undefined
  /** envelopes held in memory (a purge marks them gone without reading the stores) */
  pinnedEnvelopes(): Iterable<Envelope>
  /** pauses `publisher` while the stores' unwritten batches are over the high-water mark */
  throttle(publisher: FlowWaiter): void
  /** ready messages from position `skip` in delivery order, at most `count` (reads only those) */
  page(skip: number, count: number): Envelope[]
  /** once after open: recovered messages whose expiry does not follow queue order (pinned unless expiresByRef) */
  recoverExpiring(): Envelope[]
  /** every store currently open (tests, stats) */
  messageStores(): MessageStore[]
  /** flushes and closes the stores (a durable one keeps its files) */
  close(): Promise<void>
  /** closes the stores and deletes their files */
  destroy(): Promise<void>
}

/**
 * Store flow control thresholds, in bytes of unwritten batch (RabbitMQ blocks publishers with
 * credit flow when its message store falls behind; this is the same idea on the store's pending
 * group-commit bytes). Mutable so that tests can lower them.
 */
export const storeFlow = { high: 64 * 1024 * 1024, low: 16 * 1024 * 1024 }
