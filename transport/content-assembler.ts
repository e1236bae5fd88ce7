/**
 * Content assembly for basic.publish (0-9-1 §4.2.6): after the method come a content header and
 * body frames up to the declared size. The assembler checks their order and sizes, copies the
 * properties and body once into the message's block, validates the properties RabbitMQ validates
 * (user-id, expiration) and hands the complete Message to its sink.
 */
import { userIdMismatchText } from '../core/access-control.js'
import { ConnectionError, preconditionFailed, ReplyCode } from '../core/errors.js'
import type { Exchange } from '../core/exchange.js'
import { expirationProblem, Message, parseExpiration } from '../core/message.js'
import { findReplyTo, REPLY_TO_FLAG_BYTE, summarizeProperties, type PropertySummary } from '../core/wire/properties.js'
import { blockPool } from './block-pool.js'
import { CLASS_BASIC } from './codec/constants.js'
import type { BodyTarget } from './codec/frame-reader.js'

export const enum Expect {
  METHOD,
  HEADER,
  BODY,
}

/** Receives complete messages (the channel). */
export interface AssembledSink {
  /** the authenticated user, checked against the user-id property */
  readonly userName: string | undefined
  readonly maxMessageSize: number
  /**
   * reply_to (its length byte at props[at]) may name the direct reply-to pseudo-queue: the property
   * bytes to use instead, or null to keep them (transport/direct-reply-to.ts)
   */
  rewriteReplyTo(props: Buffer, start: number, end: number, at: number): Buffer | null
  published(exchange: Exchange, message: Message, mandatory: boolean): void
}

/**
 * The message block grows to this many times what it must hold, up to the declared size: one
 * 128 KiB frame (the usual frame_max) reserves a 1 MiB body's exact block at once, so such a body
 * is never copied to a larger block, while a declared size alone still reserves nothing.
 */
const BLOCK_GROWTH = 8
/** Smallest message block for a body over several frames (small bodies are allocated exactly). */
const MIN_BLOCK = 16 * 1024

const summary: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1, userId: undefined }

export class ContentAssembler {
  expect = Expect.METHOD
  private exchange: Exchange | null = null
  private routingKey = ''
  private mandatory = false
  private propsBuf: Buffer = Buffer.alloc(0)
  private propsStart = 0
  private propsEnd = 0
  private size = 0
  private received = 0
  /** message block being assembled from several body frames */
  private data: Buffer | null = null

  constructor(private readonly sink: AssembledSink) {}

  /** basic.publish arrived: a content header must follow. */
  begin(exchange: Exchange, routingKey: string, mandatory: boolean): void {
    this.exchange = exchange
    this.routingKey = routingKey
    this.mandatory = mandatory
    this.expect = Expect.HEADER
  }

  /** Forgets a half-received message (channel closing). */
  reset(): void {
    this.expect = Expect.METHOD
    this.exchange = null
    this.data = null
  }

  header(buf: Buffer, start: number, end: number): void {
    if (this.expect !== Expect.HEADER) {
      throw new ConnectionError(ReplyCode.UNEXPECTED_FRAME, 'unexpected content header frame', CLASS_BASIC, 40)
    }
    if (end - start < 14) throw new ConnectionError(ReplyCode.FRAME_ERROR, 'content header frame too short')
    const classId = buf.readUInt16BE(start)
    const weight = buf.readUInt16BE(start + 2)
    if (classId !== CLASS_BASIC || weight !== 0) {
      // RabbitMQ (rabbit_command_assembler): another class or a non-zero weight is 505
      throw new ConnectionError(
        ReplyCode.UNEXPECTED_FRAME,
        `expected content header for class 60, got one for class ${classId} (weight ${weight}) instead`,
        CLASS_BASIC,
        40,
      )
    }
    const size = buf.readUInt32BE(start + 4) * 0x100000000 + buf.readUInt32BE(start + 8)
    this.propsBuf = buf
    this.propsStart = start + 12
    this.propsEnd = end
    const max = this.sink.maxMessageSize
    if (size > max) {
      this.expect = Expect.METHOD
      throw preconditionFailed(`message size ${size} is larger than configured max size ${max}`)
    }
    this.size = size
    this.received = 0
    if (size === 0) return this.complete(buf, end, end)
    this.expect = Expect.BODY
  }

