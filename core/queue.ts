/**
 * A queue: ready messages in delivery order, consumers served within their prefetch windows, and the
 * bookkeeping for unacknowledged deliveries. Delivery is push-based: whatever makes delivery possible
 * (a publish, an ack, a new consumer, a drained socket) calls `drain()`. Queue arguments (TTL, length
 * limits, dead-lettering, delivery limit, priorities, single active consumer) are applied here.
 */
import type { BacklogAlert, BacklogSource } from './backlog.js'
import type { Consumer } from './consumer.js'
import { queueDedupHeader } from './dedup/dedup-settings.js'
import { QueueDedup } from './dedup/queue-dedup.js'
import { deadLetter, type DeathReason } from './dead-letter.js'
import type { Binding } from './exchange.js'
import type { Message } from './message.js'
import { DELIVERED, GONE, MAX_TIMER, QueueExpiry, READY } from './queue-expiry.js'
import { mergeDefinitions, type Policy } from './policies.js'
import { effectiveTtl, queueSettings, type QueueSettings } from './queue-settings.js'
import { FifoList, PriorityList, type ReadyList } from './ready-list.js'
import { storeCannotWrite } from './store/segment-log.js'
import type { StoredList } from './store/stored-list.js'
import type { TraceOrigin } from './trace.js'
import type { FieldTable } from './wire/field-table.js'
import { editProperties } from './wire/property-edit.js'
import type { VHost } from './vhost.js'

/** A message's place in one queue: per-queue delivery state around a shared Message. */
export class Envelope {
  redelivered = false
  /** times the message was returned to this queue (x-delivery-count) */
  deliveryCount = 0
  /** consumer holding it unacked (null when ready, or fetched with basic.get) */
  consumer: Consumer | null = null
  /** when it was last delivered (consumer acknowledgement timeout) */
  deliveredAt = 0
  /** READY, DELIVERED or GONE (expired while queued: a tombstone in the ready list) */
  state = READY
  /** location in the queue's message store (durable queues), -1 when not stored or settled */
  ref = -1

  constructor(
    /** the message as this queue delivers it (may gain x-delivery-count on redelivery) */
    public message: Message,
    readonly queue: Queue,
    /** order of arrival in this queue; requeued messages go back by it */
    readonly seq: number,
    /** absolute expiry time in ms, or 0 for none */
    readonly expiresAt: number,
  ) {}

  get priority(): number {
    return this.message.priority
  }
}

export interface QueueOptions {
  durable: boolean
  autoDelete: boolean
  /** the connection that owns an exclusive queue, or null */
  exclusiveOwner: object | null
  arguments: FieldTable
}

/** A basic.get answered later: the message (undefined when empty) and the queue's count after it. */
export interface LaterGet {
  env: Envelope | undefined
  messageCount: number
}

/** Largest number of messages one drain pass delivers before yielding to I/O. */
const DRAIN_BUDGET = 2048

/**
 * Flow control (RabbitMQ's credit flow, simplified): a publisher whose message lands in a queue
 * holding more than FLOW_HIGH ready messages while its consumers are actively taking messages is
 * paused until the queue is back under FLOW_LOW. Without it one fast publisher starves the
 * consumers on the same event loop and the queue grows without bound.
 */
// below the depth at which a transient queue starts paging to disk (store/paged-list.ts, 10,000
// messages): a queue whose consumers keep up only slower than its publisher should throttle the
// publisher, not page (S1 at 20,000 paged and ran at ~55% of its unpaged rate)
const FLOW_HIGH = 8_000
/** callers skip throttle() below this depth (cheap pre-check on the publish path) */
export const FLOW_CHECK = FLOW_HIGH
const FLOW_LOW = 4_000
/**
 * The same in body bytes, for large messages: FLOW_HIGH messages of 1 MiB would be 8 GB. Kept below
 * the point where a transient queue starts paging to disk (store/paged-list.ts, 64 MiB), so a
 * publisher that merely outpaces active consumers is slowed down rather than paged out.
 */
