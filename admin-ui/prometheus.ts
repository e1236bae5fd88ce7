/**
 * GET /metrics, /metrics/per-object and /metrics/detailed in the Prometheus text format 0.0.4, with
 * rabbitmq_prometheus' metric names (what the official Grafana "RabbitMQ-Overview" dashboard
 * queries). /metrics aggregates the queue, channel and connection families; /metrics/per-object
 * labels them per object; /metrics/detailed writes only the families asked for. The metric groups
 * are in prometheus-families.ts, the text format in prometheus-text.ts.
 */
import type { IncomingMessage } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { ApiContext } from './context.js'
import { backlogFamilies } from './prometheus-backlog.js'
import { MESSAGE_SIZE_BOUNDS } from '../core/message-sizes.js'
import { CLUSTER_FAMILIES, DEFAULT_FAMILIES, FAMILIES, type Scope } from './prometheus-families.js'
import { Exposition, type Labels } from './prometheus-text.js'
import type { Counters } from './rates.js'
import { clusterId, RABBITMQ_VERSION, WARREN_VERSION } from './version.js'

const AMQP = { protocol: 'amqp091' }
/** Prometheus queue_type label per Warren queue type (RabbitMQ's queue type modules). */
const QUEUE_TYPES: [string, string][] = [
  ['classic', 'rabbit_classic_queue'],
  ['quorum', 'rabbit_quorum_queue'],
  ['stream', 'rabbit_stream_queue'],
]

/** The endpoints and their `rabbitmq_endpoint` label (RabbitMQ 4.0.7+ on rabbitmq_identity_info). */
const ENDPOINTS: Record<string, string> = { '/metrics': 'aggregated', '/metrics/per-object': 'per-object', '/metrics/detailed': 'detailed' }

function alarms(e: Exposition, api: ApiContext): void {
  const { broker } = api
  e.one('rabbitmq_alarms_file_descriptor_limit', 'untyped', 'is 1 if file descriptor limit alarm is in effect', broker.fdAlarmOn ? 1 : 0)
  e.one('rabbitmq_alarms_free_disk_space_watermark', 'untyped', 'is 1 if free disk space watermark alarm is in effect', broker.diskAlarmOn ? 1 : 0)
  e.one('rabbitmq_alarms_memory_used_watermark', 'untyped', 'is 1 if VM memory watermark alarm is in effect', broker.memAlarmOn ? 1 : 0)
}

/** RabbitMQ's object totals (connections, channels, consumers, queues). */
function totals(e: Exposition, api: ApiContext): void {
  const { broker } = api
  let consumers = 0
  let queues = 0
  let channels = 0
  for (const v of broker.vhosts.values()) {
    queues += v.queues.size
    for (const q of v.queues.values()) consumers += q.consumerCount
  }
  for (const c of broker.connections) for (const _ of c.channels()) channels++
  e.one('rabbitmq_connections', 'gauge', 'Connections currently open', broker.connections.size)
  e.one('rabbitmq_channels', 'gauge', 'Channels currently open', channels)
  e.one('rabbitmq_consumers', 'gauge', 'Consumers currently connected', consumers)
  e.one('rabbitmq_queues', 'gauge', 'Queues available', queues)
}

/** rabbitmq_build_info and rabbitmq_identity_info, the series every dashboard query joins on. */
export function identity(e: Exposition, api: ApiContext, endpoint: string): void {
  const { broker } = api
  e.family('rabbitmq_build_info', 'untyped', 'RabbitMQ & Erlang/OTP version info', [
    [{ rabbitmq_version: RABBITMQ_VERSION, prometheus_plugin_version: RABBITMQ_VERSION, prometheus_client_version: '4.9.1', erlang_version: process.version, warren_version: WARREN_VERSION }, 1],
  ])
  e.family('rabbitmq_identity_info', 'untyped', 'RabbitMQ node & cluster identity info', [
    [{ rabbitmq_node: broker.nodeName, rabbitmq_cluster: broker.clusterName, rabbitmq_cluster_permanent_id: clusterId(broker), rabbitmq_endpoint: endpoint }, 1],
  ])
}

