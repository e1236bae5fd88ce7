/**
 * Connection-level limits against idle and oversized unauthenticated clients (issue 10, holes 3
 * and 4): the handshake timeout, the total and per-address connection caps (refused sockets are
 * closed before the protocol header, with one rate-limited warn line), frame_min (4096) as the
 * frame limit before tune-ok on TCP, and the same bound on WebSocket messages before tune-ok.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { Writable } from 'node:stream'
import amqp from 'amqplib'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ReplyCode } from '../../core/errors.js'
import { PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { frame, methodFrame, RawAmqp } from '../helpers/raw-amqp.js'
import { connectWs } from '../helpers/ws.js'

/** warn-level log lines of a broker, parsed */
function logSink(): { lines: { level: number; msg: string; count?: number; limit?: string }[]; stream: Writable } {
  const lines: { level: number; msg: string }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l))
      cb()
    },
  })
  return { lines, stream }
}

const raws: RawAmqp[] = []
const track = (c: RawAmqp): RawAmqp => {
  raws.push(c)
  return c
}
afterEach(() => {
  for (const c of raws.splice(0)) c.destroy()
})

describe('connection caps (max 8, 5 per address)', () => {
  let b: TestBroker
  const logs = logSink()
  beforeAll(async () => {
    b = await startTestBroker({ maxConnections: 8, maxConnectionsPerIp: 5, logger: pino({ level: 'warn' }, logs.stream) })
  })
  afterAll(async () => b.stop())

  it('refuses above the per-address and total caps at once, logs once, and admits again after a close', async () => {
    const attackers: RawAmqp[] = []
    for (let i = 0; i < 7; i++) attackers.push(track(await RawAmqp.connect(b.amqpPort, '127.0.0.2')))
    // the accept queue is FIFO: the first five hold slots, the last two are closed before any byte
    await waitFor(() => attackers[5].closed && attackers[6].closed, 3000, 'the two over the per-address cap to be closed')
    expect(attackers.slice(0, 5).map((a) => a.closed)).toEqual([false, false, false, false, false])
    expect(attackers[6].received.length).toBe(0)

    // a legitimate client from another address still gets in (6 of 8)
    const t0 = Date.now()
    const legit = await amqp.connect(b.url)
    expect(Date.now() - t0).toBeLessThan(1000)
    try {
      const others: RawAmqp[] = []
      for (let i = 0; i < 3; i++) others.push(track(await RawAmqp.connect(b.amqpPort, '127.0.0.3')))
      await waitFor(() => others[2].closed, 3000, 'the ninth connection to be refused (total cap)')
      expect(others[0].closed || others[1].closed).toBe(false)

      const refusals = logs.lines.filter((l) => l.msg.startsWith('connection refused: too many connections'))
      expect(refusals).toHaveLength(1) // three refusals, one line (the rest is summed up later)
      expect(refusals[0].level).toBe(40)

      // slots come back when sockets close
      attackers[0].destroy()
      others[0].destroy()
      await waitFor(async () => {
        const c = track(await RawAmqp.connect(b.amqpPort, '127.0.0.3'))
        c.write(PROTOCOL_HEADER)
        await c.expectMethod(10, 10, 500)
        return true
      }, 3000, 'a new connection once slots are free')
      // the legitimate connection was never disturbed
      const ch = await legit.createChannel()
      await ch.assertQueue('', { exclusive: true })
    } finally {
      await legit.close()
    }
  })
})

