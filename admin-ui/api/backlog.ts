/**
 * The backlog at a glance (a Warren addition to the management API; admin-ui/backlog.ts computes
 * the figures):
 * - GET /api/backlog, /api/backlog/{vhost}: every queue's backlog figures, worst first;
 * - PUT /api/queues/{vhost}/{name}/backlog-alert `{"max_messages":…,"max_age_ms":…,"max_drain_seconds":…}`
 *   sets the queue's alert thresholds (null or absent: not checked; all null clears them), 204;
 * - DELETE of the same path clears them, 204.
 * Setting thresholds needs configure permission on the queue (as declaring it does); a durable
 * queue keeps them across restarts.
 */
import type { BacklogAlert } from '../../core/backlog.js'
import type { Queue } from '../../core/queue.js'
import { listedVHosts, requestVHost } from '../auth.js'
import { compareBacklog, type BacklogFigures } from '../backlog.js'
import { objectBody } from '../coerce.js'
import { noContent, ok, type ApiContext, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import { accessFor } from '../resource-access.js'
import type { Router } from '../router.js'

const KEYS = ['max_messages', 'max_age_ms', 'max_drain_seconds'] as const

/** A queue's figures as GET /api/queues shows them under `backlog`. */
export function backlogJson(ctx: ApiContext, q: Queue): BacklogFigures {
  return ctx.sampler.backlog.figures(q)
}

/** Parses a threshold body; null when every threshold is null (clear). Throws 400 on bad input. */
export function parseBacklogAlert(body: unknown): BacklogAlert | null {
  const o = objectBody(body)
  for (const k of Object.keys(o)) {
    if (!(KEYS as readonly string[]).includes(k)) throw badRequest(`unknown backlog alert field '${k}' (expected ${KEYS.join(', ')})`)
  }
  const num = (k: (typeof KEYS)[number]): number | null => {
    const v = o[k]
    if (v === undefined || v === null) return null
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw badRequest(`${k} must be a non-negative number or null`)
    return v
  }
  const a: BacklogAlert = { maxMessages: num('max_messages'), maxAgeMs: num('max_age_ms'), maxDrainSeconds: num('max_drain_seconds') }
  return a.maxMessages === null && a.maxAgeMs === null && a.maxDrainSeconds === null ? null : a
}

function setAlert(req: ApiRequest, body: unknown): ApiReply {
  const v = requestVHost(req, true)
  const q = v.queues.get(req.params.name)
  if (q === undefined) throw objectNotFound()
  accessFor(req, v).check('configure', 'queue', q.name)
  q.backlogAlert = body === undefined ? null : parseBacklogAlert(body)
  v.storage?.queueChanged(v, q)
  return noContent()
}

/** Adds the backlog routes. */
export function registerBacklog(router: Router): void {
  const list = (req: ApiRequest): ApiReply => {
    const rows: (BacklogFigures & { vhost: string; name: string; type: string; consumers: number; durable: boolean })[] = []
    for (const v of listedVHosts(req)) {
      for (const q of v.queues.values()) {
        rows.push({ vhost: v.name, name: q.name, type: q.settings.type, consumers: q.consumerCount, durable: q.durable, ...backlogJson(req.ctx, q) })
      }
    }
    return ok(rows.sort(compareBacklog))
  }
  router.get('/api/backlog', list)
  router.get('/api/backlog/:vhost', list)
  router.put('/api/queues/:vhost/:name/backlog-alert', (req) => setAlert(req, req.body ?? {}))
  router.delete('/api/queues/:vhost/:name/backlog-alert', (req) => setAlert(req, undefined))
}