const FLOW_HIGH_BYTES = 32 * 1024 * 1024
export const FLOW_CHECK_BYTES = FLOW_HIGH_BYTES
const FLOW_LOW_BYTES = 16 * 1024 * 1024
/** consumers that took nothing for this long are not "active": the backlog is then just a backlog */
const FLOW_ACTIVE_MS = 1000

/** A publisher that can be paused by queue flow control (the transport's Connection). */
export interface FlowWaiter {
  blockFlow(): void
  resumeFlow(): void
}

export class Queue implements BacklogSource {
  readonly kind = 'queue' as const
  /** what arguments and policies ask for; replaced (never mutated) when the policies change */
  settings: QueueSettings
  /** the policy and operator policy that apply (rabbit_policy:match), or null */
  policy: Policy | null = null
  operatorPolicy: Policy | null = null
  /**
   * The message TTL changed while the queue lived: expiry times no longer grow along the queue,
   * so every message with a TTL is tracked in the expiry heap (queue-expiry.ts), not only at the head.
   */
  private ttlChanged = false
  readonly ready: ReadyList<Envelope>
  /** the queue's message store(s) (core/store/stored-list.ts), or null for an in-memory queue */
  readonly store: StoredList | null
  /** x-message-deduplication: the keys of the messages in the queue (core/dedup/queue-dedup.ts), or null */
  readonly dedup: QueueDedup | null
  /** consumers, highest x-priority first, registration order within a priority */
  readonly consumers: Consumer[] = []
  /** bindings leading to this queue, by binding id */
  readonly incoming = new Map<string, Binding>()
  unackedCount = 0
  /** body bytes of the delivered, unacknowledged messages (RabbitMQ message_bytes_unacknowledged) */
  unackedBytes = 0
  readyBytes = 0
  /** set once the queue is deleted; late acks and requeues are then dropped */
  deleted = false
  /** counters sampled for management rates */
  readonly stats = { publish: 0, deliver: 0, deliverNoAck: 0, get: 0, getNoAck: 0, getEmpty: 0, ack: 0, redeliver: 0, deadLettered: 0 }
  /** last time the queue was used (consume, get, declare), for x-expires */
  lastUsed = Date.now()
  /** backlog alert thresholds (core/backlog.ts), null when none are set */
  backlogAlert: BacklogAlert | null = null

  private nextSeq = 0
  private rr = 0
  /** @internal expired envelopes still sitting in the ready list (queue-expiry.ts) */
  tombstones = 0
  private draining = false
  private drainScheduled = false
  private hadConsumers = false
  private samePriority = true
  private lastDeliveryAt = 0
  private flowWaiters: Set<FlowWaiter> | null = null
  private flowTimer: NodeJS.Timeout | null = null
  /** message TTL: the expiry heaps and timer (queue-expiry.ts) */
  private readonly expiry = new QueueExpiry(this)
  private expiresTimer: NodeJS.Timeout | null = null
  private readonly drainLater = (): void => {
    this.drainScheduled = false
    this.guard(() => this.drain())
  }

  constructor(
    readonly vhost: VHost,
    readonly name: string,
    readonly options: QueueOptions,
  ) {
    ;[this.policy, this.operatorPolicy] = vhost.matchPolicies(this)
    this.settings = queueSettings(options.arguments, mergeDefinitions(this.policy, this.operatorPolicy))
    const dedupHeader = queueDedupHeader(options.arguments)
    this.dedup = dedupHeader === null ? null : new QueueDedup(dedupHeader)
    this.store = this.openStore()
    this.ready = this.store ?? (this.settings.maxPriority > 0 ? new PriorityList(this.settings.maxPriority) : new FifoList())
    if (this.store !== null && this.store.length > 0) this.recovered(this.store)
    if (this.settings.expires > 0) this.armExpires()
  }

  /** The queue's store: none for a stream (it keeps its own log) nor a stand-in (core/cluster/remote-queue.ts). */
  protected openStore(): StoredList | null {
    return this.settings.type === 'stream' ? null : (this.vhost.storage?.openQueueStore(this) ?? null)
  }

