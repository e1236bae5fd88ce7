/**
 * The home node's acceptance of forwarded publishes, seen by the publishing node as a DurableLog
 * (core/store/message-store-options.ts): each message forwarded over a node link takes the next
 * sequence number; the home answers "accepted up to N" once every target queue there has taken it
 * and, for persistent messages in durable queues, its stores have fdatasync'd it. Publisher confirms
 * (transport/durable-confirms.ts) and tx.commit (transport/durable-commits.ts) wait on it exactly as
 * they wait on a local queue store; a message the home refused is nacked (storeRefused). One per
 * link session: a session that ends fails its waiters
 * (their confirms are nacked), and the next session starts a new one.
 */
import { DurableWaiters } from '../store/durable-waiters.js'
import type { DurableLog, DurableWaiter } from '../store/message-store.js'

export class RemoteAcceptance implements DurableLog {
  lastSeq = 0
  durableSeq = 0
  private readonly waiters = new DurableWaiters()
  private failed: Error | null = null

  /** A new forwarded message: its sequence number. */
  next(): number {
    return ++this.lastSeq
  }

  addWaiter(w: DurableWaiter): void {
    if (this.failed !== null) return w.storeFailed(this, this.failed)
    this.waiters.add(w)
  }

  /** The home accepted every message up to `seq`. */
  accepted(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    this.waiters.durable(this, seq)
  }

  /** The home refused message `seq` (a target queue there would not take it). */
  refused(seq: number): void {
    this.waiters.refused(this, seq)
  }

  /** The link session ended: what is not accepted yet never will be. */
  fail(err: Error): void {
    if (this.failed !== null) return
    this.failed = err
    this.waiters.failed(this, err)
  }
}
