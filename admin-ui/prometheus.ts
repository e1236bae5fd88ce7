/**
 * GET /metrics and /metrics/per-object in the Prometheus text format 0.0.4, with rabbitmq_prometheus'
 * metric names (what the official Grafana "RabbitMQ-Overview" dashboard queries). /metrics
 * aggregates the queue, channel and connection families; /metrics/per-object labels them per object.
 */
import type { IncomingMessage } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { ApiContext } from './context.js'
import { diskFree, DISK_FREE_LIMIT, maxFds, memoryLimit, openFds } from './system.js'
import { clusterId, RABBITMQ_VERSION, WARREN_VERSION } from './version.js'

type Labels = Record<string, string | number>

/** Builds the text: one `# TYPE`/`# HELP` pair per family, then its samples. */
class Exposition {
  private readonly lines: string[] = []

  family(name: string, type: 'counter' | 'gauge' | 'untyped', help: string, samples: [Labels, number][]): void {
    this.lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${help}`)
    for (const [labels, value] of samples) this.lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
  }

  /** A family with one unlabelled sample. */
  one(name: string, type: 'counter' | 'gauge' | 'untyped', help: string, value: number): void {
    this.family(name, type, help, [[{}, value]])
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ''
  const esc = (v: string | number): string => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  return `{${keys.map((k) => `${k}="${esc(labels[k])}"`).join(',')}}`
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf'
  return String(v)
}

const AMQP = { protocol: 'amqp091' }
const QUEUE_TYPES = ['rabbit_classic_queue', 'rabbit_quorum_queue', 'rabbit_stream_queue']

/** Classic queue counts; Warren has no separate quorum or stream implementation, so those are 0. */
const byQueueType = (value: number): [Labels, number][] =>
  QUEUE_TYPES.map((t, i) => [{ ...AMQP, queue_type: t }, i === 0 ? value : 0] as [Labels, number])

function nodeFamilies(e: Exposition, api: ApiContext): void {
  const { broker, sampler } = api
  e.one('rabbitmq_alarms_file_descriptor_limit', 'untyped', 'is 1 if file descriptor limit alarm is in effect', broker.fdAlarmOn ? 1 : 0)
  e.one('rabbitmq_alarms_free_disk_space_watermark', 'untyped', 'is 1 if free disk space watermark alarm is in effect', broker.diskAlarmOn ? 1 : 0)
  e.one('rabbitmq_alarms_memory_used_watermark', 'untyped', 'is 1 if VM memory watermark alarm is in effect', 0)
  const c = sampler.churn
  e.one('rabbitmq_connections_opened_total', 'counter', 'Total number of connections opened', c.connection_created)
  e.one('rabbitmq_connections_closed_total', 'counter', 'Total number of connections closed or terminated', c.connection_closed)
  e.one('rabbitmq_channels_opened_total', 'counter', 'Total number of channels opened', c.channel_created)
  e.one('rabbitmq_channels_closed_total', 'counter', 'Total number of channels closed', c.channel_closed)
  e.one('rabbitmq_queues_declared_total', 'counter', 'Total number of queues declared', c.queue_created)
  e.one('rabbitmq_queues_created_total', 'counter', 'Total number of queues created', c.queue_created)
  e.one('rabbitmq_queues_deleted_total', 'counter', 'Total number of queues deleted', c.queue_deleted)
  e.one('rabbitmq_process_open_fds', 'gauge', 'Open file descriptors', openFds())
  e.one('rabbitmq_process_resident_memory_bytes', 'gauge', 'Memory used in bytes', process.memoryUsage().rss)
  e.one('rabbitmq_disk_space_available_bytes', 'gauge', 'Disk space available in bytes', diskFree(broker.config.dataDir))
  e.one('rabbitmq_process_max_fds', 'gauge', 'Open file descriptors limit', maxFds())
  e.one('rabbitmq_resident_memory_limit_bytes', 'gauge', 'Memory high watermark in bytes', memoryLimit())
  e.one('rabbitmq_disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark in bytes', DISK_FREE_LIMIT)
}

interface QueueRow {
  labels: Labels
  ready: number
  unacked: number
  consumers: number
  bytes: number
  published: number
}

function queueRows(api: ApiContext): QueueRow[] {
  const rows: QueueRow[] = []
  for (const v of api.broker.vhosts.values()) {
    for (const q of v.queues.values()) {
      rows.push({
        labels: { vhost: v.name, queue: q.name },
        ready: q.messageCount,
        unacked: q.unackedCount,
        consumers: q.consumerCount,
        bytes: q.readyBytes,
        published: q.stats.publish,
      })
    }
  }
  return rows
}

/** The queue, channel and connection families, summed (`perObject` false) or one sample per object. */
function objectFamilies(e: Exposition, api: ApiContext, perObject: boolean): void {
  const rows = queueRows(api)
  const fam = (name: string, type: 'counter' | 'gauge', help: string, pick: (r: QueueRow) => number): void => {
    const samples: [Labels, number][] = perObject ? rows.map((r) => [r.labels, pick(r)]) : [[{}, rows.reduce((s, r) => s + pick(r), 0)]]
    e.family(name, type, help, samples)
  }
  fam('rabbitmq_queue_messages_ready', 'gauge', 'Messages ready to be delivered to consumers', (r) => r.ready)
  fam('rabbitmq_queue_messages_unacked', 'gauge', 'Messages delivered to consumers but not yet acknowledged', (r) => r.unacked)
  fam('rabbitmq_queue_messages', 'gauge', 'Sum of ready and unacknowledged messages - total queue depth', (r) => r.ready + r.unacked)
  fam('rabbitmq_queue_consumers', 'gauge', 'Consumers on a queue', (r) => r.consumers)
  fam('rabbitmq_queue_messages_bytes', 'gauge', 'Size in bytes of ready and unacknowledged messages', (r) => r.bytes)
  if (perObject) fam('rabbitmq_queue_messages_published_total', 'counter', 'Total number of messages published to queues', (r) => r.published)
  else e.one('rabbitmq_queue_messages_published_total', 'counter', 'Total number of messages published to queues', api.sampler.queueTotals().publish)

  const chans: [Labels, number, number][] = []
  const conns: [Labels, number, number][] = []
  for (const c of api.broker.connections) {
    conns.push([{ channel: c.name }, c.bytesIn, c.bytesOut])
    for (const ch of c.channels()) chans.push([{ channel: `${c.name} (${ch.id})` }, ch.consumerCount, ch.unackedCount])
  }
  const sum = <T extends unknown[]>(list: T[], i: number): number => list.reduce((s, x) => s + (x[i] as number), 0)
  const per = <T extends [Labels, ...number[]]>(list: T[], i: number): [Labels, number][] =>
    perObject ? list.map((x) => [x[0], x[i] as number]) : [[{}, sum(list, i)]]
  e.family('rabbitmq_channel_consumers', 'gauge', 'Consumers on a channel', per(chans, 1))
  e.family('rabbitmq_channel_messages_unacked', 'gauge', 'Delivered but not yet acknowledged messages', per(chans, 2))
  e.one('rabbitmq_channel_messages_unconfirmed', 'gauge', 'Published but not yet confirmed messages', 0)
  e.family('rabbitmq_connection_incoming_bytes_total', 'counter', 'Total number of bytes received on a connection', per(conns, 1))
  e.family('rabbitmq_connection_outgoing_bytes_total', 'counter', 'Total number of bytes sent on a connection', per(conns, 2))
}

function channelCounters(e: Exposition, api: ApiContext): void {
  const g = api.sampler.globalCounters()
  const one = (name: string, help: string, v: number): void => e.one(`rabbitmq_channel_${name}`, 'counter', help, v)
  one('messages_published_total', 'Total number of messages published into an exchange on a channel', g.publish)
  one('messages_confirmed_total', 'Total number of messages published into an exchange and confirmed on the channel', g.confirm)
  one('messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', g.return_unroutable)
  one('messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', g.drop_unroutable)
  one('get_ack_total', 'Total number of messages fetched with basic.get in manual acknowledgement mode', g.get)
  one('get_total', 'Total number of messages fetched with basic.get in automatic acknowledgement mode', g.get_no_ack)
  one('messages_delivered_ack_total', 'Total number of messages delivered to consumers in manual acknowledgement mode', g.deliver)
  one('messages_delivered_total', 'Total number of messages delivered to consumers in automatic acknowledgement mode', g.deliver_no_ack)
  one('messages_redelivered_total', 'Total number of messages redelivered to consumers', g.redeliver)
  one('messages_acked_total', 'Total number of messages acknowledged by consumers', g.ack)
  one('get_empty_total', 'Total number of times basic.get operations fetched no message', g.get_empty)
}

function globalFamilies(e: Exposition, api: ApiContext): void {
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
  e.family('rabbitmq_build_info', 'untyped', 'RabbitMQ & Erlang/OTP version info', [
    [{ rabbitmq_version: RABBITMQ_VERSION, prometheus_plugin_version: RABBITMQ_VERSION, prometheus_client_version: '4.9.1', erlang_version: process.version, warren_version: WARREN_VERSION }, 1],
  ])
  e.family('rabbitmq_identity_info', 'untyped', 'RabbitMQ node & cluster identity info', [
    [{ rabbitmq_node: broker.nodeName, rabbitmq_cluster: broker.clusterName, rabbitmq_cluster_permanent_id: clusterId(broker) }, 1],
  ])
  const g = api.sampler.globalCounters()
  const gl = (name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number][]): void =>
    e.family(`rabbitmq_global_${name}`, type, help, samples)
  gl('consumers', 'gauge', 'Current number of consumers', [[AMQP, consumers]])
  gl('messages_acknowledged_total', 'counter', 'Total number of messages acknowledged by consumers', byQueueType(g.ack))
  gl('messages_confirmed_total', 'counter', 'Total number of messages confirmed to publishers', [[AMQP, g.confirm]])
  gl('messages_delivered_total', 'counter', 'Total number of messages delivered to consumers', byQueueType(g.deliver + g.deliver_no_ack + g.get + g.get_no_ack))
  gl('messages_delivered_consume_manual_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', byQueueType(g.deliver))
  gl('messages_delivered_consume_auto_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', byQueueType(g.deliver_no_ack))
  gl('messages_delivered_get_manual_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', byQueueType(g.get))
  gl('messages_delivered_get_auto_ack_total', 'counter', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', byQueueType(g.get_no_ack))
  gl('messages_get_empty_total', 'counter', 'Total number of times basic.get operations fetched no message', byQueueType(g.get_empty))
  gl('messages_redelivered_total', 'counter', 'Total number of messages redelivered to consumers', byQueueType(g.redeliver))
  gl('messages_received_total', 'counter', 'Total number of messages received from publishers', [[AMQP, g.publish]])
  gl('messages_routed_total', 'counter', 'Total number of messages routed to queues or streams', [[AMQP, Math.max(0, g.publish - g.drop_unroutable - g.return_unroutable)]])
  gl('messages_unroutable_dropped_total', 'counter', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', [[AMQP, g.drop_unroutable]])
  gl('messages_unroutable_returned_total', 'counter', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', [[AMQP, g.return_unroutable]])
}

/** The metrics text for a path, or undefined for an unknown path. */
export function metricsText(api: ApiContext, path: string): string | undefined {
  if (path !== '/metrics' && path !== '/metrics/per-object') return undefined
  const e = new Exposition()
  nodeFamilies(e, api)
  objectFamilies(e, api, path === '/metrics/per-object')
  channelCounters(e, api)
  globalFamilies(e, api)
  return e.text()
}

/** Status, headers and body of a Prometheus-port answer. */
export interface PrometheusResponse {
  status: number
  headers: Record<string, string>
  body: string | Buffer
}

/** Answers one request on the Prometheus port (gzip when the scraper accepts it). */
export function prometheusResponse(api: ApiContext, req: IncomingMessage): PrometheusResponse {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return { status: 405, headers: { 'content-type': 'text/plain', allow: 'GET, HEAD' }, body: 'method not allowed\n' }
  }
  const text = metricsText(api, path)
  if (text === undefined) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found; see /metrics\n' }
  const headers: Record<string, string> = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    headers['content-encoding'] = 'gzip'
    return { status: 200, headers, body: gzipSync(text) }
  }
  return { status: 200, headers, body: text }
}
