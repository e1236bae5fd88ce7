/**
 * Publishing over real TCP with amqplib and @cloudamqp/amqp-client: content assembly across frames,
 * empty bodies, property round trips, max message size, mandatory/basic.return, unroutable drops,
 * missing exchanges and immediate=true. Assertions go through the client and the broker's state.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import amqp, { type Channel, type ConsumeMessage, type GetMessage } from 'amqplib'
import type { AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('pub')
const { cleanups, uniq, queue, amqplibConn, amqplibChannel, clientConn } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})


/** Resolves with the next message delivered to a fresh amqplib consumer on `queueName`. */
function consumeOne(ch: Channel, queueName: string): Promise<ConsumeMessage> {
  return new Promise((resolve, reject) => {
    ch.consume(queueName, (m) => (m ? resolve(m) : reject(new Error('consumer cancelled'))), { noAck: true }).catch(reject)
  })
}

function consumeOneClient(ch: AMQPChannel, queueName: string): Promise<AMQPMessage> {
  return new Promise((resolve, reject) => {
    ch.basicConsume(queueName, { noAck: true }, (m) => resolve(m)).catch(reject)
  })
}

/** The broker-side connection whose peer is this local TCP port. */
function brokerConnByPort(port: number): unknown {
  return [...b.broker.connections].find((c) => c.peerPort === port)
}

// ---- a tiny raw AMQP client (no library): frames are built by hand, byte for byte ----------------

interface RawFrame {
  type: number
  channel: number
  payload: Buffer
}

const shortstr = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])
const longstr = (b: Buffer): Buffer => Buffer.concat([u32(b.length), b])
const u8 = (n: number): Buffer => Buffer.from([n])
const u16 = (n: number): Buffer => {
  const x = Buffer.alloc(2)
  x.writeUInt16BE(n)
  return x
}
const u32 = (n: number): Buffer => {
  const x = Buffer.alloc(4)
  x.writeUInt32BE(n)
  return x
}
const u64 = (n: number): Buffer => {
  const x = Buffer.alloc(8)
  x.writeBigUInt64BE(BigInt(n))
  return x
}

class RawAmqp {
  private buf = Buffer.alloc(0)
  private readonly frames: RawFrame[] = []
  private wake: (() => void) | null = null
  closed = false

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      while (this.buf.length >= 8) {
        const size = this.buf.readUInt32BE(3)
        if (this.buf.length < size + 8) break
        if (this.buf[size + 7] !== 0xce) throw new Error('bad frame end')
        this.frames.push({ type: this.buf[0], channel: this.buf.readUInt16BE(1), payload: this.buf.subarray(7, 7 + size) })
        this.buf = this.buf.subarray(size + 8)
      }
      this.wake?.()
    })
    sock.on('close', () => {
      this.closed = true
      this.wake?.()
    })
  }

  static async connect(port: number): Promise<RawAmqp> {
    const sock = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject))
    const c = new RawAmqp(sock)
    cleanups.push(async () => sock.destroy())
    sock.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'))
    await c.expectMethod(0, 10, 10) // start
    c.method(0, 10, 11, [u32(0), shortstr('PLAIN'), longstr(Buffer.from('\0guest\0guest')), shortstr('en_US')])
    const tune = await c.expectMethod(0, 10, 30)
    c.method(0, 10, 31, [u16(tune.readUInt16BE(0)), u32(tune.readUInt32BE(2)), u16(0)])
    c.method(0, 10, 40, [shortstr('/'), shortstr(''), u8(0)])
    await c.expectMethod(0, 10, 41)
    c.method(1, 20, 10, [shortstr('')])
    await c.expectMethod(1, 20, 11)
    return c
  }

  send(type: number, channel: number, payload: Buffer): void {
    const head = Buffer.alloc(7)
    head[0] = type
    head.writeUInt16BE(channel, 1)
    head.writeUInt32BE(payload.length, 3)
    this.sock.write(Buffer.concat([head, payload, Buffer.from([0xce])]))
  }

  method(channel: number, classId: number, methodId: number, args: Buffer[]): void {
    this.send(1, channel, Buffer.concat([u16(classId), u16(methodId), ...args]))
  }

  async next(): Promise<RawFrame> {
    for (;;) {
      const f = this.frames.shift()
      if (f !== undefined) return f
      if (this.closed) throw new Error('socket closed')
      await new Promise<void>((resolve) => (this.wake = resolve))
      this.wake = null
    }
  }

  /** Next frame, which must be the given method; returns its arguments. */
  async expectMethod(channel: number, classId: number, methodId: number): Promise<Buffer> {
    const f = await this.next()
    const got = f.type === 1 ? `${f.payload.readUInt16BE(0)}.${f.payload.readUInt16BE(2)}` : `frame type ${f.type}`
    expect({ channel: f.channel, method: got }).toEqual({ channel, method: `${classId}.${methodId}` })
    return f.payload.subarray(4)
  }
}

