/**
 * Publisher confirms that wait for the disk: a persistent message routed to a durable queue is
 * confirmed only once the queue's store has fdatasync'd the batch holding it (group commit,
 * core/store/group-commit.ts). Confirms go out in tag order, so while any confirm waits, later
 * ones (even for messages that need no sync) queue up behind it.
 *
 * Per publish the channel records one entry per store it must wait for, in three parallel arrays
 * (tag, store, store sequence number): no object, promise or closure per message. A store calls
 * storeDurable() once per completed batch; the entries it satisfied are released from the head
 * and the channel acks up to the last fully durable tag in one basic.ack(multiple).
 */
import type { DurableLog, DurableWaiter } from '../core/store/message-store.js'

/** Entry sequence number of a basic.nack waiting for its turn. */
const NACK = -1
/** Entry sequence number of a further entry of a nacked tag (nothing to send for it). */
const DONE = -2

/** What the tracker tells its channel. */
export interface ConfirmSink {
  /** the channel is open: confirms may still be sent */
  readonly confirmsOpen: boolean
  /** every tag up to `tag` may be acked (coalesced by the channel) */
  confirmed(tag: number): void
  /** nack `tag` now (after acking what is pending before it) */
  nackNow(tag: number): void
}

/** One channel's confirms waiting for durability (see the file comment). */
export class DurableConfirms implements DurableWaiter {
  private tags: number[] = []
  private stores: (DurableLog | null)[] = []
  private seqs: number[] = []
  private head = 0
  /** per store, the highest sequence number an entry waits for */
  private readonly need = new Map<DurableLog, number>()

  constructor(private readonly sink: ConfirmSink) {}

  /** Some confirm is still waiting: a new one must queue behind it. */
  get waiting(): boolean {
    return this.head < this.tags.length
  }

  /** Publish `tag` was enqueued; `touched` are the stores it must be durable in (maybe none). */
  add(tag: number, touched: readonly DurableLog[]): void {
    let waits = false
    for (const s of touched) {
      const seq = s.lastSeq
      if (s.durableSeq >= seq) continue
      waits = true
      this.push(tag, s, seq)
      if ((this.need.get(s) ?? 0) < seq) this.need.set(s, seq)
      s.addWaiter(this)
    }
    if (!waits) this.push(tag, null, 0)
    // nothing ahead and nothing to wait for: goes out with this turn's flush
    if (!waits && this.head === this.tags.length - 1) this.release()
  }

  /** Publish `tag` was refused: nack it in its turn. */
  addNack(tag: number): void {
    this.push(tag, null, NACK)
    if (this.head === this.tags.length - 1) this.release()
  }

  private push(tag: number, store: DurableLog | null, seq: number): void {
    this.tags.push(tag)
    this.stores.push(store)
    this.seqs.push(seq)
  }

  /** DurableWaiter: a batch of `store` is on disk. */
  storeDurable(store: DurableLog, durableSeq: number): void {
    const need = this.need.get(store)
    if (need !== undefined) {
      // the waiter is one-shot: entries appended after that batch started wait for the next one
      if (need > durableSeq) store.addWaiter(this)
      else this.need.delete(store)
    }
    if (this.sink.confirmsOpen) this.release()
  }

  /** DurableWaiter: the store can no longer write; nothing waiting on it will ever be durable. */
  storeFailed(store: DurableLog): void {
    this.need.delete(store)
    if (!this.sink.confirmsOpen) return
    // nack everything still waiting (RabbitMQ nacks on a queue failure), in tag order
    let last = 0
    for (let i = this.head; i < this.tags.length; i++) {
      const tag = this.tags[i]
      if (tag !== last) this.sink.nackNow(tag)
      last = tag
    }
    this.reset()
  }

  /**
   * DurableWaiter: `store` refused the append `seq` (a queue on another node): that publish is
   * nacked in its turn, whatever its other stores say.
   */
  storeRefused(store: DurableLog, seq: number): void {
    const tags = this.tags
    for (let i = this.head; i < tags.length; i++) {
      if (this.stores[i] !== store || this.seqs[i] !== seq) continue
      // every entry of the tag: the first becomes its nack, the others are done
      const tag = tags[i]
      let j = i
      while (j > this.head && tags[j - 1] === tag) j--
      this.stores[j] = null
      this.seqs[j] = NACK
      for (let k = j + 1; k < tags.length && tags[k] === tag; k++) {
        this.stores[k] = null
        this.seqs[k] = DONE
      }
      break
    }
    if (this.sink.confirmsOpen) this.release()
  }

  /** Sends what is durable from the head on: acks coalesced, nacks in their place. */
  private release(): void {
    let upTo = 0
    const tags = this.tags
    while (this.head < tags.length) {
      const i = this.head
      const seq = this.seqs[i]
      if (seq === NACK) {
        if (upTo !== 0) this.sink.confirmed(upTo)
        upTo = 0
        this.sink.nackNow(tags[i])
        this.head++
        continue
      }
      if (seq === DONE) {
        this.head++
        continue
      }
      const s = this.stores[i]
      if (s !== null && s.durableSeq < seq) break
      this.head++
      // a tag with several stores is done after its last entry
      if (this.head === tags.length || tags[this.head] !== tags[i]) upTo = tags[i]
    }
    if (upTo !== 0) this.sink.confirmed(upTo)
    if (this.head === tags.length) this.reset()
    else if (this.head > 4096 && this.head * 2 > tags.length) {
      tags.splice(0, this.head)
      this.stores.splice(0, this.head)
      this.seqs.splice(0, this.head)
      this.head = 0
    }
  }

  private reset(): void {
    this.tags.length = 0
    this.stores.length = 0
    this.seqs.length = 0
    this.head = 0
  }
}
