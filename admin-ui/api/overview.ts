/** GET /api/overview and /api/cluster-name (RabbitMQ rabbit_mgmt_wm_overview, _cluster_name). */
import type { Broker, Listener } from '../../core/broker.js'
import { visibleVHosts } from '../auth.js'
import { objectBody, shortName, str } from '../coerce.js'
import { noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest } from '../http-errors.js'
import { details } from '../format.js'
import type { Router } from '../router.js'
import { RABBITMQ_VERSION, WARREN_VERSION } from '../version.js'
import { deliverGet, messageStats, withDetails } from './common.js'

const EXCHANGE_TYPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  direct: 'AMQP direct exchange, as per the AMQP specification',
  fanout: 'AMQP fanout exchange, as per the AMQP specification',
  headers: 'AMQP headers exchange, as per the AMQP specification',
  topic: 'AMQP topic exchange, as per the AMQP specification',
  'x-consistent-hash': 'Consistent Hashing Exchange',
  'x-message-deduplication': 'Message Deduplication Exchange.',
  'x-delayed-message': 'Delayed Message Exchange.',
}

const OVERVIEW_STATS = [
  'ack',
  'confirm',
  'deliver',
  'deliver_get',
  'deliver_no_ack',
  'drop_unroutable',
  'get',
  'get_empty',
  'get_no_ack',
  'publish',
  'redeliver',
  'return_unroutable',
]

/** The declarable exchange types, as /api/overview lists them. */
export function exchangeTypes(broker: Broker): { name: string; description: string; enabled: boolean }[] {
  return broker.exchangeTypes
    .names()
    .filter((n) => n !== 'x-default')
    .sort()
    .map((name) => ({ name, description: EXCHANGE_TYPE_DESCRIPTIONS[name] ?? `${name} exchange`, enabled: true }))
}

/** RabbitMQ's listener objects. */
export function listenersJson(broker: Broker): Record<string, unknown>[] {
  return broker.listeners.map((l: Listener) => ({
    node: broker.nodeName,
    protocol: l.protocol,
    ip_address: l.ip,
    port: l.port,
    socket_opts: {},
  }))
}

function overview(req: ApiRequest): ApiReply {
  const { broker, sampler } = req.ctx
  const g = sampler.globalCounters()
  const r = sampler.globalRates
  const counts: Record<string, number> = { ...g, deliver_get: deliverGet(g) }
  const rates: Record<string, number> = { ...r, deliver_get: deliverGet(r) }
  let queues = 0
  let exchanges = 0
  let consumers = 0
  let ready = 0
  let unacked = 0
  const vhosts = visibleVHosts(req)
  for (const v of vhosts) {
    queues += v.queues.size
    exchanges += v.exchanges.size
    for (const q of v.queues.values()) {
      consumers += q.consumerCount
      ready += q.messageCount
      unacked += q.unackedCount
    }
  }
  const names = new Set(vhosts.map((v) => v.name))
  const conns = [...broker.connections].filter((c) => c.vhostName === undefined || names.has(c.vhostName))
  let channels = 0
  for (const c of conns) for (const _ of c.channels()) channels++
  const d = sampler.depthRates
  const churn: Record<string, unknown> = {}
  const cr = sampler.churnRates
  for (const [k, v] of Object.entries(sampler.churn)) withDetails(churn, k, v, cr[k as keyof typeof cr])
  withDetails(churn, 'queue_declared', sampler.churn.queue_created, cr.queue_created)
  return ok({
    management_version: RABBITMQ_VERSION,
    rates_mode: 'basic',
    sample_retention_policies: { global: [600, 3600, 28800, 86400], basic: [600, 3600], detailed: [600] },
    exchange_types: exchangeTypes(broker),
    product_version: WARREN_VERSION,
    product_name: 'Warren',
    rabbitmq_version: RABBITMQ_VERSION,
    warren_version: WARREN_VERSION,
    cluster_name: broker.clusterName,
    erlang_version: `Node.js ${process.version}`,
    erlang_full_version: `Node.js ${process.version} (${process.platform}/${process.arch})`,
    release_series_support_status: 'supported',
    disable_stats: false,
    enable_queue_totals: false,
    message_stats: messageStats(counts, rates, OVERVIEW_STATS),
    churn_rates: churn,
    queue_totals: {
      messages: ready + unacked,
      messages_details: details(d.messages),
      messages_ready: ready,
      messages_ready_details: details(d.messages_ready),
      messages_unacknowledged: unacked,
      messages_unacknowledged_details: details(d.messages_unacknowledged),
    },
    object_totals: { channels, connections: conns.length, consumers, exchanges, queues },
    statistics_db_event_queue: 0,
    node: broker.nodeName,
    listeners: listenersJson(broker),
    contexts: broker.listeners
      .filter((l) => l.protocol === 'http')
      .map((l) => ({ ssl_opts: [], node: broker.nodeName, description: 'RabbitMQ Management', path: '/', port: String(l.port) })),
  })
}

/** Adds /api/overview, /api/cluster-name, /api/extensions and /api/auth. */
export function registerOverview(router: Router): void {
  router.get('/api/overview', overview)
  router.get('/api/cluster-name', (req) => ok({ name: req.ctx.broker.clusterName }))
  router.put(
    '/api/cluster-name',
    (req) => {
      const name = shortName(str(objectBody(req.body), 'name'), 'name')
      if (name === '') throw badRequest('name must not be empty')
      req.ctx.broker.clusterName = name
      return noContent()
    },
    { access: 'administrator' },
  )
  router.get('/api/extensions', () => ok([]))
  router.get('/api/auth', () => ok({ enable_uaa: false, uaa_client_id: '', uaa_location: '' }))
}
