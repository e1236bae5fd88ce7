/**
 * A follower replica of a quorum queue (issue 14, phase 1): the queue's durable store on this
 * node's disk (a MessageStore under <data dir>/replicas/<vhost>/<queue>), fed by the leader's REPL
 * batches and never serving clients. An enqueue is appended (in the leader's order), a settle acks
 * the copy, a requeue records the delivery count; RESET drops every copy (a snapshot follows).
 * Once the store has fdatasync'd a batch's appends, the follower acks the batch's highest sequence
 * number to the leader. Its store starts empty at each start of the node (the leader sends its
 * whole state on each link (re)connect), so a follower never holds messages the leader settled.
 */
import { rmSync } from 'node:fs'
import type { Logger } from 'pino'
import { R_ACK, R_DELIVER, R_ENQ, R_REQUEUE, R_RESET, type ReplicaRecord } from '../../core/cluster/replica-leader.js'
import { MessageStore, type DurableLog, type DurableWaiter } from '../../core/store/message-store.js'

interface Copy {
  ref: number
  size: number
  /** delivered and not settled or returned (as the leader last told) */
  delivered: boolean
  /** returned to the queue at least once */
  redelivered: boolean
  deliveryCount: number
}

/** A message a promoted follower hands to its new leader queue. */
export interface Held {
  ref: number
  redelivered: boolean
  deliveryCount: number
}

export class FollowerReplica implements DurableWaiter {
  readonly store: MessageStore
  /** the leader's ref → this store's copy */
  private readonly copies = new Map<number, Copy>()
  /** highest epoch seen from a leader */
  epoch = 0
  /** highest sequence number applied, and the highest acked to the leader */
  appliedSeq = 0
  ackedSeq = 0
  /**
   * Whether a leader has fed this replica since it was made (a batch applied: the stream from the
   * queue's start, or a snapshot). One made at this node's start that heard from no leader is empty,
   * not behind: it must not stand for leader (it would take the queue over with nothing in it).
   */
  fed = false
  /** (store sequence, replication sequence) pairs waiting for the store's fdatasync */
  private readonly waiting: [number, number][] = []
  private waiterSet = false
  private ack: ((seq: number) => void) | null = null
  private closed = false

  constructor(readonly dir: string, private readonly log: Logger) {
    rmSync(dir, { recursive: true, force: true })
    this.store = MessageStore.open({ dir, log })
  }

  /** messages the replica holds (tests, the management API) */
  get messageCount(): number {
    return this.copies.size
  }

  /** Applies a batch of epoch `epoch`; `ack(seq)` is sent once its appends are durable. */
  apply(epoch: number, records: readonly ReplicaRecord[], ack: (seq: number) => void): void {
    if (this.closed) return
    this.fed = true
    this.epoch = epoch
    this.ack = ack
    const s = this.store
    let last = this.appliedSeq
    for (const r of records) {
      if (r.seq > last) last = r.seq
      switch (r.kind) {
        case R_ENQ: {
          if (this.copies.has(r.ref)) break
          const m = r.message!
          this.copies.set(r.ref, { ref: s.append(m, r.n), size: m.bodySize, delivered: false, redelivered: false, deliveryCount: 0 })
          break
        }
        case R_ACK: {
          const c = this.copies.get(r.ref)
          if (c === undefined) break
          this.copies.delete(r.ref)
          s.ack(c.ref, c.size)
          break
        }
        case R_REQUEUE: {
          const c = this.copies.get(r.ref)
          if (c === undefined) break
          c.delivered = false
          c.redelivered = true
          c.deliveryCount = r.n
          s.setDeliveryCount(c.ref, r.n)
          break
        }
        case R_DELIVER: {
          const c = this.copies.get(r.ref)
          if (c !== undefined) c.delivered = true
          break
        }
        case R_RESET:
          for (const c of this.copies.values()) s.ack(c.ref, c.size)
          this.copies.clear()
          this.waiting.length = 0
          // a snapshot restarts the numbering: a leader restarted at the same epoch counts from 0
          // again, and acks above the old count only would leave its confirms waiting for ever
          last = r.seq
          this.ackedSeq = 0
          break
        default:
          this.log.warn({ kind: r.kind }, 'unknown replication record ignored')
      }
    }
    this.appliedSeq = last
    if (s.durableSeq >= s.lastSeq) return this.acked(last)
    this.waiting.push([s.lastSeq, last])
    if (!this.waiterSet) {
      this.waiterSet = true
      s.addWaiter(this)
    }
  }

  /**
   * What a new leader serves, in the old leader's order: every message not settled; one that was
   * delivered and not settled comes back redelivered, its delivery count + 1 (as a quorum queue
   * returns the messages of a consumer that went away).
   */
  held(): Held[] {
    const out: Held[] = []
    for (const c of this.copies.values()) {
      out.push({ ref: c.ref, redelivered: c.delivered || c.redelivered, deliveryCount: c.delivered ? c.deliveryCount + 1 : c.deliveryCount })
    }
    return out
  }

  private acked(seq: number): void {
    if (seq <= this.ackedSeq) return
    this.ackedSeq = seq
    this.ack?.(seq)
  }

  storeDurable(_store: DurableLog, durableSeq: number): void {
    this.waiterSet = false
    let top = 0
    while (this.waiting.length > 0 && this.waiting[0][0] <= durableSeq) top = this.waiting.shift()![1]
    if (top > 0) this.acked(top)
    if (this.waiting.length > 0 && !this.closed) {
      this.waiterSet = true
      this.store.addWaiter(this)
    }
  }

  storeFailed(_store: DurableLog, err: Error): void {
    this.waiterSet = false
    // nothing is acked: the leader's confirms wait for the other followers
    this.log.error({ err }, 'follower replica store failed')
  }

  close(): Promise<void> {
    this.closed = true
    return this.store.close()
  }

  destroy(): Promise<void> {
    this.closed = true
    return this.store.destroy()
  }
}
