/**
 * Issue 11, the memory alarm (core/memory-monitor.ts, core/alarms.ts): above the high watermark
 * publishing connections get connection.blocked "low on memory" and are no longer read from,
 * consumers keep draining, and below it they are unblocked. The management API, the health check
 * and Prometheus show it. Memory use is injected for the exact on/off steps (a real RSS cannot be
 * made to fall on demand); one test trips the alarm with real resident memory and an absolute
 * watermark just above it.
 */
import amqp from 'amqplib'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'

const MiB = 1024 * 1024
let used = 100 * MiB
let free = 10e9
let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker({
    memoryUsed: () => used,
    memoryTotal: 1000 * MiB,
    memoryCheckIntervalMs: 20,
    freeDiskBytes: () => free,
    diskCheckIntervalMs: 20,
    diskFreeLimit: 50e6,
  })
})
afterAll(async () => b.stop())

/** amqplib connection recording blocked/unblocked events. */
async function publisher(): Promise<{ conn: amqp.ChannelModel; events: string[] }> {
  const conn = await amqp.connect(b.url)
  conn.on('error', () => undefined)
  const events: string[] = []
  conn.on('blocked', (reason: string) => events.push(`blocked:${reason}`))
  conn.on('unblocked', () => events.push('unblocked'))
  return { conn, events }
}

describe('memory alarm', () => {
  it('blocks publishers above the watermark while consumers drain, and unblocks below it', async () => {
    const api = apiClient(b)
    const { conn, events } = await publisher()
    const ch = await conn.createConfirmChannel()
    await ch.assertQueue('mem-q')
    for (let i = 0; i < 5; i++) ch.sendToQueue('mem-q', Buffer.from(`before-${i}`))
    await ch.waitForConfirms()
    // a second client that announces the capability: @cloudamqp/amqp-client
    const other = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${b.amqpPort}`).connect()
    const otherEvents: string[] = []
    other.onblocked = (reason) => otherEvents.push(`blocked:${reason}`)
    other.onunblocked = () => otherEvents.push('unblocked')
    const otherCh = await other.channel()
    await otherCh.basicPublish('', 'mem-q', 'from-amqp-client')
    const consumerConn = await amqp.connect(b.url)
    const consumer = await consumerConn.createChannel()

    const node0 = (await api.get('/api/nodes')).body[0]
    expect(node0).toMatchObject({ mem_used: 100 * MiB, mem_limit: 400 * MiB, mem_alarm: false, disk_free_limit: 50e6 })
    expect((await api.get('/api/health/checks/alarms')).status).toBe(200)

    used = 450 * MiB
    await waitFor(() => events.includes('blocked:low on memory'), 3000, 'connection.blocked at amqplib')
    await waitFor(() => otherEvents.includes('blocked:low on memory'), 3000, 'connection.blocked at amqp-client')
    expect(b.broker.memAlarmOn).toBe(true)
    const node = (await api.get('/api/nodes')).body[0]
    expect(node).toMatchObject({ mem_used: 450 * MiB, mem_limit: 400 * MiB, mem_alarm: true, disk_free_alarm: false })
    const health = await api.get('/api/health/checks/alarms')
    expect(health.status).toBe(503)
    expect(health.body).toEqual({ status: 'failed', reason: 'There are alarms in effect in the cluster', alarms: [{ node: b.broker.nodeName, resource: 'memory' }] })
    const metrics = await (await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`)).text()
    expect(metrics).toMatch(/^rabbitmq_alarms_memory_used_watermark 1$/m)
    const states = ((await api.get('/api/connections')).body as { state: string; client_properties: { product?: string } }[]).map((c) => c.state)
    // the two publishers are blocked; the consumer, which never published, is "blocking"
    expect(states.sort()).toEqual(['blocked', 'blocked', 'blocking'])

    // publishing stops: the broker does not read what is sent now
    let confirmed = false
    ch.sendToQueue('mem-q', Buffer.from('during'), {}, () => (confirmed = true))
    // consumers still drain: every message that was in the queue arrives and is acked
    const got: string[] = []
    await consumer.consume('mem-q', (m) => {
      if (m === null) return
      got.push(m.content.toString())
      consumer.ack(m)
    })
    await waitFor(() => got.length === 6, 3000, 'the consumer to drain the queue')
    await waitFor(() => b.broker.vhost('/')!.queues.get('mem-q')!.unackedCount === 0, 3000, 'acks')
    expect(confirmed).toBe(false)
    expect(got).not.toContain('during')

    used = 300 * MiB
    await waitFor(() => events.includes('unblocked'), 3000, 'connection.unblocked at amqplib')
    await waitFor(() => otherEvents.includes('unblocked'), 3000, 'connection.unblocked at amqp-client')
    await waitFor(() => confirmed, 3000, 'the held publish to be read and confirmed')
    await waitFor(() => got.includes('during'), 3000, 'the held publish to be delivered')
    expect((await api.get('/api/health/checks/alarms')).status).toBe(200)
    expect(events).toEqual(['blocked:low on memory', 'unblocked'])
    await other.close()
    await consumerConn.close()
    await conn.close()
  })

  it('stays blocked while either the memory or the disk alarm is on, with one notification each way', async () => {
    const api = apiClient(b)
    const { conn, events } = await publisher()
    const ch = await conn.createChannel()
    ch.sendToQueue('mem-q', Buffer.from('x'))
    await waitFor(() => b.broker.vhost('/')!.queues.get('mem-q')!.messageCount > 0, 3000, 'the publish')
    used = 450 * MiB
    free = 1e6
    await waitFor(() => b.broker.alarms.size === 2, 3000, 'both alarms')
    await waitFor(() => events.length === 1, 3000, 'connection.blocked')
    // whichever alarm came first, the reason names the one(s) in effect then
    expect(events[0]).toMatch(/^blocked:low on (memory|disk|memory & low on disk)$/)
    const health = await api.get('/api/health/checks/alarms')
    expect(health.body.alarms.map((a: { resource: string }) => a.resource)).toEqual(['memory', 'disk'])
    used = 300 * MiB
    await waitFor(() => !b.broker.memAlarmOn, 3000, 'memory alarm cleared')
    expect(b.broker.publishBlocked).toBe(true)
    expect((await api.get('/api/connections')).body.map((c: { state: string }) => c.state)).toEqual(['blocked'])
    expect(events).toHaveLength(1)
    free = 10e9
    await waitFor(() => events.includes('unblocked'), 3000, 'connection.unblocked')
    expect(events).toHaveLength(2)
    await conn.close()
  })

  it('a connection that publishes for the first time during the alarm is blocked then', async () => {
    const { conn, events } = await publisher()
    const ch = await conn.createChannel()
    used = 450 * MiB
    await waitFor(() => b.broker.memAlarmOn, 3000, 'the alarm')
    expect(events).toEqual([])
    ch.sendToQueue('mem-q', Buffer.from('first'))
    await waitFor(() => events.includes('blocked:low on memory'), 3000, 'connection.blocked')
    used = 100 * MiB
    await waitFor(() => events.includes('unblocked'), 3000, 'connection.unblocked')
    await conn.close()
  })
})

