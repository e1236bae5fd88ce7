/**
 * The route tester: which queues would a message published to an exchange reach, and through which
 * bindings, without publishing it. It walks the same routers the broker routes with (exchange to
 * exchange bindings, alternate exchanges, the default exchange) but never enqueues, never counts the
 * message in any statistic and never changes topology.
 *
 * Semantics follow VHost.publish: an exchange that matches no binding hands the message to its
 * alternate exchange; each exchange is entered once (cycles are allowed in RabbitMQ); a queue reached
 * by several paths gets the message once, and every path is reported.
 */
import type { Binding, Destination, Exchange, ExchangeTypeRegistry } from '../core/exchange.js'
import { Message } from '../core/message.js'
import type { Queue } from '../core/queue.js'
import type { VHost } from '../core/vhost.js'
import type { FieldTable } from '../core/wire/field-table.js'
import { encodeProperties, EMPTY_PROPERTIES, summarizeProperties, type PropertySummary } from '../core/wire/properties.js'
import { requestVHost } from './auth.js'
import { objectBody, shortName, str, toFieldTable } from './coerce.js'
import { ok, type ApiReply, type ApiRequest } from './context.js'
import { tableJson } from './format.js'
import { notFound } from './http-errors.js'

/** One step of a route: a binding (or an alternate-exchange or default-exchange link). */
export interface RouteHop {
  source: string
  destination: string
  destination_type: 'queue' | 'exchange'
  routing_key: string
  arguments: FieldTable
  /** 'binding': a declared binding; 'default': the default exchange's implicit binding; 'alternate-exchange' */
  via: 'binding' | 'default' | 'alternate-exchange'
}

/** A queue the message would reach, with every path that leads there (at most {@link MAX_PATHS}). */
export interface RoutedQueue {
  name: string
  paths: RouteHop[][]
}

/** What happened at one exchange the message entered. */
export interface ExchangeStep {
  name: string
  type: string
  /** how the message got there: 'published', 'binding' (exchange-to-exchange) or 'alternate-exchange' */
  entered_by: 'published' | 'binding' | 'alternate-exchange'
  /** bindings of this exchange that matched */
  matched: number
  /** the alternate exchange the message went on to, when nothing matched */
  alternate_exchange?: string
}

/** The answer of POST /api/route-test: the queues reached, the exchanges passed, any warnings. */
export interface RouteTestResult {
  vhost: string
  exchange: string
  routing_key: string
  routed: boolean
  queues: RoutedQueue[]
  exchanges: ExchangeStep[]
  /** things a person should know: internal exchange, missing alternate exchange, … */
  warnings: string[]
}

/** Paths reported per queue; a fan of exchange-to-exchange bindings could otherwise explode. */
export const MAX_PATHS = 20

/** Builds the message a client would publish: routing key and headers (no body needed for routing). */
export function testMessage(exchange: string, routingKey: string, headers: FieldTable | undefined): Message {
  const props = headers !== undefined && Object.keys(headers).length > 0 ? encodeProperties({ headers }) : EMPTY_PROPERTIES
  const s: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 }
  summarizeProperties(props, s)
  return new Message(exchange, routingKey, Buffer.from(props), props.length, 0, 0, -1, s.headersAt, Date.now())
}