  /**
   * Messages recovered from disk: TTLs still count from their enqueue time, so re-arm expiry now
   * (after the boot replay: a dead-letter target may be declared later in it). Messages that
   * can expire out of queue order go in the heap, as they do when published.
   */
  private recovered(store: StoredList): void {
    this.readyBytes = store.readyBytes
    // a deduplicating queue's window is its content: read the recovered messages' keys back
    if (this.dedup !== null) for (let at = 0; at < store.length; at += 512) for (const env of store.page(at, 512)) this.dedup.restore(env.message)
    const expiring = store.recoverExpiring()
    for (const env of expiring) this.expiry.track(env)
    if (expiring.length > 0 || this.settings.messageTtl >= 0) this.expiry.arm(Date.now())
  }

  get durable(): boolean {
    return this.options.durable
  }
  get exclusive(): boolean {
    return this.options.exclusiveOwner !== null
  }
  get autoDelete(): boolean {
    return this.options.autoDelete
  }
  get arguments(): FieldTable {
    return this.options.arguments
  }
  /** ready messages (declare-ok's message-count) */
  get messageCount(): number {
    return this.ready.length - this.tombstones
  }
  get consumerCount(): number {
    return this.consumers.length
  }

  // ---- backlog figures (core/backlog.ts), read by the management sampler ---------------------

  get backlogDepth(): number {
    return this.messageCount + this.unackedCount
  }
  get backlogBytes(): number {
    return this.readyBytes
  }
  get backlogIn(): number {
    return this.stats.publish
  }
  get backlogOut(): number {
    const s = this.stats
    return s.ack + s.deliverNoAck + s.getNoAck
  }
  /** The head's arrival time: a message's timestamp is when it entered this queue's store, or its publish time. */
  backlogOldest(): number {
    return this.messageCount === 0 ? -1 : (this.ready.peek()?.message.timestamp ?? -1)
  }
  /** the consumer that receives when x-single-active-consumer is on */
  get activeConsumer(): Consumer | undefined {
    return this.settings.singleActiveConsumer ? this.consumers[0] : undefined
  }

  // ---- enqueue ------------------------------------------------------------------------------

  /**
   * Enqueues a routed message and delivers it if a consumer has room. Returns false when the queue
   * refused it (x-overflow reject-publish / reject-publish-dlx at the length limit).
   */
  push(message: Message): boolean {
    const s = this.settings
    const size = message.bodySize
    if (s.overflow !== 'drop-head' && this.full(size)) {
      if (s.overflow === 'reject-publish-dlx') this.deadLetterMessage(message, 'maxlen')
      return false
    }
    const qttl = s.messageTtl
    const mttl = message.ttl
    const ttl = mttl >= 0 && (qttl < 0 || mttl < qttl) ? mttl : qttl
    // a TTL counts from when the message entered this queue (RabbitMQ: also at a tx.commit)
    const now = ttl >= 0 ? Date.now() : 0
    // x-message-deduplication: a duplicate of a message in the queue is dropped, yet counts as taken
    if (this.dedup !== null && !this.dedup.admit(message)) {
      // its confirm must not overtake the durability of the message it duplicates
      if (this.durable && this.store !== null && message.persistent) this.awaitStores()
      return true
    }
    const env = new Envelope(message, this, this.nextSeq++, ttl >= 0 ? now + ttl : 0)
    try {
      this.ready.push(env)
    } catch (err) {
      this.dedup?.forget(message)
      // the queue's store cannot write (a full disk): refused like reject-publish, so a publisher
      // in confirm mode gets basic.nack; the connection lives on, and the store reopens by itself
      if (!storeCannotWrite(err)) throw err
      this.vhost.warnOnce(`store-unavailable:${this.name}`, { queue: this.name, err }, 'queue store cannot write: publishes refused until it recovers')
      return false
    }
    this.readyBytes += size
    this.stats.publish++
    if (ttl >= 0) {
      // a message's own, shorter TTL can expire before messages ahead of it, and in a priority queue
      // the head is not the oldest message: track it in the heap
      if ((ttl === mttl && ttl !== qttl) || s.maxPriority > 0 || this.ttlChanged) this.expiry.track(env)
      this.expiry.arm(env.expiresAt)
    }
    // drained as of the enqueue time: a TTL 0 message goes to a ready consumer instead of expiring
    if (this.consumers.length > 0) this.drain(ttl >= 0 ? now : Date.now())
    // after delivery (RabbitMQ deliver_or_enqueue): only a message left waiting counts for drop-head
    if (s.maxLength >= 0 || s.maxLengthBytes >= 0) this.dropHeadOverflow()
    return true
  }

