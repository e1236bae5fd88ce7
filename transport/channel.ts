/**
 * One AMQP channel: method dispatch (one delegating line per method), content assembly for
 * basic.publish, consumers and the prefetch window, acknowledgements, publisher confirms and
 * transactions. Protocol errors raised by handlers are caught only here (channel errors) and in
 * Connection (connection errors).
 */
import type { Logger } from 'pino'
import type { AccessControl } from '../core/access-control.js'
import { channelMessageStats, type ChannelInfo } from '../core/connections.js'
import { Consumer, type DeliverySink } from '../core/consumer.js'
import { AmqpError, ChannelError, ConnectionError, notFound, preconditionFailed, ReplyCode } from '../core/errors.js'
import type { Exchange } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { Envelope, Queue } from '../core/queue.js'
import { generateName, type VHost } from '../core/vhost.js'
import type { FieldTable } from '../core/wire/field-table.js'
import {
  CLASS_BASIC,
  CLASS_CHANNEL,
  CLASS_CONFIRM,
  CLASS_TX,
  FRAME_HEADER,
  M,
  key,
} from './codec/constants.js'
import type { BodyTarget } from './codec/frame-reader.js'
import type { FrameWriter } from './codec/frame-writer.js'
import { decodeArgs, decodePublish, lookupMethod, type MethodArgs, type PublishArgs } from './codec/methods.js'
import type { Connection } from './connection.js'
import { DurableConfirms, type ConfirmSink } from './durable-confirms.js'
import { ContentAssembler, Expect, type AssembledSink } from './content-assembler.js'
import {
  exchangeBind,
  exchangeDeclare,
  exchangeDelete,
  queueBind,
  queueDeclare,
  queueDelete,
  queuePurge,
} from './channel-topology.js'
import { Transaction } from './transaction.js'
import { HeldFrames } from './channel-hold.js'
import { blockPool } from './block-pool.js'
import { PooledDeliveries } from './pooled-deliveries.js'
import { cancelReplies, consumeReplies, rewriteReplyTo, stopReplies, type ChannelReplyConsumer } from './direct-reply-to.js'
import { REPLY_TO_QUEUE } from '../core/direct-reply-to.js'

/** A consumer plus its tag pre-encoded for basic.deliver. */
class ChannelConsumer extends Consumer {
  tagBytes!: Buffer
}

export class Channel implements DeliverySink, ChannelInfo, ConfirmSink, AssembledSink {
  readonly owner: object
  readonly log: Logger
  readonly consumers = new Map<string, ChannelConsumer>()
  /** delivery tag → envelope, in ascending tag order (Map keeps insertion order) */
  unacked = new Map<number, Envelope>()
  prefetchCount = 0
  globalPrefetchCount = 0
  confirm = false
  /** RabbitMQ's per-channel message_stats: plain counters, sampled by the management API */
  readonly messageStats = channelMessageStats()
  private state: 'open' | 'closing' | 'closed' = 'open'
  private deliveryTag = 0
  readonly vhost: VHost
  /** the user's permissions, checked per operation (core/access-control.ts) */
  readonly access: AccessControl
  readonly writer: FrameWriter
  /** the last queue declared on this channel, for methods that name the queue '' */
  lastQueue: string | undefined
  /** the direct reply-to consumer (transport/direct-reply-to.ts); not counted among consumers, as in RabbitMQ */
  replyConsumer: ChannelReplyConsumer | null = null
  /** basic.publish arguments, decoded into one reused object */
  private readonly pub: PublishArgs = { exchange: '', routingKey: '', mandatory: false, immediate: false }
  private readonly content = new ContentAssembler(this)
  // publisher confirms
  private publishSeq = 0
  private confirmPending = 0
  private confirmSent = 0
  private tx: Transaction | null = null
  /** confirms waiting for fdatasync of durable queue stores (created on first need) */
  private durableConfirms: DurableConfirms | null = null
  private ackTimer: NodeJS.Timeout | null = null
  /** unacked deliveries whose body block goes back to the block pool once acked and written */
  private readonly pooled = new PooledDeliveries()
  /** frames that arrived while an asynchronous step of a method runs (see hold) */
  private held: HeldFrames | null = null
  /** the held frames being replayed, adopted by a hold that starts during the replay */
  private replaying: HeldFrames | null = null