/** All 14 basic properties as raw bytes, headers with every field type RabbitMQ knows. */
function allPropertiesRaw(): Buffer {
  const field = (name: string, type: string, value: Buffer): Buffer => Buffer.concat([shortstr(name), Buffer.from(type), value])
  const inner = Buffer.concat([field('deep', 'S', longstr(Buffer.from('value'))), field('n', 'I', u32(7))])
  const arr = Buffer.concat([Buffer.from('S'), longstr(Buffer.from('a')), Buffer.from('F'), longstr(inner), Buffer.from('A'), u32(0)])
  const i8 = Buffer.alloc(1)
  i8.writeInt8(-5)
  const f32 = Buffer.alloc(4)
  f32.writeFloatBE(1.25)
  const f64 = Buffer.alloc(8)
  f64.writeDoubleBE(-2.5)
  const i64 = Buffer.alloc(8)
  i64.writeBigInt64BE(-(2n ** 40n))
  const table = Buffer.concat([
    field('bool', 't', u8(1)),
    field('i8', 'b', i8),
    field('u8', 'B', u8(200)),
    field('i16', 's', u16(0xfffe)),
    field('u16', 'u', u16(65000)),
    field('i32', 'I', u32(0xfffffff0)),
    field('u32', 'i', u32(4000000000)),
    field('i64', 'l', i64),
    field('f32', 'f', f32),
    field('f64', 'd', f64),
    field('dec', 'D', Buffer.concat([u8(2), u32(12345)])),
    field('str', 'S', longstr(Buffer.from('héllo'))),
    field('ts', 'T', u64(1700000000)),
    field('table', 'F', longstr(inner)),
    field('array', 'A', longstr(arr)),
    field('void', 'V', Buffer.alloc(0)),
    field('bytes', 'x', longstr(Buffer.from([0, 0xff, 0x10]))),
  ])
  return Buffer.concat([
    u16(0xfffc), // all 14 flags
    shortstr('application/x-raw'),
    shortstr('identity'),
    longstr(table),
    u8(2),
    u8(9),
    shortstr('corr-raw'),
    shortstr('reply-raw'),
    shortstr('300000'),
    shortstr('id-raw'),
    u64(1700000001),
    shortstr('type-raw'),
    shortstr('guest'),
    shortstr('app-raw'),
    shortstr('cluster-raw'),
  ])
}

