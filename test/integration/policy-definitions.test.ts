/**
 * A RabbitMQ 3.10 definitions file that sets dead-lettering, TTL and limits by policy
 * (test/fixtures/rabbitmq-3.10-policies.json) imports and behaves as on RabbitMQ: expired messages
 * reach the policy's dead-letter exchange with its routing key, the policy's max-length holds
 * (the lower argument wins on the queue that has one), the exchange policy's alternate exchange
 * catches unroutable messages, the vhost and user limits, operator policy, topic permission and
 * parameters from `parameters` apply, the export gives them back, and all of it survives a restart.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import amqp from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { boot, dataDir, halt } from '../helpers/restart.js'

const FIXTURE = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/rabbitmq-3.10-policies.json'), 'utf8'))

describe('a RabbitMQ 3.10 definitions file with policies', () => {
  it('imports, applies, exports and survives a restart', async () => {
    const dir = dataDir()
    let b = await boot(dir, { httpPort: 0 })
    let api = apiClient(b)
    const r = await api.post('/api/definitions', FIXTURE)
    expect(r.status, JSON.stringify(r.body)).toBe(204)

    const check = async (): Promise<void> => {
      const v = b.broker.vhost('orders')!
      const work = v.queues.get('orders.work')!
      expect(work.policy?.name).toBe('orders-dlx')
      expect(work.operatorPolicy?.name).toBe('cap')
      expect(work.settings).toMatchObject({ messageTtl: 100, maxLength: 3, deadLetterExchange: 'orders.dlx', deadLetterRoutingKey: 'dead' })
      expect(v.queues.get('orders.capped')!.settings.maxLength).toBe(2)
      expect(v.queues.get('dead')!.policy?.name).toBe('low')
      expect(v.exchanges.get('orders.in')!.alternateExchange).toBe('orders.unrouted')

      const conn = await amqp.connect(`amqp://app:app-pw@127.0.0.1:${b.amqpPort}/orders`)
      try {
        const ch = await conn.createConfirmChannel()
        const dead = v.queues.get('dead')!
        const before = dead.messageCount
        ch.publish('orders.in', 'work', Buffer.from('expires'))
        ch.publish('orders.in', 'nowhere', Buffer.from('unroutable'))
        await ch.waitForConfirms()
        await waitFor(() => dead.messageCount === before + 1, 3000, 'expired into the policy DLX')
        expect(v.queues.get('unrouted')!.messageCount).toBeGreaterThan(0)
        const m = await ch.get('dead', { noAck: true })
        expect(m && m.fields.routingKey).toBe('dead')
        expect(m && (m.properties.headers?.['x-death'] as any)[0]).toMatchObject({ reason: 'expired', queue: 'orders.work' })
        await expect(ch.waitForConfirms().then(() => new Promise((_, rej) => {
          ch.on('error', rej)
          ch.publish('amq.topic', 'billing.x', Buffer.from('refused'))
        }))).rejects.toThrow(/access to topic 'billing.x' in exchange 'amq.topic' in vhost 'orders' refused for user 'app'/)
      } finally {
        await conn.close().catch(() => undefined)
      }
      expect((await api.get('/api/vhost-limits/orders')).body).toEqual([{ vhost: 'orders', value: { 'max-connections': 10, 'max-queues': 20 } }])
      expect((await api.get('/api/user-limits/app')).body).toEqual([{ user: 'app', value: { 'max-connections': 5 } }])
      expect((await api.get('/api/parameters/federation-upstream/orders/upstream')).body).toEqual(FIXTURE.parameters[2])
      expect((await api.get('/api/global-parameters/cluster_name')).body).toEqual({ name: 'cluster_name', value: 'rabbit@prod' })
      const exported = (await api.get('/api/definitions')).body
      expect(exported.policies).toEqual(expect.arrayContaining(FIXTURE.policies))
      expect(exported.parameters).toEqual(expect.arrayContaining(FIXTURE.parameters))
      expect(exported.topic_permissions).toEqual(FIXTURE.topic_permissions)
      expect(exported.users.find((u: any) => u.name === 'app').limits).toEqual({ 'max-connections': 5 })
    }
    await check()
    await halt(b)
    b = await boot(dir, { httpPort: 0 })
    api = apiClient(b)
    await check()
  })
})