  body(buf: Buffer, start: number, end: number): void {
    if (this.expect !== Expect.BODY) {
      throw new ConnectionError(ReplyCode.UNEXPECTED_FRAME, 'unexpected content body frame', CLASS_BASIC, 40)
    }
    const n = end - start
    const received = this.received
    if (received + n > this.size) {
      throw new ConnectionError(ReplyCode.FRAME_ERROR, `content body exceeds declared size ${this.size}`, CLASS_BASIC, 40)
    }
    // already in place: the FrameReader copied a split frame straight into the block (bodyTarget)
    const inPlace = buf === this.data
    // the common case: the whole body in one frame, copied once into the message
    if (received === 0 && n === this.size && !inPlace) {
      this.received = n
      return this.complete(buf, start, end)
    }
    // a body over several frames is assembled straight into the message's block
    const propsLength = inPlace ? this.propsEnd - this.propsStart : this.block(n)
    if (!inPlace) buf.copy(this.data!, propsLength + received, start, end)
    this.received = received + n
    if (this.received === this.size) {
      const data = this.data!
      this.data = null
      this.complete(data, propsLength, data.length)
    }
  }

  /**
   * FrameReader: a body frame of n bytes split across socket chunks is copied straight to its place
   * in the message block instead of being assembled first (one copy of a large body, not two).
   * null when the frame would not be accepted as the next body part: body() then reports it.
   */
  bodyTarget(n: number): BodyTarget | null {
    if (this.expect !== Expect.BODY || this.received + n > this.size) return null
    const propsLength = this.block(n)
    return { buf: this.data!, offset: propsLength + this.received }
  }

  /**
   * Makes room in the message block (properties, then the body so far) for n more body bytes and
   * returns the properties' length. The block grows with what has arrived, never to the declared
   * size on trust: a content header announcing 128 MiB followed by one byte costs kilobytes, not
   * 128 MiB of address space per channel. It grows eightfold and takes the exact final size as soon
   * as that is at most nine times what has arrived, so the complete block needs no final copy and
   * a large body is copied about 1.14 times at worst (once into place, a seventh more on growth).
   */
  private block(n: number): number {
    const propsLength = this.propsEnd - this.propsStart
    const data = this.data
    const needed = propsLength + this.received + n
    if (data !== null && data.length >= needed) return propsLength
    const full = propsLength + this.size
    const grown = Math.max(needed * BLOCK_GROWTH, MIN_BLOCK)
    // a little over eight frames is common (1 MiB is 8 frames of 131064 bytes and 64 more): the
    // exact size then, not a block a few bytes short that must be copied for its last frame
    // the final block may be one a delivered message left behind (transport/block-pool.ts)
    const block = grown + grown / 8 >= full ? blockPool.take(full) : Buffer.allocUnsafe(grown)
    if (data === null) {
      this.propsBuf.copy(block, 0, this.propsStart, this.propsEnd)
      this.propsBuf = block
      this.propsStart = 0
      this.propsEnd = propsLength
    } else {
      data.copy(block, 0, 0, propsLength + this.received)
      this.propsBuf = block
    }
    this.data = block
    return propsLength
  }

  /** The body is at body[bs, be), the properties at propsBuf[propsStart, propsEnd). */
  private complete(body: Buffer, bs: number, be: number): void {
    this.expect = Expect.METHOD
    const x = this.exchange!
    this.exchange = null
    const props = this.propsBuf
    const ps = this.propsStart
    const pe = this.propsEnd
    summarizeProperties(props, summary, ps, pe)
    // RabbitMQ looks at reply_to before user-id and expiration; one flag-bit test for other messages
    const replyProps = (props[ps] & REPLY_TO_FLAG_BYTE) === 0 ? null : this.sink.rewriteReplyTo(props, ps, pe, findReplyTo(props, ps, pe))
    const user = this.sink.userName
    if (summary.userId !== undefined && summary.userId !== user) {
      // RabbitMQ validates user-id so consumers can trust it
      throw preconditionFailed(userIdMismatchText(summary.userId, user))
    }
    const ttl = parseExpiration(summary.expiration)
    if (Number.isNaN(ttl)) {
      throw preconditionFailed(`invalid expiration '${summary.expiration}': ${expirationProblem(summary.expiration!)}`)
    }
    const now = Date.now()
    const msg =
      replyProps !== null
        ? Message.fromWire(x.name, this.routingKey, replyProps, 0, replyProps.length, body, bs, be, summary, ttl, now)
        : props === body && ps === 0 && pe === bs && be === body.length
        ? new Message(x.name, this.routingKey, body, pe, summary.deliveryMode, summary.priority, ttl, summary.headersAt, now)
        : Message.fromWire(x.name, this.routingKey, props, ps, pe, body, bs, be, summary, ttl, now)
    this.sink.published(x, msg, this.mandatory)
  }
}
