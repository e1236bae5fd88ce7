/**
 * Bindings (RabbitMQ rabbit_mgmt_wm_bindings, _binding): list, create with POST (201 + Location),
 * and GET/DELETE one binding by its properties_key. The default exchange's implicit bindings
 * (every queue by its name) are listed as RabbitMQ lists them, but cannot be created or deleted.
 */
import type { RemoteBinding } from '../../core/cluster/definitions.js'
import type { Binding, Exchange } from '../../core/exchange.js'
import type { Queue } from '../../core/queue.js'
import type { VHost } from '../../core/vhost.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { listedVHosts, requestVHost } from '../auth.js'
import { objectBody, shortName, str, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { notAuthorised, objectNotFound } from '../http-errors.js'
import { argsHash, packBindingProps, unpackBindingProps } from '../properties-key.js'
import { accessFor } from '../resource-access.js'
import type { Router } from '../router.js'

/** 'amq.default' in a URL is the default exchange (''), as in RabbitMQ. */
export const exchangeParam = (name: string): string => (name === 'amq.default' ? '' : name)

interface BindingLike {
  source: string
  destination: string
  destinationType: 'queue' | 'exchange'
  routingKey: string
  arguments: FieldTable
}

/** A binding as RabbitMQ lists it, properties_key included. */
export function bindingJson(vhost: string, b: BindingLike): Record<string, unknown> {
  return {
    source: b.source,
    vhost,
    destination: b.destination,
    destination_type: b.destinationType,
    routing_key: b.routingKey,
    arguments: tableJson(b.arguments),
    properties_key: packBindingProps(b.routingKey, b.arguments),
  }
}

const fromCore = (b: Binding): BindingLike => ({
  source: b.source.name,
  destination: b.destination.name,
  destinationType: b.destination.kind,
  routingKey: b.routingKey,
  arguments: b.arguments,
})

/** The implicit default-exchange binding of a queue. */
const implicit = (q: Queue): BindingLike => ({ source: '', destination: q.name, destinationType: 'queue', routingKey: q.name, arguments: {} })

/**
 * Every binding of a vhost, default-exchange bindings first; in a cluster also the bindings to
 * queues of other nodes that have no stand-in here (from etcd's records, core/cluster/definitions.ts).
 */
export function vhostBindings(v: VHost, remote: readonly RemoteBinding[] = []): Record<string, unknown>[] {
  const out = [...v.queues.values()].map((q) => bindingJson(v.name, implicit(q)))
  for (const b of v.bindings()) out.push(bindingJson(v.name, fromCore(b)))
  for (const r of remote) out.push(bindingJson(v.name, { source: r.source, destination: r.queue, destinationType: 'queue', routingKey: r.routingKey, arguments: r.arguments }))
  return out
}

/** Bindings leading to a queue (its implicit default binding included). */
export function queueBindings(v: VHost, q: Queue): Record<string, unknown>[] {
  return [bindingJson(v.name, implicit(q)), ...[...q.incoming.values()].map((b) => bindingJson(v.name, fromCore(b)))]
}

/** Bindings from an exchange (source) or to it (destination). */
export function exchangeBindings(v: VHost, x: Exchange, side: 'source' | 'destination'): Record<string, unknown>[] {
  if (side === 'destination') return [...x.incoming.values()].map((b) => bindingJson(v.name, fromCore(b)))
  if (x.name === '') return [...v.queues.values()].map((q) => bindingJson(v.name, implicit(q)))
  return [...x.bindings.values()].map((b) => bindingJson(v.name, fromCore(b)))
}

interface Ends {
  v: VHost
  source: Exchange
  dest: Queue | Exchange
}

/** Resolves /api/bindings/{vhost}/e/{source}/{q|e}/{destination}; 404 when an end is missing. */
function ends(req: ApiRequest, write: boolean): Ends {
  const v = requestVHost(req, write)
  const source = v.exchanges.get(exchangeParam(req.params.source))
  const destName = req.params.dest
  const dest = req.params.kind === 'q' ? v.queues.get(destName) : v.exchanges.get(exchangeParam(destName))
  if (source === undefined || dest === undefined) throw objectNotFound()
  return { v, source, dest }
}

/** Bindings between the two ends (the implicit one included for the default exchange). */
function between(e: Ends): BindingLike[] {
  if (e.source.name === '' && e.dest.kind === 'queue') return [implicit(e.dest)]
  return [...e.source.bindings.values()].filter((b) => b.destination === e.dest).map(fromCore)
}

function findByProps(e: Ends, props: string): BindingLike | undefined {
  const { routingKey, hash } = unpackBindingProps(props)
  return between(e).find((b) => {
    if (b.routingKey !== routingKey) return false
    const hasArgs = Object.keys(b.arguments).length > 0
    return hash === undefined ? !hasArgs : hasArgs && argsHash(b.arguments) === hash
  })
}

function listBetween(req: ApiRequest): ApiReply {
  const e = ends(req, false)
  return ok(between(e).map((b) => bindingJson(e.v.name, b)))
}

function createBinding(req: ApiRequest): ApiReply {
  const e = ends(req, true)
  const o = objectBody(req.body)
  const routingKey = shortName(str(o, 'routing_key', ''), 'routing_key')
  const args = toFieldTable(o.arguments, 'arguments')
  // rabbit_channel binding_action, run as the user: write on the destination, read on the source
  const access = accessFor(req, e.v)
  access.checkBinding(e.dest.kind, e.dest.name, e.source.name)
  access.checkTopic('read', e.source, routingKey)
  if (e.dest.kind === 'queue') {
    // an administrative action: not blocked by another connection's exclusive ownership
    e.v.bindQueue(e.dest.name, e.source.name, routingKey, args, e.dest.options.exclusiveOwner)
  } else {
    e.v.bindExchange(e.dest.name, e.source.name, routingKey, args)
  }
  // RabbitMQ answers with the new binding's URL relative to the request path
  return created(`${encodeURIComponent(e.dest.name)}/${packBindingProps(routingKey, args)}`)
}

function getBinding(req: ApiRequest): ApiReply {
  const e = ends(req, false)
  const b = findByProps(e, req.params.props)
  if (b === undefined) throw objectNotFound()
  return ok(bindingJson(e.v.name, b))
}

function deleteBinding(req: ApiRequest): ApiReply {
  const e = ends(req, true)
  const b = findByProps(e, req.params.props)
  if (b === undefined) throw objectNotFound()
  if (e.source.name === '') throw notAuthorised('Access refused.')
  const access = accessFor(req, e.v)
  access.checkBinding(e.dest.kind, e.dest.name, e.source.name)
  access.checkTopic('read', e.source, b.routingKey)
  if (e.dest.kind === 'queue') e.v.unbindQueue(e.dest.name, e.source.name, b.routingKey, b.arguments, e.dest.options.exclusiveOwner)
  else e.v.unbindExchange(e.dest.name, e.source.name, b.routingKey, b.arguments)
  return noContent()
}

const SORT = { sort: ['vhost', 'source', 'destination', 'routing_key'] }

/** Adds the /api/bindings routes. */
export function registerBindings(router: Router): void {
  const list = (req: ApiRequest): ApiReply => {
    const defs = req.ctx.broker.cluster?.definitions ?? null
    return ok(listedVHosts(req).flatMap((v) => vhostBindings(v, defs === null ? [] : defs.remoteBindings(v.name))))
  }
  router.get('/api/bindings', list, { list: SORT })
  router.get('/api/bindings/:vhost', list, { list: SORT })
  for (const kind of ['q', 'e']) {
    const base = `/api/bindings/:vhost/e/:source/${kind}/:dest`
    const withKind = (h: (req: ApiRequest) => ApiReply) => (req: ApiRequest) => h({ ...req, params: { ...req.params, kind } })
    router.get(base, withKind(listBetween), { list: SORT })
    router.post(base, withKind(createBinding))
    router.get(`${base}/:props`, withKind(getBinding))
    router.delete(`${base}/:props`, withKind(deleteBinding))
  }
}
