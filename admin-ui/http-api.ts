/**
 * The HTTP side of the broker: RabbitMQ's management API under /api, and the Prometheus endpoint
 * on its own port. The composition root (transport/server.ts) owns the http.Servers and hands
 * requests here. Per request: route → same-origin check for writes (403) → Basic auth → tags →
 * body (application/json only → 415, per-route limit → 413, depth-checked JSON) → handler →
 * columns/sort/pagination → JSON. Errors are `{"error": …, "reason": …}`; nothing a client sends
 * escapes as an exception.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AmqpError } from '../core/errors.js'
import { registerBacklog } from './api/backlog.js'
import { registerBindings } from './api/bindings.js'
import { registerChannels } from './api/channels.js'
import { registerConnections } from './api/connections.js'
import { registerConsumers } from './api/consumers.js'
import { registerDefinitions } from './api/definitions.js'
import { registerExchanges } from './api/exchanges.js'
import { registerHealth } from './api/health.js'
import { registerNodes } from './api/nodes.js'
import { registerOverview } from './api/overview.js'
import { registerLimits } from './api/limits.js'
import { registerParameters } from './api/parameters.js'
import { registerPolicies } from './api/policies.js'
import { registerTopicPermissions } from './api/topic-permissions.js'
import { registerQueues } from './api/queues.js'
import { registerQueueReplicas } from './api/queue-replicas.js'
import { registerSuperStreams } from './api/super-streams.js'
import { registerUsers } from './api/users.js'
import { registerVHosts } from './api/vhosts.js'
import { authenticate, checkAccess } from './auth.js'
import type { AdminContext, ApiContext, ApiReply } from './context.js'
import { fromAmqpError, HttpError, methodNotAllowed, objectNotFound } from './http-errors.js'
import { prometheusResponse } from './prometheus.js'
import { listReply, objectReply } from './query.js'
import { Sampler } from './rates.js'
import { parseJson, readBody, SMALL_BODY_LIMIT } from './request-body.js'
import { checkJsonBody, checkSameOrigin, isScriptCall } from './request-guard.js'
import { Router, splitPath } from './router.js'
import { registerConsoleRoutes } from './console-routes.js'
import { serveStatic } from './static.js'

export type { AdminContext } from './context.js'

/** RabbitMQ management.http.max_body_size default. */
export const DEFAULT_MAX_BODY_SIZE = 20 * 1024 * 1024

const contexts = new WeakMap<object, ApiContext>()

/** The per-broker API state (one rate sampler shared by the management and Prometheus ports). */
function apiContext(ctx: AdminContext): ApiContext {
  let api = contexts.get(ctx.broker)
  if (api === undefined) {
    // a config built without statsInterval must not make the sampler spin
    const sampler = new Sampler(ctx.broker, Math.max(10, ctx.broker.config.statsInterval || 5000))
    sampler.start()
    api = { broker: ctx.broker, log: ctx.log, sampler, maxBodySize: ctx.maxBodySize ?? DEFAULT_MAX_BODY_SIZE }
    contexts.set(ctx.broker, api)
  }
  return api
}

/** Stops the rate sampler; call when the broker closes. */
export function closeAdmin(ctx: AdminContext): void {
  contexts.get(ctx.broker)?.sampler.stop()
  contexts.delete(ctx.broker)
}

/** Every management route. */
export function buildRouter(): Router {
  const router = new Router()
  for (const register of [
    registerOverview,
    registerNodes,
    registerUsers,
    registerVHosts,
    registerConnections,
    registerChannels,
    registerConsumers,
    registerExchanges,
    registerQueues,
    registerQueueReplicas,
    registerBacklog,
    registerSuperStreams,
    registerBindings,
    registerDefinitions,
    registerPolicies,
    registerParameters,
    registerLimits,
    registerTopicPermissions,
    registerHealth,
    registerConsoleRoutes,
  ]) {
    register(router)
  }
  return router
}

