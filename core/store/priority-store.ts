/**
 * The ready list of a durable priority queue (x-max-priority): one MessageStore per priority
 * level, in `<queue dir>/p<level>`, served highest level first, as the in-memory PriorityList
 * does with one FIFO per level. RabbitMQ's classic priority queues are built the same way (one
 * backing queue per priority). Each level is a plain StoreList, so ordering, requeue, the
 * delivered watermark and recovery are those of a FIFO store; a level's store is opened on its
 * first message (a queue with x-max-priority 255 that only sees priorities 0 and 5 has two).
 *
 * A transient priority queue uses the same list with a PagedList per level (a directory under
 * `<data>/paging/`): levels stay in memory until the queue as a whole holds pagingLimits, then
 * each level pages its later messages to its own transient store.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { Envelope, FlowWaiter } from '../queue.js'
import type { MessageStore } from './message-store.js'
import type { StoreList } from './queue-store.js'
import type { StoredList } from './stored-list.js'

/** expiryKey(): ref * KEY_LEVELS + level (x-max-priority is at most 255; refs stay far below 2^45) */
const KEY_LEVELS = 256

/** Opens (recovering) the store of one priority level in `dir`. */
export type LevelOpener<L extends StoredList = StoreList> = (level: number, dir: string) => L

/** Directory of priority level `level` inside the queue's directory. */
export function levelDir(dir: string, level: number): string {
  return path.join(dir, `p${level}`)
}

/** See the file comment. */
export class PriorityStoreList<L extends StoredList = StoreList> implements StoredList {
  /** opened levels, highest priority first, and their level numbers */
  private readonly lists: L[] = []
  private readonly levels: number[] = []
  private isDetached = false

  /** Opens every level already on disk in `dir` (recovering their messages). */
  constructor(
    readonly dir: string,
    readonly maxPriority: number,
    private readonly open: LevelOpener<L>,
    /** whether the level lists track expiring stored messages by ref (not pinned) */
    private readonly levelsExpireByRef = true,
  ) {
    if (!existsSync(dir)) return
    for (const f of readdirSync(dir)) {
      const m = /^p(\d+)$/.exec(f)
      if (m !== null && Number(m[1]) <= maxPriority) this.levelList(Number(m[1]))
    }
  }

  private levelList(level: number): L {
    const i = this.levels.indexOf(level)
    if (i >= 0) return this.lists[i]
    const list = this.open(level, levelDir(this.dir, level))
    list.detached = this.isDetached
    let k = 0
    while (k < this.levels.length && this.levels[k] > level) k++
    this.lists.splice(k, 0, list)
    this.levels.splice(k, 0, level)
    return list
  }

  private of(env: Envelope): L {
    return this.levelList(Math.min(env.priority, this.maxPriority))
  }

  get detached(): boolean {
    return this.isDetached
  }
  set detached(v: boolean) {
    this.isDetached = v
    for (const l of this.lists) l.detached = v
  }

  get length(): number {
    let n = 0
    for (const l of this.lists) n += l.length
    return n
  }
  get readyBytes(): number {
    let n = 0
    for (const l of this.lists) n += l.readyBytes
    return n
  }
  get persistentCount(): number {
    let n = 0
    for (const l of this.lists) n += l.persistentCount
    return n
  }
  get pendingBytes(): number {
    let n = 0
    for (const l of this.lists) n += l.pendingBytes
    return n
  }

  push(env: Envelope): void {
    this.of(env).push(env)
  }

  shift(): Envelope | undefined {
    // a level may hold only unreadable records (shift drops them): then the next level serves
    for (const l of this.lists) {
      if (l.length === 0) continue
      const env = l.shift()
      if (env !== undefined) return env
    }
    return undefined
  }

  peek(): Envelope | undefined {
    for (const l of this.lists) {
      if (l.length === 0) continue
      const env = l.peek()
      if (env !== undefined) return env
    }
    return undefined
  }

  requeue(env: Envelope): void {
    this.of(env).requeue(env)
  }

  clear(): void {
    for (const l of this.lists) l.clear()
  }

  shiftOldest(): Envelope | undefined {
    for (let i = this.lists.length - 1; i >= 0; i--) {
      const l = this.lists[i]
      if (l.length === 0) continue
      const env = l.shift()
      if (env !== undefined) return env
    }
    return undefined
  }

  ack(env: Envelope): void {
    this.of(env).ack(env)
  }

  tombstone(env: Envelope): boolean {
    return this.of(env).tombstone(env)
  }

  // refs are unique only within a level: the queue tracks expiries by (ref, level) in one number
  get expiresByRef(): boolean {
    return this.levelsExpireByRef
  }
  expiryKey(env: Envelope): number {
    return this.of(env).expiryKey(env) * KEY_LEVELS + Math.min(env.priority, this.maxPriority)
  }
  private byKey(key: number): [L | undefined, number] {
    const i = this.levels.indexOf(key % KEY_LEVELS)
    return [i < 0 ? undefined : this.lists[i], Math.floor(key / KEY_LEVELS)]
  }
  isReadyRef(key: number): boolean {
    const [l, ref] = this.byKey(key)
    return l !== undefined && l.isReadyRef(ref)
  }
  expireRef(key: number): Envelope | undefined {
    const [l, ref] = this.byKey(key)
    return l?.expireRef(ref)
  }

  *pinnedEnvelopes(): Iterable<Envelope> {
    for (const l of this.lists) yield* l.pinnedEnvelopes()
  }

  throttle(publisher: FlowWaiter): void {
    for (const l of this.lists) l.throttle(publisher)
  }

  page(skip: number, count: number): Envelope[] {
    const out: Envelope[] = []
    for (const l of this.lists) {
      if (out.length >= count) break
      const n = l.length
      if (skip >= n) {
        skip -= n
        continue
      }
      out.push(...l.page(skip, count - out.length))
      skip = 0
    }
    return out
  }

  recoverExpiring(): Envelope[] {
    return this.lists.flatMap((l) => l.recoverExpiring())
  }

  messageStores(): MessageStore[] {
    return this.lists.flatMap((l) => l.messageStores())
  }

  *[Symbol.iterator](): Iterator<Envelope> {
    for (const l of this.lists) yield* l
  }

  async close(): Promise<void> {
    await Promise.all(this.lists.map((l) => l.close()))
  }

  async destroy(): Promise<void> {
    await Promise.all(this.lists.map((l) => l.destroy()))
    rmSync(this.dir, { recursive: true, force: true })
  }
}
