/**
 * Connections over real TCP: authentication (wrong password, guest from a non-loopback address),
 * vhosts, tune negotiation (frame_max, channel_max), heartbeats in both directions (with a raw socket
 * that writes frames by hand), many channels per connection, channel errors vs connection errors,
 * requeueing of unacknowledged messages on close, and broker shutdown (320 CONNECTION_FORCED).
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, withBroker, type TestBroker } from '../helpers/broker.js'
import { NETNS_PEER_IP, netnsUnavailable, runPeerInNetns } from '../helpers/netns.js'
import type { Connection } from '../../transport/connection.js'
import { UserStore } from '../../core/users.js'
import { FRAME_HEARTBEAT, FRAME_METHOD, PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { FrameReader } from '../../transport/codec/frame-reader.js'
import { FrameWriter } from '../../transport/codec/frame-writer.js'
import { decodeArgs, lookupMethod, methodName, type MethodArgs } from '../../transport/codec/methods.js'
import type { FieldTable } from '../../core/wire/field-table.js'

let b: TestBroker
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  b = await startTestBroker()
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})
afterAll(async () => b.stop())

let seq = 0
const uniq = (base: string): string => `ct-${base}-${++seq}`

async function conn(url = b.url, options?: Record<string, unknown>): Promise<ChannelModel> {
  const c = options === undefined ? await amqp.connect(url) : await amqp.connect(url, options)
  c.on('error', () => undefined)
  cleanups.push(() => c.close())
  return c
}

/** The client-side TCP port of an amqplib connection. */
function localPort(c: ChannelModel): number {
  return (c as unknown as { connection: { stream: net.Socket } }).connection.stream.localPort!
}

/** The broker's side of a client connection, found by the client's TCP port. */
function brokerConn(port: number, broker: TestBroker = b): Connection | undefined {
  return [...broker.broker.connections].find((x) => x.peerPort === port) as Connection | undefined
}

/** The reply text inside an amqplib error message (`… with message "TEXT"`). */
function replyText(err: Error): string {
  const m = /with message "(.*)"$/s.exec(err.message)
  if (m === null) throw new Error(`no reply text in: ${err.message}`)
  return m[1]
}

interface AmqpErr extends Error {
  code: number
}

// ---- a raw AMQP client: frames written and read by hand over a net.Socket -------------------------

interface RxFrame {
  type: number
  channel: number
  at: number
  /** method frames: 'connection.tune', … */
  method?: string
  args?: MethodArgs
}

interface HandshakeOptions {
  user?: string
  password?: string
  vhost?: string
  channelMax?: number
  frameMax?: number
  heartbeat?: number
  capabilities?: FieldTable
}

class RawClient {
  readonly frames: RxFrame[] = []
  readonly closed: Promise<number>
  private readonly writer: FrameWriter
  private readonly reader: FrameReader
  private waiters: (() => void)[] = []

