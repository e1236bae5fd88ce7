/**
 * The backlog at a glance: for each queue, how fast it grows, how fast it is consumed, how long it
 * would take to drain, and how old its oldest waiting message is, with the queue's alert
 * thresholds checked. Fed by the management sampler's tick (admin-ui/rates.ts) from the
 * BacklogSource figures any queue type provides (core/backlog.ts); nothing on the message path.
 *
 * Rates are smoothed: each tick's per-second rate is folded into an exponentially weighted mean
 * with a time constant of three sample intervals (15 s with the default --stats-interval), so one
 * burst of acks does not swing "time to drain" from minutes to seconds.
 */
import type { BacklogAlert, BacklogSource } from '../core/backlog.js'
import type { Broker } from '../core/broker.js'

/** Where a queue's backlog is heading. */
export type BacklogState = 'empty' | 'draining' | 'stable' | 'growing'

/** The figures of one queue, as the API shows them under `backlog`. */
export interface BacklogFigures {
  messages: number
  message_bytes: number
  /** messages entering per second (smoothed) */
  in_rate: number
  /** messages consumed per second: acked, or delivered/fetched without ack (smoothed) */
  consume_rate: number
  /** change of depth per second (smoothed; negative while draining; expiry and drops count too) */
  growth_rate: number
  state: BacklogState
  /** depth / drain rate while draining, 0 when empty, null otherwise (growing or stable) */
  drain_seconds: number | null
  /** age of the oldest ready message, null when none is ready */
  oldest_message_age_ms: number | null
  /** the thresholds set, or null */
  alert_thresholds: { max_messages: number | null; max_age_ms: number | null; max_drain_seconds: number | null } | null
  /** some threshold is exceeded */
  alert: boolean
  /** which: max_messages, max_age_ms, max_drain_seconds */
  alert_reasons: string[]
}

interface Track {
  in: number
  out: number
  depth: number
  inRate: number
  outRate: number
  growth: number
  samples: number
}

/** Below this |growth| (msg/s) a non-empty queue counts as stable. */
const STABLE = 0.01

/** Smoothed rates per queue (see the file comment). */
export class BacklogTracker {
  private readonly tracks = new Map<BacklogSource, Track>()
  private lastTick = Date.now()

  constructor(private readonly broker: Broker) {}

  /** One sample of every queue (called by the Sampler's tick). */
  sample(now = Date.now(), intervalMs = 5000): void {
    const dt = Math.max(0.001, (now - this.lastTick) / 1000)
    this.lastTick = now
    const alpha = 1 - Math.exp(-(dt * 1000) / (3 * intervalMs))
    const live = new Set<BacklogSource>()
    for (const v of this.broker.vhosts.values()) {
      for (const q of v.queues.values()) {
        live.add(q)
        const depth = q.backlogDepth
        const t = this.tracks.get(q)
        if (t === undefined) {
          this.tracks.set(q, { in: q.backlogIn, out: q.backlogOut, depth, inRate: 0, outRate: 0, growth: 0, samples: 0 })
          continue
        }
        const rIn = Math.max(0, q.backlogIn - t.in) / dt
        const rOut = Math.max(0, q.backlogOut - t.out) / dt
        const g = (depth - t.depth) / dt
        const a = t.samples === 0 ? 1 : alpha
        t.inRate += a * (rIn - t.inRate)
        t.outRate += a * (rOut - t.outRate)
        t.growth += a * (g - t.growth)
        t.in = q.backlogIn
        t.out = q.backlogOut
        t.depth = depth
        t.samples++
      }
    }
    for (const q of this.tracks.keys()) if (!live.has(q)) this.tracks.delete(q)
  }

  /** The figures of `q` now: live depth and age, rates of the last samples. */
  figures(q: BacklogSource, now = Date.now()): BacklogFigures {
    const t = this.tracks.get(q)
    const depth = q.backlogDepth
    const growth = t?.growth ?? 0
    let state: BacklogState
    if (depth === 0) state = 'empty'
    else if (growth > STABLE) state = 'growing'
    else if (growth < -STABLE) state = 'draining'
    else state = 'stable'
    const oldest = q.backlogOldest()
    const f: BacklogFigures = {
      messages: depth,
      message_bytes: q.backlogBytes,
      in_rate: round(t?.inRate ?? 0),
      consume_rate: round(t?.outRate ?? 0),
      growth_rate: round(growth),
      state,
      drain_seconds: state === 'empty' ? 0 : state === 'draining' ? round(depth / -growth) : null,
      oldest_message_age_ms: oldest < 0 ? null : Math.max(0, now - oldest),
      alert_thresholds: null,
      alert: false,
      alert_reasons: [],
    }
    const a = q.backlogAlert
    if (a !== null) {
      f.alert_thresholds = { max_messages: a.maxMessages, max_age_ms: a.maxAgeMs, max_drain_seconds: a.maxDrainSeconds }
      f.alert_reasons = alertReasons(a, f)
      f.alert = f.alert_reasons.length > 0
    }
    return f
  }
}

/** The thresholds `f` exceeds. A non-empty queue that does not drain never drains: over any max_drain_seconds. */
export function alertReasons(a: BacklogAlert, f: BacklogFigures): string[] {
  const out: string[] = []
  if (a.maxMessages !== null && f.messages > a.maxMessages) out.push('max_messages')
  if (a.maxAgeMs !== null && f.oldest_message_age_ms !== null && f.oldest_message_age_ms > a.maxAgeMs) out.push('max_age_ms')
  if (a.maxDrainSeconds !== null && f.state !== 'empty' && (f.drain_seconds === null || f.drain_seconds > a.maxDrainSeconds)) {
    out.push('max_drain_seconds')
  }
  return out
}

const STATE_RANK: Record<BacklogState, number> = { growing: 3, stable: 2, draining: 1, empty: 0 }

/** Worst first: alerting queues, then growing (fastest first), stable (deepest first), draining (slowest first), empty. */
export function compareBacklog(a: BacklogFigures, b: BacklogFigures): number {
  if (a.alert !== b.alert) return a.alert ? -1 : 1
  const r = STATE_RANK[b.state] - STATE_RANK[a.state]
  if (r !== 0) return r
  let d = 0
  if (a.state === 'growing') d = b.growth_rate - a.growth_rate
  else if (a.state === 'stable') d = b.messages - a.messages
  else if (a.state === 'draining') d = (b.drain_seconds ?? 0) - (a.drain_seconds ?? 0)
  if (d !== 0) return d
  return (b.oldest_message_age_ms ?? 0) - (a.oldest_message_age_ms ?? 0)
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
