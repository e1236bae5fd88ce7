/**
 * Misbehaving clients on raw sockets: wrong protocol headers, garbage, malformed frames, frames out
 * of order. The broker answers as RabbitMQ does (the supported protocol header, or connection.close
 * with the right reply code), and stays up for the well-behaved clients on the same broker.
 */
import net from 'node:net'
import amqp from 'amqplib'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ReplyCode } from '../../core/errors.js'
import { FRAME_END, PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { decodeArgs, lookupMethod, type MethodArgs } from '../../transport/codec/methods.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { contentHeader as headerFrame, frame, methodFrame, methodPayload } from '../helpers/raw-amqp.js'

interface RxFrame {
  type: number
  channel: number
  payload: Buffer
}

const bodyFrame = (channel: number, body: Buffer): Buffer => frame(3, channel, body)

/** A hand-driven AMQP client: writes whatever it is told and parses what the broker sends. */
class RawClient {
  readonly socket: net.Socket
  received = Buffer.alloc(0)
  /** bytes of `received` before the first frame (0, or 8 after a protocol header reply) */
  private frameStart = 0
  private consumed = 0
  closed = false
  /** frame_max sent in tune-ok: the broker must keep its frames within it */
  frameMax = 131072
  readonly closedAt: Promise<number>

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d) => {
      this.received = Buffer.concat([this.received, d])
    })
    socket.on('error', () => {})
    this.closedAt = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true
        resolve(Date.now())
      }),
    )
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    const c = new RawClient(socket)
    clients.push(c)
    return c
  }

  /** Connects and completes the handshake (start-ok PLAIN guest/guest, tune-ok, open '/'). */
  static async open(port: number, frameMax = 131072): Promise<RawClient> {
    const c = await RawClient.connect(port)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(0, 10, 10)
    c.write(methodFrame(0, 10, 11, [{ product: 'bad-input test' }, 'PLAIN', '\0guest\0guest', 'en_US']))
    const tune = await c.expectMethod(0, 10, 30)
    expect(tune.frameMax).toBe(131072)
    c.write(methodFrame(0, 10, 31, [0, frameMax, 0]))
    c.frameMax = frameMax
    c.write(methodFrame(0, 10, 40, ['/', '', false]))
    await c.expectMethod(0, 10, 41)
    return c
  }

  write(b: Buffer | string): void {
    this.socket.write(b)
  }

  /** Frames parsed from what the broker has sent so far. */
  frames(): RxFrame[] {
    const out: RxFrame[] = []
    const r = this.received
    let p = this.frameStart
    while (p + 7 <= r.length) {
      const size = r.readUInt32BE(p + 3)
      if (p + 8 + size > r.length) break
      if (r[p + 7 + size] !== FRAME_END) throw new Error(`broker sent a frame with a bad frame-end at offset ${p}`)
      if (size + 8 > this.frameMax) throw new Error(`broker sent a ${size + 8}-byte frame, over frame_max ${this.frameMax}`)
      out.push({ type: r[p], channel: r.readUInt16BE(p + 1), payload: r.subarray(p + 7, p + 7 + size) })
      p += size + 8
    }
    return out
  }

  /** Waits for the next method frame (skipping nothing: it must be this method) and decodes it. */
  async expectMethod(channel: number, classId: number, methodId: number, timeoutMs = 5000): Promise<MethodArgs> {
    const f = await waitFor(() => this.frames()[this.consumed], timeoutMs, `method ${classId}.${methodId} on channel ${channel}`)
    this.consumed++
    expect({ type: f.type, channel: f.channel, method: `${f.payload.readUInt16BE(0)}.${f.payload.readUInt16BE(2)}` }).toEqual({
      type: 1,
      channel,
      method: `${classId}.${methodId}`,
    })
    return decodeArgs(lookupMethod(classId, methodId), f.payload, 4, f.payload.length)
  }

  /** Waits for a content header and its body frames (after deliver/get-ok/return); returns the body. */
  async expectContent(channel: number, timeoutMs = 5000): Promise<Buffer> {
    const next = async (): Promise<RxFrame> => {
      const f = await waitFor(() => this.frames()[this.consumed], timeoutMs, `content on channel ${channel}`)
      this.consumed++
      expect(f.channel).toBe(channel)
      return f
    }
    const h = await next()
    expect(h.type).toBe(2)
    const size = h.payload.readUInt32BE(4) * 2 ** 32 + h.payload.readUInt32BE(8)
    const parts: Buffer[] = []
    let got = 0
    while (got < size) {
      const f = await next()
      expect(f.type).toBe(3)
      parts.push(f.payload)
      got += f.payload.length
    }
    expect(got).toBe(size)
    return Buffer.concat(parts)
  }

  /** Opens channel `ch` and waits for open-ok. */
  async openChannel(ch: number): Promise<void> {
    this.write(methodFrame(ch, 20, 10, ['']))
    await this.expectMethod(ch, 20, 11)
  }

  /**
   * Expects connection.close with `code` on channel 0 and answers close-ok. With `prompt`, expects
   * the broker to close the socket as soon as close-ok arrives (as RabbitMQ does) rather than after
   * its close timeout; without (the byte stream is out of sync after the error, so close-ok may not
   * be parseable), the client hangs up itself. Returns the close arguments.
   */
  async expectConnectionClose(code: number, prompt = true): Promise<MethodArgs> {
    const args = await this.expectMethod(0, 10, 50)
    expect({ code: args.replyCode, text: args.replyText }).toEqual({ code, text: expect.stringMatching(/^[A-Z_]+ - .+/) })
    const sentAt = Date.now()
    this.write(methodFrame(0, 10, 51))
    if (!prompt) {
      this.socket.destroy()
      return args
    }
    const closedAt = await this.closedAt
    expect(closedAt - sentAt).toBeLessThan(1000)
    return args
  }

  /** Resolves when the broker has closed the socket; fails after timeoutMs. */
  async expectSocketClosed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.closed, timeoutMs, 'the broker to close the socket')
  }
}

