/**
 * The channel side of direct reply-to (core/direct-reply-to.ts), as RabbitMQ 3.10's rabbit_channel
 * does it: basic.consume and basic.cancel on the pseudo-queue `amq.rabbitmq.reply-to`, queue.declare
 * of reply-to names, and the reply_to rewrite of requests published on the channel.
 */
import { REPLY_TO_QUEUE, type ReplyConsumer } from '../core/direct-reply-to.js'
import { ConnectionError, notFound, preconditionFailed, ReplyCode } from '../core/errors.js'
import type { Message } from '../core/message.js'
import { generateName } from '../core/vhost.js'
import type { Channel } from './channel.js'
import { CLASS_BASIC, CLASS_QUEUE } from './codec/constants.js'

/** `amq.rabbitmq.reply-to` as its short string bytes: length, then the name. */
const PSEUDO_QUEUE = Buffer.from(`\u0015${REPLY_TO_QUEUE}`, 'latin1')

/** The reply consumer of one channel (at most one per channel). */
export class ChannelReplyConsumer implements ReplyConsumer {
  readonly tagBytes: Buffer
  /** `amq.rabbitmq.reply-to.<key>`: the reply_to that requests published on this channel carry */
  readonly address: string
  /** the address as bytes, for the rewrite */
  readonly addressBytes: Buffer

  constructor(
    private readonly ch: Channel,
    readonly tag: string,
  ) {
    this.tagBytes = Buffer.from(tag)
    this.address = ch.vhost.replyTo.register(this)
    this.addressBytes = Buffer.from(this.address, 'latin1')
  }

  deliverReply(message: Message): void {
    const ch = this.ch
    if (!ch.isOpen) return
    // RabbitMQ sends the channel's next delivery tag without taking it: nothing is to be acknowledged
    ch.writer.deliver(ch.id, this.tagBytes, ch.nextDeliveryTag, false, message)
  }
}

/** basic.consume on `amq.rabbitmq.reply-to`: no-ack only, one per channel, no permission check (RabbitMQ). */
export function consumeReplies(ch: Channel, consumerTag: string, noAck: boolean, nowait: boolean): void {
  if (ch.consumers.has(consumerTag)) {
    throw new ConnectionError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${consumerTag}'`)
  }
  if (!noAck) throw preconditionFailed('reply consumer cannot acknowledge')
  if (ch.replyConsumer !== null) throw preconditionFailed('reply consumer already set')
  const tag = consumerTag === '' ? generateName('amq.ctag-') : consumerTag
  if (Buffer.byteLength(tag) > 255) throw preconditionFailed('consumer tag longer than 255 bytes')
  ch.replyConsumer = new ChannelReplyConsumer(ch, tag)
  if (!nowait) ch.writer.method(ch.id, CLASS_BASIC, 21, [tag])
}

/** basic.cancel of the reply consumer's tag; false when `tag` is not the reply consumer's. */
export function cancelReplies(ch: Channel, tag: string, nowait: boolean): boolean {
  const c = ch.replyConsumer
  if (c === null || c.tag !== tag) return false
  stopReplies(ch)
  if (!nowait) ch.writer.method(ch.id, CLASS_BASIC, 31, [tag])
  return true
}

/** The channel is closing: its address stops taking replies. */
export function stopReplies(ch: Channel): void {
  const c = ch.replyConsumer
  if (c === null) return
  ch.vhost.replyTo.unregister(c.address)
  ch.replyConsumer = null
}

/**
 * queue.declare of `amq.rabbitmq.reply-to…` (passive or not: "all declares to these are effectively
 * passive"): the pseudo-queue and a live address exist with 0 messages and 1 consumer; any other such
 * name is 404. Returns false when `name` is not a reply-to name.
 */
export function declareReplyQueue(ch: Channel, name: string, nowait: boolean): boolean {
  if (name.charCodeAt(0) !== 97 /* a */ || !name.startsWith(REPLY_TO_QUEUE)) return false
  if (name !== REPLY_TO_QUEUE && !ch.vhost.replyTo.has(name)) throw notFound('queue', name, ch.vhost.name)
  ch.lastQueue = name
  if (!nowait) ch.writer.method(ch.id, CLASS_QUEUE, 11, [name, 0, 1])
  return true
}

/**
 * A request published with reply_to `amq.rabbitmq.reply-to` (its length byte at props[at]) gets the
 * channel's address instead: returns the new property bytes. 406 when the channel has no reply consumer.
 * null when reply_to is something else.
 */
export function rewriteReplyTo(ch: Channel, props: Buffer, start: number, end: number, at: number): Buffer | null {
  // the list was checked (summarizeProperties): a length byte of 21 has its 21 bytes before `end`
  if (props[at] !== PSEUDO_QUEUE[0] || props.compare(PSEUDO_QUEUE, 0, PSEUDO_QUEUE.length, at, at + PSEUDO_QUEUE.length) !== 0) {
    return null
  }
  const c = ch.replyConsumer
  if (c === null) throw preconditionFailed('fast reply consumer does not exist')
  const address = c.addressBytes
  const out = Buffer.allocUnsafe(end - start - PSEUDO_QUEUE.length + 1 + address.length)
  let p = props.copy(out, 0, start, at)
  out[p++] = address.length
  p += address.copy(out, p)
  props.copy(out, p, at + PSEUDO_QUEUE.length, end)
  return out
}