  private constructor(readonly socket: net.Socket) {
    this.writer = new FrameWriter(socket, 1 << 20)
    this.reader = new FrameReader(
      {
        onFrame: (type, channel, buf, start, end) => {
          const f: RxFrame = { type, channel, at: Date.now() }
          if (type === FRAME_METHOD) {
            const classId = buf.readUInt16BE(start)
            const methodId = buf.readUInt16BE(start + 2)
            f.method = methodName(classId, methodId)
            f.args = decodeArgs(lookupMethod(classId, methodId), buf, start + 4, end)
          }
          this.frames.push(f)
          for (const w of this.waiters.splice(0)) w()
        },
      },
      1 << 20,
    )
    socket.on('data', (d: Buffer) => this.reader.push(d))
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        resolve(Date.now())
        for (const w of this.waiters.splice(0)) w()
      }),
    )
  }

  /** `own`: the caller destroys the socket (concurrent tests must not share the afterEach cleanups). */
  static async connect(port: number, own = false): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    if (!own) cleanups.push(async () => socket.destroy())
    return new RawClient(socket)
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readyState === 'closed'
  }

  method(channel: number, classId: number, methodId: number, args: unknown[] = []): void {
    this.writer.method(channel, classId, methodId, args)
  }

  heartbeat(): void {
    this.writer.heartbeat()
  }

  /** Waits for the next method frame called `name` on `channel` (after those already seen). */
  async expect(name: string, channel = 0, timeoutMs = 3000): Promise<MethodArgs> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.frames.findIndex((f) => f.method !== undefined && f.channel === channel)
      if (i >= 0) {
        const [f] = this.frames.splice(i, 1)
        if (f.method !== name) throw new Error(`expected ${name} on channel ${channel}, got ${f.method}: ${JSON.stringify(f.args)}`)
        return f.args!
      }
      if (this.isClosed) throw new Error(`socket closed while waiting for ${name}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${name}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Protocol header, start-ok (PLAIN), tune-ok and open; resolves with the server's tune arguments. */
  async handshake(o: HandshakeOptions = {}): Promise<MethodArgs> {
    this.socket.write(PROTOCOL_HEADER)
    await this.expect('connection.start')
    const caps = o.capabilities ?? { authentication_failure_close: true }
    const response = Buffer.from(`\0${o.user ?? 'guest'}\0${o.password ?? 'guest'}`)
    this.method(0, 10, 11, [{ product: 'raw test client', capabilities: caps }, 'PLAIN', response, 'en_US'])
    const tune = await this.expect('connection.tune')
    this.method(0, 10, 31, [o.channelMax ?? 0, o.frameMax ?? (tune.frameMax as number), o.heartbeat ?? 0])
    this.method(0, 10, 40, [o.vhost ?? '/', '', false])
    await this.expect('connection.open-ok')
    return tune
  }
}

// ---------------------------------------------------------------------------------------------------

describe('authentication and virtual hosts', () => {
  const REFUSED = 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.'

  it('a wrong password or unknown user: connection refused with 403 ACCESS_REFUSED', async () => {
    const before = new Set(b.broker.connections)
    const port = b.amqpPort
    const err = await amqp.connect(`amqp://guest:wrong@127.0.0.1:${port}`).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err).toBeInstanceOf(Error)
    expect(err!.message).toContain('ACCESS_REFUSED')
    expect(err!.message).toContain('403')
    expect(replyText(err!)).toBe(REFUSED)
    const err2 = await amqp.connect(`amqp://nobody:guest@127.0.0.1:${port}`).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(replyText(err2!)).toBe(REFUSED)
    const cl = new AMQPClient(`amqp://guest:nope@127.0.0.1:${port}`)
    await expect(cl.connect()).rejects.toThrow(/ACCESS_REFUSED/)
    await waitFor(() => [...b.broker.connections].every((x) => before.has(x)), 5000, 'refused connections to go')
  })

  it('a client without the authentication_failure_close capability just loses the socket (RabbitMQ)', async () => {
    const raw = await RawClient.connect(b.amqpPort)
    await expect(raw.handshake({ password: 'wrong', capabilities: {} })).rejects.toThrow(/socket closed/)
    await raw.closed
    expect(raw.frames.filter((f) => f.method === 'connection.close')).toEqual([])
    // with the capability the same client is told why
    const raw2 = await RawClient.connect(b.amqpPort)
    await expect(raw2.handshake({ password: 'wrong' })).rejects.toThrow(/got connection.close.*Login was refused using authentication mechanism PLAIN/)
  })

  it('an unknown vhost: 530 NOT_ALLOWED; a vhost that exists works', async () => {
    const missing = uniq('nope')
    const raw = await RawClient.connect(b.amqpPort)
    raw.socket.write(PROTOCOL_HEADER)
    await raw.expect('connection.start')
    raw.method(0, 10, 11, [{ capabilities: { authentication_failure_close: true } }, 'PLAIN', '\0guest\0guest', 'en_US'])
    await raw.expect('connection.tune')
    raw.method(0, 10, 31, [0, 131072, 0])
    raw.method(0, 10, 40, [missing, '', false])
    const close = await raw.expect('connection.close')
    expect(close).toMatchObject({ replyCode: 530, replyText: `NOT_ALLOWED - vhost ${missing} not found`, classId: 10, methodId: 40 })
    // both clients fail to connect (amqplib does not surface the reply text at this stage)
    await expect(amqp.connect(`${b.url}/${missing}`)).rejects.toThrow(/ConnectionClose/)
    await expect(new AMQPClient(`${b.url}/${missing}`).connect()).rejects.toThrow(
      `NOT_ALLOWED - vhost ${missing} not found (530)`,
    )

    const vh = uniq('vh')
    b.broker.addVHost(vh)
    // as rabbitmqctl add_vhost, a vhost made directly has no permissions (see permissions.test.ts)
    b.broker.users.setPermission({ user: 'guest', vhost: vh, configure: '.*', write: '.*', read: '.*' })
    const c = await conn(`${b.url}/${encodeURIComponent(vh)}`)
    const ch = await c.createChannel()
    await ch.assertQueue('in-other-vhost')
    expect(b.broker.vhost(vh)!.queues.has('in-other-vhost')).toBe(true)
    expect(b.broker.vhost('/')!.queues.has('in-other-vhost')).toBe(false)
    expect(brokerConn(localPort(c))!.vhostName).toBe(vh)
  })

  // the non-loopback client lives in a network namespace of its own (test/helpers/netns.ts): no
  // test traffic to this machine's real interfaces
  it.skipIf(netnsUnavailable !== undefined)(
    `guest is refused from a non-loopback address; a user without the loopback rule gets in${netnsUnavailable ? ` (skipped: ${netnsUnavailable})` : ''}`,
    async () => {
      const r = await runPeerInNetns('amqp')
      expect(r.guestRemote.ok).toBe(false)
      expect(replyText(new Error(r.guestRemote.message))).toBe(REFUSED)
      expect(r.guestRemote.message).toContain('403')
      expect(r.connectionsGone).toBe(true)
      expect(r.otherRemote).toMatchObject({ ok: true, user: 'remote' })
      expect(r.otherRemote.peerHost!.replace(/^::ffff:/, '')).toBe(NETNS_PEER_IP)
      // guest over loopback on the same broker is fine
      expect(r.guestLoopback).toMatchObject({ ok: true, user: 'guest' })
    },
  )

  it('UserStore: guest only from loopback addresses, with the reason RabbitMQ logs', () => {
    const users = new UserStore()
    for (const addr of ['127.0.0.1', '127.5.6.7', '::1', '::ffff:127.0.0.1']) {
      expect({ addr, ok: users.authenticate('guest', 'guest', addr).ok }).toEqual({ addr, ok: true })
    }
    for (const addr of ['192.0.2.10', '10.0.0.1', '::ffff:192.0.2.10', '2001:db8::1']) {
      const r = users.authenticate('guest', 'guest', addr)
      expect(r).toEqual({ ok: false, reason: "user 'guest' can only connect via localhost" })
    }
    expect(users.authenticate('guest', 'bad', '127.0.0.1').ok).toBe(false)
  })
})

