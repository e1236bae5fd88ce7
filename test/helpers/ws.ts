/**
 * WebSocket test helpers: the `ws` client as Node 20's missing global WebSocket (what
 * @cloudamqp/amqp-client's AMQPWebSocketClient uses), with a check on every message the broker
 * sends that it holds whole AMQP frames only; and a raw WebSocket client for bad-input tests.
 */
import { AMQPWebSocketClient, type AMQPWebSocketInit } from '@cloudamqp/amqp-client'
import { WebSocket, type ClientOptions, type RawData } from 'ws'
import { FRAME_END } from '../../transport/codec/constants.js'
import { waitFor } from './broker.js'

/** Problems found in server→client messages: frames split across messages, bad frame-ends. */
export interface FrameStats {
  messages: number
  frames: number
  largestFrame: number
  largestMessage: number
  problems: string[]
}

/** Counts the frames in one WebSocket message; anything but a whole number of frames is a problem. */
export function checkWholeFrames(msg: Buffer, stats: FrameStats): void {
  stats.messages++
  stats.largestMessage = Math.max(stats.largestMessage, msg.length)
  let p = 0
  while (p < msg.length) {
    if (p + 7 > msg.length) {
      stats.problems.push(`frame header split across messages (${msg.length - p} of 7 bytes)`)
      return
    }
    const size = msg.readUInt32BE(p + 3) + 8
    if (p + size > msg.length) {
      stats.problems.push(`frame of ${size} bytes split across messages`)
      return
    }
    if (msg[p + size - 1] !== FRAME_END) stats.problems.push(`bad frame-end at ${p + size - 1}`)
    stats.frames++
    stats.largestFrame = Math.max(stats.largestFrame, size)
    p += size
  }
}

/** ws's WebSocket plus the whole-frames check; instances are kept so tests can inspect or pause them. */
export class CheckedWebSocket extends WebSocket {
  static readonly instances: CheckedWebSocket[] = []
  readonly stats: FrameStats = { messages: 0, frames: 0, largestFrame: 0, largestMessage: 0, problems: [] }

  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols)
    CheckedWebSocket.instances.push(this)
    this.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) checkWholeFrames(toBuffer(data), this.stats)
    })
  }
}

/** Node 20 has no global WebSocket; amqp-client's browser client looks it up at connect time. */
export function installWebSocketGlobal(): void {
  ;(globalThis as Record<string, unknown>).WebSocket = CheckedWebSocket
}

/** Connects an AMQPWebSocketClient (guest/guest, vhost /) to the broker's HTTP port. */
export async function connectWs(
  httpPort: number,
  init: Partial<AMQPWebSocketInit> = {},
): Promise<{ client: AMQPWebSocketClient; socket: CheckedWebSocket }> {
  installWebSocketGlobal()
  const before = CheckedWebSocket.instances.length
  const client = new AMQPWebSocketClient({ url: `ws://127.0.0.1:${httpPort}/ws/amqp`, ...init })
  await client.connect()
  return { client, socket: CheckedWebSocket.instances[before] }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

/** A WebSocket that sends exactly what it is told and records what comes back. */
export class RawWs {
  received = Buffer.alloc(0)
  closeCode: number | null = null
  readonly closed: Promise<number>

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => {
      this.received = Buffer.concat([this.received, toBuffer(data)])
    })
    ws.on('error', () => {})
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number) => {
        this.closeCode = code
        resolve(code)
      }),
    )
  }

  /** `options`: ws client options, e.g. `{ origin, headers: { host } }` as a browser would send them. */
  static async open(url: string, protocols?: string[], options?: ClientOptions): Promise<RawWs> {
    const ws = new WebSocket(url, protocols, options)
    const raw = new RawWs(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return raw
  }

  send(data: Buffer | string): void {
    this.ws.send(data)
  }

  /** Waits until at least n bytes arrived. */
  async bytes(n: number, what = `${n} bytes`): Promise<Buffer> {
    await waitFor(() => this.received.length >= n, 5000, what)
    return this.received
  }
}
