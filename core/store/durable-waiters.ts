/**
 * The publishers (DurableWaiter: a channel's confirms, a transaction's commit) waiting on one
 * DurableLog. A registration is one-shot: told once, of the next durable point or of a failure;
 * registering again before then is still one registration. Every DurableLog keeps its waiters
 * here: the queue store, the stream log, the dedup log, a replicated queue's majority
 * (core/cluster/majority-log.ts) and another node's acceptance (core/cluster/remote-acceptance.ts).
 * Two sets take turns, so telling a batch allocates nothing; a waiter that registers again from its
 * callback waits for the next point.
 */
import type { DurableLog, DurableWaiter } from './message-store-options.js'

export class DurableWaiters {
  private waiting = new Set<DurableWaiter>()
  /** the other set, empty (null while a notification runs: a nested one gets a new set) */
  private spare: Set<DurableWaiter> | null = new Set()

  get size(): number {
    return this.waiting.size
  }

  add(w: DurableWaiter): void {
    this.waiting.add(w)
  }

  /** Tells every waiter that `log` is durable up to `seq`; they are no longer registered. */
  durable(log: DurableLog, seq: number): void {
    const ws = this.take()
    if (ws === null) return
    for (const w of ws) w.storeDurable(log, seq)
    this.giveBack(ws)
  }

  /** Tells every waiter that `log` failed; they are no longer registered. */
  failed(log: DurableLog, err: Error): void {
    const ws = this.take()
    if (ws === null) return
    for (const w of ws) w.storeFailed(log, err)
    this.giveBack(ws)
  }

  /** Tells every waiter that append `seq` was refused (its publish is nacked); they stay registered. */
  refused(log: DurableLog, seq: number): void {
    for (const w of this.waiting) w.storeRefused?.(log, seq)
  }

  private take(): Set<DurableWaiter> | null {
    const ws = this.waiting
    if (ws.size === 0) return null
    this.waiting = this.spare ?? new Set()
    this.spare = null
    return ws
  }

  private giveBack(ws: Set<DurableWaiter>): void {
    ws.clear()
    this.spare = ws
  }
}
