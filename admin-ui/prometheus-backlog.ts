/**
 * Warren's backlog metrics (admin-ui/backlog.ts) for Prometheus:
 * - `warren_queue_backlog_alert{vhost,queue}` 1 while a queue exceeds one of its backlog alert
 *   thresholds, else 0: on /metrics for the queues that have thresholds (what an alert rule
 *   watches, without a series per queue), on /metrics/per-object for every queue;
 * - on /metrics/per-object also, per queue: `warren_queue_backlog_growth_rate` (msg/s, negative while
 *   draining), `warren_queue_backlog_consume_rate` (msg/s), `warren_queue_backlog_drain_seconds`
 *   (0 empty, +Inf when not draining) and `warren_queue_oldest_message_age_seconds`.
 */
import type { ApiContext } from './context.js'
import type { BacklogFigures } from './backlog.js'
import type { Exposition, Labels } from './prometheus-text.js'

/** Adds the backlog families; `perObject`: every queue and every figure. */
export function backlogFamilies(e: Exposition, api: ApiContext, perObject: boolean): void {
  const rows: [Labels, BacklogFigures][] = []
  for (const v of api.broker.vhosts.values()) {
    for (const q of v.queues.values()) {
      if (!perObject && q.backlogAlert === null) continue
      rows.push([{ vhost: v.name, queue: q.name }, api.sampler.backlog.figures(q)])
    }
  }
  e.family('warren_queue_backlog_alert', 'gauge', 'Queue exceeds one of its backlog alert thresholds (1) or not (0)', rows.map(([l, f]) => [l, f.alert ? 1 : 0]))
  if (!perObject) return
  e.family('warren_queue_backlog_growth_rate', 'gauge', 'Change of queue depth per second, smoothed (negative while draining)', rows.map(([l, f]) => [l, f.growth_rate]))
  e.family('warren_queue_backlog_consume_rate', 'gauge', 'Messages consumed per second, smoothed', rows.map(([l, f]) => [l, f.consume_rate]))
  e.family('warren_queue_backlog_drain_seconds', 'gauge', 'Time to drain at the current rate (+Inf when not draining)', rows.map(([l, f]) => [l, f.drain_seconds ?? Infinity]))
  e.family('warren_queue_oldest_message_age_seconds', 'gauge', 'Age of the oldest ready message (0 when none)', rows.map(([l, f]) => [l, (f.oldest_message_age_ms ?? 0) / 1000]))
}