describe('tune negotiation', () => {
  it('amqplib frameMax 8192 / channelMax 7: the broker uses them; a 50 KB body round-trips in 8 KB frames', async () => {
    // maxFrameSize makes amqplib fail on any frame from the broker larger than 8192
    const c = await conn(`${b.url}?frameMax=8192&channelMax=7&heartbeat=0&maxFrameSize=8192`)
    const bc = brokerConn(localPort(c))!
    expect(bc.frameMax).toBe(8192)
    expect(bc.channelMax).toBe(7)
    expect(bc.heartbeat).toBe(0)
    expect(bc.writer.frameMax).toBe(8192)

    const ch = await c.createChannel()
    const q = uniq('big')
    await ch.assertQueue(q)
    const body = randomBytes(50 * 1024)
    ch.sendToQueue(q, body)
    const m = await new Promise<ConsumeMessage>((resolve) => {
      void ch.consume(q, (msg) => msg && resolve(msg), { noAck: true })
    })
    expect(m.content.length).toBe(body.length)
    expect(m.content.equals(body)).toBe(true)
    // the client cannot open more than channel_max channels
    for (let i = 0; i < 6; i++) await c.createChannel()
    await expect(c.createChannel()).rejects.toThrow(/No channels left/)
  })

  it('channel_max limits how many channels are open (530), not the channel numbers', async () => {
    const raw = await RawClient.connect(b.amqpPort)
    await raw.handshake({ channelMax: 2 })
    raw.method(1, 20, 10, [''])
    await raw.expect('channel.open-ok', 1)
    raw.method(2, 20, 10, [''])
    await raw.expect('channel.open-ok', 2)
    raw.method(1, 20, 40, [200, 'bye', 0, 0])
    await raw.expect('channel.close-ok', 1)
    raw.method(9, 20, 10, ['']) // above channel_max, but only the second open channel
    await raw.expect('channel.open-ok', 9)
    raw.method(3, 20, 10, [''])
    const close = await raw.expect('connection.close')
    expect(close.replyCode).toBe(530)
    expect(close.replyText).toBe('NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)')
    raw.method(0, 10, 51)
    await raw.closed
  })

  it('tune-ok with frame_max above the server maximum or below 4096: 530 NOT_ALLOWED', async () => {
    for (const [frameMax, text] of [
      [200_000, 'NOT_ALLOWED - negotiated frame_max = 200000 is higher than the maximum allowed value (131072)'],
      [1000, 'NOT_ALLOWED - negotiated frame_max = 1000 is lower than the minimum allowed value (4096)'],
    ] as const) {
      const raw = await RawClient.connect(b.amqpPort)
      raw.socket.write(PROTOCOL_HEADER)
      await raw.expect('connection.start')
      raw.method(0, 10, 11, [{ capabilities: { authentication_failure_close: true } }, 'PLAIN', '\0guest\0guest', 'en_US'])
      await raw.expect('connection.tune')
      raw.method(0, 10, 31, [0, frameMax, 0])
      const close = await raw.expect('connection.close')
      expect({ code: close.replyCode, text: close.replyText }).toEqual({ code: 530, text })
    }
  })
})