describe('memory alarm on real resident memory', () => {
  let rb: TestBroker
  beforeAll(async () => {
    // an absolute watermark 48 MiB above what this process holds now (--vm-memory-high-watermark 48MiB-ish)
    rb = await startTestBroker({ vmMemoryHighWatermark: { absolute: process.memoryUsage.rss() + 48 * MiB }, memoryCheckIntervalMs: 50 })
  })
  afterAll(async () => rb.stop())

  it('goes on when queued bodies push the RSS past the watermark', async () => {
    const conn = await amqp.connect(rb.url)
    conn.on('error', () => undefined)
    let blocked = ''
    conn.on('blocked', (reason: string) => (blocked = reason))
    const ch = await conn.createChannel()
    await ch.assertQueue('big')
    const body = Buffer.alloc(MiB, 7)
    // at most 160 MiB, published in steps until the broker blocks us
    for (let i = 0; i < 160 && blocked === ''; i++) {
      ch.sendToQueue('big', Buffer.from(body))
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 20))
    }
    await waitFor(() => blocked !== '', 5000, 'connection.blocked from the real RSS')
    expect(blocked).toBe('low on memory')
    const node = (await apiClient(rb).get('/api/nodes')).body[0]
    expect(node.mem_alarm).toBe(true)
    expect(node.mem_used).toBeGreaterThan(node.mem_limit)
    // the broker no longer reads this connection: drop it rather than wait for a close-ok
    ;(conn.connection as unknown as { stream: { destroy(): void } }).stream.destroy()
  })
})
