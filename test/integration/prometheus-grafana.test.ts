/**
 * Warren's Prometheus endpoint against what RabbitMQ's official Grafana "RabbitMQ-Overview"
 * dashboards query (the current one and RabbitMQ 3.10.8's): every metric name and label of every
 * panel and variable, listed in test/fixtures/grafana-rabbitmq-overview.json (extracted from the
 * dashboards' PromQL), exists after some traffic, including a quorum queue. Also the series those
 * panels read (publishers, confirms, message sizes, uptime, TCP sockets) count what clients did, and
 * /metrics/detailed answers for RabbitMQ's family names.
 */
import { readFileSync } from 'node:fs'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'

interface Panel {
  id: number
  title: string
  metrics: Record<string, string[]>
  labelValues?: Record<string, Record<string, string[]>>
}
interface Dashboard {
  source: string
  variables: { name: string; metric: string; label: string; fromScraper?: boolean }[]
  panels: Panel[]
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/grafana-rabbitmq-overview.json', import.meta.url), 'utf8')) as {
  scraperLabels: string[]
  dashboards: Dashboard[]
}

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Samples of an exposition text (the grammar itself is checked in prometheus.test.ts). */
function parse(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1')
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/** A Prometheus number as text ("+Inf", "1e+06", "100.0") to a number. */
const num = (v: string): number => (v === '+Inf' ? Infinity : Number(v))

const s = brokerSuite('graf', { statsInterval: 50 })

async function scrape(path = '/metrics'): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${s.b.prometheusPort}${path}`)
  expect(res.status).toBe(200)
  return parse(await res.text())
}
const find = (samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] =>
  samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined => find(samples, name, labels)[0]?.value

let traffic: Sample[]

beforeAll(async () => {
  // a publisher with confirms (sizes 5, 500 and 5000 bytes), one unroutable mandatory and one dropped
  const conn = await amqp.connect(s.b.url)
  const ch = await conn.createConfirmChannel()
  ch.on('return', () => undefined)
  await ch.assertQueue('graf.classic', { durable: false })
  await ch.assertQueue('graf.quorum', { durable: true, arguments: { 'x-queue-type': 'quorum' } })
  for (const size of [5, 500, 5000]) ch.sendToQueue('graf.classic', Buffer.alloc(size))
  for (let i = 0; i < 4; i++) ch.sendToQueue('graf.quorum', Buffer.from(`q${i}`))
  ch.publish('amq.direct', 'nowhere', Buffer.from('returned'), { mandatory: true })
  ch.publish('amq.direct', 'nowhere', Buffer.from('dropped'))
  await ch.waitForConfirms()
  // consumers: quorum with manual ack, classic by basic.get with and without ack, then an empty get
  const sub = await conn.createChannel()
  const got: amqp.ConsumeMessage[] = []
  await sub.consume('graf.quorum', (m) => {
    if (m !== null) got.push(m)
  })
  await waitFor(() => got.length === 4)
  for (const m of got) sub.ack(m)
  const g1 = await sub.get('graf.classic', { noAck: false })
  if (g1 !== false) sub.ack(g1)
  await sub.get('graf.classic', { noAck: true })
  await sub.get('graf.classic', { noAck: true })
  await sub.get('graf.classic', { noAck: true })
  traffic = await waitFor(async () => {
    const x = await scrape()
    // 4 from the quorum queue, 1 from basic.get, whatever the queue_type labels say
    return find(x, 'rabbitmq_global_messages_acknowledged_total').reduce((sum, a) => sum + a.value, 0) === 5 ? x : null
  })
  // the connection stays open for the whole file (publishers and consumers are gauges)
  afterAll(() => conn.close())
})

describe('the Grafana RabbitMQ-Overview dashboards find every series they query', () => {
  for (const d of fixture.dashboards) {
    describe(d.source, () => {
      it('every variable finds a value on rabbitmq_identity_info', () => {
        for (const v of d.variables.filter((x) => x.fromScraper !== true)) {
          const values = find(traffic, v.metric).map((x) => x.labels[v.label])
          expect(values.filter((x) => x !== undefined && x !== '' && x !== 'memory-breakdown'), `${v.name}: ${v.metric} ${v.label}`).not.toEqual([])
        }
      })

      for (const p of d.panels) {
        it(`panel ${p.id} "${p.title}"`, () => {
          for (const [metric, labels] of Object.entries(p.metrics)) {
            const series = find(traffic, metric)
            expect(series.length, `${metric} is exported`).toBeGreaterThan(0)
            for (const label of labels) {
              expect(fixture.scraperLabels).not.toContain(label)
              expect(series.some((x) => x.labels[label] !== undefined && x.labels[label] !== ''), `${metric} has label ${label}`).toBe(true)
            }
            for (const [label, wanted] of Object.entries(p.labelValues?.[metric] ?? {})) {
              const have = series.map((x) => num(x.labels[label]))
              for (const w of wanted) expect(have, `${metric}{${label}="${w}"}`).toContain(num(w))
            }
          }
        })
      }
    })
  }
})

describe('the series behind those panels', () => {
  it('labels rabbitmq_identity_info with rabbitmq_endpoint per endpoint, as RabbitMQ 4 does', async () => {
    expect(find(traffic, 'rabbitmq_identity_info').map((x) => x.labels.rabbitmq_endpoint)).toEqual(['aggregated'])
    expect(find(await scrape('/metrics/per-object'), 'rabbitmq_identity_info').map((x) => x.labels.rabbitmq_endpoint)).toEqual(['per-object'])
    const detailed = await scrape('/metrics/detailed?family=queue_coarse_metrics')
    expect(find(detailed, 'rabbitmq_identity_info').map((x) => x.labels.rabbitmq_endpoint)).toEqual(['detailed'])
    expect(find(traffic, 'rabbitmq_identity_info')[0].labels).toMatchObject({ rabbitmq_node: s.b.broker.nodeName, rabbitmq_cluster: s.b.broker.clusterName })
  })

  it("counts a quorum queue's deliveries and acks under queue_type rabbit_quorum_queue", () => {
    const q = { protocol: 'amqp091', queue_type: 'rabbit_quorum_queue' }
    const c = { protocol: 'amqp091', queue_type: 'rabbit_classic_queue' }
    expect(value(traffic, 'rabbitmq_global_messages_delivered_consume_manual_ack_total', q)).toBe(4)
    expect(value(traffic, 'rabbitmq_global_messages_acknowledged_total', q)).toBe(4)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_consume_manual_ack_total', c)).toBe(0)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_get_manual_ack_total', c)).toBe(1)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_get_auto_ack_total', c)).toBe(2)
    expect(value(traffic, 'rabbitmq_global_messages_get_empty_total', c)).toBe(1)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_total', q)).toBe(4)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_total', c)).toBe(3)
    expect(value(traffic, 'rabbitmq_global_messages_delivered_total', { queue_type: 'rabbit_stream_queue' })).toBe(0)
  })

  it('publishers, confirms, routing and message sizes', () => {
    const amqp091 = { protocol: 'amqp091' }
    expect(value(traffic, 'rabbitmq_global_publishers', amqp091)).toBe(1)
    expect(value(traffic, 'rabbitmq_global_messages_received_total', amqp091)).toBe(9)
    expect(value(traffic, 'rabbitmq_global_messages_received_confirm_total', amqp091)).toBe(9)
    expect(value(traffic, 'rabbitmq_global_messages_confirmed_total', amqp091)).toBe(9)
    expect(value(traffic, 'rabbitmq_global_messages_routed_total', amqp091)).toBe(7)
    expect(value(traffic, 'rabbitmq_global_messages_unroutable_returned_total', amqp091)).toBe(1)
    expect(value(traffic, 'rabbitmq_global_messages_unroutable_dropped_total', amqp091)).toBe(1)
    // bodies: 5, 500, 5000, four of 2, 'returned' (8) and 'dropped' (7)
    const bucket = (le: string): number | undefined => value(traffic, 'rabbitmq_message_size_bytes_bucket', { ...amqp091, le })
    expect(bucket('100')).toBe(7)
    expect(bucket('1000')).toBe(8)
    expect(bucket('10000')).toBe(9)
    expect(bucket('100000000')).toBe(9)
    expect(bucket('+Inf')).toBe(9)
    expect(value(traffic, 'rabbitmq_message_size_bytes_count', amqp091)).toBe(9)
    expect(value(traffic, 'rabbitmq_message_size_bytes_sum', amqp091)).toBe(5 + 500 + 5000 + 4 * 2 + 8 + 7)
  })

  it('process uptime and TCP sockets', () => {
    expect(value(traffic, 'rabbitmq_erlang_uptime_seconds')).toBeGreaterThan(0)
    expect(value(traffic, 'rabbitmq_process_open_tcp_sockets')).toBe(1)
    expect(value(traffic, 'rabbitmq_process_max_tcp_sockets')).toBeGreaterThan(0)
    expect(value(traffic, 'rabbitmq_process_max_tcp_sockets')).toBeLessThan(value(traffic, 'rabbitmq_process_max_fds')!)
  })
})

describe('/metrics/detailed', () => {
  it('without a family: only the identity and build info (RabbitMQ)', async () => {
    const names = new Set((await scrape('/metrics/detailed')).map((x) => x.name))
    expect([...names].sort()).toEqual(['rabbitmq_build_info', 'rabbitmq_identity_info'])
  })

  it('queue_coarse_metrics and queue_consumer_count per queue, prefixed rabbitmq_detailed_', async () => {
    const d = await scrape('/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count')
    expect(value(d, 'rabbitmq_detailed_queue_messages_ready', { vhost: '/', queue: 'graf.classic' })).toBe(0)
    expect(value(d, 'rabbitmq_detailed_queue_messages', { vhost: '/', queue: 'graf.quorum' })).toBe(0)
    expect(value(d, 'rabbitmq_detailed_queue_consumers', { vhost: '/', queue: 'graf.quorum' })).toBe(1)
    expect(d.some((x) => x.name.startsWith('rabbitmq_queue_') || x.name === 'rabbitmq_connections')).toBe(false)
  })

  it('ignores unknown families; ?vhost= limits queues to existing vhosts', async () => {
    const unknown = await scrape('/metrics/detailed?family=no_such_family')
    expect(new Set(unknown.map((x) => x.name))).toEqual(new Set(['rabbitmq_build_info', 'rabbitmq_identity_info']))
    const none = await scrape('/metrics/detailed?family=queue_coarse_metrics&vhost=nope')
    expect(none.filter((x) => x.name.startsWith('rabbitmq_detailed_queue'))).toEqual([])
    const root = await scrape('/metrics/detailed?family=queue_coarse_metrics&vhost=%2F&vhost=nope')
    expect(find(root, 'rabbitmq_detailed_queue_messages').map((x) => x.labels.queue).sort()).toEqual(['graf.classic', 'graf.quorum'])
    // RabbitMQ does not filter the cluster-wide families by vhost
    const xs = await scrape('/metrics/detailed?family=exchange_names&vhost=nope')
    expect(value(xs, 'rabbitmq_cluster_exchange_name', { vhost: '/', exchange: 'amq.direct', type: 'direct' })).toBe(1)
  })

  it('node, connection, channel and cluster families by their RabbitMQ names', async () => {
    const families = ['node_coarse_metrics', 'node_metrics', 'connection_churn_metrics', 'connection_coarse_metrics', 'channel_metrics', 'queue_delivery_metrics', 'exchange_names', 'exchange_bindings', 'vhost_status']
    const d = await scrape(`/metrics/detailed?${families.map((f) => `family=${f}`).join('&')}`)
    expect(value(d, 'rabbitmq_detailed_process_open_tcp_sockets')).toBe(1)
    expect(value(d, 'rabbitmq_detailed_erlang_uptime_seconds')).toBeGreaterThan(0)
    expect(value(d, 'rabbitmq_detailed_connections_opened_total')).toBeGreaterThanOrEqual(0)
    expect(find(d, 'rabbitmq_detailed_connection_incoming_bytes_total')).toHaveLength(1)
    expect(find(d, 'rabbitmq_detailed_channel_consumers').map((x) => x.value).sort()).toEqual([0, 1])
    expect(value(d, 'rabbitmq_detailed_queue_messages_acked_total', { vhost: '/', queue: 'graf.quorum' })).toBe(4)
    expect(value(d, 'rabbitmq_cluster_vhost_status', { vhost: '/' })).toBe(1)
    // RabbitMQ leaves out the default exchange and internal ones (amq.rabbitmq.trace)
    const names = find(d, 'rabbitmq_cluster_exchange_name', { vhost: '/' }).map((x) => x.labels.exchange)
    expect(names).toContain('amq.direct')
    expect(names).not.toContain('')
    expect(names).not.toContain('amq.rabbitmq.trace')
    expect(value(d, 'rabbitmq_cluster_exchange_bindings', { vhost: '/', exchange: 'amq.topic', type: 'topic' })).toBe(0)
  })

  it('an unknown registry is 404 "Unknown Registry"', async () => {
    const res = await fetch(`http://127.0.0.1:${s.b.prometheusPort}/metrics/nope`)
    expect(res.status).toBe(404)
    expect(await res.text()).toBe('Unknown Registry')
  })
})
