/**
 * Direct reply-to (`amq.rabbitmq.reply-to`) as RabbitMQ 3.10 does it: RPC round trips with
 * @cloudamqp/amqp-client's rpcClient/rpcServer over TCP and WebSocket and with amqplib's usual recipe;
 * the reply_to rewrite, delivery straight to the consumer (no queue, no store), replies to a consumer
 * that is gone (nowhere; mandatory → 312), a timed-out call, the error texts, passive declares of
 * reply-to names and the direct_reply_to capability. pika's RPC recipe is in pika.test.ts.
 */
import { AMQPSession } from '@cloudamqp/amqp-client'
import amqp, { type Channel, type ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite, channelError, type AmqpError } from '../helpers/suite.js'
import { installWebSocketGlobal } from '../helpers/ws.js'

const s = brokerSuite('drt')
const { uniq, amqplibConn, amqplibChannel } = s
const PSEUDO = 'amq.rabbitmq.reply-to'
const ADDRESS = /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]{32}$/

/** An amqp-client.js session (the API with rpcClient/rpcServer/rpcCall), closed after the test. */
async function session(url: string): Promise<AMQPSession> {
  const sess = await AMQPSession.connect(url)
  s.cleanups.push(() => sess.stop())
  return sess
}

/** An RPC server with amqplib on its own connection: answers `fn(body)` to each request's reply_to. */
async function amqplibServer(queue: string, fn: (body: string) => string, seen: ConsumeMessage[] = []): Promise<Channel> {
  const { ch } = await amqplibChannel()
  await ch.assertQueue(queue, { durable: false })
  await ch.consume(queue, (m) => {
    if (m === null) return
    seen.push(m)
    ch.sendToQueue(m.properties.replyTo as string, Buffer.from(fn(m.content.toString())), {
      correlationId: m.properties.correlationId as string,
    })
    ch.ack(m)
  })
  return ch
}

const registry = (): number => s.b.broker.replyTo.size

describe('RPC round trips', () => {
  it('amqp-client.js rpcServer + rpcClient + rpcCall over TCP', async () => {
    const q = uniq('rpc')
    const url = `amqp://guest:guest@127.0.0.1:${s.b.amqpPort}`
    const server = await session(url)
    await server.rpcServer(q, (msg) => `echo:${msg.bodyToString()}`)
    const client = await session(url)
    const rpc = await client.rpcClient()
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => rpc.call(q, `r${i}`, { timeout: 5000 })))
    expect(replies.map((m) => m.bodyToString())).toEqual(Array.from({ length: 20 }, (_, i) => `echo:r${i}`))
    expect(replies[0].exchange).toBe('')
    expect(replies[0].routingKey).toMatch(ADDRESS)
    const one = await client.rpcCall(q, 'once', { timeout: 5000 })
    expect(one.bodyToString()).toBe('echo:once')
    // no queue was declared for the replies, nothing stored
    expect([...s.b.broker.vhost('/')!.queues.keys()].filter((n) => n.startsWith('amq.'))).toEqual([])
    await rpc.close()
    await waitFor(() => registry() === 0, 3000, 'reply consumers gone')
  })

  it('amqp-client.js rpcServer + rpcClient over WebSocket', async () => {
    installWebSocketGlobal()
    const q = uniq('rpc-ws')
    const server = await session(`amqp://guest:guest@127.0.0.1:${s.b.amqpPort}`)
    await server.rpcServer(q, (msg) => `ws:${msg.bodyToString()}`)
    const client = await session(`ws://127.0.0.1:${s.b.httpPort}/ws/amqp`)
    const rpc = await client.rpcClient()
    for (let i = 0; i < 5; i++) expect((await rpc.call(q, `w${i}`, { timeout: 5000 })).bodyToString()).toBe(`ws:w${i}`)
  })

  it('amqplib: the usual recipe; reply_to is rewritten to the channel address, the reply comes from another connection', async () => {
    const q = uniq('rpc-amqplib')
    const seen: ConsumeMessage[] = []
    await amqplibServer(q, (b) => b.toUpperCase(), seen)
    const { ch } = await amqplibChannel()
    const replies: ConsumeMessage[] = []
    const ok = await ch.consume(PSEUDO, (m) => void replies.push(m!), { noAck: true })
    expect(ok.consumerTag).toMatch(/^amq\.ctag-/)
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`req${i}`), { replyTo: PSEUDO, correlationId: `c${i}` })
    await waitFor(() => replies.length === 3, 5000, 'three replies')
    expect(replies.map((m) => [m.content.toString(), m.properties.correlationId])).toEqual([
      ['REQ0', 'c0'],
      ['REQ1', 'c1'],
      ['REQ2', 'c2'],
    ])
    // every request on the channel carries the same address; the reply is delivered with it as key
    const address = seen[0].properties.replyTo as string
    expect(address).toMatch(ADDRESS)
    expect(new Set(seen.map((m) => m.properties.replyTo))).toEqual(new Set([address]))
    expect(replies.every((m) => m.fields.routingKey === address && m.fields.exchange === '')).toBe(true)
    expect(replies.every((m) => !m.fields.redelivered && m.fields.consumerTag === ok.consumerTag)).toBe(true)
    // RabbitMQ sends the channel's next delivery tag without taking it: no acks are owed
    expect(replies.map((m) => m.fields.deliveryTag)).toEqual([1, 1, 1])
    // the other properties of the request are kept as sent
    expect(seen[1].properties.correlationId).toBe('c1')
    // a passive declare of the pseudo-queue and of the live address: 0 messages, 1 consumer
    expect(await ch.checkQueue(PSEUDO)).toEqual({ queue: PSEUDO, messageCount: 0, consumerCount: 1 })
    expect(await ch.checkQueue(address)).toEqual({ queue: address, messageCount: 0, consumerCount: 1 })
  })
})

