/**
 * rabbitmq_prometheus' metric groups ("families", the names `/metrics/detailed?family=` takes), each
 * written aggregated (one sample per metric, /metrics) or per object (/metrics/per-object and
 * /metrics/detailed), under a name prefix (`rabbitmq_` or `rabbitmq_detailed_`). Metric names, help
 * texts and labels are RabbitMQ's (prometheus_rabbitmq_core_metrics_collector). Metrics that only mean
 * something inside Erlang (reductions, schedulers, garbage collection) are left out.
 */
import type { ChannelInfo } from '../core/connections.js'
import type { Exchange } from '../core/exchange.js'
import type { Queue } from '../core/queue.js'
import type { VHost } from '../core/vhost.js'
import type { ApiContext } from './context.js'
import type { Exposition, Labels, MetricType } from './prometheus-text.js'
import { queueCounters, type Counters } from './rates.js'
import { diskFree, maxFds, maxSockets, memoryLimit, openFds } from './system.js'

/** How a group is written: name prefix, per object or summed, and the vhosts it may show. */
export interface Scope {
  prefix: string
  perObject: boolean
  /** `?vhost=` of /metrics/detailed: only these vhosts' queues and exchanges (null: all) */
  vhosts: ReadonlySet<string> | null
}

type Group = (e: Exposition, api: ApiContext, s: Scope) => void
/** One metric of a group: name (without prefix), type, help, and its value for a row. */
type Metric<R> = [string, MetricType, string, (r: R) => number]

/** Writes `metrics` for `rows`: one sample per row (labels from `labels`) or their sum. */
function emit<R>(e: Exposition, s: Scope, rows: R[], labels: (r: R) => Labels, metrics: Metric<R>[]): void {
  for (const [name, type, help, pick] of metrics) {
    const samples: [Labels, number][] = s.perObject ? rows.map((r) => [labels(r), pick(r)]) : [[{}, rows.reduce((sum, r) => sum + pick(r), 0)]]
    e.family(s.prefix + name, type, help, samples)
  }
}

/** Node-wide values (no labels either way). */
function node(e: Exposition, s: Scope, metrics: [string, MetricType, string, number][]): void {
  for (const [name, type, help, v] of metrics) e.one(s.prefix + name, type, help, v)
}

const visible = (api: ApiContext, s: Scope): VHost[] => [...api.broker.vhosts.values()].filter((v) => s.vhosts === null || s.vhosts.has(v.name))
const queues = (api: ApiContext, s: Scope): Queue[] => visible(api, s).flatMap((v) => [...v.queues.values()])
const queueLabels = (q: Queue): Labels => ({ vhost: q.vhost.name, queue: q.name })

function channels(api: ApiContext): { label: string; ch: ChannelInfo }[] {
  const out: { label: string; ch: ChannelInfo }[] = []
  for (const c of api.broker.connections) for (const ch of c.channels()) out.push({ label: `${c.name} (${ch.id})`, ch })
  return out
}

const QUEUE_DELIVERY: Metric<Counters>[] = [
  ['get_ack_total', 'counter', 'Total number of messages fetched with basic.get in manual acknowledgement mode', (c) => c.get],
  ['get_total', 'counter', 'Total number of messages fetched with basic.get in automatic acknowledgement mode', (c) => c.get_no_ack],
  ['messages_delivered_ack_total', 'counter', 'Total number of messages delivered to consumers in manual acknowledgement mode', (c) => c.deliver],
  ['messages_delivered_total', 'counter', 'Total number of messages delivered to consumers in automatic acknowledgement mode', (c) => c.deliver_no_ack],
  ['messages_redelivered_total', 'counter', 'Total number of messages redelivered to consumers', (c) => c.redeliver],
  ['messages_acked_total', 'counter', 'Total number of messages acknowledged by consumers', (c) => c.ack],
  ['get_empty_total', 'counter', 'Total number of times basic.get operations fetched no message', (c) => c.get_empty],
]

