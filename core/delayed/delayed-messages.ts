/**
 * The pending messages of one `x-delayed-message` exchange (rabbitmq-delayed-message-exchange's
 * interface) and the single timer that routes them when they are due.
 *
 * A durable exchange keeps its messages in a MessageStore of its own (segment files, group
 * commit, ack files: core/store), so the bodies stay on disk and RAM holds only the DelayHeap
 * index (20 bytes a message). Persistent messages are fdatasync'd before their publisher confirm
 * and recovered at boot (the store's scan rebuilds the index); transient ones are written without a
 * sync and dropped at restart, as a durable queue treats them. A non-durable exchange keeps its
 * messages in RAM.
 *
 * When messages are due they are routed in slices of at most ~5 ms with setImmediate between, so a
 * burst of due messages does not stall the sockets. A due message goes through the exchange again
 * and is routed at once by the `x-delayed-type` rules with the bindings of that moment; delayed
 * exchanges it meets on the way (exchange-to-exchange bindings) do not delay it again. Its
 * `x-delay` header is delivered as published: the plugin's swap_delay_header (x-delay set to minus
 * the delay) changes only its decoded copy of the headers, which RabbitMQ 3.10 does not send (the
 * original property bytes go out; checked against RabbitMQ 3.10.8 with the plugin). The store
 * forgets a routed persistent message only once every durable queue store it reached has synced,
 * so a crash in between delivers it again rather than never (at least once).
 */
import type { Exchange } from '../exchange.js'
import type { Message } from '../message.js'
import type { MessageStore } from '../store/message-store.js'
import type { DurableLog, DurableWaiter } from '../store/message-store-options.js'
import { storeCannotWrite } from '../store/segment-log.js'
import type { VHost } from '../vhost.js'
import { Decimal, type FieldValue } from '../wire/field-table.js'
import { DelayHeap } from './delay-heap.js'

/** The longest delay the plugin accepts (Erlang's timer limit); a longer one is routed at once. */
export const MAX_DELAY = 4294967295
/** setTimeout's limit is 2^31 - 1 ms: a later due time re-arms the timer on the way. */
const MAX_TIMER = 2 ** 30
/** Time budget of one routing slice, and the messages routed between clock checks. */
const SLICE_MS = 5
const SLICE_CHECK = 64

/**
 * The delay of a message as the plugin reads `x-delay` (rabbit_delayed_message_utils:get_delay):
 * an integer, a float (truncated) or a string of an integer. Returns 0 (route now) when the header
 * is absent, of another type, ≤ 0 or above {@link MAX_DELAY}. (The plugin crashes the channel on a
 * string that is not an integer; Warren routes it at once.)
 */
export function messageDelay(m: Message): number {
  return m.headersAt < 0 ? 0 : delayOf(m.headers?.['x-delay'])
}

/** The delay an `x-delay` value asks for (see {@link messageDelay}). */
export function delayOf(v: FieldValue | undefined): number {
  let d: number
  if (typeof v === 'number') d = Math.trunc(v)
  else if (typeof v === 'string' && /^[+-]?\d{1,16}$/.test(v)) d = Number(v)
  else if (v instanceof Decimal) d = Math.trunc(v.value / 10 ** v.scale)
  else return 0
  return d > 0 && d <= MAX_DELAY ? d : 0
}

/** The due message being routed now, if any: delayed exchanges route it at once (see the file comment). */
let released: Message | null = null

/** True for a due message on its way out of a delayed exchange: it is not delayed again. */
export function isReleased(m: Message): boolean {
  return m === released
}

/** What a DelayedMessages reports (management API, bench). */
export interface DelayedStats {
  /** messages routed since start */
  routed: number
  /** largest lateness seen (ms after the due time when routing started) */
  maxLatenessMs: number
  /** lateness histogram: bucket 0 is < 1 ms, bucket k is [2^(k-1), 2^k) ms */
  lateness: Uint32Array
}

const LATENESS_BUCKETS = 32

