/**
 * The ready list of a transient (non-durable or exclusive) FIFO queue: messages stay in memory
 * while the queue is shallow, and once more than `maxMessages` or `maxBytes` of bodies are ready,
 * later messages go to a transient MessageStore (no fsync, wiped at open, deleted with the queue
 * or at the next start), so a deep backlog costs the store's compact index instead of an
 * Envelope and a Message each. RabbitMQ pages transient messages of a deep queue to disk too
 * (classic queues v2 keep only a bounded head in memory).
 *
 * Order: the memory part is always older than the store part. Once paging starts, new messages
 * go to the store until every message in it is settled (count, not just ready, reaches 0), so a
 * requeued message always goes back to the part it came from (ref >= 0: the store) in its place.
 */
import { FifoList } from '../ready-list.js'
import type { Envelope, FlowWaiter } from '../queue.js'
import type { MessageStore } from './message-store.js'
import type { StoreList } from './queue-store.js'
import type { StoredList } from './stored-list.js'

/** When a transient queue starts paging. Mutable so that tests can lower them. */
export const pagingLimits = { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024 }

/**
 * What the in-memory parts count against pagingLimits: one pager's own, or shared by the per-level
 * pagers of a transient priority queue, so the whole queue keeps at most that much in memory.
 */
export interface PagingBudget {
  messages: number
  bytes: number
}

/** Opens the transient store (null: cannot, e.g. the broker is shutting down; stay in memory). */
export type PageStoreOpener = () => StoreList | null

/** See the file comment. */
export class PagedList implements StoredList {
  private readonly mem = new FifoList<Envelope>()
  private memBytes = 0
  private list: StoreList | null = null
  private isDetached = false

  constructor(
    private readonly open: PageStoreOpener,
    private readonly budget: PagingBudget = { messages: 0, bytes: 0 },
  ) {}

  private memIn(env: Envelope): void {
    const size = env.message.bodySize
    this.memBytes += size
    this.budget.messages++
    this.budget.bytes += size
  }
  private memOut(env: Envelope): void {
    const size = env.message.bodySize
    this.memBytes -= size
    this.budget.messages--
    this.budget.bytes -= size
  }

  get detached(): boolean {
    return this.isDetached
  }
  set detached(v: boolean) {
    this.isDetached = v
    if (this.list !== null) this.list.detached = v
  }
  get length(): number {
    return this.mem.length + (this.list === null ? 0 : this.list.length)
  }
  get readyBytes(): number {
    return this.memBytes + (this.list === null ? 0 : this.list.readyBytes)
  }
  get persistentCount(): number {
    // the memory part is bounded by pagingLimits.maxMessages
    let n = this.list === null ? 0 : this.list.persistentCount
    for (const env of this.mem) if (env.state !== 2 && env.message.persistent) n++
    return n
  }
  get pendingBytes(): number {
    return this.list === null ? 0 : this.list.pendingBytes
  }
  get dir(): string {
    return this.list === null ? '' : this.list.dir
  }
  /** Messages paged out (ready or delivered and unacked). */
  get pagedCount(): number {
    return this.list === null ? 0 : this.list.store.count
  }

  push(env: Envelope): void {
    const size = env.message.bodySize
    let l = this.list
    if (l === null || l.store.count === 0) {
      const b = this.budget
      if (b.messages < pagingLimits.maxMessages && b.bytes + size <= pagingLimits.maxBytes) {
        this.mem.push(env)
        this.memIn(env)
        return
      }
      if (l === null && !this.isDetached) l = this.list = this.open()
      if (l === null) {
        this.mem.push(env)
        this.memIn(env)
        return
      }
    }
    l.push(env)
  }

  shift(): Envelope | undefined {
    const env = this.mem.shift()
    if (env !== undefined) {
      this.memOut(env)
      return env
    }
    return this.list?.shift()
  }

  peek(): Envelope | undefined {
    return this.mem.peek() ?? this.list?.peek()
  }

  requeue(env: Envelope): void {
    if (env.ref >= 0 && this.list !== null) return this.list.requeue(env)
    this.mem.requeue(env)
    this.memIn(env)
  }

  clear(): void {
    this.budget.messages -= this.mem.length
    this.budget.bytes -= this.memBytes
    this.mem.clear()
    this.memBytes = 0
    this.list?.clear()
  }

  shiftOldest(): Envelope | undefined {
    return this.shift()
  }

  ack(env: Envelope): void {
    if (env.ref >= 0) this.list?.ack(env)
  }

  tombstone(env: Envelope): boolean {
    // an in-memory envelope stays in the list as the queue's tombstone; a paged one is deleted now
    if (env.ref >= 0 && this.list !== null) return this.list.tombstone(env)
    return true
  }

  /** paged messages are tracked by ref (the memory part is bounded by pagingLimits) */
  readonly expiresByRef = true
  expiryKey(env: Envelope): number {
    return env.ref
  }
  isReadyRef(ref: number): boolean {
    return this.list !== null && this.list.isReadyRef(ref)
  }
  expireRef(ref: number): Envelope | undefined {
    return this.list?.expireRef(ref)
  }

  *pinnedEnvelopes(): Iterable<Envelope> {
    yield* this.mem
    if (this.list !== null) yield* this.list.pinnedEnvelopes()
  }

  throttle(publisher: FlowWaiter): void {
    this.list?.throttle(publisher)
  }

  page(skip: number, count: number): Envelope[] {
    const out: Envelope[] = []
    let i = 0
    for (const env of this.mem) {
      if (out.length >= count) return out
      if (i++ >= skip) out.push(env)
    }
    if (this.list !== null && out.length < count) out.push(...this.list.page(Math.max(0, skip - this.mem.length), count - out.length))
    return out
  }

  recoverExpiring(): Envelope[] {
    return []
  }

  messageStores(): MessageStore[] {
    return this.list === null ? [] : [this.list.store]
  }

  *[Symbol.iterator](): Iterator<Envelope> {
    yield* this.mem
    if (this.list !== null) yield* this.list
  }

  async close(): Promise<void> {
    // transient: nothing to keep
    await this.destroy()
  }

  async destroy(): Promise<void> {
    const l = this.list
    this.list = null
    if (l !== null) await l.destroy()
  }
}