describe('heartbeats', () => {
  it.concurrent('a client that goes silent after negotiating heartbeat=1 is disconnected within ~3 s', async ({ expect }) => {
    await withBroker(async (nb) => {
      const raw = await RawClient.connect(nb.amqpPort, true)
      await raw.handshake({ heartbeat: 1 })
      const opened = Date.now()
      expect(nb.broker.connections.size).toBe(1)
      const closedAt = await Promise.race([
        raw.closed,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not disconnected')), 6000)),
      ])
      const after = closedAt - opened
      expect(after).toBeGreaterThanOrEqual(1500)
      expect(after).toBeLessThan(4500)
      // RabbitMQ just closes the socket: no connection.close
      expect(raw.frames.some((f) => f.method === 'connection.close')).toBe(false)
      await waitFor(() => nb.broker.connections.size === 0, 2000, 'broker to forget the connection')
    })
  })

  it.concurrent('an idle connection hears a heartbeat every half interval, as RabbitMQ 3.10 (first ~0.5 s, then every 0.5 s)', async ({ expect }) => {
    await withBroker(async (nb) => {
      const raw = await RawClient.connect(nb.amqpPort, true)
      const tune = await raw.handshake({ heartbeat: 1 })
      expect(tune.heartbeat).toBe(60) // the broker's proposal; the client's tune-ok value wins
      const opened = Date.now()
      const beat = setInterval(() => raw.heartbeat(), 300)
      try {
        await waitFor(() => raw.frames.filter((f) => f.type === FRAME_HEARTBEAT).length >= 5, 5000, 'five heartbeats')
      } finally {
        clearInterval(beat)
      }
      const beats = raw.frames.filter((f) => f.type === FRAME_HEARTBEAT)
      expect(beats.every((f) => f.channel === 0)).toBe(true)
      const times = [opened, ...beats.map((f) => f.at)]
      const gaps = times.slice(1).map((t, i) => t - times[i])
      // one every ~500 ms; before the fix the broker's own heartbeat counted as traffic and it sent
      // one per full interval (gaps of ~1000 ms)
      expect(Math.max(...gaps)).toBeLessThan(800)
      expect(beats[4].at - opened).toBeLessThan(3200)
      // our own heartbeats kept the connection alive the whole time
      expect(raw.isClosed).toBe(false)
      expect(nb.broker.connections.size).toBe(1)
      expect(([...nb.broker.connections][0] as Connection).heartbeat).toBe(1)
      raw.socket.destroy()
    })
  })

  it.concurrent('heartbeat=1: 50 amqp-client.js connections (1 s read timeout) all stay up for 3 s', async ({ expect }) => {
    await withBroker(async (nb) => {
      const url = `amqp://guest:guest@127.0.0.1:${nb.amqpPort}?heartbeat=1`
      const dropped: string[] = []
      const clients = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const c = await new AMQPClient(url).connect()
          c.onerror = (err) => void dropped.push(err.message)
          return c
        }),
      )
      try {
        expect(nb.broker.connections.size).toBe(50)
        // the client drops a connection that is silent for one interval: hold them idle for 3 intervals
        await new Promise((r) => setTimeout(r, 3000))
        expect(dropped).toEqual([])
        expect(clients.filter((c) => c.closed)).toHaveLength(0)
        expect(nb.broker.connections.size).toBe(50)
      } finally {
        await Promise.all(clients.map((c) => (c.closed ? undefined : c.close().catch(() => undefined))))
      }
    })
  })
})