describe('addresses', () => {
  it('each channel has its own address; a request of several body frames is rewritten with its body intact', async () => {
    const q = uniq('multi')
    const seen: ConsumeMessage[] = []
    await amqplibServer(q, (b) => `${b.length}:${b.slice(0, 3)}`, seen)
    const conn = await amqplibConn()
    const [a, b] = [await conn.createChannel(), await conn.createChannel()]
    const got: Record<string, string[]> = { a: [], b: [] }
    await a.consume(PSEUDO, (m) => void got.a.push(m!.content.toString()), { noAck: true })
    await b.consume(PSEUDO, (m) => void got.b.push(m!.content.toString()), { noAck: true })
    const big = 'x'.repeat(300_000) // three body frames at frame_max 131072
    a.sendToQueue(q, Buffer.from(big), { replyTo: PSEUDO, headers: { before: 'reply-to' }, expiration: '60000', appId: 'after' })
    b.sendToQueue(q, Buffer.from('bee'), { replyTo: PSEUDO })
    await waitFor(() => got.a.length === 1 && got.b.length === 1, 5000, 'both replies')
    expect(got).toEqual({ a: ['300000:xxx'], b: ['3:bee'] })
    const [ra, rb] = [seen.find((m) => m.content.length > 3)!, seen.find((m) => m.content.length === 3)!]
    expect(ra.properties.replyTo).toMatch(ADDRESS)
    expect(rb.properties.replyTo).toMatch(ADDRESS)
    expect(ra.properties.replyTo).not.toBe(rb.properties.replyTo)
    // the properties around reply_to survive the rewrite
    expect(ra.properties).toMatchObject({ headers: { before: 'reply-to' }, expiration: '60000', appId: 'after' })
    expect(registry()).toBe(2)
  })
})