describe('content assembly across frames', () => {
  it('amqplib: a 1 MB body (8+ frames at frame_max 131072) arrives intact', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('big1m')
    await ch.assertQueue(qn)
    const body = randomBytes(1024 * 1024)
    ch.sendToQueue(qn, body, { messageId: 'big' })
    await waitFor(() => queue(qn).messageCount === 1, 5000, 'big message enqueued')
    // broker side: one message, the body reassembled byte for byte
    const env = queue(qn).ready.peek()!
    expect(env.message.body.length).toBe(body.length)
    expect(env.message.body.equals(body)).toBe(true)
    expect(queue(qn).readyBytes).toBe(body.length)
    const m = await consumeOne(ch, qn)
    expect(m.content.length).toBe(body.length)
    expect(m.content.equals(body)).toBe(true)
    expect(m.properties.messageId).toBe('big')
  })

  it('amqp-client: a 300 KB body (≈38 frames at frame_max 8192) arrives intact, and the broker splits it back into 8 KB frames', async () => {
    const conn = await clientConn()
    expect(conn.frameMax).toBe(8192)
    const ch = await conn.channel()
    const qn = uniq('big300k')
    await ch.queueDeclare(qn, { durable: false })
    const body = new Uint8Array(randomBytes(300 * 1024))
    await ch.basicPublish('', qn, body, { contentType: 'application/octet-stream' })
    await waitFor(() => queue(qn).messageCount === 1, 5000, 'message enqueued')
    expect(Buffer.from(body).equals(queue(qn).ready.peek()!.message.body)).toBe(true)
    const m = await consumeOneClient(ch, qn)
    expect(m.bodySize).toBe(body.length)
    expect(Buffer.from(m.body as Uint8Array).equals(Buffer.from(body))).toBe(true)
    expect(m.properties.contentType).toBe('application/octet-stream')
  })

  it('a 1 MB body published by amqplib (128 KB frames) is delivered to amqp-client (8 KB frames)', async () => {
    const { ch: pubCh } = await amqplibChannel()
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('cross')
    await ch.queueDeclare(qn, { durable: false })
    const got = consumeOneClient(ch, qn)
    const body = randomBytes(1024 * 1024 + 17)
    pubCh.sendToQueue(qn, body)
    const m = await got
    expect(Buffer.from(m.body as Uint8Array).equals(body)).toBe(true)
    expect(queue(qn).messageCount).toBe(0)
  })

  it('many interleaved multi-frame publishes on two channels of one connection stay separate', async () => {
    const conn = await amqplibConn()
    const ch1 = await conn.createChannel()
    const ch2 = await conn.createChannel()
    const qn = uniq('interleave')
    await ch1.assertQueue(qn)
    const bodies: Buffer[] = []
    for (let i = 0; i < 10; i++) {
      const a = Buffer.alloc(200_000 + i, 0x41 + i)
      const c = Buffer.alloc(150_000 + i, 0x61 + i)
      bodies.push(a, c)
      ch1.sendToQueue(qn, a, { messageId: `a${i}` })
      ch2.sendToQueue(qn, c, { messageId: `c${i}` })
    }
    await waitFor(() => queue(qn).messageCount === 20, 5000, '20 messages')
    const seen = new Map<string, Buffer>()
    for (let i = 0; i < 20; i++) {
      const m = (await ch1.get(qn, { noAck: true })) as GetMessage
      seen.set(m.properties.messageId as string, m.content)
    }
    for (let i = 0; i < 10; i++) {
      expect(seen.get(`a${i}`)!.equals(bodies[2 * i])).toBe(true)
      expect(seen.get(`c${i}`)!.equals(bodies[2 * i + 1])).toBe(true)
    }
  })
})

describe('empty bodies', () => {
  it('amqplib: a 0-byte body is delivered with its properties', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('empty')
    await ch.assertQueue(qn)
    ch.sendToQueue(qn, Buffer.alloc(0), {
      contentType: 'text/plain',
      headers: { k: 'v', n: 3 },
      messageId: 'empty-1',
      correlationId: 'c-1',
      deliveryMode: 2,
    })
    await waitFor(() => queue(qn).messageCount === 1)
    expect(queue(qn).ready.peek()!.message.body.length).toBe(0)
    const m = await consumeOne(ch, qn)
    expect(m.content.length).toBe(0)
    expect(m.properties.contentType).toBe('text/plain')
    expect(m.properties.headers).toEqual({ k: 'v', n: 3 })
    expect(m.properties.messageId).toBe('empty-1')
    expect(m.properties.correlationId).toBe('c-1')
    expect(m.properties.deliveryMode).toBe(2)
  })

  it('amqp-client: a 0-byte body (basic.get and consume) keeps its properties', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('empty-client')
    await ch.queueDeclare(qn, { durable: false })
    await ch.basicPublish('', qn, new Uint8Array(0), { appId: 'app', type: 't', priority: 3 })
    await ch.basicPublish('', qn, null, { messageId: 'null-body' })
    await waitFor(() => queue(qn).messageCount === 2)
    const g = (await ch.basicGet(qn, { noAck: true }))!
    expect(g.bodySize).toBe(0)
    expect(g.properties).toMatchObject({ appId: 'app', type: 't', priority: 3 })
    expect(g.messageCount).toBe(1)
    const m = await consumeOneClient(ch, qn)
    expect(m.bodySize).toBe(0)
    expect(m.properties.messageId).toBe('null-body')
  })
})

