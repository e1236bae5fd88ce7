/**
 * The home side of a link session (issue 13): what this node does for another node's stand-ins of
 * its queues. Forwarded publishes are pushed into the named local queues and acknowledged in order
 * once accepted (and, for persistent messages in durable queues, fdatasync'd: the same
 * DurableConfirms a channel uses, with ACCEPTED / REFUSED frames instead of basic.ack / nack).
 * A remote consumer is a real Consumer of the local queue whose sink sends DELIVER frames within
 * its credit; settlements come back by delivery id. When the session ends, the remote consumers
 * go and every delivery they had not settled is requeued (redelivered), as for a closed channel.
 *
 * Flow control of forwarded publishes: the link is a publisher (FlowWaiter) of the queues it
 * pushes into; while a queue or store holds it back, ACCEPTED frames are withheld, so the
 * publishing node's window of unaccepted messages fills and its own publishers are paused there
 * (link-peer.ts). The link keeps reading: acks and deliveries go on.
 */
import type { Broker } from '../../core/broker.js'
import { RemoteQueue } from '../../core/cluster/remote-queue.js'
import { Consumer, type DeliverySink } from '../../core/consumer.js'
import { AmqpError, ChannelError, ReplyCode } from '../../core/errors.js'
import { FLOW_CHECK, FLOW_CHECK_BYTES, type Envelope, type FlowWaiter, type Queue } from '../../core/queue.js'
import { storeFlow } from '../../core/store/stored-list.js'
import { setMemberRank } from '../../core/stream/consumer-group.js'
import { DurableConfirms, type ConfirmSink } from '../durable-confirms.js'
import { blockPool } from '../block-pool.js'
import { messageHeadLen, messageLen, OP_COUNTS, OP_DELETE, OP_PURGE, Out, strLen, T, writeMessage, writeMessageHead, type In } from './link-codec.js'
import type { LinkSession } from './link.js'

/** The sink of one remote consumer: delivers over the link within the credit its node granted. */
class LinkConsumerSink implements DeliverySink {
  readonly id = 0
  readonly userName = undefined
  consumer!: Consumer
  constructor(
    private readonly home: LinkHome,
    readonly cid: number,
    public credit: number,
    /** the consumer's channel on its node (a stream consumer group's member) */
    readonly member: ChannelMember,
  ) {}
  get owner(): object {
    return this.home
  }
  get conn(): { name: string } {
    return this.home.origin
  }
  canDeliver(c: Consumer): boolean {
    return this.credit > 0 && this.home.session.writable && c.hasCredit()
  }
  deliver(c: Consumer, env: Envelope): void {
    this.credit--
    this.home.deliver(this, c, env)
  }
  cancelledByServer(): void {
    this.home.cancelled(this)
  }
}

/** A channel of the other node with consumers here (named by its group rank there): counted, dropped with its last consumer. */
interface ChannelMember {
  rank: number
  consumers: number
}

export class LinkHome implements ConfirmSink, FlowWaiter {
  readonly origin: { name: string }
  private readonly confirms = new DurableConfirms(this)
  /** ACCEPTED up to this, not sent yet (coalesced per flush) */
  private acceptedUpTo = 0
  private acceptedSent = 0
  private readonly consumers = new Map<number, LinkConsumerSink>()
  /** the other node's channels consuming here, by their group rank there */
  private readonly members = new Map<number, ChannelMember>()
  private readonly deliveries = new Map<number, Envelope>()
  private nextDid = 0
  /** queues and stores holding the forwarded publishes back (queue flow control) */
  private flowBlocks = 0

  constructor(
    private readonly broker: Broker,
    readonly session: LinkSession,
    peer: string,
  ) {
    this.origin = { name: `node link from ${peer}` }
  }

  // ConfirmSink
  get confirmsOpen(): boolean {
    return !this.session.closed
  }
  confirmed(seq: number): void {
    this.acceptedUpTo = seq
    this.session.schedule()
  }
  nackNow(seq: number): void {
    // (when acceptances are held back, REFUSED simply goes first: the ACCEPTED covering it follows)
    this.flushPending()
    this.session.send(new Out(T.REFUSED, 8).f64(seq).buf)
  }