  constructor(
    readonly conn: Connection,
    readonly id: number,
  ) {
    this.owner = conn
    this.vhost = conn.vhost!
    this.access = conn.access!
    this.writer = conn.writer
    this.log = conn.log.child({ ch: id })
  }

  get unackedCount(): number {
    return this.unacked.size
  }
  get consumerCount(): number {
    return this.consumers.size
  }
  get transactional(): boolean {
    return this.tx !== null
  }
  get isOpen(): boolean {
    return this.state === 'open'
  }
  /** the tag the next delivery will get */
  get nextDeliveryTag(): number {
    return this.deliveryTag + 1
  }

  // ---- dispatch -----------------------------------------------------------------------------

  dispatch(classId: number, methodId: number, buf: Buffer, start: number, end: number): void {
    if (this.held !== null) return this.holdFrame(1, classId, methodId, buf, start, end)
    if (this.state !== 'open') return this.whileClosing(key(classId, methodId))
    try {
      const expect = this.content.expect
      if (expect !== Expect.METHOD) {
        throw new ConnectionError(
          ReplyCode.UNEXPECTED_FRAME,
          `expected content ${expect === Expect.HEADER ? 'header' : 'body'} for class 60, got non content frame instead`,
          classId,
          methodId,
        )
      }
      const k = key(classId, methodId)
      if (k === M.BASIC_PUBLISH) return this.basicPublish(decodePublish(buf, start, end, this.pub))
      if (k === M.BASIC_ACK) return this.basicAck(readLongLong(buf, start, end - 1), (buf[start + 8] & 1) !== 0)
      const spec = lookupMethod(classId, methodId)
      const a = decodeArgs(spec, buf, start, end)
      this.method(k, a)
    } catch (err) {
      this.handleError(err, classId, methodId)
    }
  }

