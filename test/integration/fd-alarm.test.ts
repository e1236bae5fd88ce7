/**
 * Issue 10 hole 6, the fd alarm (core/fd-monitor.ts): near the descriptor limit new AMQP
 * connections are refused, clients already connected keep working, and the management API shows
 * the alarm (health check 503, Prometheus gauge); it clears below the threshold. The descriptor
 * count is injected (fdCount): exhausting 20,000 real descriptors is not a light test.
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'

let used = 10
let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker({ fdCount: () => used, fdTotal: 100, fdCheckIntervalMs: 20 })
})
afterAll(async () => b.stop())

describe('file descriptor alarm', () => {
  it('refuses new connections near the limit, keeps the existing ones, and clears below it', async () => {
    const api = apiClient(b)
    const before = await amqp.connect(b.url)
    before.on('error', () => undefined)
    expect((await api.get('/api/health/checks/alarms')).status).toBe(200)

    used = 95
    await waitFor(() => b.broker.fdAlarmOn, 3000, 'the fd alarm')
    await expect(amqp.connect(b.url)).rejects.toThrow()
    expect(b.broker.fdRefused).toBeGreaterThan(0)
    // an AMQP WebSocket upgrade is refused the same way (503)
    const refusedBefore = b.broker.fdRefused
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${b.httpPort}/ws/amqp`)
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => reject(new Error('the upgrade was accepted')))
      ws.on('error', () => undefined)
    })
    expect(status).toBe(503)
    expect(b.broker.fdRefused).toBe(refusedBefore + 1)
    // a client already connected is served
    const ch = await before.createChannel()
    const q = await ch.assertQueue('', { exclusive: true })
    ch.sendToQueue(q.queue, Buffer.from('still here'))
    await waitFor(async () => (await ch.get(q.queue, { noAck: true })) || undefined, 3000, 'the message')
    const health = await api.get('/api/health/checks/alarms')
    expect(health.status).toBe(503)
    expect(health.body).toEqual({
      status: 'failed',
      reason: 'There are alarms in effect in the cluster',
      alarms: [{ node: b.broker.nodeName, resource: 'file_descriptor_limit' }],
    })
    const metrics = await (await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`)).text()
    expect(metrics).toMatch(/^rabbitmq_alarms_file_descriptor_limit 1$/m)

    used = 88 // above the clearing threshold (85%): still on
    await new Promise((r) => setTimeout(r, 100))
    expect(b.broker.fdAlarmOn).toBe(true)
    used = 50
    await waitFor(() => !b.broker.fdAlarmOn, 3000, 'the fd alarm to clear')
    const after = await amqp.connect(b.url)
    await after.close()
    expect((await api.get('/api/health/checks/alarms')).status).toBe(200)
    await before.close()
  })
})