/** rabbit_global_counters: per protocol, and per queue type for what queues count. */
function globalFamilies(e: Exposition, api: ApiContext): void {
  const { broker } = api
  let consumers = 0
  for (const v of broker.vhosts.values()) for (const q of v.queues.values()) consumers += q.consumerCount
  // RabbitMQ: a channel becomes a publisher on its first basic.publish, until it closes
  let publishers = 0
  for (const c of broker.connections) for (const ch of c.channels()) if (ch.messageStats.publish > 0) publishers++
  const byType = api.sampler.queueTypeTotals()
  const perType = (pick: (c: Counters) => number): [Labels, number][] =>
    QUEUE_TYPES.map(([t, label]) => {
      const c = byType.get(t)
      return [{ ...AMQP, queue_type: label }, c === undefined ? 0 : pick(c)]
    })
  const s = broker.stats
  const g = api.sampler.globalCounters()
  const gl = (name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number][]): void =>
    e.family(`rabbitmq_global_${name}`, type, help, samples)
  gl('consumers', 'gauge', 'Current number of consumers', [[AMQP, consumers]])
  gl('publishers', 'gauge', 'Current number of publishers', [[AMQP, publishers]])
  gl('messages_acknowledged_total', 'counter', 'Total number of messages acknowledged by consumers', perType((c) => c.ack))
  gl('messages_confirmed_total', 'counter', 'Total number of messages confirmed to publishers', [[AMQP, s.confirm]])
  gl('messages_delivered_total', 'counter', 'Total number of messages delivered to consumers', perType((c) => c.deliver + c.deliver_no_ack + c.get + c.get_no_ack))
  gl('messages_delivered_consume_manual_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', perType((c) => c.deliver))
  gl('messages_delivered_consume_auto_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', perType((c) => c.deliver_no_ack))
  gl('messages_delivered_get_manual_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', perType((c) => c.get))
  gl('messages_delivered_get_auto_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', perType((c) => c.get_no_ack))
  gl('messages_get_empty_total', 'counter', 'Total number of times basic.get operations fetched no message', perType((c) => c.get_empty))
  gl('messages_redelivered_total', 'counter', 'Total number of messages redelivered to consumers', perType((c) => c.redeliver))
  gl('messages_received_total', 'counter', 'Total number of messages received from publishers', [[AMQP, s.publish]])
  gl('messages_received_confirm_total', 'counter', 'Total number of messages received from publishers expecting confirmations', [[AMQP, s.receivedConfirm]])
  gl('messages_routed_total', 'counter', 'Total number of messages routed to queues or streams', [[AMQP, Math.max(0, g.publish - g.drop_unroutable - g.return_unroutable)]])
  gl('messages_unroutable_dropped_total', 'counter', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', [[AMQP, s.unroutable]])
  gl('messages_unroutable_returned_total', 'counter', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', [[AMQP, s.returned]])
}

/** rabbit_msg_size_metrics: the body sizes of published messages. */
function messageSizes(e: Exposition, api: ApiContext): void {
  const h = api.broker.messageSizes
  e.histogram('rabbitmq_message_size_bytes', 'Size of messages received from publishers', [
    { labels: AMQP, bounds: MESSAGE_SIZE_BOUNDS, cumulative: h.cumulative(), sum: h.sum },
  ])
}

/** The metrics text for a path and query, or undefined for an unknown path. */
export function metricsText(api: ApiContext, path: string, query = new URLSearchParams()): string | undefined {
  const endpoint = ENDPOINTS[path]
  if (endpoint === undefined) return undefined
  // a cluster member labels every series with its cluster (as identity_info does on a single node)
  const e = new Exposition(api.broker.cluster === null ? null : { rabbitmq_cluster: api.broker.clusterName })
  if (endpoint === 'detailed') {
    detailedFamilies(e, api, query)
    identity(e, api, endpoint)
    return e.text()
  }
  const scope: Scope = { prefix: 'rabbitmq_', perObject: endpoint === 'per-object', vhosts: null }
  alarms(e, api)
  for (const name of DEFAULT_FAMILIES) FAMILIES[name](e, api, scope)
  totals(e, api)
  globalFamilies(e, api)
  messageSizes(e, api)
  backlogFamilies(e, api, scope.perObject)
  identity(e, api, endpoint)
  return e.text()
}

/**
 * /metrics/detailed: only the families named by `?family=` (several allowed; unknown names are
 * ignored, as RabbitMQ does), per object, prefixed `rabbitmq_detailed_` (`rabbitmq_cluster_` for
 * vhost_status, exchange_bindings, exchange_names); `?vhost=` limits queues and exchanges to those
 * vhosts (unknown ones are ignored, so only unknown ones means none).
 */
function detailedFamilies(e: Exposition, api: ApiContext, query: URLSearchParams): void {
  const names = new Set(query.getAll('family'))
  const asked = query.getAll('vhost')
  const vhosts = asked.length === 0 ? null : new Set(asked.filter((v) => api.broker.vhosts.has(v)))
  // RabbitMQ: queue_consumer_count is a subset of queue_metrics, written only without it
  if (names.has('queue_metrics')) names.delete('queue_consumer_count')
  const raw: Scope = { prefix: 'rabbitmq_detailed_', perObject: true, vhosts }
  for (const [name, group] of Object.entries(FAMILIES)) if (names.has(name)) group(e, api, raw)
  const cluster: Scope = { prefix: 'rabbitmq_cluster_', perObject: true, vhosts }
  for (const [name, group] of Object.entries(CLUSTER_FAMILIES)) if (names.has(name)) group(e, api, cluster)
}

/** Status, headers and body of a Prometheus-port answer. */
export interface PrometheusResponse {
  status: number
  headers: Record<string, string>
  body: string | Buffer
}

/** Answers one request on the Prometheus port (gzip when the scraper accepts it). */
export function prometheusResponse(api: ApiContext, req: IncomingMessage): PrometheusResponse {
  let url: URL
  try {
    url = new URL(req.url ?? '/', 'http://localhost')
  } catch {
    return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'bad request\n' }
  }
  const path = url.pathname
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { status: 405, headers: { 'content-type': 'text/plain', allow: 'GET, HEAD' }, body: 'method not allowed\n' }
  }
  const text = metricsText(api, path, url.searchParams)
  // RabbitMQ (rabbit_prometheus_handler): /metrics/<unknown registry> → 404 "Unknown Registry"
  if (text === undefined && path.startsWith('/metrics/')) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Unknown Registry' }
  if (text === undefined) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found; see /metrics\n' }
  const headers: Record<string, string> = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    headers['content-encoding'] = 'gzip'
    return { status: 200, headers, body: gzipSync(text) }
  }
  return { status: 200, headers, body: text }
}