describe('channels', () => {
  it('50 channels on one connection work independently', async () => {
    const c = await conn()
    const chans: Channel[] = []
    for (let i = 0; i < 50; i++) chans.push(await c.createChannel())
    const bc = brokerConn(localPort(c))!
    expect(bc.channelCount).toBe(50)

    const prefix = uniq('many')
    const got = new Map<number, string[]>()
    await Promise.all(
      chans.map(async (ch, i) => {
        const q = `${prefix}-${i}`
        got.set(i, [])
        await ch.assertQueue(q, { exclusive: true })
        await ch.consume(q, (m) => m && got.get(i)!.push(m.content.toString()), { noAck: true })
        ch.sendToQueue(q, Buffer.from(`for-${i}`))
      }),
    )
    await waitFor(() => [...got.values()].every((v) => v.length === 1), 5000, 'every channel to get its message')
    for (const [i, v] of got) expect(v).toEqual([`for-${i}`])

    // closing half of them leaves the others working
    for (const ch of chans.slice(0, 25)) await ch.close()
    expect(bc.channelCount).toBe(25)
    chans[49].sendToQueue(`${prefix}-49`, Buffer.from('again'))
    chans[30].sendToQueue(`${prefix}-30`, Buffer.from('again'))
    await waitFor(() => got.get(49)!.length === 2 && got.get(30)!.length === 2, 5000, 'still delivering')
    expect(got.get(0)).toEqual(['for-0'])
  })

  it('a channel error closes only that channel; its unacked messages are requeued', async () => {
    const c = await conn()
    const q = uniq('chan-err')
    const bad = await c.createChannel()
    const badErr = new Promise<AmqpErr>((resolve) => bad.once('error', resolve))
    const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()))
    const good = await c.createChannel()
    good.on('error', () => undefined)
    await good.assertQueue(q)
    good.sendToQueue(q, Buffer.from('m1'))
    const held = await new Promise<ConsumeMessage>((resolve) => {
      void bad.consume(q, (m) => m && resolve(m), { noAck: false })
    })
    expect(held.content.toString()).toBe('m1')
    const bc = brokerConn(localPort(c))!
    expect(bc.channelCount).toBe(2)

    await expect(bad.checkQueue(uniq('missing'))).rejects.toThrow(/404/)
    expect((await badErr).code).toBe(404)
    await badClosed
    await waitFor(() => bc.channelCount === 1, 2000, 'the broker to free the channel after close-ok')

    // the other channel and the connection carry on; m1 comes back redelivered
    const again = await new Promise<ConsumeMessage>((resolve) => {
      void good.consume(q, (m) => m && resolve(m), { noAck: true })
    })
    expect(again.content.toString()).toBe('m1')
    expect(again.fields.redelivered).toBe(true)
    const third = await c.createChannel()
    await expect(third.checkQueue(q)).resolves.toMatchObject({ queue: q })
    expect(b.broker.connections.has(bc)).toBe(true)
  })

  it('a connection error closes that connection only; other connections keep working', async () => {
    const survivor = await conn()
    const sch = await survivor.createChannel()
    const q = uniq('conn-err')
    await sch.assertQueue(q)

    const victim = await amqp.connect(b.url)
    const closed = new Promise<AmqpErr | undefined>((resolve) => victim.once('close', resolve))
    victim.on('error', () => undefined)
    const vch = await victim.createChannel()
    vch.on('error', () => undefined)
    const port = localPort(victim)
    expect(brokerConn(port)).toBeDefined()
    await expect(vch.assertExchange(uniq('x'), 'no-such-type')).rejects.toThrow()
    const err = await closed
    expect(err?.code).toBe(503)
    expect(replyText(err!)).toBe("COMMAND_INVALID - unknown exchange type 'no-such-type'")
    await waitFor(() => brokerConn(port) === undefined, 5000, 'the failed connection to go')

    sch.sendToQueue(q, Buffer.from('still here'))
    const m = await new Promise<ConsumeMessage>((resolve) => {
      void sch.consume(q, (msg) => msg && resolve(msg), { noAck: true })
    })
    expect(m.content.toString()).toBe('still here')
  })

  it('closing a connection with unacked messages requeues them, redelivered, to another consumer', async () => {
    const q = uniq('requeue')
    const setup = await conn()
    const sch = await setup.createChannel()
    await sch.assertQueue(q)
    for (const body of ['a', 'b', 'c']) sch.sendToQueue(q, Buffer.from(body))

    const first = await amqp.connect(b.url)
    first.on('error', () => undefined)
    const fch = await first.createChannel()
    const held: ConsumeMessage[] = []
    await fch.consume(q, (m) => m && held.push(m), { noAck: false })
    await waitFor(() => held.length === 3, 5000, 'three unacked deliveries')
    expect(held.every((m) => !m.fields.redelivered)).toBe(true)
    const vq = b.broker.vhost('/')!.queues.get(q)!
    expect(vq).toMatchObject({ messageCount: 0, unackedCount: 3 })

    await first.close()
    await waitFor(() => vq.messageCount === 3, 5000, 'messages back in the queue')
    expect(vq.unackedCount).toBe(0)

    const second = await conn()
    const ch2 = await second.createChannel()
    const got: ConsumeMessage[] = []
    await ch2.consume(q, (m) => m && got.push(m), { noAck: true })
    await waitFor(() => got.length === 3, 5000, 'redeliveries')
    expect(got.map((m) => m.content.toString())).toEqual(['a', 'b', 'c'])
    expect(got.every((m) => m.fields.redelivered)).toBe(true)
  })
})

describe('broker shutdown', () => {
  it('broker.close() closes client connections with 320 CONNECTION_FORCED', async () => {
    await withBroker(async (nb) => {
      const c = await amqp.connect(nb.url)
      const closed = new Promise<AmqpErr | undefined>((resolve) => c.once('close', resolve))
      c.on('error', () => undefined)
      const cl = new AMQPClient(`amqp://guest:guest@127.0.0.1:${nb.amqpPort}`)
      const cc = await cl.connect()
      const clientErr = new Promise<Error>((resolve) => {
        cc.onerror = resolve
      })
      expect(nb.broker.connections.size).toBe(2)

      await nb.close()
      const err = await closed
      expect(err).toBeInstanceOf(Error)
      expect(err!.code).toBe(320)
      expect(err!.message).toContain('CONNECTION_FORCED')
      expect((await clientErr).message).toContain('CONNECTION_FORCED')
      expect(nb.broker.connections.size).toBe(0)
      // nothing listens any more
      await expect(amqp.connect(nb.url)).rejects.toThrow()
    })
  })
})