describe('basic properties round-trip unchanged', () => {
  // user-id is 'guest' on purpose: RabbitMQ refuses (406) a user-id that is not the connection's
  // user. Warren does not validate user-id yet, so a mismatching value is not tested here.
  const headers = {
    str: 'hello',
    int: 42,
    neg: -7,
    big: 2 ** 40,
    float: 1.5,
    yes: true,
    no: false,
    nul: null,
    bin: Buffer.from([0, 1, 2, 255]),
    nested: { a: 1, deeper: { b: 'x', list: [1, 'two', { c: false }] } },
    arr: [1, 'a', [2, 3], { t: 'table-in-array' }],
    empty: {},
    emptyArr: [],
  }

  it('raw client: all 14 properties (cluster-id too, every header field type) come back byte for byte', async () => {
    const qn = uniq('props-raw')
    const { ch } = await amqplibChannel()
    await ch.assertQueue(qn)
    const c = await RawAmqp.connect(b.amqpPort)
    const props = allPropertiesRaw()
    const body = Buffer.from('raw body')
    c.method(1, 60, 40, [u16(0), shortstr(''), shortstr(qn), u8(0)]) // basic.publish
    c.send(2, 1, Buffer.concat([u16(60), u16(0), u64(body.length), props]))
    c.send(3, 1, body)
    await waitFor(() => queue(qn).messageCount === 1)
    const stored = queue(qn).ready.peek()!.message
    expect(stored.props.equals(props)).toBe(true)
    expect(stored.properties).toMatchObject({
      contentType: 'application/x-raw',
      deliveryMode: 2,
      priority: 9,
      expiration: '300000',
      timestamp: 1700000001,
      userId: 'guest',
      clusterId: 'cluster-raw',
    })
    expect(stored.headers!.str).toBe('héllo')
    expect(stored.headers!.i32).toBe(-16)
    expect((stored.headers!.table as Record<string, unknown>).deep).toBe('value')
    c.method(1, 60, 70, [u16(0), shortstr(qn), u8(1)]) // basic.get no-ack
    await c.expectMethod(1, 60, 71)
    const header = await c.next()
    expect(header.type).toBe(2)
    expect(Number(header.payload.readBigUInt64BE(4))).toBe(body.length)
    expect(header.payload.subarray(12).equals(props)).toBe(true)
    const bodyFrame = await c.next()
    expect(bodyFrame.type).toBe(3)
    expect(bodyFrame.payload.equals(body)).toBe(true)
    expect(queue(qn).messageCount).toBe(0)
  })

  it('amqplib: the 13 properties it can send, nested headers included', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('props')
    await ch.assertQueue(qn)
    const props = {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-123',
      replyTo: 'amq.gen-reply',
      expiration: '600000',
      messageId: 'msg-123',
      timestamp: 1700000000,
      type: 'order.created',
      userId: 'guest',
      appId: 'warren-tests',
    }
    ch.sendToQueue(qn, Buffer.from('{}'), props)
    await waitFor(() => queue(qn).messageCount === 1)
    // the broker decodes the same values from the bytes it keeps
    const stored = queue(qn).ready.peek()!.message
    expect(stored.deliveryMode).toBe(2)
    expect(stored.priority).toBe(7)
    expect(stored.ttl).toBe(600000)
    const bp = stored.properties
    expect(bp).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-123',
      replyTo: 'amq.gen-reply',
      expiration: '600000',
      messageId: 'msg-123',
      timestamp: 1700000000,
      type: 'order.created',
      userId: 'guest',
      appId: 'warren-tests',
    })
    expect(bp.clusterId).toBeUndefined() // amqplib never sends cluster-id; see the raw test below
    expect(Number(bp.headers!.int)).toBe(42)
    expect(bp.headers!.str).toBe('hello')
    expect((bp.headers!.nested as { deeper: { b: string } }).deeper.b).toBe('x')

    const m = await consumeOne(ch, qn)
    expect(m.properties).toEqual(props)
    expect(m.content.toString()).toBe('{}')
  })

  it('amqp-client: all 13 properties it supports, nested headers included', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('props-client')
    await ch.queueDeclare(qn, { durable: false })
    const clientHeaders = {
      str: 'hello',
      int: 42,
      float: 2.25,
      yes: true,
      nested: { a: 'b', deeper: { list: [1, 'two', { c: true }] } },
      arr: ['x', 2, ['y']],
    }
    const props = {
      contentType: 'text/plain',
      contentEncoding: 'utf-8',
      headers: clientHeaders,
      deliveryMode: 1,
      priority: 5, // amqp-client does not send a priority of 0
      correlationId: 'c',
      replyTo: 'r',
      expiration: '123456',
      messageId: 'm',
      timestamp: new Date(1_700_000_000_000),
      type: 'ty',
      userId: 'guest',
      appId: 'ap',
    }
    await ch.basicPublish('', qn, 'body', props)
    await waitFor(() => queue(qn).messageCount === 1)
    const stored = queue(qn).ready.peek()!.message.properties
    expect(stored.timestamp).toBe(1_700_000_000)
    expect(stored.userId).toBe('guest')
    expect(stored.priority).toBe(5)
    const m = await consumeOneClient(ch, qn)
    expect(m.bodyToString()).toBe('body')
    expect(m.properties).toEqual(props)
  })
})