  /** The publish in progress waits for this queue's stores to sync what they hold (a duplicate's confirm). */
  private awaitStores(): void {
    for (const st of this.store!.messageStores()) if (st.durableSeq < st.lastSeq) this.vhost.durableTouched.push(st)
  }

  private full(size: number): boolean {
    const s = this.settings
    return (s.maxLength >= 0 && this.messageCount >= s.maxLength) || (s.maxLengthBytes >= 0 && this.readyBytes + size > s.maxLengthBytes)
  }

  /** x-overflow drop-head: the oldest ready messages make room (dead-lettered with reason maxlen). */
  private dropHeadOverflow(): void {
    const s = this.settings
    while (
      (s.maxLength >= 0 && this.messageCount > s.maxLength) ||
      (s.maxLengthBytes >= 0 && this.readyBytes > s.maxLengthBytes && this.messageCount > 0)
    ) {
      const env = this.ready.shiftOldest()
      if (env === undefined) break
      if (env.state === GONE) {
        this.tombstones--
        continue
      }
      this.removeReady(env)
      this.unstore(env)
      this.deadLetterMessage(env.message, 'maxlen')
    }
  }

  // ---- delivery -----------------------------------------------------------------------------

  /** basic.get: takes the head message, or undefined when empty. `origin` names the getter in the firehose. */
  get(noAck: boolean, origin: TraceOrigin | null = null): Envelope | undefined {
    this.lastUsed = Date.now()
    const env = this.takeReady(this.lastUsed)
    if (env === undefined) {
      this.stats.getEmpty++
      return undefined
    }
    this.stats.get++
    if (noAck) this.stats.getNoAck++
    if (env.redelivered) this.stats.redeliver++
    env.deliveredAt = this.lastUsed
    if (!noAck) {
      this.unackedCount++
      this.unackedBytes += env.message.bodySize
    } else {
      env.state = GONE
      this.unstore(env)
    }
    if (this.vhost.tracer !== null) this.vhost.tracer.delivered(this, env, origin)
    return env
  }

  /**
   * Gives `env` to consumer `c`: its delivery time, the delivery counters, unacked accounting when
   * `c` acks, and the sink. The one place a delivery is counted, for local queues and for stand-ins
   * of queues on other nodes (core/cluster/remote-queue.ts).
   */
  protected handOut(env: Envelope, c: Consumer, now: number): void {
    env.deliveredAt = now
    if (c.noAck) this.stats.deliverNoAck++
    else {
      this.unackedCount++
      this.unackedBytes += env.message.bodySize
      c.unacked++
      env.consumer = c
    }
    this.stats.deliver++
    if (env.redelivered) this.stats.redeliver++
    c.delivered++
    c.sink.deliver(c, env)
  }

  /** Delivers ready messages to consumers with room, at most DRAIN_BUDGET per pass. */
  drain(now = Date.now()): void {
    if (this.draining || this.deleted) return
    this.draining = true
    let budget = DRAIN_BUDGET
    try {
      while (this.ready.length > this.tombstones && budget-- > 0) {
        const c = this.nextConsumer()
        if (c === undefined) return
        const env = this.takeReady(now)
        if (env === undefined) return
        if (c.noAck) {
          env.state = GONE
          this.unstore(env)
        }
        this.handOut(env, c, now)
        if (this.vhost.tracer !== null) this.vhost.tracer.delivered(this, env, c.sink)
      }
      if (budget < 0 && this.ready.length > this.tombstones) this.scheduleDrain()
    } finally {
      this.draining = false
      if (budget < DRAIN_BUDGET - 1) this.lastDeliveryAt = now
      if (this.flowWaiters !== null && this.belowFlowLow()) this.releaseFlow()
    }
  }

