/**
 * A follower replica of a quorum queue (issue 14, phase 1): the queue's durable store on this
 * node's disk (a MessageStore under <data dir>/replicas/<vhost>/<queue>), fed by the leader's REPL
 * batches and never serving clients. An enqueue is appended (in the leader's order), a settle acks
 * the copy, a requeue records the delivery count; RESET drops every copy (a snapshot follows).
 * Once the store has fdatasync'd a batch's appends and replica.meta its entries
 * (replica-follower-meta.ts, synced side by side), the follower acks the batch's highest sequence
 * number to the leader. Its store and copies survive the node's restart: the follower recovers
 * them (and its epoch and durable sequence) at start and tells its leader that sequence, which sends
 * only what it lacks (replica-sync.ts).
 */
import type { Logger } from 'pino'
import { R_ACK, R_DELIVER, R_ENQ, R_REQUEUE, R_RESET, type ReplicaRecord } from '../../core/cluster/replica-leader.js'
import { MessageStore, type DurableLog, type DurableWaiter } from '../../core/store/message-store.js'
import { FollowerMeta, M_ACK, M_DELIVER, M_MAP, M_REQUEUE, M_RESET, M_SEQ, MetaBatch } from './replica-follower-meta.js'

interface Copy {
  ref: number
  size: number
  /** delivered and not settled or returned (as the leader last told) */
  delivered: boolean
  /** returned to the queue at least once */
  redelivered: boolean
  deliveryCount: number
}

/** A batch applied and not acked yet. */
interface Pending {
  /** the store's sequence of its last append */
  storeSeq: number
  /** its replication sequence */
  seq: number
  storeOk: boolean
  metaOk: boolean
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
   * Whether this replica holds a leader's state: fed by a leader since it was made (a batch applied:
   * the stream from the queue's start, or a snapshot), or recovered from its own disk. One that
   * heard from no leader and recovered nothing is empty, not behind: it must not stand for leader
   * (it would take the queue over with nothing in it).
   */
  fed = false
  /** batches not acked yet: waiting for the store's fdatasync of their appends and replica.meta's */
  private readonly waiting: Pending[] = []
  private waiterSet = false
  private ack: ((seq: number) => void) | null = null
  private closed = false
  private readonly meta: FollowerMeta
  /** messages and durable sequence recovered from disk at start (tests, the management API) */
  readonly recovered: number
  readonly recoveredSeq: number

  constructor(readonly dir: string, private readonly log: Logger) {
    this.store = MessageStore.open({ dir, log })
    this.meta = new FollowerMeta(dir)
    const st = this.meta.load()
    const live = new Map<number, number>()
    for (const e of this.store.readyEntries()) live.set(e.ref, e.size)
    let lost = false
    for (const [leaderRef, c] of st.copies) {
      const size = live.get(c.ref)
      if (size === undefined) {
        lost = true
        continue
      }
      live.delete(c.ref)
      this.copies.set(leaderRef, { ref: c.ref, size, delivered: c.delivered, redelivered: c.redelivered, deliveryCount: c.deliveryCount })
    }
    // appended but never recorded in replica.meta (a crash before the batch was durable): not ours
    for (const [ref, size] of live) this.store.ack(ref, size)
    this.epoch = st.epoch
    // a copy the meta file names is missing from the store: claim nothing, the leader sends a snapshot
    this.appliedSeq = this.ackedSeq = lost ? 0 : st.seq
    this.fed = this.appliedSeq > 0
    this.recovered = this.copies.size
    this.recoveredSeq = this.appliedSeq
    if (st.seq > 0) log.info({ messages: this.copies.size, epoch: st.epoch, seq: this.appliedSeq, orphans: live.size }, 'follower replica recovered')
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
    const mb = new MetaBatch()
    let last = this.appliedSeq
    for (const r of records) {
      if (r.seq > last) last = r.seq
      switch (r.kind) {
        case R_ENQ: {
          if (this.copies.has(r.ref)) break
          const m = r.message!
          const ref = s.append(m, r.n)
          this.copies.set(r.ref, { ref, size: m.bodySize, delivered: false, redelivered: false, deliveryCount: 0 })
          mb.add(M_MAP, r.ref, ref)
          break
        }
        case R_ACK: {
          const c = this.copies.get(r.ref)
          if (c === undefined) break
          this.copies.delete(r.ref)
          s.ack(c.ref, c.size)
          mb.add(M_ACK, r.ref, 0)
          break
        }
        case R_REQUEUE: {
          const c = this.copies.get(r.ref)
          if (c === undefined) break
          c.delivered = false
          c.redelivered = true
          c.deliveryCount = r.n
          s.setDeliveryCount(c.ref, r.n)
          mb.add(M_REQUEUE, r.ref, r.n)
          break
        }
        case R_DELIVER: {
          const c = this.copies.get(r.ref)
          if (c === undefined) break
          c.delivered = true
          mb.add(M_DELIVER, r.ref, 0)
          break
        }
        case R_RESET:
          for (const c of this.copies.values()) s.ack(c.ref, c.size)
          this.copies.clear()
          // a snapshot follows: its chunks carry sequence 0 but the last one. It restarts the count:
          // acks of batches before it, still waiting for the disk, are dropped (a leader restarted
          // at the same epoch must not see an old, higher ack after the snapshot's)
          last = 0
          this.ackedSeq = 0
          this.waiting.length = 0
          mb.add(M_RESET, 0, 0)
          break
        default:
          this.log.warn({ kind: r.kind }, 'unknown replication record ignored')
      }
    }
    this.appliedSeq = last
    mb.add(M_SEQ, epoch, last)
    // the entries go to replica.meta now and both files are fdatasync'd side by side; a crash
    // between the two leaves entries naming copies the store lacks (recovery then claims nothing)
    // or copies no entry names (dropped at recovery): never an ack the disks do not hold
    this.meta.write(mb)
    const p: Pending = { storeSeq: s.lastSeq, seq: last, storeOk: s.durableSeq >= s.lastSeq, metaOk: false }
    this.waiting.push(p)
    this.meta.sync(() => {
      p.metaOk = true
      this.release()
    })
    if (!p.storeOk && !this.waiterSet) {
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

  /** Acks the batches durable on both files, in order; compacts replica.meta when nothing waits. */
  private release(): void {
    let top = -1
    while (this.waiting.length > 0 && this.waiting[0].storeOk && this.waiting[0].metaOk) top = this.waiting.shift()!.seq
    if (top >= 0) this.acked(top)
    if (this.waiting.length === 0 && !this.closed && this.meta.wantsCompaction) this.meta.compact(this.copies, this.epoch, this.appliedSeq)
  }

  private acked(seq: number): void {
    if (this.closed || seq <= this.ackedSeq) return
    this.ackedSeq = seq
    this.ack?.(seq)
  }

  storeDurable(_store: DurableLog, durableSeq: number): void {
    this.waiterSet = false
    let more = false
    for (const p of this.waiting) {
      if (p.storeSeq <= durableSeq) p.storeOk = true
      else more = true
    }
    this.release()
    if (more && !this.closed) {
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
    this.meta.close()
    return this.store.close()
  }

  destroy(): Promise<void> {
    this.closed = true
    this.meta.close()
    return this.store.destroy()
  }
}
