/**
 * Direct reads for plain TCP connections. Node's onread mode (`net.Socket({ onread: { buffer,
 * callback } })`) lets the reader name the buffer each read lands in: a large body frame is then
 * received by the kernel straight into its place in the message block (no 64 KiB chunk allocated
 * per read, no copy out of it), and other bytes land in the free tail of a shared input slab
 * instead of a fresh 64 KiB allocation per read.
 *
 * Node 20 gives accepted sockets no onread option, so the mode is switched on through the three
 * per-socket fields that option sets (found by their symbol descriptions) and the handle's
 * useUserBuffer, as the Socket constructor does. Where they are missing (another Node version) the
 * socket is left alone and keeps its 'data' events: direct reads are an optimisation only.
 */
import net from 'node:net'
import tls from 'node:tls'

/** What the reads feed: the Connection. */
export interface DirectReadSink {
  /** where the next read should land (a large body's place in its message block), or null */
  readTarget(): Buffer | null
  /** n bytes were read into the start of the buffer readTarget() returned */
  targetFilled(n: number): void
  /** bytes read into a chunk of their own (never reused: the sink may keep it) */
  onData(chunk: Buffer): void
}

/**
 * Input slab; a read is offered MAX_READ bytes of its free tail (a new slab when less is left). Reads
 * stay at Node's 64 KiB: larger ones made S1 (16-byte messages) about a third slower, a read's worth
 * of publishes being handled in one go before any delivery.
 */
const SLAB_SIZE = 256 * 1024
const MAX_READ = 64 * 1024
/**
 * The read after one into a body's block is kept this small: it holds the frame-end byte and, in a
 * stream of large messages, the next publish's method, header and first body frame header, so the
 * first body frame too is then read straight into its block instead of arriving in the slab.
 */
const READ_AFTER_TARGET = 4096

interface SocketInternals {
  kBuffer: symbol
  kBufferCb: symbol
  kBufferGen: symbol
}

let internals: SocketInternals | null | undefined

function findInternals(socket: net.Socket): SocketInternals | null {
  if (internals !== undefined) return internals
  const byName = new Map<string, symbol>()
  for (const s of Object.getOwnPropertySymbols(socket)) byName.set(s.description ?? '', s)
  const kBuffer = byName.get('kBuffer')
  const kBufferCb = byName.get('kBufferCb')
  const kBufferGen = byName.get('kBufferGen')
  internals = kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined ? { kBuffer, kBufferCb, kBufferGen } : null
  return internals
}

class DirectReader {
  private slab = Buffer.allocUnsafe(SLAB_SIZE)
  private slabPos = 0
  /** the buffer the pending read lands in */
  private current: Buffer
  private currentIsTarget = false

  constructor(private readonly sink: DirectReadSink) {
    this.current = this.slab
  }

  /** onread.buffer: called after every read for the buffer of the next one. */
  readonly next = (): Buffer => {
    const target = this.sink.readTarget()
    if (target !== null) {
      this.currentIsTarget = true
      this.current = target
      return target
    }
    if (this.slab.length - this.slabPos < MAX_READ) {
      this.slab = Buffer.allocUnsafe(SLAB_SIZE)
      this.slabPos = 0
    }
    const end = this.slabPos + (this.currentIsTarget ? READ_AFTER_TARGET : MAX_READ)
    this.currentIsTarget = false
    this.current = this.slab.subarray(this.slabPos, end)
    return this.current
  }

  /** onread.callback: n bytes were read into the buffer next() returned. */
  readonly filled = (n: number, buf: Uint8Array): void => {
    if (buf !== this.current) return
    if (this.currentIsTarget) return this.sink.targetFilled(n)
    const start = this.slabPos
    this.slabPos = start + n
    this.sink.onData(this.slab.subarray(start, start + n))
  }
}

/**
 * Switches a plain TCP socket to direct reads feeding sink; returns false (and leaves the socket
 * on its 'data' events) for TLS sockets or when this Node version lacks the fields.
 */
export function attachDirectReads(socket: net.Socket, sink: DirectReadSink): boolean {
  if (socket instanceof tls.TLSSocket) return false
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle
  if (handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false
  const k = findInternals(socket)
  if (k === null) return false
  const reader = new DirectReader(sink)
  const first = reader.next()
  const s = socket as unknown as Record<symbol, unknown>
  s[k.kBuffer] = first
  s[k.kBufferCb] = reader.filled
  s[k.kBufferGen] = reader.next
  handle.useUserBuffer(first)
  return true
}