  /** Runs drain on the next turn of the event loop (coalesced). */
  scheduleDrain(): void {
    if (this.drainScheduled || this.deleted) return
    this.drainScheduled = true
    setImmediate(this.drainLater)
  }

  /** Next ready message, dead-lettering expired ones on the way. */
  private takeReady(now: number): Envelope | undefined {
    for (;;) {
      const env = this.ready.shift()
      if (env === undefined) return undefined
      if (env.state === GONE) {
        this.tombstones--
        continue
      }
      this.removeReady(env)
      if (env.expiresAt !== 0 && env.expiresAt < now) {
        this.unstore(env)
        this.deadLetterMessage(env.message, 'expired')
        continue
      }
      return env
    }
  }

  /** A message left the queue for good: delete it from the store (durably). */
  private unstore(env: Envelope): void {
    if (this.dedup !== null) this.dedup.forget(env.message)
    if (env.ref < 0 || this.store === null) return
    this.store.ack(env)
    env.ref = -1
  }

  /**
   * Builds the envelope of a message read back from a store: its timestamp there is when it
   * entered this queue (the TTL counts from it), and `deliveryCount` the returns recorded for it.
   */
  restoreEnvelope(message: Message, ref: number, redelivered: boolean, deliveryCount = 0): Envelope {
    const ttl = effectiveTtl(this.settings.messageTtl, message.ttl)
    if (deliveryCount > 0 && this.settings.trackDeliveryCount) message = withDeliveryCount(message, deliveryCount)
    const env = new Envelope(message, this, ref, ttl >= 0 ? message.timestamp + ttl : 0)
    env.redelivered = redelivered
    env.deliveryCount = deliveryCount
    return env
  }

  private removeReady(env: Envelope): void {
    env.state = DELIVERED
    this.readyBytes -= env.message.bodySize
  }

  private nextConsumer(): Consumer | undefined {
    const cs = this.consumers
    const n = cs.length
    if (n === 0) return undefined
    if (this.settings.singleActiveConsumer) {
      const c = cs[0]
      return c.sink.canDeliver(c) ? c : undefined
    }
    if (this.samePriority) return this.roundRobin(0, n)
    // consumer priorities: a lower priority gets messages only while every higher one is full
    let i = 0
    while (i < n) {
      let j = i + 1
      while (j < n && cs[j].priority === cs[i].priority) j++
      const c = this.roundRobin(i, j)
      if (c !== undefined) return c
      i = j
    }
    return undefined
  }

  /** Round-robin among consumers[from, to). */
  private roundRobin(from: number, to: number): Consumer | undefined {
    const cs = this.consumers
    const size = to - from
    for (let k = 0; k < size; k++) {
      const c = cs[from + (this.rr++ % size)]
      if (c.sink.canDeliver(c)) return c
    }
    return undefined
  }

  // ---- settlement ---------------------------------------------------------------------------

  /** A delivered message was acknowledged. */
  settle(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    env.state = GONE
    if (this.deleted) return
    this.unstore(env)
    this.unackedCount--
    this.unackedBytes -= env.message.bodySize
    this.stats.ack++
  }

  /** A delivered message was rejected without requeue: dead-letter it with reason rejected. */
  reject(env: Envelope): void {
    this.settle(env)
    if (!this.deleted) this.deadLetterMessage(env.message, 'rejected')
  }

  /**
   * A delivered message goes back to the queue, ahead of newer ones, marked redelivered. Past the
   * delivery limit it is dead-lettered instead (reason delivery_limit).
   */
  requeue(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    if (this.deleted) {
      env.state = GONE
      return
    }
    this.unackedCount--
    this.unackedBytes -= env.message.bodySize
    env.deliveryCount++
    const s = this.settings
    if (s.deliveryLimit >= 0 && env.deliveryCount > s.deliveryLimit) {
      env.state = GONE
      this.unstore(env)
      this.deadLetterMessage(env.message, 'delivery_limit')
      return
    }
    if (s.trackDeliveryCount) env.message = withDeliveryCount(env.message, env.deliveryCount)
    env.redelivered = true
    env.state = READY
    this.ready.requeue(env)
    this.readyBytes += env.message.bodySize
    if (env.expiresAt !== 0) {
      if (env.message.ttl >= 0 || this.settings.maxPriority > 0 || this.ttlChanged) this.expiry.track(env)
      this.expiry.arm(env.expiresAt)
    }
  }