/** Returns the request handler for the HTTP port. */
export function createHttpHandler(ctx: AdminContext): (req: IncomingMessage, res: ServerResponse) => void {
  const api = apiContext(ctx)
  const router = buildRouter()
  return (req, res) => {
    if (serveStatic(req, res)) return
    handle(api, router, req, res).catch((err: unknown) => {
      api.log.error({ err }, 'http handler failed')
      if (!res.headersSent) send(res, req.method, { status: 500, body: { error: 'internal_server_error', reason: 'internal error' } })
      else res.destroy()
    })
  }
}

async function handle(api: ApiContext, router: Router, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET'
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const rawPath = q < 0 ? url : url.slice(0, q)
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
  let reply: ApiReply
  try {
    const m = rawPath === '/api' || rawPath.startsWith('/api/') ? router.match(method, splitPath(rawPath)) : { kind: 'none' as const }
    if (m.kind === 'none') throw objectNotFound()
    if (m.kind === 'method') throw methodNotAllowed(m.allow)
    checkSameOrigin(method, req.headers)
    const user = authenticate(api.broker, req.headers, req.socket.remoteAddress ?? '')
    checkAccess(user, m.route.options.access ?? 'management')
    checkJsonBody(req.headers)
    const raw = await readBody(req, m.route.options.largeBody === true ? api.maxBodySize : Math.min(SMALL_BODY_LIMIT, api.maxBodySize))
    const body = raw.length === 0 ? undefined : await parseJson(raw)
    reply = await m.route.handler({ ctx: api, method, params: m.params, query, headers: req.headers, user, body })
    if (reply.status === 200) {
      const list = m.route.options.list
      reply.body = list !== undefined && Array.isArray(reply.body) ? listReply(reply.body, query, list.sort) : objectReply(reply.body, query)
    }
  } catch (err) {
    reply = errorReply(api, err, method, rawPath)
    // the console handles 401 itself: no challenge, so the browser never prompts (and caches)
    if (reply.headers !== undefined && isScriptCall(req.headers)) delete reply.headers['www-authenticate']
  }
  // in a cluster a change is answered once every node has it (core/cluster/definitions.ts)
  const defs = api.broker.cluster?.definitions
  if (defs != null && method !== 'GET' && method !== 'HEAD') {
    await defs.settled().catch((err: unknown) => {
      reply = errorReply(api, new HttpError(503, 'service_unavailable', `cluster definitions not written: ${(err as Error).message}`), method, rawPath)
    })
  }
  send(res, method, reply)
  if (reply.headers?.connection === 'close') res.once('finish', () => req.destroy())
}

function errorReply(api: ApiContext, err: unknown, method: string, path: string): ApiReply {
  let e: HttpError
  if (err instanceof HttpError) e = err
  else if (err instanceof AmqpError) {
    e = fromAmqpError(err)
    api.log.warn({ method, path, code: err.code, reason: err.detail }, 'management request refused')
  } else {
    api.log.error({ err, method, path }, 'internal error in management request')
    e = new HttpError(500, 'internal_server_error', 'internal error; see the broker log')
  }
  if (e.status >= 500 || e.status === 413) api.log.warn({ method, path, status: e.status, reason: e.reason }, 'management request failed')
  return { status: e.status, body: e.body(), headers: { ...e.headers } }
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-cache',
  vary: 'accept, accept-encoding, origin',
}

function send(res: ServerResponse, method: string | undefined, reply: ApiReply): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) }
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers)
    res.end()
    return
  }
  const text = JSON.stringify(reply.body, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))
  res.writeHead(reply.status, { ...JSON_HEADERS, 'content-length': String(Buffer.byteLength(text)), ...headers })
  res.end(method === 'HEAD' ? undefined : text)
}

/** Returns the request handler for the Prometheus port. */
export function createPrometheusHandler(ctx: AdminContext): (req: IncomingMessage, res: ServerResponse) => void {
  const api = apiContext(ctx)
  return (req, res) => {
    try {
      const r = prometheusResponse(api, req)
      res.writeHead(r.status, r.headers)
      res.end(req.method === 'HEAD' ? undefined : r.body)
    } catch (err) {
      api.log.error({ err }, 'prometheus handler failed')
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('internal error\n')
    }
  }
}
