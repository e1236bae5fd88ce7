/**
 * Heartbeats of one connection (0-9-1 §4.2.7), timed as RabbitMQ 3.10.8 is measured with
 * heartbeat=1: an idle connection hears a heartbeat every half interval (first at ~0.5 s, then
 * every 0.5 s), and a peer that sends nothing for two intervals is dead.
 *
 * One timer per connection ticks four times per interval. A heartbeat goes out after two ticks in a
 * row saw nothing written, so an idle connection gets one every half interval and, after any other
 * frame, the next heartbeat follows within three quarters of an interval: a client that times out
 * after exactly one silent interval (amqp-client.js) never does. Heartbeats themselves do not count
 * as writes (counting them skipped every second beat: one per full interval, too late).
 */
import type { FrameWriter } from './codec/frame-writer.js'

/** What the heartbeat timer needs from its connection. */
export interface HeartbeatPeer {
  readonly writer: FrameWriter
  /** true when bytes arrived (or reading is paused) since the last call; clears the mark */
  takeReceived(): boolean
  /** the peer missed two intervals: drop the connection */
  heartbeatTimeout(): void
}

const TICKS_PER_INTERVAL = 4
/** idle ticks before a heartbeat is sent: half an interval */
const IDLE_TICKS = TICKS_PER_INTERVAL / 2

export class Heartbeats {
  private timer: NodeJS.Timeout | null = null
  private tick = 0
  private idleTicks = 0
  private missedChecks = 0

  constructor(private readonly peer: HeartbeatPeer) {}

  start(seconds: number): void {
    this.stop()
    this.timer = setInterval(() => this.onTick(), (seconds * 1000) / TICKS_PER_INTERVAL)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  private onTick(): void {
    const writer = this.peer.writer
    if (writer.wroteSinceCheck) this.idleTicks = 0
    else if (++this.idleTicks >= IDLE_TICKS) {
      this.idleTicks = 0
      writer.heartbeat()
      writer.flush()
    }
    writer.wroteSinceCheck = false
    // RabbitMQ's receiver checks once per interval and gives up after two silent ones
    if (++this.tick % TICKS_PER_INTERVAL !== 0) return
    if (this.peer.takeReceived()) this.missedChecks = 0
    else if (++this.missedChecks >= 2) {
      this.stop()
      this.peer.heartbeatTimeout()
    }
  }
}
