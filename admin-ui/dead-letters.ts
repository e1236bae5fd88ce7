/**
 * Dead letters at a glance, for the console (GET /api/dead-letters/{vhost}):
 * - for each queue with a dead-letter exchange: where its dead letters go (the exchange, the routing
 *   key, and the queues they would reach), and how many it has dead-lettered so far;
 * - for each queue those dead letters reach: its messages counted by their latest x-death reason
 *   (rejected, expired, maxlen, delivery_limit) and by the queue they died in.
 *
 * Messages are read in place (ready messages only; nothing is fetched, requeued or redelivered),
 * at most {@link SCAN_LIMIT} per queue and {@link SCAN_BUDGET} per request.
 */
import type { Exchange, ExchangeTypeRegistry } from '../core/exchange.js'
import type { Queue } from '../core/queue.js'
import type { VHost } from '../core/vhost.js'
import type { FieldTable, FieldValue } from '../core/wire/field-table.js'
import { decodeHeaders } from '../core/wire/properties.js'
import { requestVHost } from './auth.js'
import { ok, type ApiReply, type ApiRequest } from './context.js'
import { routeTest } from './route-tester.js'

/** Ready messages read per queue. */
export const SCAN_LIMIT = 10_000
/** Ready messages read per request, all queues together. */
export const SCAN_BUDGET = 50_000

/** A queue with a dead-letter exchange, and where its dead letters go. */
export interface DeadLetterSource {
  queue: string
  dead_letter_exchange: string
  dead_letter_routing_key?: string
  /** false: the exchange does not exist and dead letters are dropped */
  exchange_exists: boolean
  exchange_type?: string
  /** queues the dead letters reach (or may reach, when `depends_on_message`) */
  targets: string[]
  /** the target depends on each message's own routing key or headers */
  depends_on_message: boolean
  /** messages dead-lettered from this queue so far */
  dead_lettered: number
}

/** A queue dead letters go to, its dead-lettered messages counted. */
export interface DeadLetterQueue {
  queue: string
  messages: number
  /** ready messages looked at */
  scanned: number
  /** messages with an x-death header among those scanned */
  dead_lettered_messages: number
  /** by latest death reason */
  reasons: Record<string, number>
  /** by the queue the message (last) died in */
  from: Record<string, number>
}

/** The answer of GET /api/dead-letters/{vhost}. */
export interface DeadLetterReport {
  vhost: string
  sources: DeadLetterSource[]
  queues: DeadLetterQueue[]
}

/** Every queue a message entering `x` could reach (bindings, exchange-to-exchange, alternate). */
function possibleTargets(vhost: VHost, x: Exchange): string[] {
  const queues = new Set<string>()
  const seen = new Set<Exchange>([x])
  const todo = [x]
  while (todo.length > 0) {
    const cur = todo.pop()!
    for (const b of cur.bindings.values()) {
      if (b.destination.kind === 'queue') queues.add(b.destination.name)
      else if (!seen.has(b.destination)) seen.add(b.destination), todo.push(b.destination)
    }
    const ae = cur.alternateExchange
    const alt = typeof ae === 'string' ? vhost.exchanges.get(ae) : undefined
    if (alt !== undefined && !seen.has(alt)) seen.add(alt), todo.push(alt)
  }
  return [...queues].sort()
}

function source(vhost: VHost, types: ExchangeTypeRegistry, q: Queue, dlx: string): DeadLetterSource {
  const dlrk = q.settings.deadLetterRoutingKey
  const x = vhost.exchanges.get(dlx)
  const out: DeadLetterSource = {
    queue: q.name,
    dead_letter_exchange: dlx,
    exchange_exists: x !== undefined,
    targets: [],
    depends_on_message: false,
    dead_lettered: q.stats.deadLettered,
  }
  if (dlrk !== undefined) out.dead_letter_routing_key = dlrk
  if (x === undefined) return out
  out.exchange_type = x.type
  if (dlx === '') {
    // the default exchange: the routing key names the queue
    if (dlrk !== undefined) out.targets = vhost.queues.has(dlrk) ? [dlrk] : []
    else (out.depends_on_message = true), (out.targets = [])
    return out
  }
  if (dlrk !== undefined && x.type !== 'headers') {
    out.targets = routeTest(vhost, types, x, dlrk).queues.map((r) => r.name)
  } else {
    out.depends_on_message = x.type !== 'fanout'
    out.targets = possibleTargets(vhost, x)
  }
  return out
}

function isTable(v: FieldValue | undefined): v is FieldTable {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date)
}

/** Counts the dead-lettered messages among the ready messages of `q`; `budget` is shared. */
function scanQueue(q: Queue, budget: { left: number }, now: number): DeadLetterQueue {
  const r: DeadLetterQueue = { queue: q.name, messages: q.messageCount + q.unackedCount, scanned: 0, dead_lettered_messages: 0, reasons: {}, from: {} }
  // page(): a store-backed queue reads back only the messages scanned, not the whole queue
  const ready = q.store !== null ? q.store.page(0, Math.min(SCAN_LIMIT, budget.left)) : q.ready
  for (const env of ready) {
    if (r.scanned >= SCAN_LIMIT || budget.left <= 0) break
    if (env.expiresAt > 0 && env.expiresAt <= now) continue
    r.scanned++
    budget.left--
    const m = env.message
    if (m.headersAt < 0) continue
    let headers: FieldTable | undefined
    try {
      headers = decodeHeaders(m.props, m.headersAt)
    } catch {
      continue
    }
    const deaths = headers?.['x-death']
    if (!Array.isArray(deaths) || deaths.length === 0 || !isTable(deaths[0])) continue
    const latest = deaths[0]
    r.dead_lettered_messages++
    const reason = typeof latest.reason === 'string' ? latest.reason : 'unknown'
    const from = typeof latest.queue === 'string' ? latest.queue : 'unknown'
    r.reasons[reason] = (r.reasons[reason] ?? 0) + 1
    r.from[from] = (r.from[from] ?? 0) + 1
  }
  return r
}

/** Builds the report for one vhost. */
export function deadLetterReport(vhost: VHost, types: ExchangeTypeRegistry, now = Date.now()): DeadLetterReport {
  const sources: DeadLetterSource[] = []
  const dlqs: DeadLetterQueue[] = []
  const budget = { left: SCAN_BUDGET }
  for (const q of vhost.queues.values()) {
    const dlx = q.settings.deadLetterExchange
    if (dlx !== undefined) sources.push(source(vhost, types, q, dlx))
  }
  // only the queues dead letters are sent to: the page is polled, so the work stays bounded
  const targets = new Set(sources.flatMap((s) => s.targets))
  for (const name of targets) {
    const q = vhost.queues.get(name)
    if (q !== undefined) dlqs.push(scanQueue(q, budget, now))
  }
  sources.sort((a, b) => (a.queue < b.queue ? -1 : 1))
  dlqs.sort((a, b) => (a.queue < b.queue ? -1 : 1))
  return { vhost: vhost.name, sources, queues: dlqs }
}

/** GET /api/dead-letters/{vhost}. */
export function deadLettersHandler(req: ApiRequest): ApiReply {
  const v = requestVHost(req)
  return ok(deadLetterReport(v, req.ctx.broker.exchangeTypes))
}
