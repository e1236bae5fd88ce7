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
import type { DurableLog, DurableWaiter } from '../store/message-store.js'

export class RemoteAcceptance implements DurableLog {
  lastSeq = 0
  durableSeq = 0
  private waiters: DurableWaiter[] = []
  private failed: Error | null = null

  /** A new forwarded message: its sequence number. */
  next(): number {
    return ++this.lastSeq
  }

  addWaiter(w: DurableWaiter): void {
    if (this.failed !== null) return w.storeFailed(this, this.failed)
    if (!this.waiters.includes(w)) this.waiters.push(w)
  }

  /** The home accepted every message up to `seq`. */
  accepted(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    const ws = this.waiters
    if (ws.length === 0) return
    this.waiters = []
    for (let i = 0; i < ws.length; i++) ws[i].storeDurable(this, seq)
  }

  /** The home refused message `seq` (a target queue there would not take it). */
  refused(seq: number): void {
    const ws = this.waiters
    for (let i = 0; i < ws.length; i++) ws[i].storeRefused?.(this, seq)
  }

  /** The link session ended: what is not accepted yet never will be. */
  fail(err: Error): void {
    if (this.failed !== null) return
    this.failed = err
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w.storeFailed(this, err)
  }
}
