/**
 * A channel's deliveries of messages whose block came from the block pool (transport/block-pool.ts),
 * and the one place such a block goes back. A block is reused only when nothing can read it again:
 * - the message went to exactly one queue (Channel.route disowns the block otherwise), so this
 *   delivery is its only holder;
 * - it was delivered once (not redelivered: an earlier delivery, whose channel closed or whose
 *   client nacked it, may still sit in another socket's output);
 * - it was acknowledged, not rejected, not taken back by a transaction, not requeued;
 * - the socket has written every byte up to the end of this delivery. A client acks what it has
 *   received, but nothing stops one from acking a tag it has not read yet; the block then goes to
 *   the garbage collector instead, so another message can never be sent in its place.
 * Every other way out disowns the block, so it can never come back later by mistake.
 */
import type { Envelope } from '../core/queue.js'
import { blockPool } from './block-pool.js'

interface PooledDelivery {
  env: Envelope
  /** the delivery's end in the connection's output byte stream */
  end: number
}

export class PooledDeliveries {
  /** delivery tag → delivery, in ascending tag order */
  private readonly sent = new Map<number, PooledDelivery>()

  get size(): number {
    return this.sent.size
  }

  /** tag carries env's message (its block from the pool) and ends at byte `end` of the output. */
  delivered(tag: number, env: Envelope, end: number): void {
    this.sent.set(tag, { env, end })
  }

  /**
   * The deliveries an ack named (tag, or every one up to it when multiple; 0 means all) were
   * settled; `written` is how much of the output the socket has written, or -1 when unknown.
   */
  acked(tag: number, multiple: boolean, written: number): void {
    if (!multiple) {
      const d = this.sent.get(tag)
      if (d !== undefined) this.release(tag, d, written)
      return
    }
    for (const [t, d] of this.sent) {
      if (tag !== 0 && t > tag) break
      this.release(t, d, written)
    }
  }

  /** The deliveries were rejected, requeued or taken by a transaction: their blocks never come back. */
  dropped(tag: number, multiple: boolean): void {
    this.acked(tag, multiple, -1)
  }

  /** The channel is closing: every outstanding block is left to the garbage collector. */
  clear(): void {
    for (const d of this.sent.values()) blockPool.disown(d.env.message.data)
    this.sent.clear()
  }

  private release(tag: number, d: PooledDelivery, written: number): void {
    this.sent.delete(tag)
    const data = d.env.message.data
    if (written >= d.end && !d.env.redelivered) blockPool.give(data)
    else blockPool.disown(data)
  }
}