  private deadLetterMessage(message: Message, reason: DeathReason): void {
    this.stats.deadLettered++
    deadLetter(this, message, reason)
  }

  // ---- expiry (queue-expiry.ts) ---------------------------------------------------------------

  /**
   * @internal A ready message expired: taken from the head (`inPlace` false) or expired where it
   * sits (already deleted from the store by the list). Dead-lettered with reason expired.
   */
  dropExpired(env: Envelope, inPlace: boolean): void {
    this.removeReady(env)
    env.state = GONE
    if (!inPlace) this.unstore(env)
    else if (this.dedup !== null) this.dedup.forget(env.message)
    this.deadLetterMessage(env.message, 'expired')
    if (this.flowWaiters !== null && this.belowFlowLow()) this.releaseFlow()
  }

  /**
   * New policies apply at once (rabbit_amqqueue_process:process_args_policy): the new settings
   * replace the old; a lower max-length drops the oldest messages now (drop-head only, as
   * maybe_drop_head), expires restarts its timer, and a changed message TTL applies to messages
   * enqueued from now on (RabbitMQ keeps the expiry each message got when it was enqueued).
   */
  applyPolicies(policy: Policy | null, operatorPolicy: Policy | null): void {
    this.policy = policy
    this.operatorPolicy = operatorPolicy
    const old = this.settings
    const s = queueSettings(this.options.arguments, mergeDefinitions(policy, operatorPolicy))
    this.settings = s
    if (s.messageTtl !== old.messageTtl && old.messageTtl >= 0) this.ttlChanged = true
    if (s.expires !== old.expires) {
      if (this.expiresTimer !== null) clearTimeout(this.expiresTimer)
      this.expiresTimer = null
      if (s.expires > 0) this.armExpires()
    }
    if (s.overflow === 'drop-head' && (s.maxLength >= 0 || s.maxLengthBytes >= 0)) this.dropHeadOverflow()
    this.scheduleDrain()
  }

  /** x-expires: delete the queue once unused (no consumers, no get, no redeclare) for that long. */
  protected armExpires(): void {
    const ms = this.settings.expires
    const wait = Math.max(0, this.lastUsed + ms - Date.now())
    this.expiresTimer = setTimeout(() => {
      this.expiresTimer = null
      if (this.deleted) return
      if (this.consumers.length === 0 && Date.now() - this.lastUsed >= ms) {
        this.vhost.log.info({ queue: this.name }, 'queue expired (x-expires), deleting')
        this.vhost.removeQueue(this)
      } else this.armExpires()
    }, Math.min(MAX_TIMER, wait + 1))
    this.expiresTimer.unref()
  }

  // ---- flow control -------------------------------------------------------------------------

  /** Called after a publish put this queue over FLOW_HIGH (or FLOW_HIGH_BYTES): pauses the publisher if consumers are active. */
  throttle(publisher: FlowWaiter): void {
    if ((this.messageCount <= FLOW_HIGH && this.readyBytes <= FLOW_HIGH_BYTES) || this.consumers.length === 0) return
    if (Date.now() - this.lastDeliveryAt > FLOW_ACTIVE_MS) return
    if (this.flowWaiters === null) {
      this.flowWaiters = new Set()
      // consumers may stall while publishers wait: re-check so nobody waits on an idle queue
      this.flowTimer = setInterval(() => {
        if (this.consumers.length === 0 || Date.now() - this.lastDeliveryAt > FLOW_ACTIVE_MS) this.releaseFlow()
      }, 250)
      this.flowTimer.unref()
    }
    if (!this.flowWaiters.has(publisher)) {
      this.flowWaiters.add(publisher)
      publisher.blockFlow()
    }
  }

