import amqp from 'amqplib'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'

describe('smoke: both clients publish and consume', () => {
  let b: TestBroker
  beforeAll(async () => {
    b = await startTestBroker()
  })
  afterAll(async () => b.stop())

  it('amqplib round trip through a topic exchange', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    const q = await ch.assertQueue('', { exclusive: true })
    expect(q.queue).toMatch(/^amq\.gen-/)
    await ch.assertExchange('smoke.topic', 'topic')
    await ch.bindQueue(q.queue, 'smoke.topic', 'a.*.c')
    ch.publish('smoke.topic', 'a.b.c', Buffer.from('hello'), { headers: { n: 1 }, contentType: 'text/plain' })
    const m = await new Promise<amqp.ConsumeMessage>((res) => ch.consume(q.queue, (msg) => msg && res(msg)))
    expect(m.content.toString()).toBe('hello')
    expect(m.properties.headers).toEqual({ n: 1 })
    expect(m.properties.contentType).toBe('text/plain')
    expect(m.fields.routingKey).toBe('a.b.c')
    expect(m.fields.exchange).toBe('smoke.topic')
    ch.ack(m)
    await conn.close()
  })

  it('@cloudamqp/amqp-client round trip with confirms', async () => {
    const client = new AMQPClient(`amqp://guest:guest@127.0.0.1:${b.amqpPort}`)
    const conn = await client.connect()
    const ch = await conn.channel()
    await ch.confirmSelect()
    await ch.queueDeclare('smoke-q')
    for (let i = 0; i < 100; i++) await ch.basicPublish('', 'smoke-q', `m${i}`)
    expect(b.broker.vhost('/')!.queues.get('smoke-q')!.messageCount).toBe(100)
    const got: string[] = []
    await new Promise<void>((resolve) => {
      void ch.basicConsume('smoke-q', { noAck: false }, async (msg) => {
        got.push(msg.bodyToString() ?? '')
        await msg.ack()
        if (got.length === 100) resolve()
      })
    })
    expect(got[0]).toBe('m0')
    expect(got[99]).toBe('m99')
    await conn.close()
  })
})