describe('handshake timeout (300 ms) and frame_min before tune-ok', () => {
  let b: TestBroker
  const logs = logSink()
  beforeAll(async () => {
    b = await startTestBroker({ handshakeTimeout: 300, maxConnectionsPerIp: 20, logger: pino({ level: 'warn' }, logs.stream) })
  })
  afterAll(async () => b.stop())

  it('closes connections that do not open in time, at every handshake stage, and keeps open ones', async () => {
    const open = track(await RawAmqp.open(b.amqpPort))
    const openedAt = Date.now()
    const idle: RawAmqp[] = []
    for (let i = 0; i < 20; i++) idle.push(track(await RawAmqp.connect(b.amqpPort, '127.0.0.2')))
    const started = track(await RawAmqp.started(b.amqpPort))
    const tuning = track(await RawAmqp.started(b.amqpPort))
    tuning.write(methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US']))
    await tuning.expectMethod(10, 30)
    const opening = track(await RawAmqp.started(b.amqpPort))
    opening.write(methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US']))
    await opening.expectMethod(10, 30)
    opening.write(methodFrame(0, 10, 31, [0, 131072, 0]))

    // a legitimate client connects at once while 20 idle sockets sit at the per-address cap
    const t0 = Date.now()
    const legit = await amqp.connect(b.url)
    expect(Date.now() - t0).toBeLessThan(1000)
    await legit.close()

    const all = [...idle, started, tuning, opening]
    await waitFor(() => all.every((c) => c.closed), 5000, 'every unopened connection to be closed')
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(250)
    // no connection.close: the socket is just closed, as RabbitMQ does on handshake_timeout
    expect(tuning.methods().map((m) => `${m.classId}.${m.methodId}`)).toEqual(['10.10', '10.30'])
    // the opened connection outlived the timeout and still works
    expect(open.closed).toBe(false)
    open.write(methodFrame(1, 50, 10, [0, '', false, false, true, true, false, {}]))
    await open.expectMethod(50, 11)
    const lines = logs.lines.filter((l) => l.msg.startsWith('closing connection: handshake timeout'))
    expect(lines.length).toBeGreaterThanOrEqual(1)
    expect(lines.length).toBeLessThanOrEqual(2) // 23 timeouts: one line now, the rest summed up later
  })

  it('before start-ok a frame over 4096 bytes is 501 FRAME_ERROR, not buffered', async () => {
    const c = track(await RawAmqp.started(b.amqpPort))
    c.write(frame(1, 0, Buffer.alloc(4097)))
    const close = await c.expectMethod(10, 50)
    expect(close.args.replyCode).toBe(ReplyCode.FRAME_ERROR)
    expect(close.args.replyText).toMatch(/^FRAME_ERROR - frame size 4105 exceeds frame_max 4104/)
  })

  it('a start-ok frame of exactly 4096 payload bytes is accepted', async () => {
    const c = track(await RawAmqp.started(b.amqpPort))
    const bare = methodFrame(0, 10, 11, [{ pad: '' }, 'PLAIN', '\0guest\0guest', 'en_US']).length - 8
    const f = methodFrame(0, 10, 11, [{ pad: 'x'.repeat(4096 - bare) }, 'PLAIN', '\0guest\0guest', 'en_US'])
    expect(f.length - 8).toBe(4096)
    c.write(f)
    await c.expectMethod(10, 30)
  })

  it('after start-ok and before tune-ok a frame over 4096 bytes is 501 FRAME_ERROR', async () => {
    const c = track(await RawAmqp.started(b.amqpPort))
    c.write(methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US']))
    await c.expectMethod(10, 30)
    c.write(frame(1, 0, Buffer.alloc(5000)))
    const close = await c.expectMethod(10, 50)
    expect(close.args.replyCode).toBe(ReplyCode.FRAME_ERROR)
    expect(close.args.replyText).toMatch(/^FRAME_ERROR - frame size 5008 exceeds frame_max 4104/)
  })

  it('after tune-ok the negotiated frame_max applies (a 100 kB body frame is fine)', async () => {
    const c = track(await RawAmqp.open(b.amqpPort))
    c.write(methodFrame(1, 50, 10, [0, 'big-frames', false, false, false, true, false, {}]))
    await c.expectMethod(50, 11)
    const header = Buffer.alloc(14)
    header.writeUInt16BE(60, 0)
    header.writeUInt32BE(100_000, 8)
    c.write(Buffer.concat([methodFrame(1, 60, 40, [0, '', 'big-frames', false, false]), frame(2, 1, header), frame(3, 1, randomBytes(100_000))]))
    await waitFor(() => b.broker.vhost('/')!.queues.get('big-frames')?.messageCount === 1, 3000, 'the message')
  })
})

/** An upgraded WebSocket on a raw TCP socket, to send frame headers a client library would not. */
async function rawWebSocket(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' })
  s.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve)
    s.once('error', reject)
  })
  s.write(
    `GET /ws/amqp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  let head = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      s.off('data', onData)
      if (head.startsWith('HTTP/1.1 101')) resolve()
      else reject(new Error(head.split('\r\n')[0]))
    }
    s.on('data', onData)
  })
  return s
}

describe('WebSocket messages before tune-ok', () => {
  let b: TestBroker
  beforeAll(async () => {
    b = await startTestBroker()
  })
  afterAll(async () => b.stop())

  it('4 clients announcing 100 MB messages are closed at once; memory does not grow', async () => {
    const chunk = Buffer.alloc(1024 * 1024) // zero mask key: the payload is sent as is
    const before = process.memoryUsage().rss
    const sent = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const s = await rawWebSocket(b.httpPort)
        let closed = false
        s.once('close', () => {
          closed = true
        })
        // FIN + binary; MASK + 64-bit length of 100 MB; mask key 0
        const hdr = Buffer.alloc(14)
        hdr[0] = 0x82
        hdr[1] = 0x80 | 127
        hdr.writeBigUInt64BE(100_000_000n, 2)
        s.write(hdr)
        let bytes = 0
        const t0 = Date.now()
        while (!closed && bytes < 100_000_000 && Date.now() - t0 < 5000) {
          bytes += chunk.length
          if (!s.write(chunk)) await drainOrClose(s)
        }
        await waitFor(() => closed, 3000, 'the broker to close the WebSocket')
        return bytes
      }),
    )
    for (const bytes of sent) expect(bytes).toBeLessThan(32 * 1024 * 1024)
    expect(process.memoryUsage().rss - before).toBeLessThan(96 * 1024 * 1024)
    await waitFor(() => b.broker.connections.size === 0, 3000, 'the broker to drop the connections')
  })

  it('after tune-ok a client may send a 1 MB publish as one message', async () => {
    const { client } = await connectWs(b.httpPort)
    try {
      const ch = await client.channel()
      await ch.queueDeclare('ws-big')
      const body = randomBytes(1024 * 1024)
      await ch.basicPublish('', 'ws-big', body)
      const msg = await waitFor(() => ch.basicGet('ws-big'), 5000, 'the message')
      expect(Buffer.from(msg.body!).equals(body)).toBe(true)
    } finally {
      await client.close()
    }
  })
})

/** Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind. */
function drainOrClose(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done)
      s.off('close', done)
      resolve()
    }
    s.once('drain', done)
    s.once('close', done)
  })
}