describe('maximum message size', () => {
  let small: TestBroker
  beforeAll(async () => {
    small = await startTestBroker({ maxMessageSize: 1024 })
  })
  afterAll(async () => small.stop())

  it('a body larger than max_message_size closes the channel with 406; the limit itself is accepted', async () => {
    const { conn, ch } = await amqplibChannel(small)
    const qn = uniq('maxsize')
    await ch.assertQueue(qn)
    ch.sendToQueue(qn, Buffer.alloc(1024, 1))
    await waitFor(() => queue(qn, small).messageCount === 1, 5000, 'message at the limit')
    const err = new Promise<Error & { code?: number }>((resolve) => ch.once('error', resolve))
    ch.sendToQueue(qn, Buffer.alloc(2000, 2))
    await expect(ch.checkQueue(qn)).rejects.toThrow() // the channel is closed by then
    const e = await err
    expect(e.code).toBe(406)
    expect(e.message).toContain('PRECONDITION_FAILED - message size 2000 is larger than configured max size 1024')
    expect(queue(qn, small).messageCount).toBe(1)
    // a channel error: the connection survives
    const ch2 = await conn.createChannel()
    const ok = await ch2.checkQueue(qn)
    expect(ok.messageCount).toBe(1)
  })

  it('an oversized body spread over many frames is discarded and the connection stays usable', async () => {
    const conn = await clientConn(small)
    const ch = await conn.channel()
    const errors: string[] = []
    ch.onerror = (r) => errors.push(r)
    const qn = uniq('maxsize-frames')
    await ch.queueDeclare(qn, { durable: false })
    await ch.basicPublish('', qn, new Uint8Array(40_000)) // 5 body frames at frame_max 8192
    await waitFor(() => ch.closed, 5000, 'channel closed')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('PRECONDITION_FAILED - message size 40000 is larger than configured max size 1024')
    expect(errors[0]).toContain('(406)')
    const ch2 = await conn.channel()
    await ch2.basicPublish('', qn, 'small')
    const ok = await ch2.queueDeclare(qn, { passive: true })
    expect(ok.messageCount).toBe(1)
    expect(queue(qn, small).messageCount).toBe(1)
  })
})

describe('mandatory and unroutable messages', () => {
  it('mandatory + unroutable → basic.return 312 NO_ROUTE with body and properties', async () => {
    const { ch } = await amqplibChannel()
    await ch.assertExchange('pub.direct', 'direct', { durable: false })
    const returned: amqp.Message[] = []
    ch.on('return', (m: amqp.Message) => returned.push(m))
    ch.publish('pub.direct', 'nobody-home', Buffer.from('lost'), { mandatory: true, messageId: 'r1', headers: { h: 1 } })
    await ch.checkExchange('pub.direct') // round trip: the return is sent before this reply
    expect(returned).toHaveLength(1)
    const r = returned[0]
    expect(r.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'pub.direct', routingKey: 'nobody-home' })
    expect(r.content.toString()).toBe('lost')
    expect(r.properties.messageId).toBe('r1')
    expect(r.properties.headers).toEqual({ h: 1 })
  })

  it('mandatory to the default exchange with no such queue is returned; with the queue it is not', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const returns: AMQPMessage[] = []
    ch.onReturn = (m) => returns.push(m)
    const qn = uniq('mand')
    await ch.basicPublish('', qn, 'first', {}, true)
    await waitFor(() => returns.length === 1, 5000, 'basic.return')
    expect(returns[0]).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: '', routingKey: qn })
    expect(returns[0].bodyToString()).toBe('first')
    await ch.queueDeclare(qn, { durable: false })
    await ch.basicPublish('', qn, 'second', {}, true)
    await ch.queueDeclare(qn, { passive: true }) // round trip: a return would have come before this
    expect(returns).toHaveLength(1)
    expect(queue(qn).messageCount).toBe(1)
  })

  it('unroutable without mandatory is dropped silently', async () => {
    const { ch } = await amqplibChannel()
    await ch.assertExchange('pub.fanout.empty', 'fanout', { durable: false })
    let returns = 0
    ch.on('return', () => returns++)
    const before = b.broker.stats.unroutable
    ch.publish('pub.fanout.empty', '', Buffer.from('x'))
    ch.publish('', 'no-such-queue-anywhere', Buffer.from('y'))
    await waitFor(() => b.broker.stats.unroutable === before + 2, 5000, 'unroutable counted')
    await ch.checkExchange('pub.fanout.empty') // round trip on the same channel
    expect(returns).toBe(0)
    // the channel is still fine
    const qn = uniq('after-drop')
    await ch.assertQueue(qn)
    ch.sendToQueue(qn, Buffer.from('ok'))
    await waitFor(() => queue(qn).messageCount === 1)
  })
})

