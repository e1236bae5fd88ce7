/**
 * tx.select / tx.commit / tx.rollback: publishes and settlements of a transactional channel are held
 * here and only take effect on commit (nothing is visible before), or are discarded on rollback.
 * commit() reports the stores its persistent publishes must be durable in: the channel sends
 * commit-ok only after that (durable-commits.ts).
 */
import type { Exchange } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { Envelope, Queue } from '../core/queue.js'
import type { Channel } from './channel.js'
import { DurableCommits, type CommitNeeds } from './durable-commits.js'

interface HeldPublish {
  exchange: Exchange
  message: Message
  mandatory: boolean
  seq: number
}

interface HeldSettle {
  op: 'ack' | 'nack'
  entries: [number, Envelope][]
  requeue: boolean
}

export class Transaction {
  private publishes: HeldPublish[] = []
  private settles: HeldSettle[] = []
  /** deliveries acked/rejected in this transaction: they still fill a global prefetch window until commit */
  held = 0
  /** commits waiting for their stores' fdatasync (created on first need) */
  private durable: DurableCommits | null = null

  constructor(private readonly channel: Channel) {}

  publish(exchange: Exchange, message: Message, mandatory: boolean, seq: number): void {
    this.publishes.push({ exchange, message, mandatory, seq })
  }

  /** Holds an ack or nack/reject; the deliveries already left the channel's unacked map. */
  settle(op: 'ack' | 'nack', entries: [number, Envelope][], requeue: boolean): void {
    this.settles.push({ op, entries, requeue })
    this.held += entries.length
  }

  /** Applies the held publishes and settlements; returns what must be durable before commit-ok. */
  commit(): CommitNeeds {
    const need: CommitNeeds = new Map()
    const publishes = this.publishes
    const settles = this.settles
    this.publishes = []
    this.settles = []
    this.held = 0
    for (const p of publishes) {
      // an exchange deleted since the publish: the message is dropped, as RabbitMQ does
      if (p.exchange.vhost.exchanges.get(p.exchange.name) !== p.exchange) continue
      this.channel.route(p.exchange, p.message, p.mandatory, p.seq)
      // the stores that took a persistent copy of this message, and the append to wait for
      for (const s of p.exchange.vhost.durableTouched) need.set(s, s.lastSeq)
    }
    const touched = new Set<Queue>()
    for (const s of settles) {
      const envs = s.entries.map((e) => e[1])
      if (s.op === 'ack') {
        for (const env of envs) {
          env.queue.settle(env)
          touched.add(env.queue)
        }
      } else this.channel.settleRejected(envs, s.requeue)
    }
    for (const q of touched) q.drain()
    return need
  }

  /** Calls `done` when `need` (from commit()) is durable, after every earlier commit's. */
  whenDurable(need: CommitNeeds, done: (err: Error | null) => void): void {
    if (need.size === 0 && this.durable === null) return done(null)
    ;(this.durable ??= new DurableCommits()).add(need, done)
  }

  rollback(): void {
    this.publishes = []
    const entries = this.settles.flatMap((s) => s.entries)
    this.settles = []
    this.held = 0
    this.channel.restoreUnacked(entries)
  }

  /** Channel closing: held publishes are dropped, held settlements go back to unacked (then requeued). */
  discard(): void {
    this.rollback()
  }
}
