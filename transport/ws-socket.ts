/**
 * A ws WebSocket seen as the byte stream a Connection runs over (LavinMQ's WebSocketIO). Inbound
 * binary messages are 'data' chunks: the FrameReader copes with any chunking, so several frames per
 * message and frames spanning messages both work. Outbound, every WebSocket message holds whole
 * AMQP frames only, because @cloudamqp/amqp-client's browser parser breaks on a frame header split
 * across messages.
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import { WebSocket, type RawData } from 'ws'
import type { AmqpSocket } from './socket-adapter.js'

/** write() returns false once this much is queued on the WebSocket (a slow reader). */
export const WS_HIGH_WATER_MARK = 1024 * 1024
/** 'drain' is emitted when the queue is back under this much (hysteresis, so delivery resumes in batches). */
export const WS_LOW_WATER_MARK = 256 * 1024
/** How long a closing WebSocket may take to answer our close frame before the TCP socket is cut. */
const CLOSE_GRACE_MS = 2000

/**
 * The largest inbound WebSocket message ws may buffer, before authentication (preAuth) and after
 * tune-ok (open). ws checks a message's length from its frame headers before buffering the payload
 * and closes with 1009 above the limit, so an unauthenticated client cannot make the broker hold
 * a 128 MiB message.
 */
export interface WsInputLimits {
  preAuth: number
  open: number
}

/** RFC 6455 §7.4.1: normal closure (after the AMQP close handshake). */
export const WS_CLOSE_NORMAL = 1000
/** RFC 6455 §7.4.1: the endpoint cannot accept this type of data (a text message). */
export const WS_CLOSE_UNSUPPORTED_DATA = 1003

// allocated once: ws spreads these into its own options object per send
const LAST_FRAGMENT = { binary: true, fin: true } as const
const MORE_FRAGMENTS = { binary: true, fin: false } as const

/**
 * Adapts one server-side WebSocket to {@link AmqpSocket}. FrameWriter.flush() writes a single
 * chunk, or several between cork() and uncork() (a large body goes out zero-copy next to the slab).
 * While corked, chunks go out as fragments of one WebSocket message (fin=false, the last one
 * fin=true), so the peer sees one message of whole frames and nothing is copied.
 */
export class WsSocket extends EventEmitter implements AmqpSocket {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  private corks = 0
  /** the latest chunk written while corked; it becomes the final fragment at uncork() */
  private held: Buffer | null = null
  /** write() returned false; 'drain' is owed once the WebSocket's queue shrinks */
  private needDrain = false
  private closing = false
  private closeTimer: NodeJS.Timeout | null = null
  private readonly onSentBound = (err?: Error | null): void => this.onSent(err)

  /**
   * @param ws an open server-side WebSocket
   * @param req the upgrade request; its TCP peer is the connection's address, so RabbitMQ's
   *   guest-from-loopback rule sees the real client (never a client-supplied header)
   */
  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly log: Logger,
    private readonly inputLimits?: WsInputLimits,
    /** false: a web page from another origin; its loopback address must not count for guest */
    readonly loopbackTrusted = true,
  ) {
    super()
    const s = req.socket
    this.remoteAddress = s.remoteAddress
    this.remotePort = s.remotePort
    this.localAddress = s.localAddress
    this.localPort = s.localPort
    if (inputLimits !== undefined) this.setMaxMessage(inputLimits.preAuth)
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
    ws.on('error', (err) => {
      // ws closes the socket itself after an error (bad opcode, unmasked frame, too big: 1002/1009)
      if (this.listenerCount('error') > 0) this.emit('error', err)
    })
    ws.on('close', (code, reason) => {
      if (this.closeTimer !== null) clearTimeout(this.closeTimer)
      this.log.debug({ code, reason: reason.toString() }, 'websocket closed')
      this.emit('end')
      this.emit('close')
    })
  }

  write(chunk: Buffer): boolean {
    if (this.ws.readyState !== WebSocket.OPEN || this.closing) return true // dropped, as after a TCP reset
    const queued = this.ws.bufferedAmount + (this.held === null ? 0 : this.held.length) + chunk.length
    // decided before sending, so the chunk that crosses the mark carries the callback that drains
    if (!this.needDrain && queued > WS_HIGH_WATER_MARK) this.needDrain = true
    if (this.corks > 0) {
      if (this.held !== null) this.send(this.held, false)
      this.held = chunk
    } else {
      this.send(chunk, true)
    }
    return !this.needDrain
  }

  cork(): void {
    this.corks++
  }

  uncork(): void {
    if (this.corks === 0 || --this.corks > 0) return
    const last = this.held
    if (last === null) return
    this.held = null
    if (this.ws.readyState === WebSocket.OPEN && !this.closing) this.send(last, true)
  }

  /** The client authenticated (tune-ok): messages up to the server-wide maxPayload are accepted. */
  liftInputLimit(): void {
    if (this.inputLimits !== undefined) this.setMaxMessage(this.inputLimits.open)
  }

  /**
   * ws has one maxPayload per server; its Receiver reads the limit per message from `_maxPayload`,
   * so it is changed per socket here (pinned by test/integration/connection-limits.test.ts).
   */
  private setMaxMessage(n: number): void {
    const receiver = (this.ws as unknown as { _receiver?: { _maxPayload?: unknown } | null })._receiver
    if (receiver === undefined || receiver === null || typeof receiver._maxPayload !== 'number') {
      this.log.error('cannot set the WebSocket message limit: ws internals changed')
      return
    }
    receiver._maxPayload = n
  }

  /** Stops reading: ws pauses the TCP socket, so the client's sends back up (flow control). */
  pause(): void {
    this.ws.pause()
  }

  resume(): void {
    this.ws.resume()
  }

  /** Graceful close after everything written so far (the AMQP close handshake is done). */
  end(): void {
    this.close(WS_CLOSE_NORMAL, '')
  }

  /**
   * The Connection is finished with the socket. A WebSocket close frame still goes out (queued
   * after any data), so the browser reports a clean close; a peer that does not answer it is cut
   * after a short grace.
   */
  destroy(): void {
    this.close(WS_CLOSE_NORMAL, '')
  }

  private close(code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    this.held = null
    if (this.ws.readyState === WebSocket.CLOSED) return
    this.ws.close(code, reason)
    this.closeTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS)
    this.closeTimer.unref()
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return
    if (!isBinary) {
      // AMQP is binary; a text message means this is not an AMQP client (RFC 6455: 1003)
      this.log.warn('text message on AMQP WebSocket, closing with 1003')
      this.close(WS_CLOSE_UNSUPPORTED_DATA, 'AMQP over WebSocket needs binary messages')
      return
    }
    // binaryType 'nodebuffer': ws hands over one Buffer per message (fragments already joined)
    this.emit('data', data as Buffer)
  }

  private send(chunk: Buffer, fin: boolean): void {
    this.ws.send(chunk, fin ? LAST_FRAGMENT : MORE_FRAGMENTS, this.needDrain ? this.onSentBound : undefined)
  }

  /**
   * Send callback while a drain is owed. Every send made while needDrain is set carries it, so the
   * last one runs when nothing we queued is left: the drain can not be missed.
   */
  private onSent(err?: Error | null): void {
    if (err !== undefined && err !== null) return // closed; the Connection hears 'close'
    if (this.needDrain && this.ws.bufferedAmount <= WS_LOW_WATER_MARK) {
      this.needDrain = false
      this.emit('drain')
    }
  }
}
