/**
 * AMQP 0-9-1 over WebSocket: @cloudamqp/amqp-client's AMQPWebSocketClient (the browser client) from
 * Node against the broker's HTTP port, interop with amqplib over TCP, whole frames per message,
 * backpressure from a slow reader, and bad input (garbage, text messages, wrong paths).
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AMQPMessage, AMQPWebSocketClient } from '@cloudamqp/amqp-client'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connection } from '../../transport/connection.js'
import { PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { WS_PROTOCOL } from '../../transport/ws-server.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { NETNS_PEER_IP, netnsUnavailable, runPeerInNetns } from '../helpers/netns.js'
import { connectWs, RawWs } from '../helpers/ws.js'

let b: TestBroker
let wsUrl: string
const clients: AMQPWebSocketClient[] = []

beforeAll(async () => {
  b = await startTestBroker()
  wsUrl = `ws://127.0.0.1:${b.httpPort}/ws/amqp`
})

afterAll(async () => {
  // bounded: a client whose test failed half-way may never see close-ok
  const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(r, 1000))])
  await Promise.all(clients.filter((c) => !c.closed).map((c) => bounded(c.close().catch(() => {}))))
  await b.stop()
})

async function ws(init: Parameters<typeof connectWs>[1] = {}): ReturnType<typeof connectWs> {
  const r = await connectWs(b.httpPort, init)
  clients.push(r.client)
  return r
}

/** The broker side of a client, found by its connection_name. */
function serverConn(name: string): Connection {
  const c = [...b.broker.connections].find((x) => x.clientProperties.connection_name === name)
  if (c === undefined) throw new Error(`no connection named ${name}`)
  return c as Connection
}

/** Consumes `count` messages (manual ack) and resolves with them. */
function collect(client: AMQPWebSocketClient, queue: string, count: number): Promise<AMQPMessage[]> {
  return client.channel().then(
    (ch) =>
      new Promise((resolve) => {
        const got: AMQPMessage[] = []
        void ch.basicConsume(queue, { noAck: false }, async (m) => {
          got.push(m)
          await m.ack()
          if (got.length === count) resolve(got)
        })
      }),
  )
}