describe('timeouts and consumers that are gone', () => {
  it('a call nobody answers times out; a late reply is dropped and the client works on', async () => {
    const q = uniq('slow')
    const held: ConsumeMessage[] = []
    const { ch: srv } = await amqplibChannel()
    await srv.assertQueue(q, { durable: false })
    await srv.consume(q, (m) => void held.push(m!), { noAck: true })
    const client = await session(`amqp://guest:guest@127.0.0.1:${s.b.amqpPort}`)
    const rpc = await client.rpcClient()
    await expect(rpc.call(q, 'late', { timeout: 200 })).rejects.toThrow('No response received in 200ms')
    await waitFor(() => held.length === 1)
    // the late reply still reaches the consumer, which no longer waits for it
    srv.sendToQueue(held[0].properties.replyTo as string, Buffer.from('too late'), {
      correlationId: held[0].properties.correlationId as string,
    })
    const q2 = uniq('fast')
    await amqplibServer(q2, (b) => `ok:${b}`)
    expect((await rpc.call(q2, 'next', { timeout: 5000 })).bodyToString()).toBe('ok:next')
  })

  it('a reply to a closed channel goes nowhere: mandatory gets 312 NO_ROUTE, the address is 404', async () => {
    const q = uniq('gone')
    const held: ConsumeMessage[] = []
    const { ch: srv } = await amqplibChannel()
    await srv.assertQueue(q, { durable: false })
    await srv.consume(q, (m) => void held.push(m!), { noAck: true })
    const conn = await amqplibConn()
    const req = await conn.createChannel()
    await req.consume(PSEUDO, () => undefined, { noAck: true })
    req.sendToQueue(q, Buffer.from('x'), { replyTo: PSEUDO })
    await waitFor(() => held.length === 1)
    const address = held[0].properties.replyTo as string
    expect(registry()).toBe(1)
    await req.close()
    expect(registry()).toBe(0)

    const returned: ConsumeMessage[] = []
    const pub = await (await amqplibConn()).createConfirmChannel()
    pub.on('return', (m: ConsumeMessage) => returned.push(m))
    const queuesBefore = s.b.broker.vhost('/')!.queues.size
    pub.publish('', address, Buffer.from('reply'), { mandatory: true })
    await pub.waitForConfirms()
    await waitFor(() => returned.length === 1, 3000, 'basic.return')
    expect(returned[0].fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: '', routingKey: address })
    expect(s.b.broker.vhost('/')!.queues.size).toBe(queuesBefore)
    const err = await channelError(conn, (ch) => ch.checkQueue(address))
    expect(err.code).toBe(404)
    expect(err.message).toContain(`NOT_FOUND - no queue '${address}' in vhost '/'`)
  })

  it('basic.cancel of the reply consumer frees the address; a new consume gets a new one', async () => {
    const q = uniq('cancel')
    const seen: ConsumeMessage[] = []
    await amqplibServer(q, (b) => b, seen)
    const { ch } = await amqplibChannel()
    const got: ConsumeMessage[] = []
    const { consumerTag } = await ch.consume(PSEUDO, (m) => void got.push(m!), { noAck: true, consumerTag: 'my-replies' })
    expect(consumerTag).toBe('my-replies')
    ch.sendToQueue(q, Buffer.from('a'), { replyTo: PSEUDO })
    await waitFor(() => got.length === 1)
    await ch.cancel('my-replies')
    expect(registry()).toBe(0)
    await ch.consume(PSEUDO, (m) => void got.push(m!), { noAck: true })
    ch.sendToQueue(q, Buffer.from('b'), { replyTo: PSEUDO })
    await waitFor(() => got.length === 2)
    expect(seen[1].properties.replyTo).not.toBe(seen[0].properties.replyTo)
  })

  it('as RabbitMQ 3.10: a mandatory reply that was delivered is also returned (the route has no queue)', async () => {
    const q = uniq('mand')
    const held: ConsumeMessage[] = []
    const { ch: srv } = await amqplibChannel()
    await srv.assertQueue(q, { durable: false })
    await srv.consume(q, (m) => void held.push(m!), { noAck: true })
    const { ch } = await amqplibChannel()
    const got: ConsumeMessage[] = []
    await ch.consume(PSEUDO, (m) => void got.push(m!), { noAck: true })
    ch.sendToQueue(q, Buffer.from('x'), { replyTo: PSEUDO })
    await waitFor(() => held.length === 1)
    const returned: ConsumeMessage[] = []
    srv.on('return', (m: ConsumeMessage) => returned.push(m))
    srv.publish('', held[0].properties.replyTo as string, Buffer.from('y'), { mandatory: true })
    await waitFor(() => got.length === 1 && returned.length === 1, 3000, 'delivered and returned')
    expect(returned[0].fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE' })
  })
})

