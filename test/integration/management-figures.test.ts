/**
 * Issue 11 figures of the management API: a queue's message bytes count unacknowledged messages
 * too (message_bytes = ready + unacked, as RabbitMQ), and connections show the client's
 * connection_name and plain IPv4 peers.
 */
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { brokerSuite } from '../helpers/suite.js'
import { plainAddress } from '../../transport/connection.js'

const s = brokerSuite('fig')

describe('queue message bytes', () => {
  it('message_bytes is ready plus unacknowledged bytes, and falls back as messages are acked or requeued', async () => {
    const api = apiClient(s.b)
    const { ch } = await s.amqplibChannel()
    const q = s.uniq('bytes')
    await ch.assertQueue(q)
    for (const n of [100, 200, 300]) ch.sendToQueue(q, Buffer.alloc(n))
    await waitFor(() => s.queue(q).messageCount === 3, 3000, 'the publishes')
    const path = `/api/queues/%2F/${q}`
    expect((await api.get(path)).body).toMatchObject({ message_bytes: 600, message_bytes_ready: 600, message_bytes_unacknowledged: 0 })
    await ch.prefetch(2)
    const held: import('amqplib').ConsumeMessage[] = []
    const { consumerTag } = await ch.consume(q, (m) => m && held.push(m))
    await waitFor(() => held.length === 2, 3000, 'two deliveries')
    expect((await api.get(path)).body).toMatchObject({ message_bytes: 600, message_bytes_ready: 300, message_bytes_unacknowledged: 300, messages: 3 })
    ch.ack(held[0])
    await waitFor(() => s.queue(q).unackedCount === 2 && s.queue(q).messageCount === 0, 3000, 'ack and the third delivery')
    expect((await api.get(path)).body).toMatchObject({ message_bytes: 500, message_bytes_ready: 0, message_bytes_unacknowledged: 500 })
    await ch.cancel(consumerTag)
    ch.nackAll(true)
    await waitFor(() => s.queue(q).unackedCount === 0, 3000, 'requeue')
    expect((await api.get(path)).body).toMatchObject({ message_bytes: 500, message_bytes_ready: 500, message_bytes_unacknowledged: 0 })
    const metrics = await (await fetch(`http://127.0.0.1:${s.b.prometheusPort}/metrics/per-object`)).text()
    expect(metrics).toMatch(new RegExp(`^rabbitmq_queue_messages_unacked_bytes\\{[^}]*queue="${q}"[^}]*\\} 0$`, 'm'))
  })
})

describe('connection names', () => {
  it('shows connection_name as user_provided_name and a plain IPv4 peer', async () => {
    const api = apiClient(s.b)
    await s.clientConn(s.b, '?name=billing-worker')
    const c = await waitFor(async () => (await api.get('/api/connections')).body.find((x: any) => x.user_provided_name === 'billing-worker'))
    expect(c.peer_host).toBe('127.0.0.1')
    expect(c.name).toMatch(/^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/)
  })

  it('drops the ::ffff: of an IPv4-mapped address, and only that', () => {
    expect(plainAddress('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(plainAddress('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(plainAddress('::1')).toBe('::1')
    expect(plainAddress('fe80::ffff:1')).toBe('fe80::ffff:1')
  })
})