describe('AMQP over WebSocket with AMQPWebSocketClient', () => {
  it('publishes, consumes and acks; the connection is a normal AMQP connection', async () => {
    const { client, socket } = await ws({ name: 'ws-basic' })
    const ch = await client.channel()
    const q = await ch.queueDeclare('ws-basic')
    expect(q.messageCount).toBe(0)
    for (let i = 0; i < 20; i++) await ch.basicPublish('', 'ws-basic', `m${i}`, { contentType: 'text/plain' })
    const got = await collect(client, 'ws-basic', 20)
    expect(got.map((m) => m.bodyToString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`))
    expect(got[0].properties.contentType).toBe('text/plain')
    const conn = serverConn('ws-basic')
    expect(conn.protocol).toBe(WS_PROTOCOL)
    expect(conn.peerHost).toBe('127.0.0.1')
    expect(conn.frameMax).toBe(8192) // the browser client's frame_max, from tune-ok
    await waitFor(() => b.broker.vhost('/')!.queues.get('ws-basic')?.messageCount === 0, 5000, 'acks')
    expect(b.broker.listeners).toContainEqual({ protocol: 'http/web-amqp', ip: '127.0.0.1', port: b.httpPort })
    expect(socket.stats.problems).toEqual([])
    await client.close()
    await waitFor(() => ![...b.broker.connections].some((c) => c.clientProperties.connection_name === 'ws-basic'), 5000, 'close')
  })

  it('sends a 100 KB body in frames of at most the client frame_max 8192, never split across messages', async () => {
    const { client, socket } = await ws()
    const ch = await client.channel()
    await ch.queueDeclare('ws-big')
    const bodies = [randomBytes(100_000), randomBytes(8192 - 8), randomBytes(8192 - 7), randomBytes(300_000)]
    for (const body of bodies) await ch.basicPublish('', 'ws-big', body)
    const got = await collect(client, 'ws-big', bodies.length)
    got.forEach((m, i) => expect(Buffer.from(m.body as Uint8Array).equals(bodies[i])).toBe(true))
    expect(socket.stats.problems).toEqual([])
    expect(socket.stats.largestFrame).toBeLessThanOrEqual(8192)
  })

  it('sends zero-copy bodies (frame_max 131072) as one message of whole frames', async () => {
    const { client, socket } = await ws({ frameMax: 131072 })
    const ch = await client.channel()
    await ch.queueDeclare('ws-huge')
    const bodies = [randomBytes(1024 * 1024), randomBytes(200_000), randomBytes(40_000)]
    for (const body of bodies) await ch.basicPublish('', 'ws-huge', body)
    const got = await collect(client, 'ws-huge', bodies.length)
    got.forEach((m, i) => expect(Buffer.from(m.body as Uint8Array).equals(bodies[i])).toBe(true))
    expect(socket.stats.problems).toEqual([])
    expect(socket.stats.largestFrame).toBe(131072)
    // the 1 MiB delivery (slab chunks plus zero-copy body chunks) arrived as a single message
    expect(socket.stats.largestMessage).toBeGreaterThan(1024 * 1024)
  })

  it('interoperates with amqplib over TCP in both directions', async () => {
    const { client } = await ws()
    const tcp = await amqp.connect(b.url)
    try {
      const tch = await tcp.createChannel()
      await tch.assertQueue('tcp-to-ws')
      await tch.assertQueue('ws-to-tcp')
      tch.sendToQueue('tcp-to-ws', Buffer.from('from tcp'), { headers: { x: 1 }, messageId: 'a' })
      const [m] = await collect(client, 'tcp-to-ws', 1)
      expect(m.bodyToString()).toBe('from tcp')
      expect(m.properties.messageId).toBe('a')
      expect(m.properties.headers).toEqual({ x: 1 })

      const wch = await client.channel()
      const big = randomBytes(50_000)
      await wch.basicPublish('', 'ws-to-tcp', 'from ws', { correlationId: 'c' })
      await wch.basicPublish('', 'ws-to-tcp', big)
      const received: amqp.ConsumeMessage[] = []
      await tch.consume('ws-to-tcp', (msg) => {
        if (msg !== null) received.push(msg)
      }, { noAck: true })
      await waitFor(() => received.length === 2, 5000, 'two messages over TCP')
      expect(received[0].content.toString()).toBe('from ws')
      expect(received[0].properties.correlationId).toBe('c')
      expect(received[1].content.equals(big)).toBe(true)
    } finally {
      await tcp.close()
    }
  })

  it('pauses deliveries on a slow reader (bufferedAmount) and delivers every message exactly once', async () => {
    const { client, socket } = await ws({ name: 'ws-slow' })
    const ch = await client.channel()
    await ch.queueDeclare('ws-slow')
    const counts = new Map<string, number>()
    let total = 0
    await ch.basicConsume('ws-slow', { noAck: false }, async (m) => {
      const id = m.properties.messageId as string
      counts.set(id, (counts.get(id) ?? 0) + 1)
      total++
      if (total % 50 === 0) await m.ack(true)
    })
    socket.pause() // the client stops reading its TCP socket
    const n = 3000
    const body = Buffer.alloc(8000, 7)
    const tcp = await amqp.connect(b.url)
    try {
      const pub = await tcp.createConfirmChannel()
      for (let i = 0; i < n; i++) pub.sendToQueue('ws-slow', body, { messageId: String(i) })
      await pub.waitForConfirms()
      const conn = serverConn('ws-slow')
      await waitFor(() => !conn.writable, 10_000, 'the broker to see the WebSocket as unwritable')
      // while blocked, the rest waits in the queue rather than in socket buffers
      const ready = b.broker.vhost('/')!.queues.get('ws-slow')!.messageCount
      const unacked = [...conn.channels()].reduce((sum, c) => sum + c.unackedCount, 0)
      expect(ready).toBeGreaterThan(0)
      expect(ready + unacked).toBe(n)
      socket.resume()
      await waitFor(() => total === n, 20_000, `${n} deliveries (got ${total})`)
      expect(counts.size).toBe(n)
      expect([...counts.values()].every((c) => c === 1)).toBe(true)
      expect(conn.writable).toBe(true)
      expect(socket.stats.problems).toEqual([])
    } finally {
      socket.resume()
      await tcp.close()
    }
  })
})

describe('WebSocket endpoint', () => {
  it('needs no subprotocol, accepts an amqp* one, and serves / too', async () => {
    const plain = await RawWs.open(wsUrl)
    expect(plain.ws.protocol).toBe('')
    const offered = await RawWs.open(wsUrl, ['mqtt', 'amqpv0.9.1', 'amqp'])
    expect(offered.ws.protocol).toBe('amqpv0.9.1')
    const root = await RawWs.open(`ws://127.0.0.1:${b.httpPort}/`, ['AMQP'])
    expect(root.ws.protocol).toBe('AMQP')
    root.send(PROTOCOL_HEADER)
    const start = await root.bytes(12, 'connection.start')
    expect([start[0], start.readUInt16BE(7), start.readUInt16BE(9)]).toEqual([1, 10, 10])
    for (const r of [plain, offered, root]) r.ws.close()
  })

  it('refuses upgrades on other paths with 404', async () => {
    await expect(RawWs.open(`ws://127.0.0.1:${b.httpPort}/ws/mqtt`)).rejects.toThrow(/404/)
  })

  // the non-loopback client lives in a network namespace of its own (test/helpers/netns.ts): no
  // test traffic to this machine's real interfaces
  it.skipIf(netnsUnavailable !== undefined)(
    `applies the guest-from-loopback rule to the WebSocket peer address${netnsUnavailable ? ` (skipped: ${netnsUnavailable})` : ''}`,
    async () => {
      const r = await runPeerInNetns('ws')
      expect(r.guestRemote.ok).toBe(false)
      expect(r.guestRemote.message).toContain(
        'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile. (403)',
      )
      expect(r.connectionsGone).toBe(true)
      expect(r.otherRemote).toMatchObject({ ok: true, user: 'remote' })
      expect(r.otherRemote.peerHost!.replace(/^::ffff:/, '')).toBe(NETNS_PEER_IP)
      expect(r.guestLoopback).toMatchObject({ ok: true, user: 'guest' })
    },
  )
})

describe('WebSocket bad input', () => {
  it('answers garbage instead of the protocol header with the supported header and closes', async () => {
    const raw = await RawWs.open(wsUrl)
    raw.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    const got = await raw.bytes(8, 'protocol header')
    expect(got.subarray(0, 8).equals(PROTOCOL_HEADER)).toBe(true)
    expect(await raw.closed).toBe(1000)
  })

  it('closes the AMQP connection on a garbage frame and keeps serving other clients', async () => {
    const { client, socket } = await ws({ name: 'ws-garbage' })
    const errors: string[] = []
    client.onerror = (e) => errors.push(e.message)
    const closed = new Promise<number>((resolve) => socket.once('close', resolve))
    socket.send(Buffer.from([0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xce, 0xff, 0xfe]))
    expect(await closed).toBe(1000)
    expect(errors.join()).toMatch(/501|505/)
    await waitFor(
      () => ![...b.broker.connections].some((c) => c.clientProperties.connection_name === 'ws-garbage'),
      5000,
      'connection teardown',
    )

    const other = await ws()
    const ch = await other.client.channel()
    await ch.queueDeclare('after-garbage')
    await ch.basicPublish('', 'after-garbage', 'still up')
    const [m] = await collect(other.client, 'after-garbage', 1)
    expect(m.bodyToString()).toBe('still up')
  })

  it('closes with 1003 on a text message and drops the AMQP connection', async () => {
    const { client, socket } = await ws({ name: 'ws-text' })
    client.onerror = () => {}
    const closed = new Promise<number>((resolve) => socket.once('close', resolve))
    socket.send('{"hello":"broker"}')
    expect(await closed).toBe(1003)
    await waitFor(
      () => ![...b.broker.connections].some((c) => c.clientProperties.connection_name === 'ws-text'),
      5000,
      'connection teardown',
    )
  })

  it('answers a malformed WebSocket handshake with 400 and stays up', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: b.httpPort,
        path: '/ws/amqp',
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' }, // no key
      })
      req.on('response', (res) => resolve(res.statusCode ?? 0))
      req.on('upgrade', () => reject(new Error('upgraded without a key')))
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(400)
    const { client } = await ws()
    expect((await client.channel()).id).toBeGreaterThan(0)
  })

  it('closes a text message before the handshake with 1003 too', async () => {
    const raw = await RawWs.open(wsUrl)
    raw.send('AMQP\u0000\u0000\u0009\u0001')
    expect(await raw.closed).toBe(1003)
    expect(raw.received.length).toBe(0)
  })
})