describe('errors and declares', () => {
  it("RabbitMQ's texts: no-ack=false, a second reply consumer, a request without one, a reused tag", async () => {
    const conn = await amqplibConn()
    let err = await channelError(conn, (ch) => ch.consume(PSEUDO, () => undefined, { noAck: false }))
    expect([err.code, err.message]).toEqual([406, expect.stringContaining('PRECONDITION_FAILED - reply consumer cannot acknowledge')])
    err = await channelError(conn, async (ch) => {
      await ch.consume(PSEUDO, () => undefined, { noAck: true })
      return ch.consume(PSEUDO, () => undefined, { noAck: true })
    })
    expect([err.code, err.message]).toEqual([406, expect.stringContaining('PRECONDITION_FAILED - reply consumer already set')])
    err = await channelError(conn, async (ch) => {
      ch.sendToQueue('anywhere', Buffer.from('req'), { replyTo: PSEUDO })
      return ch.checkQueue(PSEUDO)
    })
    expect([err.code, err.message]).toEqual([406, expect.stringContaining('PRECONDITION_FAILED - fast reply consumer does not exist')])
    expect(err.classId * 65536 + err.methodId).toBe(0x3c0028) // basic.publish

    // a tag already used by an ordinary consumer: 530, a connection error
    const c2 = await amqp.connect(s.b.url)
    const closed = new Promise<AmqpError>((resolve) => c2.once('error', resolve))
    const ch = await c2.createChannel()
    ch.on('error', () => undefined)
    const { queue } = await ch.assertQueue('', { exclusive: true })
    await ch.consume(queue, () => undefined, { consumerTag: 'taken' })
    void ch.consume(PSEUDO, () => undefined, { noAck: true, consumerTag: 'taken' }).catch(() => undefined)
    const e = await closed
    expect([e.code, e.message]).toEqual([530, expect.stringContaining("NOT_ALLOWED - attempt to reuse consumer tag 'taken'")])
  })

  it('a reply_to that is not exactly the pseudo-queue is left alone; the registry holds nothing after close', async () => {
    const q = uniq('other')
    const seen: ConsumeMessage[] = []
    const { ch: srv } = await amqplibChannel()
    await srv.assertQueue(q, { durable: false })
    await srv.consume(q, (m) => void seen.push(m!), { noAck: true })
    const { ch } = await amqplibChannel()
    for (const replyTo of ['amq.rabbitmq.reply-to-x', 'amq.rabbitmq.reply-tO', 'my-reply-queue', PSEUDO + '.abc']) {
      ch.sendToQueue(q, Buffer.from(replyTo), { replyTo, correlationId: 'k', headers: { h: 1 } })
    }
    await waitFor(() => seen.length === 4)
    expect(seen.map((m) => m.properties.replyTo)).toEqual(['amq.rabbitmq.reply-to-x', 'amq.rabbitmq.reply-tO', 'my-reply-queue', PSEUDO + '.abc'])
  })

  it('queue.declare of reply-to names: the pseudo-queue exists, unknown addresses are 404', async () => {
    const conn = await amqplibConn()
    const ch = await conn.createChannel()
    // even a non-passive declare is answered as a passive one
    expect(await ch.assertQueue(PSEUDO)).toEqual({ queue: PSEUDO, messageCount: 0, consumerCount: 1 })
    for (const name of [`${PSEUDO}.nobody`, `${PSEUDO}x`, `${PSEUDO}.`]) {
      const err = await channelError(conn, (c) => c.checkQueue(name))
      expect([err.code, err.message]).toEqual([404, expect.stringContaining(`NOT_FOUND - no queue '${name}' in vhost '/'`)])
    }
  })

  it('the server capabilities announce direct_reply_to', async () => {
    const conn = await amqplibConn()
    const props = (conn as unknown as { connection: { serverProperties: { capabilities: Record<string, unknown> } } }).connection
      .serverProperties
    expect(props.capabilities.direct_reply_to).toBe(true)
  })
})