  // FlowWaiter: a queue or store this link publishes to is behind
  blockFlow(): void {
    this.flowBlocks++
  }
  resumeFlow(): void {
    if (this.flowBlocks > 0 && --this.flowBlocks === 0) this.session.schedule()
  }

  /** Sends the coalesced ACCEPTED (before each flush), unless held back by queue flow control. */
  flushPending(): void {
    if (this.acceptedUpTo > this.acceptedSent && this.flowBlocks === 0) {
      this.acceptedSent = this.acceptedUpTo
      this.session.send(new Out(T.ACCEPTED, 8).f64(this.acceptedUpTo).buf)
    }
  }

  /** A frame for the home side; false when the type is not one of those. */
  frame(type: number, i: In): boolean {
    switch (type) {
      case T.PUBLISH:
        this.publish(i)
        return true
      case T.CONSUME:
        this.consume(i)
        return true
      case T.CANCEL: {
        const sink = this.consumers.get(i.u32())
        if (sink !== undefined) {
          this.forget(sink)
          sink.consumer.queue.removeConsumer(sink.consumer)
        }
        return true
      }
      case T.CREDIT: {
        const sink = this.consumers.get(i.u32())
        if (sink !== undefined) {
          sink.credit += i.u32()
          sink.consumer.queue.scheduleDrain()
        }
        return true
      }
      case T.SETTLE:
        this.settle(i)
        return true
      case T.GET:
        this.get(i)
        return true
      case T.OP:
        this.op(i)
        return true
      case T.LIST:
        this.list(i.u32())
        return true
      case T.REPLY: {
        // a reply published on the other node to a direct reply-to consumer of this one
        const address = i.str()
        this.broker.replyTo.deliver(address, i.message())
        return true
      }
      default:
        return false
    }
  }

  /** A local (home) queue by vhost and name; stand-ins of other nodes' queues are not served. */
  private localQueue(vhost: string, name: string): Queue | undefined {
    const q = this.broker.vhost(vhost)?.queues.get(name)
    return q === undefined || q instanceof RemoteQueue ? undefined : q
  }

  private publish(i: In): void {
    const seq = i.f64()
    const v = this.broker.vhost(i.str())
    const n = i.u16()
    const names: string[] = []
    for (let k = 0; k < n; k++) names.push(i.str())
    const m = i.message()
    let refused = false
    if (v !== undefined) {
      v.durableTouched.length = 0
      for (const name of names) {
        const q = v.queues.get(name)
        if (q === undefined || q instanceof RemoteQueue) continue
        if (!q.push(m)) refused = true
        else {
          // as vhost.publish does for a local publisher
          if (q.ready.length > FLOW_CHECK || q.readyBytes > FLOW_CHECK_BYTES) q.throttle(this)
          if (q.store !== null && q.store.pendingBytes > storeFlow.high) q.store.throttle(this)
        }
      }
    }
    const dc = this.confirms
    if (refused) {
      if (dc.waiting) dc.addNack(seq)
      else this.nackNow(seq)
    } else if ((v !== undefined && v.durableTouched.length > 0) || dc.waiting) dc.add(seq, v?.durableTouched ?? [])
    else this.confirmed(seq)
    if (v !== undefined) v.durableTouched.length = 0
  }

