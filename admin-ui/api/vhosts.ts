/**
 * Virtual hosts (RabbitMQ rabbit_mgmt_wm_vhosts, _vhost): list with message totals and rates,
 * create with PUT (the creating user gets full permissions, as in RabbitMQ), delete.
 */
import type { VHostMetadata } from '../../core/broker.js'
import type { VHost } from '../../core/vhost.js'
import { requestVHost, visibleVHosts } from '../auth.js'
import { objectBody, shortName } from '../coerce.js'
import { created, noContent, ok, type ApiContext, type ApiReply, type ApiRequest } from '../context.js'
import { details } from '../format.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { deliverGet, messageStats, withDetails } from './common.js'

const VHOST_STATS = ['ack', 'deliver', 'deliver_get', 'deliver_no_ack', 'get', 'get_empty', 'get_no_ack', 'publish', 'redeliver']

/** A vhost as /api/vhosts shows it, with message totals and rates. */
export function vhostJson(ctx: ApiContext, v: VHost): Record<string, unknown> {
  const { broker, sampler } = ctx
  const meta = broker.vhostMetadata.get(v.name) ?? { description: '', tags: [] }
  let ready = 0
  let unacked = 0
  for (const q of v.queues.values()) {
    ready += q.messageCount
    unacked += q.unackedCount
  }
  let publish = 0
  for (const x of v.exchanges.values()) publish += x.publishIn
  let recv = 0
  let send = 0
  for (const c of broker.connections) {
    if (c.vhostName !== v.name) continue
    recv += c.bytesIn
    send += c.bytesOut
  }
  const counts = sampler.vhostCounters(v.name)
  const r = sampler.vhostRates.get(v.name)
  const rc = r?.counters
  const out: Record<string, unknown> = {
    cluster_state: { [broker.nodeName]: 'running' },
    default_queue_type: meta.defaultQueueType ?? 'undefined',
    description: meta.description,
    message_stats: messageStats(
      { ...counts, publish, deliver_get: deliverGet(counts) },
      { ...(rc ?? {}), publish: r?.publish ?? 0, deliver_get: rc === undefined ? 0 : deliverGet(rc) },
      VHOST_STATS,
    ),
    messages: ready + unacked,
    messages_details: details(r?.depths.messages ?? 0),
    messages_ready: ready,
    messages_ready_details: details(r?.depths.messages_ready ?? 0),
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: details(r?.depths.messages_unacknowledged ?? 0),
    metadata: { description: meta.description, tags: meta.tags },
    name: v.name,
    tags: meta.tags,
    tracing: v.tracer !== null,
  }
  withDetails(out, 'recv_oct', recv, r?.recvOct ?? 0)
  withDetails(out, 'send_oct', send, r?.sendOct ?? 0)
  return out
}

/** tags as RabbitMQ accepts them: a comma-separated string or an array of strings. */
export function parseTags(v: unknown, key = 'tags'): string[] {
  if (v === undefined || v === null || v === '') return []
  if (typeof v === 'string') return v.split(',').map((t) => t.trim()).filter((t) => t !== '')
  if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return v.map((t) => t.trim()).filter((t) => t !== '')
  throw badRequest(`${key} must be a comma-separated string or an array of strings`)
}

/** Checks a vhost name and metadata from a PUT or a definitions file. */
export function vhostInput(name: string, o: Record<string, unknown>): VHostMetadata {
  if (name === '') throw badRequest('vhost name must not be empty')
  shortName(name, 'vhost name')
  const meta = (o.metadata ?? {}) as Record<string, unknown>
  if (typeof meta !== 'object' || Array.isArray(meta)) throw badRequest('metadata must be a JSON object')
  const description = o.description ?? meta.description ?? ''
  if (typeof description !== 'string') throw badRequest('description must be a string')
  const dqt = o.default_queue_type ?? meta.default_queue_type
  if (dqt !== undefined && dqt !== 'undefined' && dqt !== 'classic' && dqt !== 'quorum') {
    throw badRequest(`default_queue_type must be classic or quorum, got ${JSON.stringify(dqt)}`)
  }
  return {
    description,
    tags: parseTags(o.tags ?? meta.tags),
    defaultQueueType: typeof dqt === 'string' && dqt !== 'undefined' ? dqt : undefined,
    tracing: tracingInput(o.tracing),
  }
}

/** `tracing` as rabbit_mgmt_util:parse_bool reads it; absent (undefined) leaves tracing unchanged. */
function tracingInput(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined
  if (v === true || v === 'true') return true
  if (v === false || v === 'false') return false
  throw badRequest(`tracing must be a boolean (true or false), got ${JSON.stringify(v)}`)
}

function putVHost(req: ApiRequest): ApiReply {
  const { broker } = req.ctx
  const name = req.params.vhost
  const meta = vhostInput(name, objectBody(req.body))
  const existed = broker.vhost(name) !== undefined
  broker.addVHost(name, meta)
  if (!existed) {
    broker.users.setPermission({ user: req.user.name, vhost: name, configure: '.*', write: '.*', read: '.*' })
    req.ctx.log.info({ vhost: name, by: req.user.name }, 'vhost created')
  }
  return existed ? noContent() : created()
}

/** Adds the vhost routes. */
export function registerVHosts(router: Router): void {
  router.get('/api/vhosts', (req) => ok(visibleVHosts(req).map((v) => vhostJson(req.ctx, v))), { list: { sort: ['name'] } })
  router.get('/api/vhosts/:vhost', (req) => ok(vhostJson(req.ctx, requestVHost(req))))
  router.put('/api/vhosts/:vhost', putVHost, { access: 'administrator' })
  router.delete(
    '/api/vhosts/:vhost',
    (req) => {
      if (!req.ctx.broker.deleteVHost(req.params.vhost)) throw objectNotFound()
      return noContent()
    },
    { access: 'administrator' },
  )
}