const clients: RawClient[] = []
let b: TestBroker

/** error/fatal log lines of the broker: an internal error (541) would show up here */
const errorLogs: string[] = []

beforeAll(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => void errorLogs.push(line) })
  b = await startTestBroker({ logger })
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy()
  // after every misbehaving client: the broker is up and serves a well-behaved one
  await brokerStillWorks()
})
afterAll(async () => {
  await b.stop()
  expect(errorLogs).toEqual([])
})

/** A well-behaved amqplib client still gets full service from the broker. */
async function brokerStillWorks(): Promise<void> {
  const conn = await amqp.connect(b.url)
  try {
    const ch = await conn.createConfirmChannel()
    const { queue } = await ch.assertQueue('', { exclusive: true })
    ch.sendToQueue(queue, Buffer.from('still here'))
    await ch.waitForConfirms()
    const m = await ch.get(queue, { noAck: true })
    expect(m && m.content.toString()).toBe('still here')
  } finally {
    await conn.close()
  }
  // and nothing leaks from the misbehaving connections
  await waitFor(() => b.broker.connections.size === 0, 5000, 'all connections to be gone')
}

describe('protocol header', () => {
  it.each([
    ['AMQP 0-9-0', Buffer.from('AMQP\x00\x00\x09\x00', 'latin1')],
    ['AMQP 0-8 (old style)', Buffer.from('AMQP\x01\x01\x08\x00', 'latin1')],
    ['AMQP 1.0', Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
    ['HTTP/1.1 (exactly 8 bytes)', Buffer.from('HTTP/1.1')],
    ['TLS client hello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])],
  ])('%s: the broker answers AMQP 0-9-1 and closes', async (_name, header) => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(header)
    await c.expectSocketClosed()
    expect(c.received.toString('latin1')).toBe('AMQP\x00\x00\x09\x01')
  })

  it('a correct header sent one byte at a time works', async () => {
    const c = await RawClient.connect(b.amqpPort)
    for (const byte of PROTOCOL_HEADER) {
      c.write(Buffer.from([byte]))
      await new Promise((r) => setTimeout(r, 5))
    }
    const start = await c.expectMethod(0, 10, 10)
    expect(start.versionMajor).toBe(0)
    expect(start.versionMinor).toBe(9)
    expect((start.mechanisms as Buffer).toString()).toContain('PLAIN')
  })

  it('a wrong header sent in pieces is still refused', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write('AMQ')
    await new Promise((r) => setTimeout(r, 20))
    c.write('P\x00\x00\x09\x00')
    await c.expectSocketClosed()
    expect(c.received.toString('latin1')).toBe('AMQP\x00\x00\x09\x01')
  })

  it('a client that sends half a header and hangs up', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write('AMQ')
    await new Promise((r) => setTimeout(r, 20))
    c.socket.destroy()
  })

  it('a client that connects and says nothing, then hangs up', async () => {
    const c = await RawClient.connect(b.amqpPort)
    await new Promise((r) => setTimeout(r, 20))
    c.socket.destroy()
  })

  it('garbage right after a valid header (same write): 501', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(Buffer.concat([PROTOCOL_HEADER, Buffer.from('hello world, this is not AMQP at all')]))
    await c.expectMethod(0, 10, 10)
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('garbage after connection.start: 501', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(0, 10, 10)
    c.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('garbage after the handshake: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef]))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })
})

describe('malformed frames', () => {
  it('bad frame-end byte: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(frame(1, 0, methodPayload(20, 10, ['']), 0x00).subarray(0)) // channel.open on channel 0, but end is 0
    const close = await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
    expect(close.replyText).toMatch(/^FRAME_ERROR - /)
  })

  it('bad frame-end byte on a frame split across writes: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const f = frame(1, 1, methodPayload(50, 10, [0, 'q-split', false, false, false, false, false, {}]), 0xcd)
    c.write(f.subarray(0, 5))
    await new Promise((r) => setTimeout(r, 20))
    c.write(f.subarray(5))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
    expect(b.broker.vhost('/')!.queues.has('q-split')).toBe(false)
  })

  it('oversized frame (header only, announcing 1 GiB): 501, and the socket is dropped after the close timeout', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const h = Buffer.alloc(7)
    h[0] = 3
    h.writeUInt16BE(1, 1)
    h.writeUInt32BE(1 << 30, 3)
    c.write(h)
    const close = await c.expectMethod(0, 10, 50)
    expect(close.replyCode).toBe(ReplyCode.FRAME_ERROR)
    expect(close.replyText).toMatch(/^FRAME_ERROR - /)
    // close-ok now is the start of the announced 1 GiB body, so the broker cannot see it: it must
    // still let go of the socket (close timeout) instead of waiting forever
    c.write(methodFrame(0, 10, 51))
    await c.expectSocketClosed(10_000)
  })

  it('a whole frame more than 8 bytes over the negotiated frame_max (4096): 501', async () => {
    const c = await RawClient.open(b.amqpPort, 4096)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'big', false, false]))
    c.write(headerFrame(1, 10000))
    c.write(bodyFrame(1, Buffer.alloc(4096 + 1, 0x61))) // 4105 bytes with header and frame-end
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR, false)
  })

  it('a frame up to 8 bytes over frame_max is tolerated, as RabbitMQ does (clients get it wrong)', async () => {
    const c = await RawClient.open(b.amqpPort, 4096)
    await c.openChannel(1)
    c.write(methodFrame(1, 50, 10, [0, 'fudge-q', false, false, false, true, false, {}]))
    await c.expectMethod(1, 50, 11)
    c.write(methodFrame(1, 60, 40, [0, '', 'fudge-q', false, false]))
    c.write(headerFrame(1, 4096))
    c.write(bodyFrame(1, Buffer.alloc(4096, 0x62))) // payload = frame_max: 8 bytes over
    c.write(methodFrame(1, 60, 70, [0, 'fudge-q', true]))
    await c.expectMethod(1, 60, 71)
    // the broker itself keeps to frame_max (checked in frames()): the body comes back in two frames
    expect((await c.expectContent(1)).equals(Buffer.alloc(4096, 0x62))).toBe(true)
    c.write(methodFrame(1, 50, 40, [0, 'fudge-q', false, false, false]))
    await c.expectMethod(1, 50, 41)
  })

  it('a frame of exactly the negotiated frame_max is fine', async () => {
    const c = await RawClient.open(b.amqpPort, 4096)
    await c.openChannel(1)
    c.write(methodFrame(1, 50, 10, [0, 'exact-fm', false, false, false, true, false, {}]))
    await c.expectMethod(1, 50, 11)
    c.write(methodFrame(1, 60, 40, [0, '', 'exact-fm', false, false]))
    c.write(headerFrame(1, 4096 - 8))
    c.write(bodyFrame(1, Buffer.alloc(4096 - 8, 0x61)))
    c.write(methodFrame(1, 60, 70, [0, 'exact-fm', true]))
    const ok = await c.expectMethod(1, 60, 71)
    expect(ok.routingKey).toBe('exact-fm')
    expect((await c.expectContent(1)).equals(Buffer.alloc(4096 - 8, 0x61))).toBe(true)
    c.write(methodFrame(1, 50, 40, [0, 'exact-fm', false, false, false]))
    await c.expectMethod(1, 50, 41)
  })

  it.each([4, 9, 0, 0xff])('unknown frame type %i: 501', async (type) => {
    const c = await RawClient.open(b.amqpPort)
    c.write(frame(type, 0, Buffer.from('hello')))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('heartbeat frame on a non-zero channel: 505 (RabbitMQ: unexpected frame)', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(frame(8, 1, Buffer.alloc(0)))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('heartbeat frame with a payload: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(frame(8, 0, Buffer.from('thump')))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('method frame shorter than class and method ids: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(frame(1, 1, Buffer.from([0, 60])))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('heartbeats on channel 0 are accepted at any time', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(frame(8, 0, Buffer.alloc(0)))
    await c.openChannel(1)
    c.write(Buffer.concat([frame(8, 0, Buffer.alloc(0)), methodFrame(1, 50, 10, [0, '', false, false, true, true, false, {}])]))
    const ok = await c.expectMethod(1, 50, 11)
    expect(ok.queue).toMatch(/^amq\.gen-/)
  })
})

describe('frames out of order', () => {
  it('a method on a channel that was never opened: 504', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(methodFrame(3, 50, 10, [0, 'never-opened', false, false, false, false, false, {}]))
    const close = await c.expectConnectionClose(ReplyCode.CHANNEL_ERROR)
    expect(close.replyText).toMatch(/^CHANNEL_ERROR - /)
    expect(b.broker.vhost('/')!.queues.has('never-opened')).toBe(false)
  })

  it('a method on a channel after it was closed: 504', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 20, 40, [200, 'bye', 0, 0]))
    await c.expectMethod(1, 20, 41)
    c.write(methodFrame(1, 60, 10, [0, 10, false]))
    await c.expectConnectionClose(ReplyCode.CHANNEL_ERROR)
  })

  it('a second channel.open on an open channel: 504', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectConnectionClose(ReplyCode.CHANNEL_ERROR)
  })

  it('content frames on a channel that was never opened: 504', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(headerFrame(5, 3))
    await c.expectConnectionClose(ReplyCode.CHANNEL_ERROR)
  })

  it('a content header with no preceding basic.publish: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(headerFrame(1, 5))
    const close = await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
    expect(close.replyText).toMatch(/^UNEXPECTED_FRAME - /)
  })

  it('a body frame with no preceding basic.publish: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(bodyFrame(1, Buffer.from('orphan')))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('a body frame where the content header is expected: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    c.write(bodyFrame(1, Buffer.from('no header')))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('a method frame while a content body is expected: 505, and the partial message is dropped', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 50, 10, [0, 'partial-q', false, false, false, false, false, {}]))
    await c.expectMethod(1, 50, 11)
    c.write(methodFrame(1, 60, 40, [0, '', 'partial-q', false, false]))
    c.write(headerFrame(1, 10))
    c.write(bodyFrame(1, Buffer.from('12345')))
    c.write(methodFrame(1, 60, 10, [0, 10, false])) // basic.qos in the middle of the content
    const close = await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
    expect([close.classId, close.methodId]).toEqual([60, 10])
    expect(b.broker.vhost('/')!.queues.get('partial-q')!.messageCount).toBe(0)
    // clean up the durable-less queue for the other tests
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    await ch.deleteQueue('partial-q')
    await conn.close()
  })

  it('a method frame while the content header is expected: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('a content header for another class than basic: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    const h = headerFrame(1, 1)
    h.writeUInt16BE(50, 7) // class 50 (queue) instead of 60
    c.write(h)
    const close = await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
    expect([close.classId, close.methodId]).toEqual([60, 40])
  })

  it('a content header with a non-zero weight: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    const h = headerFrame(1, 1)
    h.writeUInt16BE(1, 9) // weight
    c.write(h)
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('a content header too short to hold class, weight, size and flags: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    c.write(frame(2, 1, Buffer.from([0, 60, 0, 0, 0, 0])))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('a channel frame before connection.open: 505', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(0, 10, 10)
    c.write(methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US']))
    await c.expectMethod(0, 10, 30)
    c.write(methodFrame(0, 10, 31, [0, 131072, 0]))
    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('content frames on channel 0: 505', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(headerFrame(0, 1))
    await c.expectConnectionClose(ReplyCode.UNEXPECTED_FRAME)
  })

  it('a content body larger than the size in its header: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    c.write(headerFrame(1, 3))
    c.write(bodyFrame(1, Buffer.from('four')))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })
})

