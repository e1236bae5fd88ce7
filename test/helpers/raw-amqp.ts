/**
 * A hand-driven AMQP client over a raw TCP socket (optionally from a chosen local address), for
 * tests that send what real clients never would: idle sockets, oversized frames, names that are
 * not UTF-8. It writes exactly what it is told and parses the frames the broker sends back.
 */
import net from 'node:net'
import { Encoder } from '../../core/wire/field-table.js'
import { FRAME_END, PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { decodeArgs, encodeMethod, lookupMethod, type MethodArgs } from '../../transport/codec/methods.js'
import { waitFor } from './broker.js'

/** One frame; `end` other than 0xCE makes a malformed one. */
export function frame(type: number, channel: number, payload: Buffer, end = FRAME_END): Buffer {
  const b = Buffer.alloc(payload.length + 8)
  b[0] = type
  b.writeUInt16BE(channel, 1)
  b.writeUInt32BE(payload.length, 3)
  payload.copy(b, 7)
  b[b.length - 1] = end
  return b
}

export function methodPayload(classId: number, methodId: number, args: readonly unknown[] = []): Buffer {
  const e = new Encoder(64)
  encodeMethod(e, classId, methodId, args)
  return Buffer.from(e.buf.subarray(0, e.pos))
}

/** A basic content header frame (class 60, weight 0, no properties) announcing `size` body bytes. */
export function contentHeader(channel: number, size: number): Buffer {
  const h = Buffer.alloc(14)
  h.writeUInt16BE(60, 0)
  h.writeUInt32BE(Math.floor(size / 2 ** 32), 4)
  h.writeUInt32BE(size >>> 0, 8)
  return frame(2, channel, h)
}

export const methodFrame = (channel: number, classId: number, methodId: number, args: readonly unknown[] = []): Buffer =>
  frame(1, channel, methodPayload(classId, methodId, args))

/** A short string (length octet + bytes) of arbitrary bytes. */
export const shortBytes = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length]), b])

export interface RxMethod {
  channel: number
  classId: number
  methodId: number
  args: MethodArgs
}

export class RawAmqp {
  received = Buffer.alloc(0)
  closed = false
  private consumed = 0

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.received = Buffer.concat([this.received, d])
    })
    socket.on('error', () => {})
    socket.once('close', () => {
      this.closed = true
    })
  }

  /** Connects to 127.0.0.1:port from `localAddress` (any 127.x address works on Linux). */
  static async connect(port: number, localAddress = '127.0.0.1'): Promise<RawAmqp> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawAmqp(socket)
  }

  /** Connects, sends the protocol header and waits for connection.start. */
  static async started(port: number, localAddress?: string): Promise<RawAmqp> {
    const c = await RawAmqp.connect(port, localAddress)
    c.write(PROTOCOL_HEADER)
    await c.expectMethod(10, 10)
    return c
  }

  /** A connection opened on vhost '/' as guest, with channel 1 open. */
  static async open(port: number): Promise<RawAmqp> {
    const c = await RawAmqp.started(port)
    c.write(methodFrame(0, 10, 11, [{ product: 'raw-amqp' }, 'PLAIN', '\0guest\0guest', 'en_US']))
    await c.expectMethod(10, 30)
    c.write(methodFrame(0, 10, 31, [0, 131072, 0]))
    c.write(methodFrame(0, 10, 40, ['/', '', false]))
    await c.expectMethod(10, 41)
    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectMethod(20, 11)
    return c
  }

  write(b: Buffer): void {
    this.socket.write(b)
  }

  /** Method frames received so far (the protocol header and content frames are skipped). */
  methods(): RxMethod[] {
    const out: RxMethod[] = []
    const r = this.received
    let p = 0
    while (p + 7 <= r.length) {
      const size = r.readUInt32BE(p + 3)
      if (p + 8 + size > r.length) break
      if (r[p] === 1) {
        const payload = r.subarray(p + 7, p + 7 + size)
        const classId = payload.readUInt16BE(0)
        const methodId = payload.readUInt16BE(2)
        const args = decodeArgs(lookupMethod(classId, methodId), payload, 4, payload.length)
        out.push({ channel: r.readUInt16BE(p + 1), classId, methodId, args })
      }
      p += size + 8
    }
    return out
  }

  /** Waits for the next method and checks it is classId.methodId. */
  async expectMethod(classId: number, methodId: number, timeoutMs = 5000): Promise<RxMethod> {
    const m = await waitFor(() => this.methods()[this.consumed], timeoutMs, `method ${classId}.${methodId}`)
    this.consumed++
    if (m.classId !== classId || m.methodId !== methodId) {
      throw new Error(`expected ${classId}.${methodId}, got ${m.classId}.${m.methodId} ${JSON.stringify(m.args)}`)
    }
    return m
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.closed, timeoutMs, 'the broker to close the socket')
  }

  destroy(): void {
    this.socket.destroy()
  }
}
