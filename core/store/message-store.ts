/**
 * The durable store of one queue, in the spirit of LavinMQ's per-queue MessageStore: messages are
 * appended to segment files (segment-log.ts), deletions go to per-segment ack files (ack-log.ts),
 * and a segment whose records are all acked is deleted. In memory there is only a compact index
 * of the ready messages (ref-index.ts, 13 bytes each) and a bounded cache of message objects at
 * the head of the queue, so a deep queue does not hold its bodies in RAM: they are read back from
 * the segment files (page cache, read-ahead) when they reach the head.
 *
 * Every message of the queue goes through the store, persistent or not, so that a deep queue of
 * transient messages is bounded too; only records flagged persistent (delivery-mode 2 in a
 * durable store) are fsync'd and recovered at boot (RabbitMQ drops transient messages on restart).
 *
 * Redelivered after a restart: the store persists a "delivered" watermark, the highest location
 * handed out by shift() (ack-log.ts). Recovered messages at or below it come back with
 * redelivered=true; RabbitMQ does the same with per-message delivery marks in its queue index.
 * Delivery is in order, so the watermark is exact for FIFO queues; where a queue delivers out of
 * order (priorities) it can only over-report, which 0-9-1 allows ("may have been delivered").
 *
 * Confirms: `lastSeq` after append() is the sequence number to wait for; waiters registered with
 * addWaiter() are called once, when the batch holding it is durable (one call per batch, not
 * per message). A publisher confirm for the message may be sent once `durableSeq >= seq`.
 */
