/**
 * Exchanges (RabbitMQ rabbit_mgmt_wm_exchanges, _exchange, _exchange_publish): list, show, declare
 * with PUT (201 new, 204 identical, 400 inequivalent), delete (?if-unused=true), the bindings on
 * either side, and publishing a message. Declaration goes through the same VHost methods as AMQP.
 */
import { latenessQuantile } from '../../core/delayed/delayed-messages.js'
import type { Exchange } from '../../core/exchange.js'
import type { VHost } from '../../core/vhost.js'
import { listedVHosts, requestVHost } from '../auth.js'
import { bool, objectBody, shortName, str, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { notAuthorised, objectNotFound } from '../http-errors.js'
import type { Sampler } from '../rates.js'
import { accessFor } from '../resource-access.js'
import type { Router } from '../router.js'
import { exchangeBindings, exchangeParam } from './bindings.js'
import { messageStats } from './common.js'
import { publish } from './publish.js'

const isBuiltin = (x: Exchange): boolean => x.name === '' || x.name.startsWith('amq.')

/** An exchange as RabbitMQ lists it, with message_stats once it saw messages. */
export function exchangeJson(sampler: Sampler, x: Exchange): Record<string, unknown> {
  const out: Record<string, unknown> = {
    arguments: tableJson(x.arguments),
    auto_delete: x.autoDelete,
    durable: x.durable,
    internal: x.internal,
    name: x.name,
    type: x.type,
    user_who_performed_action: isBuiltin(x) ? 'rmq-internal' : '',
    vhost: x.vhost.name,
  }
  // rabbit_exchange:info policy: shown only when one applies
  if (x.policy !== null) out.policy = x.policy.name
  // x-delayed-message: the plugin's messages_delayed info item (a Warren addition to 3.10's JSON),
  // and how late due messages were routed (Warren's own)
  const delayed = x.router.delayed
  if (delayed !== undefined) {
    out.messages_delayed = delayed.pending
    const st = delayed.stats
    out.delayed_routed = st.routed
    out.delayed_lateness_ms = { p50: latenessQuantile(st, 0.5), p99: latenessQuantile(st, 0.99), max: st.maxLatenessMs }
  }
  if (x.publishIn > 0 || x.publishOut > 0) {
    const r = sampler.exchangeRates(x)
    out.message_stats = messageStats(
      { publish_in: x.publishIn, publish_out: x.publishOut },
      { publish_in: r.publishIn, publish_out: r.publishOut },
      ['publish_in', 'publish_out'],
    )
  }
  return out
}

function exchangeOf(req: ApiRequest, write = false): { v: VHost; x: Exchange } {
  const v = requestVHost(req, write)
  const x = v.exchanges.get(exchangeParam(req.params.name))
  if (x === undefined) throw objectNotFound()
  return { v, x }
}

function putExchange(req: ApiRequest): ApiReply | Promise<ApiReply> {
  const v = requestVHost(req, true)
  const name = shortName(exchangeParam(req.params.name), 'exchange name')
  const o = objectBody(req.body)
  const type = str(o, 'type', 'direct')
  const options = {
    durable: bool(o, 'durable', false),
    autoDelete: bool(o, 'auto_delete', false),
    internal: bool(o, 'internal', false),
    arguments: toFieldTable(o.arguments, 'arguments'),
  }
  const existed = v.exchanges.has(name)
  // rabbit_channel exchange.declare, run as the user: configure (and the alternate-exchange checks)
  const authorize = accessFor(req, v).exchangeDeclareCheck(options.arguments)
  const declare = (): void => void v.declareExchange(name, type, options, false, authorize)
  const defs = req.ctx.broker.cluster?.definitions
  if (!existed && defs != null && !name.startsWith('amq.') && req.ctx.broker.exchangeTypes.get(type) !== undefined) {
    // a new exchange in a cluster is claimed in etcd as over AMQP (cluster-topology.ts): of two
    // nodes creating it at once with different types, one gets 201 and the other 400 inequivalent
    authorize(name, true)
    return defs.claimExchange(v.name, name, type, options, declare).then((won) => {
      if (won) return created()
      declare()
      return noContent()
    })
  }
  declare()
  return existed ? noContent() : created()
}

function deleteExchange(req: ApiRequest): ApiReply {
  const { v, x } = exchangeOf(req, true)
  if (isBuiltin(x)) throw notAuthorised('Access refused.')
  accessFor(req, v).check('configure', 'exchange', x.name)
  v.deleteExchange(x.name, req.query.get('if-unused') === 'true')
  return noContent()
}

const SORT = { sort: ['vhost', 'name'] }

/** Adds the exchange routes. */
export function registerExchanges(router: Router): void {
  const list = (req: ApiRequest): ApiReply =>
    ok(listedVHosts(req).flatMap((v) => [...v.exchanges.values()].map((x) => exchangeJson(req.ctx.sampler, x))))
  router.get('/api/exchanges', list, { list: SORT })
  router.get('/api/exchanges/:vhost', list, { list: SORT })
  router.get('/api/exchanges/:vhost/:name', (req) => ok(exchangeJson(req.ctx.sampler, exchangeOf(req).x)))
  router.put('/api/exchanges/:vhost/:name', putExchange)
  router.delete('/api/exchanges/:vhost/:name', deleteExchange)
  for (const side of ['source', 'destination'] as const) {
    router.get(
      `/api/exchanges/:vhost/:name/bindings/${side}`,
      (req) => {
        const { v, x } = exchangeOf(req)
        return ok(exchangeBindings(v, x, side))
      },
      { list: { sort: ['vhost', 'source', 'destination', 'routing_key'] } },
    )
  }
  router.post('/api/exchanges/:vhost/:name/publish', (req) => {
    const v = requestVHost(req, true)
    const name = exchangeParam(req.params.name)
    return publish(req, v, v.exchanges.get(name), name)
  }, { largeBody: true })
}
