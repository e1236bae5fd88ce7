/**
 * The options of a MessageStore and the interface of a publisher waiting for its group commit
 * (kept apart from message-store.ts so that file stays about the store itself).
 */
import type { Logger } from 'pino'
import type { BatchIo, LogStats } from './segment-log.js'
import type { ExpiringMode } from './store-recovery.js'

/** Where and how a MessageStore keeps its files. */
export interface MessageStoreOptions {
  dir: string
  log: Logger
  /** persistent messages survive restarts (default true); false: scratch files, wiped at open, no fsync */
  durable?: boolean
  /** segment file size (default 32 MiB) */
  segmentSize?: number
  /** group-commit batch size that triggers an immediate write (default 1 MiB) */
  batchBytes?: number
  /** memory for message objects kept at the head of the queue (default 8 MiB, estimated) */
  cacheBytes?: number
  /** longest time an ack stays unsynced (default 1000 ms) */
  ackSyncIntervalMs?: number
  /** counters of the segment log (appends, writes, fdatasyncs) */
  stats?: LogStats
  /** asynchronous write/fdatasync of the segment log (tests inject failures here) */
  io?: BatchIo
  /** recovered messages to list in takeRecoveredExpiring() (default none) */
  expiring?: ExpiringMode
}

/** A publisher (channel) waiting for durability; called once per registration. */
export interface DurableWaiter {
  storeDurable(store: DurableSource, durableSeq: number): void
  storeFailed(store: DurableSource, err: Error): void
}

/**
 * Something a publish may have to wait for before its confirm: a queue's MessageStore or a stream's
 * log (core/stream/stream-log.ts). `lastSeq` after the append is the number to wait for.
 */
export interface DurableSource {
  readonly lastSeq: number
  readonly durableSeq: number
  /** `w` is called once, when the batch in progress is durable (or failed) */
  addWaiter(w: DurableWaiter): void
}
