/**
 * Methods that finish later: in a cluster (issue 13) a declare waits for etcd and a remote queue's
 * answer comes over the node link. While such a step runs, the channel's later frames wait here
 * and are replayed in order once it is done, because AMQP has a channel's methods take effect, and
 * be answered, in the order they were sent. Frames are kept by reference (the FrameReader never
 * reuses a chunk). A single node never holds: none of its paths wait.
 *
 * Held bytes are bounded: past HOLD_PAUSE_BYTES the connection stops reading its socket until the
 * channel has caught up, so a client publishing behind a slow declare cannot grow memory unbounded.
 */

/** Held bytes past which the connection's socket is paused until the held frames are replayed. */
export const HOLD_PAUSE_BYTES = 1 << 20

/** A frame type as the FrameReader gives it: 1 method, 2 content header, 3 content body. */
export interface HeldFrame {
  type: number
  classId: number
  methodId: number
  buf: Buffer
  start: number
  end: number
}

export class HeldFrames {
  private readonly frames: HeldFrame[] = []
  private next = 0
  bytes = 0
  /** the connection's reading was paused for this queue (resumed once it is replayed) */
  paused = false

  get empty(): boolean {
    return this.next === this.frames.length
  }

  /** Queues a frame; true when the held bytes just passed HOLD_PAUSE_BYTES. */
  push(type: number, classId: number, methodId: number, buf: Buffer, start: number, end: number): boolean {
    this.frames.push({ type, classId, methodId, buf, start, end })
    this.bytes += end - start
    if (this.paused || this.bytes < HOLD_PAUSE_BYTES) return false
    this.paused = true
    return true
  }

  shift(): HeldFrame {
    const f = this.frames[this.next]
    this.frames[this.next++] = undefined as unknown as HeldFrame
    this.bytes -= f.end - f.start
    return f
  }
}
