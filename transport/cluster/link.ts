/**
 * One node link session (issue 13): a TCP connection between two nodes on the cluster port, its
 * setup (link-auth.ts) and its framed I/O (link-codec.ts). Output is batched: the first frame of a
 * tick corks the socket and a nextTick uncorks it, so a tick's frames leave in one write; small
 * frames (and small messages' data) are copied into one output block rather than written one by
 * one (a socket write per frame cost more than the copy: about 10% of a node's CPU). Past
 * LINK_HIGH_WATER bytes waiting, the session is congested until 'drain': the home stops delivering
 * (link-home.ts) and publishers forwarding over it are paused (link-peer.ts). Frames of an up session go to its handler; a session that fails setup, breaks a
 * frame or is cut ends once, telling the manager (link-manager.ts).
 */
import type net from 'node:net'
import type { Logger } from 'pino'
import { dials, nonce, parseHello, proof, proofMatches, type Hello } from './link-auth.js'
import { In, LINK_FRAME_MAX, LinkReader, Out, T } from './link-codec.js'

/**
 * Bytes waiting in the socket past which the session counts as congested: the home stops
 * delivering and publishers forwarding over it are paused until the socket drains.
 */
export const LINK_HIGH_WATER = 4 * 1024 * 1024

/** Frames up to this size are copied into the output block; larger ones are written as they are. */
const COPY_MAX = 4096
/** Size of an output block; a new one is taken when less than COPY_MAX is left in the current one. */
const OUT_BLOCK = 64 * 1024

/** ms a new link has to authenticate. */
const SETUP_TIMEOUT_MS = 5000

export interface LinkHandler {
  /** an authenticated frame (not a setup one) */
  frame(type: number, i: In): void
  /** the session is writable again after a full buffer */
  drained(): void
}

export interface LinkOwner {
  readonly clusterName: string
  readonly nodeName: string
  readonly secret: Buffer
  /** setup done: who the peer is; returns the handler for its frames */
  up(session: LinkSession, peer: string): LinkHandler
  /** the session ended (after up, or during setup) */
  down(session: LinkSession, peer: string | null, why: string): void
}

export class LinkSession {
  peer: string | null
  handler: LinkHandler | null = null
  closed = false
  /** frames written, for tests and figures */
  framesOut = 0
  private corked = false
  /** this tick's small frames, copied in from outPos back; handed to the socket at the flush */
  private out = Buffer.allocUnsafe(0)
  private outStart = 0
  private outPos = 0
  private readonly reader: LinkReader
  private hello: Hello | null = null
  private acceptorNonce = ''
  private setupTimer: NodeJS.Timeout | null
  private readonly uncork = (): void => {
    // frames finished here still go out with this flush
    try {
      this.beforeFlush?.()
    } catch (err) {
      this.log.error({ err, peer: this.peer }, 'node link output failed')
      this.end(`output failed: ${(err as Error).message}`)
    }
    this.corked = false
    if (this.closed) return
    this.writeOut()
    this.socket.uncork()
  }
  /** runs before each batched flush (the peer finishes the publish frame it is building) */
  beforeFlush: (() => void) | null = null

