/**
 * tx.commit-ok that waits for the disk: RabbitMQ replies commit-ok only once the transaction's
 * persistent messages routed to durable queues are durable, so a committed transaction is never
 * lost. Each commit waits for the stores its publishes touched (store, sequence number of the
 * last append), and commit-oks go out in commit order: a later commit that needs nothing still
 * waits for an earlier one. One waiter per channel, registered once per store per batch.
 */
import type { DurableSource, DurableWaiter } from '../core/store/message-store-options.js'

/** Stores and the append sequence number a commit must see durable in each. */
export type CommitNeeds = Map<DurableSource, number>

interface PendingCommit {
  need: CommitNeeds
  done: (err: Error | null) => void
}

/** The commits of one channel waiting for their stores (see the file comment). */
export class DurableCommits implements DurableWaiter {
  private readonly pending: PendingCommit[] = []
  private readonly registered = new Set<DurableSource>()

  /** Calls `done` once every store in `need` is durable up to its sequence number, in commit order. */
  add(need: CommitNeeds, done: (err: Error | null) => void): void {
    this.pending.push({ need, done })
    this.release()
  }

  /** DurableWaiter: a batch of `store` is on disk. */
  storeDurable(store: DurableSource): void {
    this.registered.delete(store)
    this.release()
  }

  /** DurableWaiter: `store` can no longer write: every waiting commit fails, in order. */
  storeFailed(store: DurableSource, err: Error): void {
    this.registered.delete(store)
    for (const p of this.pending.splice(0)) p.done(err)
  }

  private release(): void {
    const q = this.pending
    while (q.length > 0) {
      const head = q[0]
      for (const [s, seq] of head.need) if (s.durableSeq >= seq) head.need.delete(s)
      if (head.need.size > 0) break
      q.shift()
      head.done(null)
    }
    // the waiter is one-shot per batch: register again with every store still awaited
    for (const p of q) {
      for (const s of p.need.keys()) {
        if (this.registered.has(s)) continue
        this.registered.add(s)
        s.addWaiter(this)
      }
    }
  }
}