  private method(k: number, a: MethodArgs): void {
    switch (k) {
      case M.CHANNEL_CLOSE: return this.channelClose()
      case M.CHANNEL_CLOSE_OK: return // we never sent close while open
      case M.CHANNEL_FLOW: return this.channelFlow(a.active as boolean)
      case M.CHANNEL_FLOW_OK: return
      case M.CHANNEL_OPEN: throw new ConnectionError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen on channel ${this.id}`)
      case M.ACCESS_REQUEST: return this.writer.method(this.id, 30, 11, [1])
      case M.EXCHANGE_DECLARE: return exchangeDeclare(this, a)
      case M.EXCHANGE_DELETE: return exchangeDelete(this, a)
      case M.EXCHANGE_BIND: return exchangeBind(this, a, true)
      case M.EXCHANGE_UNBIND: return exchangeBind(this, a, false)
      case M.QUEUE_DECLARE: return queueDeclare(this, a)
      case M.QUEUE_BIND: return queueBind(this, a, true)
      case M.QUEUE_UNBIND: return queueBind(this, a, false)
      case M.QUEUE_PURGE: return queuePurge(this, a)
      case M.QUEUE_DELETE: return queueDelete(this, a)
      case M.BASIC_QOS: return this.basicQos(a.prefetchSize as number, a.prefetchCount as number, a.global as boolean)
      case M.BASIC_CONSUME: return this.basicConsume(a)
      case M.BASIC_CANCEL: return this.basicCancel(a.consumerTag as string, a.nowait as boolean)
      case M.BASIC_CANCEL_OK: return // reply to a server-sent cancel
      case M.BASIC_GET: return this.basicGet(a.queue as string, a.noAck as boolean)
      case M.BASIC_REJECT: return this.basicNack(a.deliveryTag as number, false, a.requeue as boolean)
      case M.BASIC_NACK: return this.basicNack(a.deliveryTag as number, a.multiple as boolean, a.requeue as boolean)
      case M.BASIC_RECOVER_ASYNC: return this.basicRecover(a.requeue as boolean, false)
      case M.BASIC_RECOVER: return this.basicRecover(a.requeue as boolean, true)
      case M.CONFIRM_SELECT: return this.confirmSelect(a.nowait as boolean)
      case M.TX_SELECT: return this.txSelect()
      case M.TX_COMMIT: return this.txCommit()
      case M.TX_ROLLBACK: return this.txRollback()
      default:
        throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unexpected method ${k >>> 16}.${k & 0xffff} from client`)
    }
  }

  private handleError(err: unknown, classId: number, methodId: number): void {
    if (err instanceof AmqpError) {
      if (err.classId === 0) {
        err.classId = classId
        err.methodId = methodId
      }
      if (!err.hard) return this.closeWith(err as ChannelError)
    }
    throw err // connection errors and internal faults are the connection's business
  }

  /** 0-9-1 §2.2.4: after sending channel.close, discard everything but close and close-ok. */
  private whileClosing(k: number): void {
    if (k === M.CHANNEL_CLOSE_OK) {
      this.state = 'closed'
      this.conn.channelClosed(this)
    } else if (k === M.CHANNEL_CLOSE) {
      this.writer.method(this.id, CLASS_CHANNEL, 41)
    }
  }

  /** Sends channel.close for a soft error and releases the channel's resources. */
  closeWith(err: ChannelError): void {
    if (this.state !== 'open') return
    this.log.debug({ code: err.code, reason: err.replyText }, 'channel error')
    this.writer.method(this.id, CLASS_CHANNEL, 40, [err.code, err.replyText, err.classId, err.methodId])
    this.teardown()
    this.state = 'closing'
  }

  private channelClose(): void {
    this.teardown()
    this.writer.method(this.id, CLASS_CHANNEL, 41)
    this.conn.channelClosed(this)
  }

  /**
   * RabbitMQ 3.x does not let a client pause its deliveries: channel.flow(active=false) from the
   * client closes the connection with 540 NOT_IMPLEMENTED "active=false"; active=true is answered.
   */
  private channelFlow(active: boolean): void {
    if (!active) throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, 'active=false', CLASS_CHANNEL, 20)
    this.writer.method(this.id, CLASS_CHANNEL, 21, [true])
  }

  /**
   * RabbitMQ's consumer_timeout: a delivery left unacknowledged longer than the timeout closes the
   * channel with 406, which requeues it. Checked by one timer per channel while it holds deliveries.
   */
  private startAckTimer(): void {
    const timeout = this.conn.broker.config.consumerTimeout
    const period = Math.min(15_000, Math.max(25, Math.floor(timeout / 4)))
    this.ackTimer = setInterval(() => {
      const oldest = this.unacked.values().next()
      if (oldest.done === true) {
        clearInterval(this.ackTimer!)
        this.ackTimer = null
        return
      }
      if (Date.now() - oldest.value.deliveredAt > timeout) {
        this.log.warn({ timeout }, 'consumer acknowledgement timed out, closing channel')
        this.closeWith(
          preconditionFailed(
            `delivery acknowledgement on channel ${this.id} timed out. Timeout value used: ${timeout} ms. ` +
              'This timeout value can be configured, see consumers doc guide to learn more',
          ),
        )
      }
    }, period)
    this.ackTimer.unref()
  }

  /** Cancels consumers and requeues unacknowledged messages (channel or connection closing). */
  teardown(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    if (this.ackTimer !== null) clearInterval(this.ackTimer)
    this.ackTimer = null
    for (const c of this.consumers.values()) c.queue.removeConsumer(c)
    this.consumers.clear()
    stopReplies(this)
    this.tx?.discard()
    this.requeueAll()
    this.content.reset()
  }

  private requeueAll(): void {
    this.pooled.clear()
    const touched = new Set<Queue>()
    for (const env of this.unacked.values()) {
      env.queue.requeue(env)
      touched.add(env.queue)
    }
    this.unacked.clear()
    for (const q of touched) q.scheduleDrain()
  }

  // ---- exchanges and queues -----------------------------------------------------------------

  /** Resolves '' to the channel's last declared queue, as RabbitMQ does. */
  queueName(name: string): string {
    if (name !== '') return name
    if (this.lastQueue === undefined) throw new ChannelError(ReplyCode.NOT_FOUND, 'no previously declared queue')
    return this.lastQueue
  }

  // ---- publish ------------------------------------------------------------------------------

  private basicPublish(p: PublishArgs): void {
    if (p.immediate) {
      throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, 'immediate=true', CLASS_BASIC, 40)
    }
    // RabbitMQ checks write before looking the exchange up; cached per exchange name
    this.access.checkPublish(p.exchange)
    const x = this.vhost.exchanges.get(p.exchange)
    if (x === undefined) throw notFound('exchange', p.exchange, this.vhost.name)
    if (x.internal) {
      throw new ChannelError(ReplyCode.ACCESS_REFUSED, `cannot publish to internal exchange '${x.name}' in vhost '${this.vhost.name}'`)
    }
    // topic permissions (rabbit_channel check_topic_authorisation) concern topic exchanges only
    if (x.type === 'topic') this.access.checkTopic('write', x, p.routingKey)
    this.content.begin(x, p.routingKey, p.mandatory)
  }

  /** Content header and body frames. */
  onContent(type: number, buf: Buffer, start: number, end: number): void {
    if (this.held !== null) return this.holdFrame(type, CLASS_BASIC, 40, buf, start, end)
    if (this.state !== 'open') return
    try {
      if (type === FRAME_HEADER) this.content.header(buf, start, end)
      else this.content.body(buf, start, end)
    } catch (err) {
      this.handleError(err, CLASS_BASIC, 40)
    }
  }

  /** FrameReader: where a large body frame split across chunks may be copied to (see ContentAssembler). */
  bodyTarget(n: number): BodyTarget | null {
    return this.state === 'open' && this.held === null ? this.content.bodyTarget(n) : null
  }

  // ---- methods that finish later (transport/channel-hold.ts) --------------------------------

  /**
   * Runs the asynchronous step of a method (classId.methodId): the channel's later frames wait
   * until it has settled, then `done` runs with its value (skipped when the channel closed
   * meanwhile) and the waiting frames are replayed in order. A rejection, or a throw from `done`,
   * is handled as the method's error (a channel or connection close). Not for the hot path.
   */
  hold<T>(step: Promise<T>, classId: number, methodId: number, done: (value: T) => void): void {
    // a hold started while replaying keeps the frames not yet replayed in front of new ones
    const held = (this.held = this.replaying ?? new HeldFrames())
    step
      .then((value) => {
        if (this.state === 'open') done(value)
      })
      .catch((err: unknown) => {
        if (this.state !== 'open') return
        try {
          this.handleError(err, classId, methodId)
        } catch (hard) {
          this.conn.fail(hard)
        }
      })
      .finally(() => this.replay(held))
  }

  private holdFrame(type: number, classId: number, methodId: number, buf: Buffer, start: number, end: number): void {
    if (this.held!.push(type, classId, methodId, buf, start, end)) this.conn.blockFlow()
  }

  private replay(q: HeldFrames): void {
    if (this.held !== q) return
    this.held = null
    this.replaying = q
    while (this.held === null && !q.empty && this.state !== 'closed') {
      const f = q.shift()
      try {
        if (f.type === 1) this.dispatch(f.classId, f.methodId, f.buf, f.start, f.end)
        else this.onContent(f.type, f.buf, f.start, f.end)
      } catch (err) {
        this.conn.fail(err)
      }
    }
    this.replaying = null
    // a hold that adopted q resumes reading when it is done with it
    if (this.held !== q && q.paused) {
      q.paused = false
      this.conn.resumeFlow()
    }
  }

  // DeliverySink: basic.qos global, sent with a consume to a queue on another node
  get globalPrefetch(): number {
    return this.globalPrefetchCount
  }

  // AssembledSink
  get userName(): string | undefined {
    return this.conn.user?.name
  }
  get maxMessageSize(): number {
    return this.conn.broker.config.maxMessageSize
  }
  rewriteReplyTo(props: Buffer, start: number, end: number, at: number): Buffer | null {
    return rewriteReplyTo(this, props, start, end, at)
  }

  /** A complete message from the ContentAssembler: held by a transaction, or routed now. */
  published(x: Exchange, msg: Message, mandatory: boolean): void {
    const broker = this.conn.broker
    broker.messageSizes.observe(msg.bodySize)
    // RabbitMQ counts a message "received expecting confirmation" in confirm or tx mode
    if (this.confirm || this.tx !== null) broker.stats.receivedConfirm++
    const seq = this.confirm ? ++this.publishSeq : 0
    if (this.tx !== null) return this.tx.publish(x, msg, mandatory, seq)
    this.route(x, msg, mandatory, seq)
  }

  /** Routes a complete message; returns it with basic.return when mandatory and unroutable. */
  route(x: Exchange, msg: Message, mandatory: boolean, seq: number): void {
    const stats = this.conn.broker.stats
    const ms = this.messageStats
    stats.publish++
    ms.publish++
    const vhost = this.vhost
    const n = vhost.publish(x, msg, this.conn, this)
    // a pooled block comes back only from the one delivery of a message that one queue holds
    if (n !== 1 || vhost.refused) blockPool.disown(msg.data)
    const conn = this.conn
    conn.published = true
    if (conn.broker.publishBlocked) conn.resourceAlarm()
    if (n === 0) {
      if (mandatory) {
        stats.returned++
        ms.return_unroutable++
        this.writer.basicReturn(this.id, ReplyCode.NO_ROUTE, 'NO_ROUTE', msg)
      } else {
        stats.unroutable++
        ms.drop_unroutable++
      }
    }
    if (seq !== 0) {
      // RabbitMQ: a queue at its length limit with x-overflow reject-publish nacks the publisher
      const dc = this.durableConfirms
      if (vhost.refused) this.rejected(seq)
      else if (vhost.durableTouched.length > 0 || (dc !== null && dc.waiting)) {
        // confirms mean durable: wait for the stores' group commit
        ;(this.durableConfirms ??= new DurableConfirms(this)).add(seq, vhost.durableTouched)
      } else this.confirmed(seq)
    }
  }

  /** ConfirmSink: confirms can still be sent. */
  get confirmsOpen(): boolean {
    return this.state === 'open'
  }

  // ---- publisher confirms -------------------------------------------------------------------

  private confirmSelect(nowait: boolean): void {
    if (this.tx !== null) {
      throw preconditionFailed('cannot switch from tx to confirm mode')
    }
    this.confirm = true
    if (!nowait) this.writer.method(this.id, CLASS_CONFIRM, 11)
  }

  /** Marks publish `seq` confirmed; acks are coalesced into one multiple-ack per flush. */
  confirmed(seq: number): void {
    this.confirmPending = seq
    this.writer.schedule()
  }

  /** Publish `seq` could not be taken: nack it (after acking everything before it). */
  rejected(seq: number): void {
    const dc = this.durableConfirms
    if (dc !== null && dc.waiting) return dc.addNack(seq)
    this.nackNow(seq)
  }

  /** ConfirmSink: nacks `seq` at once, after acking everything confirmed before it. */
  nackNow(seq: number): void {
    this.flushConfirms()
    this.writer.confirm(this.id, false, seq, false)
    this.confirmSent = seq
  }

  /** Called before each output flush. */
  flushConfirms(): void {
    const upTo = this.confirmPending
    if (upTo > this.confirmSent) {
      this.conn.broker.stats.confirm += upTo - this.confirmSent
      this.messageStats.confirm += upTo - this.confirmSent
      this.writer.confirm(this.id, true, upTo, upTo - this.confirmSent > 1)
      this.confirmSent = upTo
    }
  }

  // ---- transactions -------------------------------------------------------------------------

  private txSelect(): void {
    if (this.confirm) throw preconditionFailed('cannot switch from confirm to tx mode')
    if (this.tx === null) this.tx = new Transaction(this)
    this.writer.method(this.id, CLASS_TX, 11)
  }

  private txCommit(): void {
    if (this.tx === null) throw preconditionFailed('channel is not transactional')
    const need = this.tx.commit()
    this.globalCreditFreed()
    // RabbitMQ: commit-ok means the committed persistent messages are on disk (durable-commits.ts);
    // the channel's later methods wait for it, so their replies follow commit-ok
    if (need.size === 0) return this.writer.method(this.id, CLASS_TX, 21)
    const tx = this.tx
    const durable = new Promise<void>((resolve, reject) =>
      tx.whenDurable(need, (err) => (err === null ? resolve() : reject(new ChannelError(ReplyCode.INTERNAL_ERROR, `tx.commit failed: ${err.message}`)))),
    )
    this.hold(durable, CLASS_TX, 20, () => this.writer.method(this.id, CLASS_TX, 21))
  }

  private txRollback(): void {
    if (this.tx === null) throw preconditionFailed('channel is not transactional')
    this.tx.rollback()
    this.writer.method(this.id, CLASS_TX, 31)
  }

  // ---- consuming ----------------------------------------------------------------------------

  private basicQos(prefetchSize: number, prefetchCount: number, global: boolean): void {
    if (prefetchSize !== 0) {
      // RabbitMQ does not implement prefetch_size
      throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${prefetchSize})`, CLASS_BASIC, 10)
    }
    if (global) this.globalPrefetchCount = prefetchCount
    else this.prefetchCount = prefetchCount
    this.writer.method(this.id, CLASS_BASIC, 11)
    this.resumeDeliveries()
  }

  private basicConsume(a: MethodArgs): void {
    if (a.queue === REPLY_TO_QUEUE) return consumeReplies(this, a.consumerTag as string, a.noAck as boolean, a.nowait as boolean)
    const name = this.queueName(a.queue as string)
    this.access.check('read', 'queue', name)
    const q = this.vhost.getQueue(name, this.conn)
    let tag = a.consumerTag as string
    if (tag === '') tag = generateName('amq.ctag-')
    else if (this.consumers.has(tag)) {
      throw new ConnectionError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`)
    }
    const exclusive = a.exclusive as boolean
    if (q.consumers.some((c) => c.exclusive) || (exclusive && q.consumerCount > 0)) {
      throw new ChannelError(ReplyCode.ACCESS_REFUSED, `queue '${q.name}' in vhost '${this.vhost.name}' in exclusive use`)
    }
    const args = (a.arguments as FieldTable) ?? {}
    q.checkConsume(a.noAck as boolean, this.prefetchCount, this.globalPrefetchCount, args)
    const prio = typeof args['x-priority'] === 'number' ? (args['x-priority'] as number) : 0
    const c = new ChannelConsumer(tag, q, this, a.noAck as boolean, exclusive, this.prefetchCount, args, prio)
    c.tagBytes = Buffer.from(tag)
    if (c.tagBytes.length > 255) throw preconditionFailed('consumer tag longer than 255 bytes')
    this.consumers.set(tag, c)
    // a queue on another node: consume-ok once its home took the consumer (or its error)
    const later = q.consumeLater(c)
    if (later !== null) {
      return this.hold(later, CLASS_BASIC, 20, () => {
        if (!a.nowait) this.writer.method(this.id, CLASS_BASIC, 21, [tag])
        q.addConsumer(c)
      })
    }
    // consume-ok goes out before the first delivery: the queue delivers on its next drain
    if (!a.nowait) this.writer.method(this.id, CLASS_BASIC, 21, [tag])
    q.addConsumer(c)
  }

  private basicCancel(tag: string, nowait: boolean): void {
    if (this.replyConsumer !== null && cancelReplies(this, tag, nowait)) return
    const c = this.consumers.get(tag)
    if (c !== undefined) {
      this.consumers.delete(tag)
      c.queue.removeConsumer(c)
    }
    // RabbitMQ answers cancel-ok for unknown tags too
    if (!nowait) this.writer.method(this.id, CLASS_BASIC, 31, [tag])
  }

  private basicGet(queue: string, noAck: boolean): void {
    const name = this.queueName(queue)
    this.access.check('read', 'queue', name)
    const q = this.vhost.getQueue(name, this.conn)
    // a queue on another node answers over the node link (core/cluster/remote-queue.ts)
    const later = q.getLater(noAck)
    if (later !== null) return this.hold(later, CLASS_BASIC, 70, (r) => this.gotten(r.env, noAck, r.messageCount))
    const env = q.get(noAck, this)
    this.gotten(env, noAck, q.messageCount)
  }

  /** basic.get-ok (or get-empty) for what basic.get took. */
  private gotten(env: Envelope | undefined, noAck: boolean, messageCount: number): void {
    const ms = this.messageStats
    if (env === undefined) {
      ms.get_empty++
      return this.writer.method(this.id, CLASS_BASIC, 72, [''])
    }
    if (noAck) ms.get_no_ack++
    else ms.get++
    if (env.redelivered) ms.redeliver++
    const tag = ++this.deliveryTag
    if (!noAck) {
      this.unacked.set(tag, env)
      if (this.ackTimer === null) this.startAckTimer()
    }
    this.writer.getOk(this.id, tag, env.redelivered, env.message, messageCount)
    if (!noAck && blockPool.owns(env.message.data)) this.pooled.delivered(tag, env, this.writer.streamEnd)
  }

  private basicAck(tag: number, multiple: boolean): void {
    if (this.tx !== null) {
      const entries = this.takeEntries(tag, multiple)
      this.messageStats.ack += entries.length
      if (this.pooled.size > 0) this.pooled.dropped(tag, multiple)
      return this.tx.settle('ack', entries, false)
    }
    const envs = this.take(tag, multiple)
    this.messageStats.ack += envs.length
    let last: Queue | null = null
    for (const env of envs) {
      env.queue.settle(env)
      if (env.queue !== last) {
        if (last !== null) last.drain()
        last = env.queue
      }
    }
    if (this.pooled.size > 0) this.pooled.acked(tag, multiple, this.conn.outputWritten)
    if (last !== null) last.drain()
    this.globalCreditFreed()
  }

  private basicNack(tag: number, multiple: boolean, requeue: boolean): void {
    if (this.tx !== null) {
      const entries = this.takeEntries(tag, multiple)
      if (this.pooled.size > 0) this.pooled.dropped(tag, multiple)
      return this.tx.settle('nack', entries, requeue)
    }
    const envs = this.take(tag, multiple)
    if (this.pooled.size > 0) this.pooled.dropped(tag, multiple)
    this.settleRejected(envs, requeue)
  }

  /** Rejected deliveries: back to their queues, or dropped/dead-lettered. */
  settleRejected(envs: Envelope[], requeue: boolean): void {
    const touched = new Set<Queue>()
    for (const env of envs) {
      if (requeue) env.queue.requeue(env)
      else env.queue.reject(env)
      touched.add(env.queue)
    }
    for (const q of touched) q.drain()
    this.globalCreditFreed()
  }

  /** The channel-wide (global) prefetch window is shared by consumers of several queues: room freed by
   * settling one queue's delivery may be for another queue's consumer. */
  private globalCreditFreed(): void {
    if (this.globalPrefetchCount !== 0) this.resumeDeliveries()
  }

  /** Removes and returns the deliveries an ack/nack names; 406 for an unknown tag. */
  private take(tag: number, multiple: boolean): Envelope[] {
    const out: Envelope[] = []
    if (multiple) {
      // RabbitMQ collect_acks: a multiple ack must name an outstanding tag (0 means all), else 406
      // and nothing is settled
      if (tag !== 0 && !this.unacked.has(tag)) throw preconditionFailed(`unknown delivery tag ${tag}`)
      for (const [t, env] of this.unacked) {
        if (tag !== 0 && t > tag) break
        out.push(env)
        this.unacked.delete(t)
      }
      return out
    }
    const env = this.unacked.get(tag)
    if (env === undefined) throw preconditionFailed(`unknown delivery tag ${tag}`)
    this.unacked.delete(tag)
    out.push(env)
    return out
  }

  /** Like take(), keeping the tags (a transaction may have to put them back). */
  private takeEntries(tag: number, multiple: boolean): [number, Envelope][] {
    const tags: number[] = []
    if (multiple) {
      for (const t of this.unacked.keys()) {
        if (tag !== 0 && t > tag) break
        tags.push(t)
      }
    } else tags.push(tag)
    const envs = this.take(tag, multiple)
    return envs.map((env, i) => [tags[i], env])
  }

  /** Restores deliveries taken by a rolled-back transaction, keeping tag order. */
  restoreUnacked(entries: [number, Envelope][]): void {
    if (entries.length === 0) return
    this.unacked = new Map([...this.unacked, ...entries].sort((a, b) => a[0] - b[0]))
  }

  private basicRecover(requeue: boolean, sync: boolean): void {
    if (!requeue) throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, 'requeue=false', CLASS_BASIC, sync ? 110 : 100)
    this.requeueAll()
    this.globalCreditFreed()
    if (sync) this.writer.method(this.id, CLASS_BASIC, 111)
  }

  // ---- DeliverySink -------------------------------------------------------------------------

  canDeliver(c: Consumer): boolean {
    return (
      this.conn.writable &&
      this.state === 'open' &&
      c.hasCredit() &&
      (this.globalPrefetchCount === 0 ||
        this.unacked.size + (this.tx === null ? 0 : this.tx.held) < this.globalPrefetchCount)
    )
  }

  deliver(c: Consumer, env: Envelope): void {
    const tag = ++this.deliveryTag
    const ms = this.messageStats
    if (env.redelivered) ms.redeliver++
    if (!c.noAck) {
      ms.deliver++
      this.unacked.set(tag, env)
      if (this.ackTimer === null) this.startAckTimer()
    } else ms.deliver_no_ack++
    this.writer.deliver(this.id, (c as ChannelConsumer).tagBytes, tag, env.redelivered, env.message)
    if (!c.noAck && blockPool.owns(env.message.data)) this.pooled.delivered(tag, env, this.writer.streamEnd)
  }

  cancelledByServer(c: Consumer): void {
    if (this.consumers.get(c.tag) !== c) return
    this.consumers.delete(c.tag)
    // RabbitMQ sends basic.cancel only to clients that announced consumer_cancel_notify
    if (this.conn.capabilities.consumer_cancel_notify === true && this.state === 'open') {
      this.writer.method(this.id, CLASS_BASIC, 30, [c.tag, true])
    }
  }

  /** Something that blocked deliveries cleared (socket drained, qos raised). */
  resumeDeliveries(): void {
    for (const c of this.consumers.values()) c.queue.scheduleDrain()
  }
}

function readLongLong(buf: Buffer, at: number, end: number): number {
  if (at + 8 > end) throw new ConnectionError(ReplyCode.FRAME_ERROR, 'truncated method frame')
  return buf.readUInt32BE(at) * 0x100000000 + buf.readUInt32BE(at + 4)
}