  constructor(
    readonly socket: net.Socket,
    /** 'dial': this node opened it towards `peer`; 'accept': the peer opened it */
    readonly role: 'dial' | 'accept',
    peer: string | null,
    private readonly owner: LinkOwner,
    private readonly log: Logger,
  ) {
    this.peer = peer
    this.reader = new LinkReader((type, buf, start, end) => this.onFrame(type, buf, start, end))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk)
      } catch (err) {
        this.end(`bad link input: ${(err as Error).message}`)
      }
    })
    socket.on('drain', () => this.handler?.drained())
    socket.on('error', (err) => this.end(err.message))
    socket.on('close', () => this.end('socket closed'))
    this.setupTimer = setTimeout(() => this.end('link setup timed out'), SETUP_TIMEOUT_MS)
    this.setupTimer.unref()
    if (role === 'dial') {
      socket.once('connect', () => {
        this.hello = { cluster: owner.clusterName, from: owner.nodeName, to: peer!, nonce: nonce() }
        this.sendJson(T.HELLO, this.hello)
      })
    }
  }

  /** Under LINK_HIGH_WATER bytes waiting to be sent. */
  get writable(): boolean {
    return this.socket.writableLength + this.outPos - this.outStart < LINK_HIGH_WATER
  }

  get isUp(): boolean {
    return this.handler !== null && !this.closed
  }

  /** Makes sure this tick ends with a flush (beforeFlush runs then). */
  schedule(): void {
    if (this.corked || this.closed) return
    this.corked = true
    this.socket.cork()
    process.nextTick(this.uncork)
  }

  /** Queues a frame for this tick's write. */
  send(buf: Buffer): void {
    if (this.closed) return
    this.schedule()
    this.framesOut++
    this.put(buf)
  }

  /** A frame in two parts (a header built late, a body encoded early). */
  send2(a: Buffer, b: Buffer): void {
    this.send(a)
    this.framesOut--
    if (!this.closed) this.put(b)
  }

  /** Copies a small buffer into the output block; writes a large one after what the block holds. */
  private put(b: Buffer): void {
    if (b.length > COPY_MAX) {
      this.writeOut()
      this.socket.write(b)
      return
    }
    if (this.outPos + b.length > this.out.length) {
      this.writeOut()
      if (this.out.length - this.outPos < COPY_MAX) {
        this.out = Buffer.allocUnsafe(OUT_BLOCK)
        this.outStart = this.outPos = 0
      }
    }
    // TypedArray set: Buffer#copy makes a view of the source on every call
    this.out.set(b, this.outPos)
    this.outPos += b.length
  }

  /** Hands the block's new bytes to the (corked) socket; the block goes on after them. */
  private writeOut(): void {
    if (this.outPos === this.outStart) return
    this.socket.write(this.out.subarray(this.outStart, this.outPos))
    this.outStart = this.outPos
  }

  /** Ends the session (idempotent); the manager hears of it once. */
  end(why: string): void {
    if (this.closed) return
    this.closed = true
    if (this.setupTimer !== null) clearTimeout(this.setupTimer)
    this.setupTimer = null
    this.socket.destroy()
    this.owner.down(this, this.handler === null ? null : this.peer, why)
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return
    if (this.handler !== null) return this.handler.frame(type, new In(buf, start, end))
    this.setup(type, buf.toString('utf8', start, end))
  }

  private sendJson(type: number, v: unknown): void {
    const s = JSON.stringify(v)
    const o = new Out(type, Buffer.byteLength(s))
    o.buf.write(s, 5)
    this.send(o.buf)
  }

  /** The setup exchange (link-auth.ts); anything unexpected ends the session. */
  private setup(type: number, text: string): void {
    let v: Record<string, unknown> = {}
    if (text !== '') {
      try {
        v = JSON.parse(text) as Record<string, unknown>
      } catch {
        return this.end('link setup: not JSON')
      }
    }
    const o = this.owner
    if (this.role === 'accept' && type === T.HELLO && this.hello === null) {
      const h = parseHello(v)
      if (h === null || h.cluster !== o.clusterName || h.to !== o.nodeName || !dials(h.from, o.nodeName)) {
        return this.end(`link setup refused: ${h === null ? 'bad hello' : `from '${h.from}' of cluster '${h.cluster}' to '${h.to}'`}`)
      }
      this.hello = h
      this.acceptorNonce = nonce()
      return this.sendJson(T.CHALLENGE, { nonce: this.acceptorNonce, proof: proof(o.secret, 'accept', h, this.acceptorNonce) })
    }
    if (this.role === 'dial' && type === T.CHALLENGE && this.hello !== null && this.acceptorNonce === '') {
      const b = v.nonce
      if (typeof b !== 'string' || !proofMatches(proof(o.secret, 'accept', this.hello, b), v.proof)) return this.end('link setup: the peer does not know the cluster secret')
      this.acceptorNonce = b
      return this.sendJson(T.RESPONSE, { proof: proof(o.secret, 'dial', this.hello, b) })
    }
    if (this.role === 'accept' && type === T.RESPONSE && this.hello !== null) {
      if (!proofMatches(proof(o.secret, 'dial', this.hello, this.acceptorNonce), v.proof)) return this.end('link setup: the peer does not know the cluster secret')
      this.sendJson(T.READY, {})
      return this.established(this.hello.from)
    }
    if (this.role === 'dial' && type === T.READY && this.acceptorNonce !== '') return this.established(this.peer!)
    this.end(`link setup: unexpected frame ${type}`)
  }

  private established(peer: string): void {
    if (this.setupTimer !== null) clearTimeout(this.setupTimer)
    this.setupTimer = null
    this.peer = peer
    this.reader.maxFrame = LINK_FRAME_MAX
    this.log.info({ peer, role: this.role }, 'node link up')
    this.handler = this.owner.up(this, peer)
  }
}