/** The lateness (ms) under which fraction `q` of the routed messages were: a bucket's upper bound, at most the largest seen. */
export function latenessQuantile(stats: DelayedStats, q: number): number {
  const want = Math.ceil(stats.routed * q)
  let seen = 0
  for (let k = 0; k < LATENESS_BUCKETS; k++) {
    seen += stats.lateness[k]
    if (seen >= want && want > 0) return Math.min(k === 0 ? 1 : 2 ** k, stats.maxLatenessMs)
  }
  return 0
}

/** See the file comment. One per delayed exchange. */
export class DelayedMessages {
  readonly stats: DelayedStats = { routed: 0, maxLatenessMs: 0, lateness: new Uint32Array(LATENESS_BUCKETS) }
  private readonly heap = new DelayHeap()
  private readonly ram: Map<number, Message> | null
  private nextSlot = 1
  private pendingBytes = 0
  private timer: NodeJS.Timeout | null = null
  private timerDue = Infinity
  private routing = false
  /** stop() was called: nothing more is routed, acked or stored */
  stopped = false
  private readonly onTimer = (): void => {
    this.timer = null
    this.timerDue = Infinity
    this.routeDue()
  }
  private readonly nextSlice = (): void => this.routeDue()

  constructor(
    private readonly x: Exchange,
    private readonly vhost: VHost,
    private readonly store: MessageStore | null,
  ) {
    this.ram = store === null ? new Map() : null
    if (store !== null) {
      // the recovered persistent messages are the store's ready list: move them into the heap
      for (let ref = store.shiftRef(); ref >= 0; ref = store.shiftRef()) {
        const size = store.shiftedSize
        this.heap.push(store.recordTimestamp(ref), ref, size)
        this.pendingBytes += size
      }
      this.schedule()
    }
  }

  /** Messages waiting for their time. */
  get pending(): number {
    return this.heap.length
  }
  /** Body bytes of the waiting messages. */
  get bytes(): number {
    return this.pendingBytes
  }
  /** RAM of the index (typed arrays). */
  get indexBytes(): number {
    return this.heap.capacityBytes
  }

  /**
   * Keeps `m` until `delay` ms from now. A persistent message in a durable exchange's store is
   * added to the vhost's durableTouched, so its confirm waits for the sync; a store that cannot
   * write refuses it (vhost.refused: the publisher gets a nack).
   */
  delay(m: Message, delay: number): void {
    if (this.stopped) return
    const due = Date.now() + delay
    const store = this.store
    if (store !== null) {
      let ref: number
      try {
        ref = store.append(m, due)
      } catch (err) {
        if (!storeCannotWrite(err)) throw err
        this.vhost.refused = true
        return
      }
      // the store's ready list is not used: the heap is the index
      store.shiftRef()
      this.heap.push(due, ref, m.bodySize)
      if (m.deliveryMode === 2 && !this.vhost.durableTouched.includes(store)) this.vhost.durableTouched.push(store)
    } else {
      const slot = this.nextSlot++
      this.ram!.set(slot, m)
      this.heap.push(due, slot, m.bodySize)
    }
    this.pendingBytes += m.bodySize
    if (due < this.timerDue) this.schedule()
  }

  private schedule(): void {
    if (this.routing || this.stopped) return
    const due = this.heap.nextDue
    if (due === Infinity) return
    if (this.timer !== null) {
      if (this.timerDue <= due) return
      clearTimeout(this.timer)
    }
    const wait = Math.min(MAX_TIMER, Math.max(0, due - Date.now()))
    this.timerDue = wait === MAX_TIMER ? Date.now() + wait : due
    this.timer = setTimeout(this.onTimer, wait)
    this.timer.unref()
  }