describe('publishing errors', () => {
  it('publishing to a missing exchange closes the channel with 404', async () => {
    const { conn, ch } = await amqplibChannel()
    const err = new Promise<Error & { code?: number }>((resolve) => ch.once('error', resolve))
    ch.publish('no-such-exchange', 'rk', Buffer.from('x'))
    const e = await err
    expect(e.code).toBe(404)
    expect(e.message).toContain("NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'")
    // soft error: the connection lives on
    const ch2 = await conn.createChannel()
    await ch2.assertQueue(uniq('alive'))
  })

  it('raw client: the 404 channel.close names basic.publish (class 60, method 40)', async () => {
    const c = await RawAmqp.connect(b.amqpPort)
    c.method(1, 60, 40, [u16(0), shortstr('nope-raw'), shortstr('rk'), u8(0)])
    c.send(2, 1, Buffer.concat([u16(60), u16(0), u64(1), u16(0)]))
    c.send(3, 1, Buffer.from('x'))
    const close = await c.expectMethod(1, 20, 40)
    const code = close.readUInt16BE(0)
    const textLen = close[2]
    const replyText = close.toString('utf8', 3, 3 + textLen)
    expect(code).toBe(404)
    expect(replyText).toBe("NOT_FOUND - no exchange 'nope-raw' in vhost '/'")
    expect([close.readUInt16BE(3 + textLen), close.readUInt16BE(5 + textLen)]).toEqual([60, 40])
    c.method(1, 20, 41, []) // close-ok; the connection is still usable
    c.method(2, 20, 10, [shortstr('')])
    await c.expectMethod(2, 20, 11)
  })

  it('amqp-client sees the 404 channel close and keeps its connection', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const errors: string[] = []
    ch.onerror = (r) => errors.push(r)
    await ch.basicPublish('nope-x', 'rk', 'x')
    await waitFor(() => ch.closed, 5000, 'channel closed')
    expect(errors[0]).toContain("NOT_FOUND - no exchange 'nope-x' in vhost '/' (404)")
    expect(conn.closed).toBe(false)
  })

  it('immediate=true closes the connection with 540 NOT_IMPLEMENTED', async () => {
    const conn = await clientConn()
    const localPort = (conn as unknown as { socket: { localPort: number } }).socket.localPort
    expect(brokerConnByPort(localPort)).toBeDefined()
    const errors: string[] = []
    conn.onerror = (e) => errors.push(e.message)
    const ch = await conn.channel()
    await ch.queueDeclare(uniq('imm'), { durable: false })
    await ch.basicPublish('', 'whatever', 'x', {}, false, true)
    await waitFor(() => errors.length > 0, 5000, 'connection error')
    expect(errors[0]).toContain('connection closed: NOT_IMPLEMENTED - immediate=true (540)')
    await waitFor(() => brokerConnByPort(localPort) === undefined, 5000, 'broker dropped the connection')
  })
})

describe('user-id property (RabbitMQ validates it against the connection user)', () => {
  it('a matching user-id is delivered, a different one closes the channel with 406', async () => {
    const b = await startTestBroker()
    try {
      const conn = await amqp.connect(b.url)
      const ch = await conn.createChannel()
      await ch.assertQueue('uid-q')
      ch.sendToQueue('uid-q', Buffer.from('ok'), { userId: 'guest' })
      const got = await new Promise<ConsumeMessage>((res) => void ch.consume('uid-q', (m) => m && res(m)))
      expect(got.properties.userId).toBe('guest')
      const closed = new Promise<Error>((res) => ch.once('error', res))
      ch.sendToQueue('uid-q', Buffer.from('spoofed'), { userId: 'admin' })
      const err = await closed
      expect(err.message).toMatch(/406.*user_id property set to 'admin' but authenticated user was 'guest'/)
      await conn.close()
    } finally {
      await b.stop()
    }
  })
})