describe('channel errors with pipelined frames', () => {
  it('publish to a missing exchange with header and body in the same write: 404 closes the channel only', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(
      Buffer.concat([
        methodFrame(1, 60, 40, [0, 'no-such-exchange', 'rk', false, false]),
        headerFrame(1, 5),
        bodyFrame(1, Buffer.from('hello')),
        methodFrame(1, 50, 10, [0, 'after-404', false, false, false, false, false, {}]), // discarded
      ]),
    )
    const close = await c.expectMethod(1, 20, 40)
    expect(close.replyCode).toBe(404)
    expect(close.replyText).toMatch(/^NOT_FOUND - .*no-such-exchange/)
    expect([close.classId, close.methodId]).toEqual([60, 40])
    // frames after channel.close are ignored until close-ok
    c.write(methodFrame(1, 60, 10, [0, 1, false]))
    c.write(methodFrame(1, 20, 41))
    // the channel number can be reused, and the connection is fine
    await c.openChannel(1)
    c.write(methodFrame(1, 50, 10, [0, '', false, false, true, true, false, {}]))
    const ok = await c.expectMethod(1, 50, 11)
    expect(ok.queue).toMatch(/^amq\.gen-/)
    expect(b.broker.vhost('/')!.queues.has('after-404')).toBe(false)
  })

  it('a message over max size: 406 on the channel, its body frames are discarded', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const max = b.config.maxMessageSize
    c.write(methodFrame(1, 60, 40, [0, '', 'x', false, false]))
    c.write(headerFrame(1, max + 1))
    c.write(bodyFrame(1, Buffer.alloc(1000)))
    const close = await c.expectMethod(1, 20, 40)
    expect(close.replyCode).toBe(406)
    c.write(methodFrame(1, 20, 41))
    await c.openChannel(1)
  })
})