  /** Routes every due message, in slices; then arms the timer for the next one. */
  private routeDue(): void {
    if (this.stopped) return
    this.routing = true
    const now = Date.now()
    const t0 = performance.now()
    const heap = this.heap
    let acks: AckBatch | null = null
    let k = 0
    try {
      while (heap.nextDue <= now) {
        const due = heap.pop()
        const late = now - due
        if (late > this.stats.maxLatenessMs) this.stats.maxLatenessMs = late
        this.stats.lateness[late < 1 ? 0 : Math.min(LATENESS_BUCKETS - 1, 32 - Math.clz32(late))]++
        const ref = heap.poppedRef
        const size = heap.poppedSize
        this.pendingBytes -= size
        const touched = this.routeOne(ref, size)
        if (touched !== null) (acks ??= new AckBatch(this, this.store!, this.vhost)).add(ref, size, touched)
        if (++k % SLICE_CHECK === 0 && performance.now() - t0 >= SLICE_MS) break
      }
    } finally {
      acks?.close()
      this.routing = false
    }
    if (heap.nextDue <= Date.now()) setImmediate(this.nextSlice)
    else this.schedule()
  }

  /**
   * Routes one due message. Returns the durable stores it reached that must sync before the
   * delayed store may forget it (null when it is forgotten already).
   */
  private routeOne(ref: number, size: number): readonly DurableLog[] | null {
    let m: Message | undefined
    const store = this.store
    if (store === null) {
      m = this.ram!.get(ref)
      this.ram!.delete(ref)
      if (m === undefined) return null
    } else {
      try {
        // its record's timestamp is its due time: its arrival time in the queues it reaches
        m = store.read(ref)
      } catch (err) {
        this.vhost.log.error({ err, exchange: this.x.name, ref }, 'unreadable delayed message dropped')
        store.ack(ref, size)
        return null
      }
    }
    this.stats.routed++
    released = m
    try {
      this.vhost.publish(this.x, m)
    } catch (err) {
      this.vhost.log.error({ err, exchange: this.x.name }, 'routing a delayed message failed')
    } finally {
      released = null
    }
    if (store === null) return null
    const touched = this.vhost.durableTouched
    if (touched.length === 0 || m.deliveryMode !== 2) {
      store.ack(ref, size)
      return null
    }
    return touched
  }

  /** Stops the timer and forgets the index (exchange deleted, broker closing). */
  stop(): void {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.heap.clear()
    this.ram?.clear()
    this.pendingBytes = 0
  }
}

/**
 * The persistent messages of one routing slice that reached durable queue stores: the delayed
 * store acks them once each of those stores has synced what it holds now. One object per slice.
 */
class AckBatch implements DurableWaiter {
  private readonly refs: number[] = []
  private readonly sizes: number[] = []
  private readonly need = new Map<DurableLog, number>()
  private closed = false

  constructor(
    private readonly owner: DelayedMessages,
    private readonly store: MessageStore,
    private readonly vhost: VHost,
  ) {}

  add(ref: number, size: number, touched: readonly DurableLog[]): void {
    this.refs.push(ref)
    this.sizes.push(size)
    for (const s of touched) this.need.set(s, s.lastSeq)
  }

  /** No more messages: wait for the stores (or ack at once when they are durable already). */
  close(): void {
    this.closed = true
    for (const [s, seq] of this.need) {
      if (s.durableSeq >= seq) this.need.delete(s)
      else s.addWaiter(this)
    }
    this.done()
  }

  storeDurable(store: DurableLog, durableSeq: number): void {
    const seq = this.need.get(store)
    if (seq === undefined) return
    if (durableSeq >= seq) this.need.delete(store)
    else store.addWaiter(this)
    this.done()
  }

  storeFailed(store: DurableLog, err: Error): void {
    // the queue could not write: keep the delayed copy, it is routed again after a restart
    this.need.clear()
    this.refs.length = 0
    this.vhost.log.error({ err, dir: (store as { dir?: string }).dir }, 'a queue store failed while taking delayed messages; they stay delayed until restart')
  }

  private done(): void {
    if (!this.closed || this.need.size > 0) return
    // the exchange is gone: its store with it
    if (this.owner.stopped) return
    for (let i = 0; i < this.refs.length; i++) this.store.ack(this.refs[i], this.sizes[i])
    this.refs.length = 0
  }
}