  private consume(i: In): void {
    const cid = i.u32()
    const vhost = i.str()
    const name = i.str()
    const tag = i.str()
    const prefetch = i.u32()
    const credit = i.u32()
    const flags = i.u8()
    const priority = i.i32()
    const qos = i.u32()
    const globalPrefetch = i.u32()
    const rank = i.f64()
    const args = i.table()
    const q = this.localQueue(vhost, name)
    const refuse = (code: number, text: string): void => this.session.send(new Out(T.CONSUME_ERR, 4 + 2 + strLen(text)).u32(cid).u16(code).str(text).buf)
    if (q === undefined) return refuse(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${vhost}'`)
    const exclusive = (flags & 2) !== 0
    // as basic.consume on the home itself (transport/channel.ts)
    if (q.options.exclusiveOwner !== null) return refuse(ReplyCode.RESOURCE_LOCKED, `cannot obtain exclusive access to locked queue '${name}' in vhost '${vhost}'`)
    if (q.consumers.some((c) => c.exclusive) || (exclusive && q.consumerCount > 0)) {
      return refuse(ReplyCode.ACCESS_REFUSED, `queue '${name}' in vhost '${vhost}' in exclusive use`)
    }
    try {
      // the queue type's own checks (a stream's need a prefetch and acks)
      q.checkConsume((flags & 1) !== 0, qos, globalPrefetch, args)
    } catch (err) {
      return refuse(err instanceof AmqpError ? err.code : ReplyCode.INTERNAL_ERROR, err instanceof AmqpError ? err.detail : (err as Error).message)
    }
    const sink = new LinkConsumerSink(this, cid, credit, this.member(rank))
    const c = new Consumer(tag, q, sink, (flags & 1) !== 0, exclusive, prefetch, args, priority)
    sink.consumer = c
    this.consumers.set(cid, sink)
    // before any delivery (the queue delivers on its next drain)
    this.session.send(new Out(T.CONSUME_OK, 4).u32(cid).buf)
    q.addConsumer(c)
  }

  /** The member standing for the other node's channel of rank `rank` (one per channel, for consumer groups). */
  private member(rank: number): ChannelMember {
    let m = this.members.get(rank)
    if (m === undefined) {
      this.members.set(rank, (m = { rank, consumers: 0 }))
      setMemberRank(m, rank)
    }
    m.consumers++
    return m
  }

  private forget(sink: LinkConsumerSink): void {
    this.consumers.delete(sink.cid)
    const m = sink.member
    if (--m.consumers === 0 && this.members.get(m.rank) === m) this.members.delete(m.rank)
  }

  /** LinkConsumerSink: one delivery over the link. */
  deliver(sink: LinkConsumerSink, c: Consumer, env: Envelope): void {
    let did = 0
    if (!c.noAck) {
      did = ++this.nextDid
      if (did > 0xfffffff0) did = this.nextDid = 1
      this.deliveries.set(did, env)
    }
    const m = env.message
    // a pooled block may go back to the pool (a local delivery of the same message) while the link
    // still holds it: copied; any other message's data is written as it is
    if (blockPool.owns(m.data)) {
      const o = new Out(T.DELIVER, 4 + 4 + 1 + messageLen(m)).u32(sink.cid).u32(did).u8(env.redelivered ? 1 : 0)
      writeMessage(o, m)
      return this.session.send(o.buf)
    }
    const o = new Out(T.DELIVER, 4 + 4 + 1 + messageHeadLen(m), m.data.length).u32(sink.cid).u32(did).u8(env.redelivered ? 1 : 0)
    writeMessageHead(o, m)
    this.session.send2(o.buf, m.data)
  }

  /** The queue cancelled a remote consumer (deleted): its node tells its client. */
  cancelled(sink: LinkConsumerSink): void {
    if (this.consumers.get(sink.cid) !== sink) return
    this.forget(sink)
    this.session.send(new Out(T.CANCELLED, 4).u32(sink.cid).buf)
  }

  private settle(i: In): void {
    const how = i.u8()
    const n = i.u32()
    let last: Queue | null = null
    const touched = new Set<Queue>()
    for (let k = 0; k < n; k++) {
      const did = i.u32()
      const env = this.deliveries.get(did)
      if (env === undefined) continue
      this.deliveries.delete(did)
      const q = env.queue
      if (how === 0) q.settle(env)
      else if (how === 1) q.requeue(env)
      else q.reject(env)
      if (q !== last) touched.add((last = q))
    }
    for (const q of touched) q.drain()
  }

  private get(i: In): void {
    const rid = i.u32()
    const vhost = i.str()
    const name = i.str()
    const noAck = i.u8() === 1
    const q = this.localQueue(vhost, name)
    if (q === undefined) return this.error(rid, new ChannelError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${vhost}'`))
    if (q.options.exclusiveOwner !== null) return this.error(rid, new ChannelError(ReplyCode.RESOURCE_LOCKED, `cannot obtain exclusive access to locked queue '${name}' in vhost '${vhost}'`))
    let env: Envelope | undefined
    try {
      env = q.get(noAck, null)
    } catch (err) {
      // the queue type refuses basic.get (a stream: 540): the client's node sends its error
      return this.error(rid, err)
    }
    if (env === undefined) return this.session.send(new Out(T.GET_EMPTY, 8).u32(rid).u32(q.messageCount).buf)
    let did = 0
    if (!noAck) {
      did = ++this.nextDid
      this.deliveries.set(did, env)
    }
    const m = env.message
    const o = new Out(T.GET_OK, 4 + 4 + 1 + 4 + messageLen(m)).u32(rid).u32(did).u8(env.redelivered ? 1 : 0).u32(q.messageCount)
    writeMessage(o, m)
    this.session.send(o.buf)
  }

  private op(i: In): void {
    const rid = i.u32()
    const op = i.u8()
    const flags = i.u8()
    const vhost = i.str()
    const name = i.str()
    try {
      const v = this.broker.vhost(vhost)
      const q = this.localQueue(vhost, name)
      if (v === undefined || q === undefined) throw new ChannelError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${vhost}'`)
      let a = 0
      let b = 0
      if (op === OP_COUNTS) [a, b] = [q.messageCount, q.consumerCount]
      else if (op === OP_PURGE) a = v.purgeQueue(name, this)
      else if (op === OP_DELETE) a = v.deleteQueue(name, (flags & 1) !== 0, (flags & 2) !== 0, this)
      else throw new ChannelError(ReplyCode.COMMAND_INVALID, `unknown link operation ${op}`)
      const reply = new Out(T.OP_OK, 12).u32(rid).u32(a).u32(b).buf
      const defs = op === OP_DELETE ? this.broker.cluster?.definitions : undefined
      if (defs === undefined || defs === null) return this.session.send(reply)
      // a deleted queue's record leaves etcd, and every node, before the asking node answers delete-ok
      const session = this.session
      defs.visible().then(
        () => session.send(reply),
        (err: unknown) => this.error(rid, new ChannelError(ReplyCode.INTERNAL_ERROR, `queue deleted, but not from the cluster's definitions: ${(err as Error).message}`)),
      )
    } catch (err) {
      this.error(rid, err)
    }
  }

  /** LIST: the counts of every queue living here, in one frame. */
  private list(rid: number): void {
    const rows: [string, string, Queue][] = []
    let size = 4 + 4
    for (const v of this.broker.vhosts.values()) {
      for (const q of v.queues.values()) {
        if (q instanceof RemoteQueue) continue
        rows.push([v.name, q.name, q])
        size += strLen(v.name) + strLen(q.name) + 12
      }
    }
    const o = new Out(T.LIST_OK, size).u32(rid).u32(rows.length)
    for (const [vhost, name, q] of rows) o.str(vhost).str(name).u32(q.messageCount).u32(q.unackedCount).u32(q.consumerCount)
    this.session.send(o.buf)
  }

  private error(rid: number, thrown: unknown): void {
    const err = thrown instanceof AmqpError ? thrown : new ChannelError(ReplyCode.INTERNAL_ERROR, (thrown as Error).message)
    this.session.send(new Out(T.OP_ERR, 4 + 2 + strLen(err.detail)).u32(rid).u16(err.code).str(err.detail).buf)
  }

  /** The socket drained: the queues of remote consumers may deliver again. */
  drained(): void {
    for (const sink of this.consumers.values()) sink.consumer.queue.scheduleDrain()
  }

  /** The session ended: remote consumers go, their unsettled deliveries are requeued. */
  close(): void {
    const sinks = [...this.consumers.values()]
    this.consumers.clear()
    this.members.clear()
    for (const s of sinks) s.consumer.queue.removeConsumer(s.consumer)
    const touched = new Set<Queue>()
    for (const env of this.deliveries.values()) {
      env.queue.requeue(env)
      touched.add(env.queue)
    }
    this.deliveries.clear()
    for (const q of touched) q.scheduleDrain()
  }
}