import { mkdirSync, rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { Deque } from '../deque.js'
import type { Message } from '../message.js'
import { AckLog } from './ack-log.js'
import { DeliveryCounts } from './delivery-counts.js'
import { decodeMessage, encodeMessage, messageRecordSize, recordTimestamp } from './message-codec.js'
import { FLAG_PERSISTENT, FLAG_REDELIVERED, RefIndex, type RefEntry } from './ref-index.js'
import { DurableWaiters } from './durable-waiters.js'
import type { DurableWaiter, MessageStoreOptions } from './message-store-options.js'
import { LogUnavailableError, SegmentLog, locSegment, type RecordEncoder, type SegmentLogListener } from './segment-log.js'
import { StoreRecoverer, collectAtBoot, newStoreRecovery, type SegState, type StoreRecovery } from './store-recovery.js'

export type { StoreRecovery } from './store-recovery.js'
export type { DurableLog, DurableWaiter, MessageStoreOptions } from './message-store-options.js'
/** A failed log is tried again at most this often (each try reads its tail back from disk). */
const RECOVER_INTERVAL_MS = 1000
/** Estimated bytes of a cached Message beyond its data (object, Buffer header, strings). */
const MESSAGE_OVERHEAD = 200
const SPLIT = 2 ** 32

/** One queue's store (see the file comment); open with MessageStore.open. */
export class MessageStore implements SegmentLogListener, RecordEncoder {
  /** messages held: ready + delivered and not yet acked */
  count = 0
  /** body bytes of the messages held */
  bytes = 0
  /** ref, body size and redelivered flag of the message the last shift()/shiftRef() returned */
  shiftedRef = -1
  shiftedSize = 0
  shiftedRedelivered = false
  readonly durable: boolean
  readonly recovery: StoreRecovery
  private readonly ready = new RefIndex()
  private readonly segLog: SegmentLog
  private readonly acks: AckLog | null
  private readonly segs = new Map<number, SegState>()
  private lastSegId = -1
  private lastSeg: SegState | null = null
  /** message objects of the first cache.length ready entries */
  private readonly cache = new Deque<Message>(16)
  private cacheCost = 0
  private readonly cacheBudget: number
  private peekedRef = -1
  private peekedMsg: Message | null = null
  private readonly waiters = new DurableWaiters()
  private readonly gcPending: number[] = []
  private encoding: Message | null = null
  private encodingPersistent = false
  private encodingTimestamp = 0
  /** return counts of messages (durable stores; x-delivery-count across restarts) */
  private readonly counts: DeliveryCounts | null
  private recoveredExpiring: number[] | null
  private lastRecoverAt = -Infinity

  private constructor(readonly dir: string, private readonly log: Logger, o: MessageStoreOptions) {
    this.durable = o.durable ?? true
    this.cacheBudget = o.cacheBytes ?? 8 * 1024 * 1024
    this.recovery = newStoreRecovery()
    if (!this.durable) rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    this.acks = this.durable ? new AckLog({ dir, log, syncIntervalMs: o.ackSyncIntervalMs }) : null
    const t0 = performance.now()
    this.counts = this.durable ? new DeliveryCounts(dir, log) : null
    const loaded = this.counts?.load() ?? null
    const delivered = this.acks?.loadDelivered() ?? -1
    const rec = new StoreRecoverer(this.ready, this.segs, this.acks, delivered, this.recovery, loaded, o.expiring)
    this.segLog = SegmentLog.open(
      { dir, log, segmentSize: o.segmentSize, batchBytes: o.batchBytes, sync: this.durable, stats: o.stats, io: o.io, readBlock: o.readBlock },
      rec,
    )
    this.segLog.setListener(this)
    this.count = rec.count
    this.bytes = rec.bytes
    this.counts?.recovered(rec.liveCounts)
    this.recoveredExpiring = rec.expiring.length > 0 ? rec.expiring : null
    collectAtBoot(this.segLog, this.acks, this.segs, this.recovery)
    Object.assign(this.recovery, this.segLog.recovery)
    this.recovery.messages = this.count
    this.recovery.messageBytes = this.bytes
    this.recovery.ms = Math.round(performance.now() - t0)
    if (this.recovery.records > 0) log.info({ dir, ...this.recovery }, 'recovered queue store')
  }

  /** Opens the store in `dir`, recovering its messages (durable) or wiping it (not durable). */
  static open(options: MessageStoreOptions): MessageStore {
    return new MessageStore(options.dir, options.log, options)
  }

  /** Ready messages (not delivered, or requeued). */
  get readyCount(): number {
    return this.ready.length
  }
  /** Ready persistent messages (delivery-mode 2), kept in the index's flags. */
  get readyPersistent(): number {
    return this.ready.persistent
  }
  /** Body bytes of the ready messages. */
  get readyBytes(): number {
    return this.ready.bytes
  }
  /** Sequence number of the last append: wait for durableSeq to reach it before confirming. */
  get lastSeq(): number {
    return this.segLog.appendSeq
  }
  /** Every append with a sequence number up to this one is on disk. */
  get durableSeq(): number {
    return this.segLog.durableSeq
  }
  /** Bytes appended and not yet durable (backpressure: block publishers when it keeps growing). */
  get pendingBytes(): number {
    return this.segLog.pendingBytes
  }
  /** Bytes in segment files. */
  get diskBytes(): number {
    return this.segLog.diskBytes
  }
  /** Segment files. */
  get segmentCount(): number {
    return this.segLog.segmentIds().length
  }

  /**
   * Appends a message at the tail of the queue; returns its ref. A persistent message in a
   * durable store is fsync'd with the current batch (see lastSeq / addWaiter).
   */
  append(msg: Message, timestamp = msg.timestamp): number {
    if (this.segLog.failure !== null) this.recoverLog()
    const persistent = this.durable && msg.deliveryMode === 2
    const len = messageRecordSize(msg)
    this.encoding = msg
    this.encodingPersistent = persistent
    this.encodingTimestamp = timestamp
    let ref: number
    try {
      ref = this.segLog.appendEncoded(len, this, persistent)
    } catch (err) {
      // a new segment could not be created (full disk): the message is refused, the store lives on
      if (this.segLog.failure !== null) throw new LogUnavailableError(`queue store ${this.dir} cannot write: ${(err as Error).message}`, { cause: err })
      throw err
    } finally {
      this.encoding = null
    }
    const id = locSegment(ref)
    if (id !== this.lastSegId) this.enterSegment(id)
    this.lastSeg!.total++
    const size = msg.bodySize
    const cost = msg.data.length + MESSAGE_OVERHEAD
    // the cache stays a prefix of the ready index: once a message is not cached, nothing after it is
    if (this.cache.length === this.ready.length && this.cacheCost + cost <= this.cacheBudget) {
      this.cache.push(msg)
      this.cacheCost += cost
    }
    this.ready.push(ref, size, msg.deliveryMode === 2 ? FLAG_PERSISTENT : 0)
    this.count++
    this.bytes += size
    return ref
  }

  /**
   * The log failed (a write or fdatasync error, typically a full disk): try to reopen it, at most
   * once a second; throws LogUnavailableError while it cannot take appends.
   */
  private recoverLog(): void {
    const now = performance.now()
    if (now - this.lastRecoverAt >= RECOVER_INTERVAL_MS) {
      this.lastRecoverAt = now
      if (this.segLog.recover()) return
    }
    throw new LogUnavailableError(`queue store ${this.dir} cannot write: ${this.segLog.failure!.message}`, { cause: this.segLog.failure })
  }

  /** @internal RecordEncoder: writes the message being appended. */
  encodeRecord(buf: Buffer, at: number): void {
    encodeMessage(this.encoding!, buf, at, this.encodingPersistent, this.encodingTimestamp)
  }

  private enterSegment(id: number): void {
    const prev = this.lastSegId
    this.lastSeg = { total: 0, dead: 0 }
    this.segs.set(id, this.lastSeg)
    this.lastSegId = id
    if (prev >= 0) this.maybeCollect(prev)
  }

  /**
   * Takes the head message for delivery (read back from disk unless cached); undefined when no
   * message is ready. Its ref, size and redelivered flag are in shiftedRef/shiftedSize/
   * shiftedRedelivered. It stays in the store until ack(); requeue() puts it back.
   */
  shift(): Message | undefined {
    for (;;) {
      const ref = this.ready.shift()
      if (ref < 0) return undefined
      const size = this.ready.shiftedSize
      let msg = this.takeCached(ref)
      if (msg === undefined) {
        msg = this.tryRead(ref)
        if (msg === undefined) {
          this.ack(ref, size)
          continue
        }
      }
      this.shiftedRef = ref
      this.shiftedSize = size
      this.shiftedRedelivered = (this.ready.shiftedFlags & FLAG_REDELIVERED) !== 0
      this.acks?.setDelivered(ref)
      if (this.ready.length === 0) this.segLog.releaseReadBuffer()
      return msg
    }
  }

  /** Ref of the head ready message, or -1 (a caller that holds the message itself uses shiftRef). */
  get headRef(): number {
    return this.ready.peek()
  }

  /** Whether the message at `ref` is ready (in the ready index; an acked one may still be, see StoreList). */
  isReady(ref: number): boolean {
    return this.ready.has(ref)
  }

  /** Records that `ref` was handed out (shiftRef of a message delivered from the caller's copy). */
  markDelivered(ref: number): void {
    this.acks?.setDelivered(ref)
  }

  /** Takes the head without reading it (max-length drop, expiry): ack() it next. Returns -1 when empty. */
  shiftRef(): number {
    const ref = this.ready.shift()
    if (ref < 0) return -1
    this.takeCached(ref)
    this.shiftedRef = ref
    this.shiftedSize = this.ready.shiftedSize
    this.shiftedRedelivered = (this.ready.shiftedFlags & FLAG_REDELIVERED) !== 0
    return ref
  }

  private takeCached(ref: number): Message | undefined {
    if (this.cache.length > 0) {
      const m = this.cache.shift()!
      this.cacheCost -= m.data.length + MESSAGE_OVERHEAD
      return m
    }
    if (this.peekedRef === ref) {
      const m = this.peekedMsg!
      this.peekedRef = -1
      this.peekedMsg = null
      return m
    }
    return undefined
  }

  /** The head message without taking it (TTL checks); undefined when none is ready. */
  peek(): Message | undefined {
    for (;;) {
      const ref = this.ready.peek()
      if (ref < 0) return undefined
      if (this.cache.length > 0) return this.cache.peek()
      if (this.peekedRef === ref) return this.peekedMsg!
      const msg = this.tryRead(ref)
      if (msg !== undefined) {
        this.peekedRef = ref
        this.peekedMsg = msg
        return msg
      }
      this.ready.shift()
      this.ack(ref, this.ready.shiftedSize)
    }
  }

  /** Reads the message at `ref` (throws RangeError or CorruptRecordError). */
  read(ref: number): Message {
    const v = this.segLog.view(ref)
    return decodeMessage(v, 0, v.length)
  }

  /** The timestamp field of the record at `ref`, without decoding the message (a delayed message's due time). */
  recordTimestamp(ref: number): number {
    return recordTimestamp(this.segLog.view(ref))
  }

  private tryRead(ref: number): Message | undefined {
    try {
      return this.read(ref)
    } catch (err) {
      // a record that went bad after recovery: drop it rather than stop the queue (logged)
      this.log.error({ err, dir: this.dir, ref }, 'unreadable message dropped')
      return undefined
    }
  }

  /**
   * Puts a shifted message back in the ready index at its original place, marked redelivered.
   * `msg` (optional) keeps it cached in memory instead of reading it back.
   */
  requeue(ref: number, size: number, msg?: Message): void {
    const k = this.ready.insert(ref, size, FLAG_REDELIVERED | (msg?.deliveryMode === 2 ? FLAG_PERSISTENT : 0))
    if (msg !== undefined && k <= this.cache.length) {
      let i = 0
      this.cache.insertOrdered(msg, () => i++ < k)
      this.cacheCost += msg.data.length + MESSAGE_OVERHEAD
    } else {
      while (this.cache.length > k) this.cacheCost -= this.cache.pop()!.data.length + MESSAGE_OVERHEAD
    }
  }

  /**
   * Durably deletes a shifted message (ack, reject, expiry, overflow drop). Each ref must be
   * acked once. A segment with nothing live left is deleted (not the one being appended to).
   */
  ack(ref: number, size: number): void {
    const id = Math.floor(ref / SPLIT)
    this.acks?.ack(id, ref - id * SPLIT)
    if (this.counts !== null && this.counts.live.size > 0) this.counts.delete(ref)
    this.count--
    this.bytes -= size
    const st = id === this.lastSegId ? this.lastSeg : this.segs.get(id)
    if (st === undefined || st === null) return
    st.dead++
    if (st.dead >= st.total) this.maybeCollect(id)
  }

  /** Acks every ready message; returns how many. Delivered ones stay until acked. */
  purge(): number {
    let n = 0
    for (let ref = this.shiftRef(); ref >= 0; ref = this.shiftRef()) {
      this.ack(ref, this.shiftedSize)
      n++
    }
    this.peekedRef = -1
    this.peekedMsg = null
    return n
  }

  private maybeCollect(id: number): void {
    const st = this.segs.get(id)
    if (st === undefined || st.dead < st.total || id === this.segLog.activeSegment) return
    // the segment file goes first: a crash before its ack file is deleted only leaves an orphan
    if (!this.segLog.deleteSegment(id)) {
      if (!this.gcPending.includes(id)) this.gcPending.push(id)
      return
    }
    this.acks?.remove(id)
    this.segs.delete(id)
  }

  /** Times the message at `ref` was returned to the queue (0 unless recorded, durable stores only). */
  deliveryCount(ref: number): number {
    return this.counts === null || this.counts.live.size === 0 ? 0 : (this.counts.live.get(ref) ?? 0)
  }
  /** Records (durably, with the ack cadence) that the message at `ref` was returned `n` times. */
  setDeliveryCount(ref: number, n: number): void {
    this.counts?.set(ref, n)
  }

  /** Once after open: refs of recovered messages selected by the `expiring` option, oldest first. */
  takeRecoveredExpiring(): number[] {
    const r = this.recoveredExpiring
    return r === null ? [] : ((this.recoveredExpiring = null), r)
  }

  /** Registers a one-shot waiter for the next completed batch. */
  addWaiter(w: DurableWaiter): void {
    this.waiters.add(w)
  }

  /** @internal SegmentLogListener */
  logDurable(durableSeq: number): void {
    if (this.gcPending.length > 0) for (const id of this.gcPending.splice(0)) this.maybeCollect(id)
    this.waiters.durable(this, durableSeq)
  }

  /** @internal SegmentLogListener */
  logFailed(err: Error): void {
    this.waiters.failed(this, err)
  }

  /** Ready entries head first, from position `from` (tests and listings; allocates). */
  readyEntries(from = 0): IterableIterator<RefEntry> {
    return this.ready.entries(from)
  }

  /** Memory of the ready index's typed arrays (reporting). */
  get indexBytes(): number {
    return this.ready.capacityBytes
  }

  /** Flushes and closes the files; a durable store keeps them for the next open. */
  async close(): Promise<void> {
    await this.segLog.close()
    this.acks?.close()
    this.counts?.close()
  }

  /** Closes and deletes every file (queue.delete, or a transient queue going away). */
  async destroy(): Promise<void> {
    await this.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