/** Traces where a message with `routingKey` and `headers` published to `exchange` would go. */
export function routeTest(
  vhost: VHost,
  types: ExchangeTypeRegistry,
  exchange: Exchange,
  routingKey: string,
  headers?: FieldTable,
): RouteTestResult {
  const message = testMessage(exchange.name, routingKey, headers)
  const warnings: string[] = []
  if (exchange.internal) {
    warnings.push(`exchange '${exchange.name}' is internal: clients cannot publish to it directly (this shows where it would route)`)
  }
  const reached = new Map<string, RouteHop[][]>()
  const arrived = new Map<Exchange, RouteHop[]>([[exchange, []]])
  const steps: ExchangeStep[] = []
  const todo: [Exchange, ExchangeStep['entered_by']][] = [[exchange, 'published']]
  for (let i = 0; i < todo.length; i++) {
    const [x, enteredBy] = todo[i]
    const path = arrived.get(x) ?? []
    const matched = matchingBindings(vhost, types, x, message)
    const step: ExchangeStep = { name: x.name, type: x.type, entered_by: enteredBy, matched: matched.length }
    steps.push(step)
    for (const hop of matched) {
      const next = [...path, hop]
      if (hop.destination_type === 'queue') {
        const paths = reached.get(hop.destination) ?? []
        if (paths.length < MAX_PATHS) paths.push(next)
        reached.set(hop.destination, paths)
      } else {
        const d = vhost.exchanges.get(hop.destination)
        if (d !== undefined && !arrived.has(d)) {
          arrived.set(d, next)
          todo.push([d, 'binding'])
        }
      }
    }
    if (matched.length === 0) followAlternate(vhost, x, routingKey, path, step, arrived, todo, warnings)
  }
  const queues = [...reached].map(([name, paths]) => ({ name, paths })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { vhost: vhost.name, exchange: exchange.name, routing_key: routingKey, routed: queues.length > 0, queues, exchanges: steps, warnings }
}

function followAlternate(
  vhost: VHost,
  x: Exchange,
  routingKey: string,
  path: RouteHop[],
  step: ExchangeStep,
  arrived: Map<Exchange, RouteHop[]>,
  todo: [Exchange, ExchangeStep['entered_by']][],
  warnings: string[],
): void {
  const ae = x.alternateExchange
  if (typeof ae !== 'string') return
  const alt = vhost.exchanges.get(ae)
  if (alt === undefined) {
    warnings.push(`alternate exchange '${ae}' of exchange '${x.name}' does not exist`)
    return
  }
  step.alternate_exchange = ae
  if (arrived.has(alt)) return
  const hop: RouteHop = { source: x.name, destination: ae, destination_type: 'exchange', routing_key: routingKey, arguments: {}, via: 'alternate-exchange' }
  arrived.set(alt, [...path, hop])
  todo.push([alt, 'alternate-exchange'])
}

/** The bindings of `x` that match the message, as hops. */
function matchingBindings(vhost: VHost, types: ExchangeTypeRegistry, x: Exchange, message: Message): RouteHop[] {
  const rk = message.routingKey
  if (x.name === '') {
    // the default exchange: every queue is bound by its own name
    const q = vhost.queues.get(rk)
    return q === undefined ? [] : [{ source: '', destination: q.name, destination_type: 'queue', routing_key: rk, arguments: {}, via: 'default' }]
  }
  const hit = new Set<Destination>()
  x.router.route(message, rk, hit)
  if (hit.size === 0) return []
  // several bindings may lead to one destination: find out which of them match, one router each
  const byDestination = new Map<Destination, Binding[]>()
  for (const b of x.bindings.values()) {
    if (!hit.has(b.destination)) continue
    const list = byDestination.get(b.destination)
    if (list === undefined) byDestination.set(b.destination, [b])
    else list.push(b)
  }
  const hops: RouteHop[] = []
  for (const [destination, bindings] of byDestination) {
    for (const b of bindings) {
      if (bindings.length === 1 || bindingMatches(vhost, types, x, b, message)) hops.push(hopOf(b, destination))
    }
  }
  return hops
}

function bindingMatches(vhost: VHost, types: ExchangeTypeRegistry, x: Exchange, b: Binding, message: Message): boolean {
  const factory = types.get(x.type)
  if (factory === undefined) return true
  const router = factory(x, vhost)
  router.bind(b)
  const out = new Set<Destination>()
  router.route(message, message.routingKey, out)
  return out.has(b.destination)
}

function hopOf(b: Binding, destination: Queue | Exchange): RouteHop {
  return {
    source: b.source.name,
    destination: destination.name,
    destination_type: destination.kind,
    routing_key: b.routingKey,
    arguments: b.arguments,
    via: 'binding',
  }
}

/** `amq.default` in a URL is the default exchange (RabbitMQ). */
export function exchangeFromUrl(name: string): string {
  return name === 'amq.default' ? '' : name
}

/**
 * POST /api/route-test/{vhost}/{exchange} with `{"routing_key": "…", "headers": {…}}`: where the
 * message would go ({@link RouteTestResult}, binding arguments as JSON). Needs read access to the vhost.
 */
export function routeTestHandler(req: ApiRequest): ApiReply {
  const v = requestVHost(req)
  const name = exchangeFromUrl(req.params.exchange)
  const x = v.exchanges.get(name)
  if (x === undefined) throw notFound(`no exchange '${name}' in vhost '${v.name}'`)
  const o = objectBody(req.body)
  const routingKey = shortName(str(o, 'routing_key', ''), 'routing_key')
  const headers = toFieldTable(o.headers, 'headers')
  const result = routeTest(v, req.ctx.broker.exchangeTypes, x, routingKey, headers)
  const json = (hop: RouteHop): Record<string, unknown> => ({ ...hop, arguments: tableJson(hop.arguments) })
  return ok({ ...result, queues: result.queues.map((q) => ({ name: q.name, paths: q.paths.map((p) => p.map(json)) })) })
}
