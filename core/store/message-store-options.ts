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
  /** bytes read ahead when reading a message back (default 64 KiB; small for stores read out of order) */
  readBlock?: number
  /** recovered messages to list in takeRecoveredExpiring() (default none) */
  expiring?: ExpiringMode
}

/**
 * Something a publisher confirm may wait for: a message store, a stream's log
 * (core/stream/stream-log.ts) or a deduplication window's log (core/dedup/dedup-log.ts). Appends are numbered; `durableSeq` reaching `lastSeq` means on disk.
 */
export interface DurableLog {
  /** sequence number of the last append */
  readonly lastSeq: number
  /** every append up to this sequence number is durable */
  readonly durableSeq: number
  /** registers a one-shot waiter for the next completed batch */
  addWaiter(w: DurableWaiter): void
}

/** A publisher (channel) waiting for durability; called once per registration. */
export interface DurableWaiter {
  storeDurable(store: DurableLog, durableSeq: number): void
  storeFailed(store: DurableLog, err: Error): void
  /**
   * The append numbered `seq` was refused (a queue on another node at its length limit with
   * reject-publish, core/cluster/remote-acceptance.ts): its publish is nacked. Optional: told to the
   * waiters registered at the time, without ending their registration.
   */
  storeRefused?(store: DurableLog, seq: number): void
}