describe('bad methods', () => {
  it('truncated method arguments: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const full = methodPayload(50, 10, [0, 'truncated-q', false, false, false, false, false, { a: 'b' }])
    c.write(frame(1, 1, full.subarray(0, full.length - 3)))
    const close = await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
    expect(close.replyText).toMatch(/^FRAME_ERROR - /)
    expect(b.broker.vhost('/')!.queues.has('truncated-q')).toBe(false)
  })

  it('truncated basic.publish and basic.ack (the hand-written decoders): 501', async () => {
    for (const payload of [methodPayload(60, 40, [0, 'amq.direct', 'rk', false, false]).subarray(0, 10), methodPayload(60, 80, [1, false]).subarray(0, 9)]) {
      const c = await RawClient.open(b.amqpPort)
      await c.openChannel(1)
      c.write(frame(1, 1, payload))
      await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
    }
  })

  it('truncated connection.start-ok: 501', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(0, 10, 10)
    const full = methodPayload(10, 11, [{ product: 'x' }, 'PLAIN', '\0guest\0guest', 'en_US'])
    c.write(frame(1, 0, full.subarray(0, 12)))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
  })

  it('a malformed field table in queue.declare arguments: 501', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const p = methodPayload(50, 10, [0, 'bad-table-q', false, false, false, false, false, { k: 'v' }])
    p[p.length - 6] = 0x3f // the 'S' type tag becomes '?'
    c.write(frame(1, 1, p))
    await c.expectConnectionClose(ReplyCode.FRAME_ERROR)
    expect(b.broker.vhost('/')!.queues.has('bad-table-q')).toBe(false)
  })

  it('an unknown method id on a channel: 503, naming the method', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(frame(1, 1, Buffer.from([0, 60, 0, 99])))
    const close = await c.expectConnectionClose(ReplyCode.COMMAND_INVALID)
    expect(close.replyText).toMatch(/^COMMAND_INVALID - /)
    expect([close.classId, close.methodId]).toEqual([60, 99])
  })

  it('an unknown class on a channel: 503', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(frame(1, 1, Buffer.from([0x12, 0x34, 0, 10, 1, 2, 3])))
    await c.expectConnectionClose(ReplyCode.COMMAND_INVALID)
  })

  it('an unknown method on channel 0: 503', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(frame(1, 0, Buffer.from([0, 10, 0, 99])))
    await c.expectConnectionClose(ReplyCode.COMMAND_INVALID)
  })

  it('a server-only method sent by the client (connection.start): 503', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(methodFrame(0, 10, 10, [0, 9, {}, 'PLAIN', 'en_US']))
    await c.expectConnectionClose(ReplyCode.COMMAND_INVALID)
  })

  it('a channel-class method on channel 0: 503', async () => {
    const c = await RawClient.open(b.amqpPort)
    c.write(methodFrame(0, 50, 10, [0, 'ch0', false, false, false, false, false, {}]))
    await c.expectConnectionClose(ReplyCode.COMMAND_INVALID)
  })
})

