/**
 * This node's side of the link to one other node, as the stand-ins of that node's queues see it
 * (the HomePort of core/cluster/remote-queue.ts). It outlives link sessions: a reconnect gives it a
 * new session, and everything tied to the old one ends with it (pending requests are rejected with
 * RabbitMQ's home-node-down 404, consumers cancelled, unaccepted publishes nacked).
 *
 * Publishes: a message routed to several queues of the peer is staged while vhost.publish routes it
 * and leaves as ONE frame naming all of them, finished when the next frame or the tick's flush
 * comes. Settlements are batched per tick into one SETTLE frame per kind.
 */
import type { Logger } from 'pino'
import { RemoteAcceptance } from '../../core/cluster/remote-acceptance.js'
import {
  homeDown,
  RemoteConsumer,
  RemoteEnvelope,
  SETTLE_REQUEUE,
  type HomePort,
  type RemoteQueue,
} from '../../core/cluster/remote-queue.js'
import type { QueueCounts, QueueHome } from '../../core/cluster/placement.js'
import type { Consumer } from '../../core/consumer.js'
import { ChannelError, ConnectionError, isHardCode } from '../../core/errors.js'
import { memberRank } from '../../core/stream/consumer-group.js'
import { encodeTable } from '../../core/wire/field-table.js'
import type { Message } from '../../core/message.js'
import type { FlowWaiter, LaterGet } from '../../core/queue.js'
import { blockPool } from '../block-pool.js'
import { messageHeadLen, OP_COUNTS, OP_DELETE, OP_PURGE, Out, strLen, T, writeMessageHead, type In } from './link-codec.js'
import type { LinkSession } from './link.js'

/**
 * Forwarded publishes the home may leave unaccepted before this node pauses the publishers
 * routing to it (the home withholds acceptance while its queues hold the link back). Everything
 * unaccepted is also in the link's byte stream ahead of this node's acks and credit (one TCP
 * stream: they queue behind it), so the window is kept small: with 10,000 (~0.8 MB of 16-byte
 * messages waiting in socket buffers) an ack waited behind up to half a second of publishes and
 * the consumers' prefetch windows ran dry; 2,000 still covers the acceptance round trip
 * (bench/cluster.mjs --wrong-node: 0.55x → 0.82x of the right-node rate, same machine state).
 */
export const PUBLISH_WINDOW = 2_000

/** The same in bytes of PUBLISH frames (large messages), counted at flush granularity. */
export const PUBLISH_WINDOW_BYTES = 4 * 1024 * 1024

/** Credit of a consumer without a prefetch (or no-ack): deliveries in flight from the home. */
export const DEFAULT_CREDIT = 1000

/**
 * ms an operation on a queue of a live member waits for the link to that member to come up (it is
 * dialled when the member registers, so this covers start-up and reconnects) before the home counts
 * as down (RabbitMQ's 404).
 */
export const LINK_UP_WAIT_MS = 5000

interface Request {
  home: QueueHome
  resolve(v: unknown): void
  reject(err: Error): void
  /** basic.get: the stand-in and no-ack */
  q: RemoteQueue | null
  noAck: boolean
}

/** The home's error as this node's client must see it: a hard one (540 …) closes its connection. */
const homeError = (code: number, text: string): ChannelError | ConnectionError =>
  isHardCode(code) ? new ConnectionError(code, text) : new ChannelError(code, text)


export class LinkPeer implements HomePort {
  session: LinkSession | null = null
  private acceptance: RemoteAcceptance | null = null
  /** PUBLISH frames sent to this peer (one per message, whatever the number of its queues there) */
  publishFrames = 0
  /** times a publisher was paused for this peer (tests and figures) */
  throttled = 0
  private readonly consumers = new Map<number, RemoteConsumer>()
  private nextCid = 0
  private readonly requests = new Map<number, Request>()
  private nextRid = 0
  // the publish being staged
  private stagedMessage: Message | null = null
  private stagedVhost = ''
  private readonly stagedQueues: RemoteQueue[] = []
  private stagedSeq = 0
  // settlements of this tick, by kind
  private readonly settles: number[][] = [[], [], []]
  /** consumers with credit to send back this tick */
  private readonly owing: RemoteConsumer[] = []
  /** publishers paused while the link is congested */
  private blocked: Set<FlowWaiter> | null = null
  /** bytes of PUBLISH frames sent in this session, and of those the home accepted */
  private sentBytes = 0
  private acceptedBytes = 0
  /** per flush: the last sequence number and sentBytes then (acceptance is counted in bytes by these) */
  private readonly markSeq: number[] = []
  private readonly markBytes: number[] = []
  private markHead = 0

