/**
 * The Prometheus endpoint on its own port: text format 0.0.4, RabbitMQ's metric names (those the
 * Grafana RabbitMQ-Overview dashboard reads), aggregated on /metrics and per object on
 * /metrics/per-object, with counters that move as AMQP clients work.
 */
import http from 'node:http'
import { gunzipSync } from 'node:zlib'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'

let b: TestBroker

beforeAll(async () => {
  b = await startTestBroker({ statsInterval: 50 })
})
afterAll(async () => b?.stop())

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the exposition text, checking its grammar line by line. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  expect(text.endsWith('\n')).toBe(true)
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      expect(['counter', 'gauge', 'untyped', 'histogram']).toContain(type)
      expect(types.has(name), `duplicate family ${name}`).toBe(false)
      types.set(name, type)
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line)
    expect(m, `bad sample line: ${line}`).not.toBeNull()
    const labels: Record<string, string> = {}
    for (const l of (m![3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1')
    const family = types.has(m![1]) ? m![1] : m![1].replace(/_(bucket|sum|count)$/, '')
    expect(types.has(family) && (family === m![1] || types.get(family) === 'histogram'), `sample before its # TYPE: ${line}`).toBe(true)
    samples.push({ name: m![1], labels, value: Number(m![4]) })
  }
  return { samples, types }
}

async function scrape(path = '/metrics'): Promise<{ samples: Sample[]; types: Map<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${b.prometheusPort}${path}`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parse(await res.text())
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

describe('prometheus', () => {
  it('serves /metrics with the identity, build and object-count metrics', async () => {
    const { samples, types } = await scrape()
    const id = samples.find((s) => s.name === 'rabbitmq_identity_info')!
    expect(id.value).toBe(1)
    expect(id.labels.rabbitmq_node).toBe(b.broker.nodeName)
    expect(id.labels.rabbitmq_cluster).toBe(b.broker.clusterName)
    expect(id.labels.rabbitmq_cluster_permanent_id).toMatch(/^rabbitmq-cluster-id-/)
    expect(samples.find((s) => s.name === 'rabbitmq_build_info')!.labels.rabbitmq_version).toBe('3.10.8')
    for (const name of [
      'rabbitmq_connections',
      'rabbitmq_channels',
      'rabbitmq_queues',
      'rabbitmq_consumers',
      'rabbitmq_queue_messages_ready',
      'rabbitmq_queue_messages_unacked',
      'rabbitmq_process_resident_memory_bytes',
      'rabbitmq_resident_memory_limit_bytes',
      'rabbitmq_disk_space_available_bytes',
      'rabbitmq_process_open_fds',
    ]) {
      expect(types.get(name), name).toBe('gauge')
    }
    for (const name of [
      'rabbitmq_global_messages_received_total',
      'rabbitmq_global_messages_confirmed_total',
      'rabbitmq_global_messages_routed_total',
      'rabbitmq_global_messages_delivered_total',
      'rabbitmq_global_messages_acknowledged_total',
      'rabbitmq_global_messages_unroutable_dropped_total',
      'rabbitmq_global_messages_unroutable_returned_total',
      'rabbitmq_connections_opened_total',
      'rabbitmq_channel_messages_published_total',
      'rabbitmq_queue_messages_published_total',
    ]) {
      expect(types.get(name), name).toBe('counter')
    }
    expect(value(samples, 'rabbitmq_global_messages_acknowledged_total', { protocol: 'amqp091', queue_type: 'rabbit_classic_queue' })).toBe(0)
    expect(value(samples, 'rabbitmq_process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('counts what an amqplib client does', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    await ch.assertQueue('prom.q', { durable: false })
    for (let i = 0; i < 10; i++) ch.sendToQueue('prom.q', Buffer.from(`m${i}`))
    ch.publish('amq.direct', 'nowhere', Buffer.from('lost'))
    await waitFor(() => b.broker.vhost('/')!.queues.get('prom.q')!.messageCount === 10)
    const acked: amqp.ConsumeMessage[] = []
    await ch.prefetch(4)
    await ch.consume('prom.q', (m) => {
      if (m === null) return
      acked.push(m)
      if (acked.length <= 6) ch.ack(m)
    })
    await waitFor(() => acked.length === 10)
    const { samples } = await waitFor(async () => {
      const s = await scrape()
      return value(s.samples, 'rabbitmq_global_messages_acknowledged_total', { queue_type: 'rabbit_classic_queue' }) === 6 &&
        value(s.samples, 'rabbitmq_queue_messages_unacked') === 4
        ? s
        : null
    })
    expect(value(samples, 'rabbitmq_global_messages_received_total', { protocol: 'amqp091' })).toBe(11)
    expect(value(samples, 'rabbitmq_global_messages_routed_total', { protocol: 'amqp091' })).toBe(10)
    expect(value(samples, 'rabbitmq_global_messages_unroutable_dropped_total', { protocol: 'amqp091' })).toBe(1)
    expect(value(samples, 'rabbitmq_global_messages_delivered_total', { queue_type: 'rabbit_classic_queue' })).toBe(10)
    expect(value(samples, 'rabbitmq_global_messages_delivered_total', { queue_type: 'rabbit_quorum_queue' })).toBe(0)
    expect(value(samples, 'rabbitmq_queue_messages_published_total')).toBe(10)
    expect(value(samples, 'rabbitmq_connections')).toBe(1)
    expect(value(samples, 'rabbitmq_channels')).toBe(1)
    expect(value(samples, 'rabbitmq_consumers')).toBe(1)
    expect(value(samples, 'rabbitmq_global_consumers', { protocol: 'amqp091' })).toBe(1)
    expect(value(samples, 'rabbitmq_channel_messages_unacked')).toBe(4)
    expect(value(samples, 'rabbitmq_connection_incoming_bytes_total')).toBeGreaterThan(0)
    await waitFor(async () => value((await scrape()).samples, 'rabbitmq_connections_opened_total') === 1)

    const per = await scrape('/metrics/per-object')
    expect(value(per.samples, 'rabbitmq_queue_messages_unacked', { vhost: '/', queue: 'prom.q' })).toBe(4)
    expect(value(per.samples, 'rabbitmq_queue_messages_published_total', { vhost: '/', queue: 'prom.q' })).toBe(10)
    expect(value(per.samples, 'rabbitmq_queue_consumers', { vhost: '/', queue: 'prom.q' })).toBe(1)
    expect(per.samples.some((s) => s.name === 'rabbitmq_connection_incoming_bytes_total' && s.labels.channel?.includes(' -> '))).toBe(true)
    expect(value(per.samples, 'rabbitmq_identity_info')).toBe(1)
    await conn.close()
    await waitFor(async () => value((await scrape()).samples, 'rabbitmq_connections_closed_total') === 1)
  })

  it('escapes label values, gzips on request, 404s unknown paths', async () => {
    await fetch(`http://127.0.0.1:${b.httpPort}/api/queues/%2F/${encodeURIComponent('we"ird\\name')}`, {
      method: 'PUT',
      headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64'), 'content-type': 'application/json' },
      body: '{}',
    })
    const per = await scrape('/metrics/per-object')
    expect(value(per.samples, 'rabbitmq_queue_messages', { queue: 'we"ird\\name' })).toBe(0)
    // node:http does not decode: check the gzip bytes themselves
    const gz = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: b.prometheusPort, path: '/metrics', headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }))
        })
        .on('error', reject)
    })
    expect(gz.encoding).toBe('gzip')
    expect(gunzipSync(gz.body).toString()).toContain('rabbitmq_identity_info')
    expect((await fetch(`http://127.0.0.1:${b.prometheusPort}/nope`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`, { method: 'POST' })).status).toBe(405)
  })
})