/** The groups by RabbitMQ family name, in RabbitMQ's order. */
export const FAMILIES: Record<string, Group> = {
  connection_churn_metrics(e, api, s) {
    const c = api.sampler.churn
    node(e, s, [
      ['connections_opened_total', 'counter', 'Total number of connections opened', c.connection_created],
      ['connections_closed_total', 'counter', 'Total number of connections closed or terminated', c.connection_closed],
      ['channels_opened_total', 'counter', 'Total number of channels opened', c.channel_created],
      ['channels_closed_total', 'counter', 'Total number of channels closed', c.channel_closed],
      ['queues_declared_total', 'counter', 'Total number of queues declared', c.queue_created],
      ['queues_created_total', 'counter', 'Total number of queues created', c.queue_created],
      ['queues_deleted_total', 'counter', 'Total number of queues deleted', c.queue_deleted],
    ])
  },
  node_coarse_metrics(e, api, s) {
    node(e, s, [
      ['process_open_fds', 'gauge', 'Open file descriptors', openFds()],
      ['process_open_tcp_sockets', 'gauge', 'Open TCP sockets', api.broker.connections.size],
      ['process_resident_memory_bytes', 'gauge', 'Memory used in bytes', process.memoryUsage().rss],
      ['disk_space_available_bytes', 'gauge', 'Disk space available in bytes', diskFree(api.broker.config.dataDir)],
    ])
  },
  node_metrics(e, api, s) {
    node(e, s, [
      ['process_max_fds', 'gauge', 'Open file descriptors limit', maxFds()],
      ['process_max_tcp_sockets', 'gauge', 'Open TCP sockets limit', maxSockets()],
      ['resident_memory_limit_bytes', 'gauge', 'Memory high watermark in bytes', memoryLimit(api.broker)],
      ['disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark in bytes', api.broker.config.diskFreeLimit],
      // the broker process's uptime (RabbitMQ: the Erlang node's)
      ['erlang_uptime_seconds', 'gauge', 'Node uptime', Math.round(process.uptime() * 1000) / 1000],
    ])
  },
  queue_coarse_metrics(e, api, s) {
    emit(e, s, queues(api, s), queueLabels, [
      ['queue_messages_ready', 'gauge', 'Messages ready to be delivered to consumers', (q) => q.messageCount],
      ['queue_messages_unacked', 'gauge', 'Messages delivered to consumers but not yet acknowledged', (q) => q.unackedCount],
      ['queue_messages', 'gauge', 'Sum of ready and unacknowledged messages - total queue depth', (q) => q.messageCount + q.unackedCount],
    ])
  },
  queue_consumer_count(e, api, s) {
    emit(e, s, queues(api, s), queueLabels, [['queue_consumers', 'gauge', 'Consumers on a queue', (q) => q.consumerCount]])
  },
  queue_metrics(e, api, s) {
    emit(e, s, queues(api, s), queueLabels, [
      ['queue_consumers', 'gauge', 'Consumers on a queue', (q) => q.consumerCount],
      ['queue_messages_bytes', 'gauge', 'Size in bytes of ready and unacknowledged messages', (q) => q.readyBytes + q.unackedBytes],
      ['queue_messages_ready_bytes', 'gauge', 'Size in bytes of ready messages', (q) => q.readyBytes],
      ['queue_messages_unacked_bytes', 'gauge', 'Size in bytes of all unacknowledged messages', (q) => q.unackedBytes],
    ])
  },
  channel_metrics(e, api, s) {
    emit(e, s, channels(api), (c) => ({ channel: c.label }), [
      ['channel_consumers', 'gauge', 'Consumers on a channel', (c) => c.ch.consumerCount],
      ['channel_messages_unacked', 'gauge', 'Delivered but not yet acknowledged messages', (c) => c.ch.unackedCount],
      ['channel_messages_unconfirmed', 'gauge', 'Published but not yet confirmed messages', () => 0],
      ['consumer_prefetch', 'gauge', 'Limit of unacknowledged messages for each consumer', (c) => c.ch.prefetchCount],
      ['channel_prefetch', 'gauge', 'Total limit of unacknowledged messages for all consumers on a channel', (c) => c.ch.globalPrefetchCount],
    ])
  },
  channel_exchange_metrics(e, api, s) {
    // summed: the broker-wide counters, which keep what closed channels counted (monotonic for rate())
    const g = api.sampler.globalCounters()
    const rows = s.perObject
      ? channels(api).map((c) => ({ label: c.label, m: c.ch.messageStats }))
      : [{ label: '', m: { publish: g.publish, confirm: g.confirm, return_unroutable: g.return_unroutable, drop_unroutable: g.drop_unroutable } }]
    emit(e, s, rows, (r) => ({ channel: r.label }), [
      ['channel_messages_published_total', 'counter', 'Total number of messages published into an exchange on a channel', (r) => r.m.publish],
      ['channel_messages_confirmed_total', 'counter', 'Total number of messages published into an exchange and confirmed on the channel', (r) => r.m.confirm],
      ['channel_messages_unroutable_returned_total', 'counter', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', (r) => r.m.return_unroutable],
      ['channel_messages_unroutable_dropped_total', 'counter', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', (r) => r.m.drop_unroutable],
    ])
  },
  channel_queue_metrics(e, api, s) {
    const rows: { label: string; c: Counters }[] = s.perObject
      ? channels(api).map((c) => ({ label: c.label, c: c.ch.messageStats }))
      : [{ label: '', c: api.sampler.queueTotals() }]
    emit(e, s, rows, (r) => ({ channel: r.label }), QUEUE_DELIVERY.map(([n, t, h, f]) => [`channel_${n}`, t, h, (r) => f(r.c)] as Metric<(typeof rows)[number]>))
  },
  connection_coarse_metrics(e, api, s) {
    emit(e, s, [...api.broker.connections], (c) => ({ channel: c.name }), [
      ['connection_incoming_bytes_total', 'counter', 'Total number of bytes received on a connection', (c) => c.bytesIn],
      ['connection_outgoing_bytes_total', 'counter', 'Total number of bytes sent on a connection', (c) => c.bytesOut],
    ])
  },
  connection_metrics(e, api, s) {
    emit(e, s, [...api.broker.connections], (c) => ({ channel: c.name }), [
      ['connection_incoming_packets_total', 'counter', 'Total number of packets received on a connection', (c) => c.recvCount],
      ['connection_outgoing_packets_total', 'counter', 'Total number of packets sent on a connection', (c) => c.sendCount],
      ['connection_pending_packets', 'gauge', 'Number of packets waiting to be sent on a connection', () => 0],
      ['connection_channels', 'gauge', 'Channels on a connection', (c) => [...c.channels()].length],
    ])
  },
  channel_queue_exchange_metrics(e, api, s) {
    if (s.perObject) emit(e, s, queues(api, s), queueLabels, [['queue_messages_published_total', 'counter', 'Total number of messages published to queues', (q) => q.stats.publish]])
    // summed, deleted queues' messages still count
    else e.one(s.prefix + 'queue_messages_published_total', 'counter', 'Total number of messages published to queues', api.sampler.queueTotals().publish)
  },
  exchange_metrics(e, api, s) {
    const xs = visible(api, s).flatMap((v) => [...v.exchanges.values()])
    emit(e, s, xs, (x) => ({ vhost: x.vhost.name, exchange: x.name }), [
      ['exchange_messages_published_total', 'counter', 'Total number of messages published into an exchange', (x) => x.publishIn],
    ])
  },
  queue_delivery_metrics(e, api, s) {
    const rows = queues(api, s).map((q) => ({ q, c: queueCounters(q) }))
    emit(e, s, rows, (r) => queueLabels(r.q), QUEUE_DELIVERY.map(([n, t, h, f]) => [`queue_${n}`, t, h, (r) => f(r.c)] as Metric<(typeof rows)[number]>))
  },
}

/** Groups /metrics and /metrics/per-object always write (RabbitMQ 3.10's METRICS_RAW that Warren has). */
export const DEFAULT_FAMILIES = [
  'connection_churn_metrics',
  'node_coarse_metrics',
  'node_metrics',
  'queue_coarse_metrics',
  'queue_metrics',
  'channel_metrics',
  'channel_exchange_metrics',
  'channel_queue_metrics',
  'connection_coarse_metrics',
  'connection_metrics',
  'channel_queue_exchange_metrics',
]

/** RabbitMQ's exchange_bindings and exchange_names: every vhost (no ?vhost= filter), not the default exchange, not internal ones. */
const listedExchanges = (api: ApiContext): Exchange[] =>
  [...api.broker.vhosts.values()].flatMap((v) => [...v.exchanges.values()].filter((x) => x.name !== '' && !x.internal))

/** /metrics/detailed only, with the `rabbitmq_cluster_` prefix (RabbitMQ METRICS_CLUSTER). */
export const CLUSTER_FAMILIES: Record<string, Group> = {
  vhost_status(e, api, s) {
    e.family(s.prefix + 'vhost_status', 'gauge', 'Whether a given vhost is running', [...api.broker.vhosts.keys()].map((v) => [{ vhost: v }, 1]))
  },
  exchange_bindings(e, api, s) {
    const xs = listedExchanges(api)
    e.family(s.prefix + 'exchange_bindings', 'gauge', 'Number of bindings for an exchange. This value is cluster-wide.', xs.map((x) => [{ vhost: x.vhost.name, exchange: x.name, type: x.type }, x.bindings.size]))
  },
  exchange_names(e, api, s) {
    const xs = listedExchanges(api)
    e.family(
      s.prefix + 'exchange_name',
      'gauge',
      'Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`',
      xs.map((x) => [{ vhost: x.vhost.name, exchange: x.name, type: x.type }, 1]),
    )
  },
}
