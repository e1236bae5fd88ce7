/**
 * The ready list of a replicated quorum queue's leader (issue 14, phase 1): the queue's own
 * StoreList (core/store/queue-store.ts), plus a record to its ReplicaLeader for every change of
 * the durable state: an enqueue (and the ReplicaLeader joins the stores the publish's confirm waits
 * for), an ack/reject/expiry/drop of a delivered or ready message, a requeue with its delivery
 * count, a purge (one settle per ready message). Nothing else of the queue changes.
 */
import type { Envelope } from '../queue.js'
import { effectiveTtl } from '../queue-settings.js'
import type { DurableLog, MessageStore } from '../store/message-store.js'
import { StoreList, type EnvelopeFactory } from '../store/queue-store.js'
import { R_ACK, R_DELIVER, R_ENQ, R_REQUEUE, type ReplicaLeader, type ReplicaRecord } from './replica-leader.js'

export class ReplicatedStoreList extends StoreList {
  constructor(
    store: MessageStore,
    make: EnvelopeFactory,
    private readonly touchedLogs: DurableLog[],
    readonly leader: ReplicaLeader,
  ) {
    super(store, make, touchedLogs)
    leader.snapshot = () => this.snapshot()
  }

  /** delivered messages not settled yet, by ref (a follower's snapshot includes them) */
  private readonly outstanding = new Map<number, Envelope>()

  override shift(): Envelope | undefined {
    const env = super.shift()
    if (env !== undefined) {
      this.outstanding.set(env.ref, env)
      if (!this.detached) this.leader.add(R_DELIVER, env.ref, null, 0)
    }
    return env
  }

  /** The queue's durable state as records: every ready and every delivered, unsettled message. */
  snapshot(): ReplicaRecord[] {
    const out: ReplicaRecord[] = []
    const add = (env: Envelope): void => {
      out.push({ kind: R_ENQ, seq: 0, ref: env.ref, message: env.message, n: this.store.recordTimestamp(env.ref) })
      if (env.deliveryCount > 0) out.push({ kind: R_REQUEUE, seq: 0, ref: env.ref, message: null, n: env.deliveryCount })
    }
    for (const env of this.outstanding.values()) {
      add(env)
      out.push({ kind: R_DELIVER, seq: 0, ref: env.ref, message: null, n: 0 })
    }
    for (const env of this) add(env)
    // in store order (the follower's store keeps the leader's order)
    return out.sort((a, b) => a.ref - b.ref || a.kind - b.kind)
  }

  override push(env: Envelope): void {
    super.push(env)
    const m = env.message
    const ts = env.expiresAt === 0 ? m.timestamp : env.expiresAt - effectiveTtl(env.queue.settings.messageTtl, m.ttl)
    this.leader.add(R_ENQ, env.ref, m, ts)
    const t = this.touchedLogs
    if (this.leader.durableSeq < this.leader.lastSeq && t[t.length - 1] !== this.leader) t.push(this.leader)
  }

  override ack(env: Envelope): void {
    this.outstanding.delete(env.ref)
    if (!this.detached) this.leader.add(R_ACK, env.ref, null, 0)
    super.ack(env)
  }

  override tombstone(env: Envelope): boolean {
    if (!this.detached) this.leader.add(R_ACK, env.ref, null, 0)
    return super.tombstone(env)
  }

  override requeue(env: Envelope): void {
    this.outstanding.delete(env.ref)
    super.requeue(env)
    if (!this.detached) this.leader.add(R_REQUEUE, env.ref, null, env.deliveryCount)
  }

  override clear(): void {
    if (!this.detached) for (const e of this.store.readyEntries()) this.leader.add(R_ACK, e.ref, null, 0)
    super.clear()
  }

  override close(): Promise<void> {
    this.leader.close(new Error('queue closed'))
    return super.close()
  }

  override destroy(): Promise<void> {
    this.leader.close(new Error('queue deleted'))
    return super.destroy()
  }
}