  constructor(
    readonly node: string,
    private readonly log: Logger,
  ) {}

  get up(): boolean {
    return this.session !== null && this.session.isUp
  }

  /** the peer is a live member: its link is up or being (re)made (set by the LinkManager) */
  get expected(): boolean {
    return this.member
  }
  set expected(live: boolean) {
    this.member = live
    if (!live) this.endWaits(new Error(`${this.node} is not a member`))
  }
  private member = false
  private upWaiters: { resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout }[] = []

  /** Resolves once the link is up; rejects when the peer leaves or the link stays down LINK_UP_WAIT_MS. */
  whenUp(): Promise<void> {
    if (this.up) return Promise.resolve()
    if (!this.member) return Promise.reject(new Error(`${this.node} is not a member`))
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.upWaiters = this.upWaiters.filter((x) => x !== w)
          reject(new Error(`no link to ${this.node} within ${LINK_UP_WAIT_MS} ms`))
        }, LINK_UP_WAIT_MS),
      }
      this.upWaiters.push(w)
    })
  }

  private endWaits(err: Error | null): void {
    const ws = this.upWaiters
    this.upWaiters = []
    for (const w of ws) {
      clearTimeout(w.timer)
      if (err === null) w.resolve()
      else w.reject(err)
    }
  }

  /** A new session is up: this peer's traffic goes over it. */
  attach(s: LinkSession): void {
    this.session = s
    this.acceptance = new RemoteAcceptance()
    this.sentBytes = this.acceptedBytes = this.markHead = 0
    this.markSeq.length = this.markBytes.length = 0
    this.endWaits(null)
  }

  get congested(): boolean {
    const s = this.session
    if (s === null) return false
    const a = this.acceptance!
    return !s.writable || a.lastSeq - a.durableSeq > PUBLISH_WINDOW || this.unacceptedBytes > PUBLISH_WINDOW_BYTES
  }

  /** Forwarded messages the home has not accepted yet (tests and figures). */
  get unaccepted(): number {
    const a = this.acceptance
    return a === null ? 0 : a.lastSeq - a.durableSeq
  }

  /** Bytes of PUBLISH frames not known to be accepted (whole flushes: an upper bound). */
  get unacceptedBytes(): number {
    return this.sentBytes - this.acceptedBytes
  }

  /** The session's tick-end flush: remembers how many bytes its publishes took (one mark per flush). */
  flushed(): void {
    const n = this.markBytes.length
    const last = n > this.markHead ? this.markBytes[n - 1] : this.acceptedBytes
    if (this.acceptance === null || this.sentBytes === last) return
    this.markSeq.push(this.acceptance.lastSeq)
    this.markBytes.push(this.sentBytes)
  }

  /** ACCEPTED up to `seq`: the flushes it covers whole count as accepted bytes. */
  private acceptedUpTo(seq: number): void {
    const ms = this.markSeq
    let h = this.markHead
    while (h < ms.length && ms[h] <= seq) this.acceptedBytes = this.markBytes[h++]
    if (h === ms.length) {
      ms.length = this.markBytes.length = 0
      h = 0
    } else if (h > 1024) {
      ms.splice(0, h)
      this.markBytes.splice(0, h)
      h = 0
    }
    this.markHead = h
  }

  throttle(publisher: FlowWaiter): void {
    this.blocked ??= new Set()
    if (this.blocked.has(publisher)) return
    this.blocked.add(publisher)
    this.throttled++
    publisher.blockFlow()
  }

  /** The socket drained or the home accepted more: paused publishers go on once neither holds them. */
  drained(): void {
    if (this.blocked !== null && !this.congested) this.resumeAll()
  }

  private resumeAll(): void {
    const b = this.blocked
    if (b === null) return
    this.blocked = null
    for (const p of b) p.resumeFlow()
  }

  /** The session ended: everything tied to it ends too. */
  detach(s: LinkSession, why: string): void {
    if (this.session !== s) return
    this.session = null
    this.resumeAll()
    this.stagedMessage = null
    this.stagedQueues.length = 0
    for (const a of this.settles) a.length = 0
    for (const rc of this.owing) rc.owed = 0
    this.owing.length = 0
    this.acceptance?.fail(new Error(`link to ${this.node} lost: ${why}`))
    this.acceptance = null
    const reqs = [...this.requests.values()]
    this.requests.clear()
    for (const r of reqs) r.reject(homeDown({ ...r.home, node: this.node }))
    const cs = [...this.consumers.values()]
    this.consumers.clear()
    for (const rc of cs) {
      rc.refuse(homeDown({ ...rc.queue.home, node: this.node }))
      rc.queue.cancelledAtHome(rc)
    }
  }

  // ---- HomePort ----------------------------------------------------------------------------------

  forward(q: RemoteQueue, message: Message): boolean {
    const s = this.session
    if (s === null || !s.isUp) return false
    // the message's block goes to the socket as it is: it must never go back to the pool for reuse
    blockPool.disown(message.data)
    if (this.stagedMessage === message && this.stagedVhost === q.vhost.name && !this.stagedQueues.includes(q)) {
      this.stagedQueues.push(q)
      return true
    }
    this.finishStaged()
    this.stagedMessage = message
    this.stagedVhost = q.vhost.name
    this.stagedQueues.push(q)
    this.stagedSeq = this.acceptance!.next()
    // the publisher's confirm (or tx.commit-ok) waits for the home's acceptance
    q.vhost.durableTouched.push(this.acceptance!)
    s.schedule()
    return true
  }

  consume(q: RemoteQueue, c: Consumer): RemoteConsumer {
    const rc = new RemoteConsumer(q, c, ++this.nextCid, this.session ?? this)
    const s = this.session
    if (s === null || !s.isUp) {
      rc.refuse(homeDown(q.home))
      setImmediate(() => q.cancelledAtHome(rc))
      return rc
    }
    this.consumers.set(rc.id, rc)
    const prefetch = c.noAck ? 0 : c.prefetch
    const credit = prefetch > 0 ? prefetch : DEFAULT_CREDIT
    const tag = c.tag
    const args = encodeTable(c.args)
    const o = new Out(T.CONSUME, 4 + strLen(q.vhost.name) + 2 + q.nameBytes.length + strLen(tag) + 4 + 4 + 1 + 4 + 4 + 4 + 8 + args.length)
    o.u32(rc.id).str(q.vhost.name).u16(q.nameBytes.length).bytes(q.nameBytes).str(tag).u32(prefetch).u32(credit)
    o.u8((c.noAck ? 1 : 0) | (c.exclusive ? 2 : 0)).i32(c.priority)
    // the channel's rank names it at the home too (unique on this node): its consumers there are one group member
    o.u32(c.prefetch).u32(c.sink.globalPrefetch ?? 0).f64(memberRank(c.sink)).bytes(args)
    this.send(o.buf)
    return rc
  }

  cancel(rc: RemoteConsumer): void {
    if (this.consumers.get(rc.id) !== rc) return
    this.consumers.delete(rc.id)
    if (rc.session === this.session) this.send(new Out(T.CANCEL, 4).u32(rc.id).buf)
  }

  credit(rc: RemoteConsumer, n: number): void {
    if (rc.session !== this.session || this.session === null || this.consumers.get(rc.id) !== rc) return
    // one CREDIT frame per consumer and tick
    if (rc.owed === 0) this.owing.push(rc)
    rc.owed += n
    this.session.schedule()
  }

  settle(env: RemoteEnvelope, how: number): void {
    if (env.session !== this.session || this.session === null) return
    this.settles[how].push(env.deliveryId)
    this.session.schedule()
  }

  get(q: RemoteQueue, noAck: boolean): Promise<LaterGet> {
    return new Promise<LaterGet>((resolve, reject) => {
      const rid = this.request({ home: q.home, resolve: resolve as (v: unknown) => void, reject, q, noAck })
      const o = new Out(T.GET, 4 + strLen(q.vhost.name) + 2 + q.nameBytes.length + 1)
      this.send(o.u32(rid).str(q.vhost.name).u16(q.nameBytes.length).bytes(q.nameBytes).u8(noAck ? 1 : 0).buf)
    })
  }

  /** counts / purge / delete at the home (RemoteQueueOps). */
  op(home: QueueHome, op: number, ifUnused = false, ifEmpty = false): Promise<[number, number]> {
    if (!this.up) {
      return this.whenUp().then(
        () => this.op(home, op, ifUnused, ifEmpty),
        () => Promise.reject(homeDown(home)),
      )
    }
    return new Promise<[number, number]>((resolve, reject) => {
      const rid = this.request({ home, resolve: resolve as (v: unknown) => void, reject, q: null, noAck: false })
      const o = new Out(T.OP, 4 + 1 + 1 + strLen(home.vhost) + strLen(home.name))
      this.send(o.u32(rid).u8(op).u8((ifUnused ? 1 : 0) | (ifEmpty ? 2 : 0)).str(home.vhost).str(home.name).buf)
    })
  }

  async counts(home: QueueHome): Promise<QueueCounts> {
    const [messageCount, consumerCount] = await this.op(home, OP_COUNTS)
    return { messageCount, consumerCount }
  }
  /** The counts of every queue living on the other node (one LIST request). */
  listCounts(): Promise<Map<string, QueueCounts>> {
    if (!this.up) return Promise.reject(new Error(`no link to ${this.node}`))
    return new Promise<Map<string, QueueCounts>>((resolve, reject) => {
      const home: QueueHome = { vhost: '', name: '', node: this.node, durable: false, autoDelete: false, exclusive: false, arguments: {} }
      const rid = this.request({ home, resolve: resolve as (v: unknown) => void, reject, q: null, noAck: false })
      this.send(new Out(T.LIST, 4).u32(rid).buf)
    })
  }
  async purge(home: QueueHome): Promise<number> {
    return (await this.op(home, OP_PURGE))[0]
  }
  async delete(home: QueueHome, ifUnused: boolean, ifEmpty: boolean): Promise<number> {
    return (await this.op(home, OP_DELETE, ifUnused, ifEmpty))[0]
  }

  private request(r: Request): number {
    const rid = ++this.nextRid
    this.requests.set(rid, r)
    return rid
  }

  // ---- output ------------------------------------------------------------------------------------

  /** Sends a frame after what is staged and batched, keeping the order things were asked in. */
  private send(buf: Buffer): void {
    this.flushPending()
    this.session?.send(buf)
  }

  /** Finishes the staged publish and this tick's settlements (also run before each flush). */
  flushPending(): void {
    this.finishStaged()
    const s = this.session
    if (s === null) return
    const owing = this.owing
    for (let k = 0; k < owing.length; k++) {
      const rc = owing[k]
      if (rc.session === s && this.consumers.get(rc.id) === rc) s.send(new Out(T.CREDIT, 8).u32(rc.id).u32(rc.owed).buf)
      rc.owed = 0
    }
    owing.length = 0
    for (let how = 0; how < 3; how++) {
      const ids = this.settles[how]
      if (ids.length === 0) continue
      const o = new Out(T.SETTLE, 1 + 4 + 4 * ids.length).u8(how).u32(ids.length)
      for (let i = 0; i < ids.length; i++) o.u32(ids[i])
      ids.length = 0
      s.send(o.buf)
    }
  }

  private finishStaged(): void {
    const m = this.stagedMessage
    if (m === null) return
    this.stagedMessage = null
    const qs = this.stagedQueues
    let len = 8 + strLen(this.stagedVhost) + 2
    for (let i = 0; i < qs.length; i++) len += 2 + qs[i].nameBytes.length
    const o = new Out(T.PUBLISH, len + messageHeadLen(m), m.data.length).f64(this.stagedSeq).str(this.stagedVhost).u16(qs.length)
    for (let i = 0; i < qs.length; i++) o.u16(qs[i].nameBytes.length).bytes(qs[i].nameBytes)
    writeMessageHead(o, m)
    qs.length = 0
    this.publishFrames++
    this.sentBytes += o.buf.length + m.data.length
    // the message's data is written as it is, not copied
    this.session?.send2(o.buf, m.data)
  }

  // ---- input -------------------------------------------------------------------------------------

  /** A frame answering this node's requests; false when the type is not one of those. */
  frame(type: number, i: In): boolean {
    switch (type) {
      case T.ACCEPTED: {
        const seq = i.f64()
        this.acceptance?.accepted(seq)
        this.acceptedUpTo(seq)
        this.drained()
        return true
      }
      case T.REFUSED:
        // a home queue refused it (reject-publish, a full disk): its publisher gets basic.nack
        this.acceptance?.refused(i.f64())
        return true
      case T.DELIVER: {
        const cid = i.u32()
        const did = i.u32()
        const redelivered = i.u8() === 1
        const m = i.message()
        const rc = this.consumers.get(cid)
        if (rc === undefined) {
          if (did !== 0) this.settles[SETTLE_REQUEUE].push(did)
          return true
        }
        rc.queue.received(rc, new RemoteEnvelope(m, rc.queue, did, this.session!, redelivered))
        return true
      }
      case T.CONSUME_OK:
        this.consumers.get(i.u32())?.open()
        return true
      case T.CONSUME_ERR: {
        const rc = this.consumers.get(i.u32())
        const code = i.u16()
        const text = i.str()
        if (rc === undefined) return true
        this.consumers.delete(rc.id)
        // the channel's basic.consume fails with the home's error
        rc.queue.refusedAtHome(rc)
        rc.refuse(homeError(code, text))
        return true
      }
      case T.CANCELLED: {
        const rc = this.consumers.get(i.u32())
        if (rc === undefined) return true
        this.consumers.delete(rc.id)
        rc.queue.cancelledAtHome(rc)
        return true
      }
      case T.GET_OK:
      case T.GET_EMPTY: {
        const r = this.answer(i.u32())
        if (r === undefined) return true
        if (type === T.GET_EMPTY) {
          r.q!.stats.getEmpty++
          r.resolve({ env: undefined, messageCount: i.u32() })
          return true
        }
        const did = i.u32()
        const redelivered = i.u8() === 1
        const messageCount = i.u32()
        const env = new RemoteEnvelope(i.message(), r.q!, did, this.session!, redelivered)
        r.q!.gotten(env, r.noAck)
        r.resolve({ env, messageCount })
        return true
      }
      case T.OP_OK: {
        const r = this.answer(i.u32())
        r?.resolve([i.u32(), i.u32()])
        return true
      }
      case T.LIST_OK: {
        const r = this.answer(i.u32())
        const counts = new Map<string, QueueCounts>()
        for (let n = i.u32(); n > 0; n--) {
          const key = `${i.str()}\u0000${i.str()}`
          counts.set(key, { messageCount: i.u32(), unackedCount: i.u32(), consumerCount: i.u32() })
        }
        r?.resolve(counts)
        return true
      }
      case T.OP_ERR: {
        const r = this.answer(i.u32())
        const code = i.u16()
        const text = i.str()
        r?.reject(homeError(code, text))
        return true
      }
      default:
        return false
    }
  }

  private answer(rid: number): Request | undefined {
    const r = this.requests.get(rid)
    this.requests.delete(rid)
    return r
  }
}
