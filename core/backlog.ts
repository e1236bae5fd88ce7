/**
 * What a queue tells the backlog view (admin-ui/backlog.ts): its depth, bytes, monotonic in/out
 * counters and the arrival time of its oldest waiting message, plus the alert thresholds set on it.
 * Any queue type provides this small interface (classic and quorum queues in core/queue.ts; a
 * stream can report its own figures the same way), so the backlog computation does not depend on
 * how a queue stores its messages. Nothing here costs anything per message: the figures are read
 * when the management sampler ticks.
 */

/** Alert thresholds of one queue; null fields are not checked. */
export interface BacklogAlert {
  /** alert when more messages than this wait (ready + unacknowledged) */
  maxMessages: number | null
  /** alert when the oldest waiting message is older than this (ms) */
  maxAgeMs: number | null
  /** alert when the queue would take longer than this to drain at its current rate (or grows) */
  maxDrainSeconds: number | null
}

export interface BacklogSource {
  /** messages waiting: ready + delivered and not yet acknowledged */
  readonly backlogDepth: number
  /** body bytes of the ready messages */
  readonly backlogBytes: number
  /** messages that entered, since the queue exists (monotonic) */
  readonly backlogIn: number
  /** messages consumed: acknowledged, or delivered/fetched without acknowledgement (monotonic) */
  readonly backlogOut: number
  /** arrival time (ms since the epoch) of the oldest ready message, or -1 when none is ready */
  backlogOldest(): number
  /** thresholds set through the management API (persisted with a durable queue's definition) */
  backlogAlert: BacklogAlert | null
}
