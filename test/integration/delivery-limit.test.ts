import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'

describe('delivery limit: a message that always fails ends in the dead-letter queue', () => {
  let b: TestBroker
  beforeAll(async () => {
    b = await startTestBroker()
  })
  afterAll(async () => b.stop())

  for (const type of ['classic', 'quorum'] as const) {
    it(`${type} queue: nack+requeue forever → dead-lettered after limit+1 deliveries with x-death`, async () => {
      const conn = await amqp.connect(b.url)
      const ch = await conn.createChannel()
      const work = `work-${type}`
      const dlq = `dlq-${type}`
      await ch.assertExchange(`dlx-${type}`, 'fanout')
      await ch.assertQueue(dlq)
      await ch.bindQueue(dlq, `dlx-${type}`, '')
      await ch.assertQueue(work, {
        durable: true,
        arguments: { 'x-queue-type': type, 'x-delivery-limit': 3, 'x-dead-letter-exchange': `dlx-${type}` },
      })
      const deliveries: { redelivered: boolean; count: unknown }[] = []
      await ch.consume(work, (m) => {
        if (m === null) return
        deliveries.push({ redelivered: m.fields.redelivered, count: m.properties.headers?.['x-delivery-count'] })
        ch.nack(m, false, true)
      })
      ch.sendToQueue(work, Buffer.from('poison'), { headers: { app: 'x' }, expiration: '60000' })
      const dead = await waitFor(async () => {
        const m = await ch.get(dlq, { noAck: true })
        return m === false ? undefined : m
      }, 5000, 'dead-lettered message')
      expect(deliveries).toHaveLength(4)
      expect(deliveries.map((d) => d.redelivered)).toEqual([false, true, true, true])
      expect(deliveries.map((d) => d.count)).toEqual([undefined, 1, 2, 3])
      expect(dead.content.toString()).toBe('poison')
      const h = dead.properties.headers ?? {}
      expect(h.app).toBe('x')
      expect(h['x-first-death-reason']).toBe('delivery_limit')
      expect(h['x-first-death-queue']).toBe(work)
      expect(h['x-first-death-exchange']).toBe('')
      expect(h['x-last-death-reason']).toBe('delivery_limit')
      const death = (h['x-death'] as unknown as Record<string, unknown>[])[0]
      expect(death).toMatchObject({ count: 1, reason: 'delivery_limit', queue: work, exchange: '', 'routing-keys': [work] })
      expect(death['original-expiration']).toBe('60000')
      expect(dead.properties.expiration).toBeUndefined()
      expect(b.broker.vhost('/')!.queues.get(work)!.messageCount).toBe(0)
      await conn.close()
    })
  }
})