describe('clients that vanish', () => {
  it('socket closed in the middle of a frame', async () => {
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    const f = methodFrame(1, 50, 10, [0, 'mid-frame', false, false, false, false, false, {}])
    c.write(f.subarray(0, 10))
    await new Promise((r) => setTimeout(r, 20))
    c.socket.destroy()
    await waitFor(() => b.broker.connections.size === 0, 5000, 'the connection to be dropped')
    expect(b.broker.vhost('/')!.queues.has('mid-frame')).toBe(false)
  })

  it('socket closed in the middle of a message body: nothing half-published', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createChannel()
    await ch.assertQueue('vanish-q')
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 40, [0, '', 'vanish-q', false, false]))
    c.write(headerFrame(1, 1000))
    c.write(bodyFrame(1, Buffer.alloc(500, 0x62)))
    const partial = bodyFrame(1, Buffer.alloc(500, 0x62))
    c.write(partial.subarray(0, 100))
    await new Promise((r) => setTimeout(r, 20))
    c.socket.destroy()
    await waitFor(() => b.broker.connections.size === 1, 5000, 'the raw connection to be dropped')
    expect((await ch.checkQueue('vanish-q')).messageCount).toBe(0)
    await ch.deleteQueue('vanish-q')
    await conn.close()
  })

  it('socket closed mid-handshake (after start, before start-ok completes)', async () => {
    const c = await RawClient.connect(b.amqpPort)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(0, 10, 10)
    const so = methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US'])
    c.write(so.subarray(0, so.length - 5))
    await new Promise((r) => setTimeout(r, 20))
    c.socket.destroy()
  })

  it('socket closed with unacked deliveries: they go back to the queue', async () => {
    const conn = await amqp.connect(b.url)
    const ch = await conn.createConfirmChannel()
    await ch.assertQueue('requeue-q')
    ch.sendToQueue('requeue-q', Buffer.from('m1'))
    await ch.waitForConfirms()
    const c = await RawClient.open(b.amqpPort)
    await c.openChannel(1)
    c.write(methodFrame(1, 60, 70, [0, 'requeue-q', false]))
    await c.expectMethod(1, 60, 71)
    expect((await ch.checkQueue('requeue-q')).messageCount).toBe(0)
    c.socket.destroy()
    await waitFor(async () => (await ch.checkQueue('requeue-q')).messageCount === 1, 5000, 'the message to be requeued')
    const m = await ch.get('requeue-q', { noAck: true })
    expect(m && m.fields.redelivered).toBe(true)
    await ch.deleteQueue('requeue-q')
    await conn.close()
  })

  it('many misbehaving connections at once leave the broker healthy', async () => {
    const bad = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const c = await RawClient.open(b.amqpPort)
        if (i % 2 === 0) c.write(frame(1, 0, methodPayload(20, 10, ['']), 0))
        else c.write(headerFrame(7, 1))
        return c
      }),
    )
    await Promise.all(bad.map((c) => c.expectMethod(0, 10, 50)))
    for (const c of bad) c.socket.destroy()
  })
})
