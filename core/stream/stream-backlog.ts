/**
 * A stream's figures for the backlog view (core/backlog.ts). A stream keeps what it was sent (it is
 * trimmed by retention, not by consuming), so its backlog is what its slowest reader still has to
 * process: the slowest consumer group (messages after its committed offset, live or not) or the
 * slowest unnamed consumer (messages after its position, its unacked deliveries included). A stream
 * nobody reads (no group ever committed, no consumer) reports everything it keeps. Messages in =
 * publishes; consumed = acks of its consumers. The oldest message is the first one the slowest
 * reader has not processed. Read on the sampler's tick only: nothing here runs per message.
 */
import { StreamReader } from './stream-reader.js'
import type { StreamQueue } from './stream-queue.js'

/** The offset the slowest reader of `q` has to process next (firstOffset when nobody reads). */
export function slowestOffset(q: StreamQueue): number {
  const log = q.streamLog
  let from = log.nextOffset
  let readers = 0
  for (const [name, committed] of q.offsets.committed) {
    from = Math.min(from, committed + 1)
    readers++
  }
  for (const m of q.streamMembers()) {
    if (m.group !== null) {
      if (!q.offsets.committed.has(m.group.name)) from = Math.min(from, m.active ? m.reader.next - m.consumer.unacked : log.firstOffset)
    } else from = Math.min(from, m.reader.next - m.consumer.unacked)
    readers++
  }
  if (readers === 0) return log.firstOffset
  return Math.max(from, log.firstOffset)
}

/** messages the slowest reader has not processed yet */
export function streamDepth(q: StreamQueue): number {
  return Math.max(0, q.streamLog.nextOffset - slowestOffset(q))
}

/** bytes of those messages (estimated from the average record size when not at the start) */
export function streamDepthBytes(q: StreamQueue): number {
  const log = q.streamLog
  const first = log.segments[0]
  const all = first === undefined ? 0 : log.tailPos - first.startPos
  const count = log.count
  if (count === 0) return 0
  return Math.round((all * streamDepth(q)) / count)
}

/** arrival time of the first message the slowest reader has not processed, -1 when none */
export function streamOldest(q: StreamQueue): number {
  const log = q.streamLog
  const from = slowestOffset(q)
  if (from >= log.nextOffset) return -1
  const s = log.segments[0]
  if (from === log.firstOffset && s !== undefined && s.count > 0) return s.firstTs
  const r = new StreamReader(log, from)
  const m = r.read()
  r.release()
  return m === undefined ? -1 : m.timestamp
}