  private belowFlowLow(): boolean {
    return this.messageCount < FLOW_LOW && this.readyBytes < FLOW_LOW_BYTES
  }

  /** Resumes every publisher this queue paused. */
  releaseFlow(): void {
    const waiters = this.flowWaiters
    if (waiters === null) return
    this.flowWaiters = null
    if (this.flowTimer !== null) clearInterval(this.flowTimer)
    this.flowTimer = null
    for (const w of waiters) w.resumeFlow()
  }

  // ---- consumers and lifecycle --------------------------------------------------------------

  /**
   * basic.get whose answer comes later (a stand-in for a queue on another node,
   * core/cluster/remote-queue.ts); null: answer now with get().
   */
  getLater(_noAck: boolean): Promise<LaterGet> | null {
    return null
  }

  /**
   * basic.consume whose consume-ok waits for another node (a stand-in); null: add the consumer now.
   * When the promise resolves the channel sends consume-ok and calls addConsumer.
   */
  consumeLater(_c: Consumer): Promise<void> | null {
    return null
  }

  /** Throws when the queue cannot be used now (a stand-in whose home node is down); none here. */
  checkAvailable(): void {}

  /** basic.consume checks of the queue type (a stream's need a prefetch and acks); none here. */
  checkConsume(_noAck: boolean, _prefetch: number, _globalPrefetch: number, _args: FieldTable): void {}

  addConsumer(c: Consumer): void {
    // keep highest priority first, registration order within a priority; with a single active
    // consumer, registration order only: a newcomer must not take over while the active one still
    // holds unacknowledged messages (ordering)
    let i = this.consumers.length
    if (!this.settings.singleActiveConsumer) while (i > 0 && this.consumers[i - 1].priority < c.priority) i--
    this.consumers.splice(i, 0, c)
    this.samePriority = this.consumers.every((x) => x.priority === this.consumers[0].priority)
    this.hadConsumers = true
    this.lastUsed = Date.now()
    this.scheduleDrain()
  }

  /** Removes a consumer; an auto-delete queue goes when its last consumer does (RabbitMQ). */
  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c)
    if (i < 0) return
    this.consumers.splice(i, 1)
    this.samePriority = this.consumers.every((x) => x.priority === this.consumers[0].priority)
    this.lastUsed = Date.now()
    if (this.consumers.length === 0) this.releaseFlow()
    if (this.consumers.length === 0 && this.hadConsumers && this.options.autoDelete && !this.deleted) {
      this.vhost.removeQueue(this)
      return
    }
    // single active consumer: the next one takes over
    if (i === 0 && this.consumers.length > 0) this.scheduleDrain()
  }

  /** Drops every ready message; returns how many. Unacked messages stay with their consumers. */
  purge(): number {
    const n = this.messageCount
    // a store-backed list would read every message back to iterate: only its in-memory ones need marking
    for (const env of this.store === null ? this.ready : this.store.pinnedEnvelopes()) env.state = GONE
    this.ready.clear()
    this.expiry.clear()
    this.dedup?.clear()
    this.tombstones = 0
    this.readyBytes = 0
    this.releaseFlow()
    return n
  }

  /** Marks the queue deleted and cancels its consumers. Called by the vhost. */
  destroy(): number {
    // the vhost destroys the store files: acking every message first would be wasted writes
    if (this.store !== null) this.store.detached = true
    const n = this.purge()
    this.deleted = true
    this.expiry.stop()
    if (this.expiresTimer !== null) clearTimeout(this.expiresTimer)
    const consumers = this.consumers.splice(0)
    for (const c of consumers) c.sink.cancelledByServer(c)
    return n
  }

  /** @internal Runs a deferred step; a fault there has no client request to blame, so log it, never crash. */
  guard(step: () => void): void {
    try {
      step()
    } catch (err) {
      this.vhost.log.error({ err, queue: this.name }, 'internal error in queue')
    }
  }
}

/** The message with its x-delivery-count header set to `n` (quorum queues, delivery limits). */
function withDeliveryCount(m: Message, n: number): Message {
  return m.withProperties(editProperties(m.props, { setHeaders: { 'x-delivery-count': n } }))
}
