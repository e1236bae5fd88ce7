/**
 * A queue: ready messages in FIFO order, consumers served round-robin within their prefetch windows,
 * and the bookkeeping for unacknowledged deliveries. Delivery is push-based: whatever makes delivery
 * possible (a publish, an ack, a new consumer, a drained socket) calls `drain()`.
 */
import { Deque } from './deque.js'
import type { Consumer } from './consumer.js'
import type { Binding } from './exchange.js'
import type { Message } from './message.js'
import type { FieldTable } from './wire/field-table.js'
import type { VHost } from './vhost.js'

/** A message's place in one queue: per-queue delivery state around a shared Message. */
export class Envelope {
  redelivered = false
  /** times the message was returned to this queue (x-delivery-count) */
  deliveryCount = 0
  /** consumer holding it unacked (null when ready, or fetched with basic.get) */
  consumer: Consumer | null = null

  constructor(
    readonly message: Message,
    readonly queue: Queue,
    /** order of arrival in this queue; requeued messages go back by it */
    readonly seq: number,
    /** absolute expiry time in ms, or 0 for none */
    public expiresAt: number,
  ) {}
}

export interface QueueOptions {
  durable: boolean
  autoDelete: boolean
  /** the connection that owns an exclusive queue, or null */
  exclusiveOwner: object | null
  arguments: FieldTable
}

/** Largest number of messages one drain pass delivers before yielding to I/O. */
const DRAIN_BUDGET = 2048

/**
 * Flow control (RabbitMQ's credit flow, simplified): a publisher whose message lands in a queue
 * holding more than FLOW_HIGH ready messages while its consumers are actively taking messages is
 * paused until the queue is back under FLOW_LOW. Without it one fast publisher starves the
 * consumers on the same event loop and the queue grows without bound.
 */
const FLOW_HIGH = 20_000
/** callers skip throttle() below this depth (cheap pre-check on the publish path) */
export const FLOW_CHECK = FLOW_HIGH
const FLOW_LOW = 10_000
/** consumers that took nothing for this long are not "active": the backlog is then just a backlog */
const FLOW_ACTIVE_MS = 1000

/** A publisher that can be paused by queue flow control (the transport's Connection). */
export interface FlowWaiter {
  blockFlow(): void
  resumeFlow(): void
}

export class Queue {
  readonly kind = 'queue' as const
  readonly ready = new Deque<Envelope>(64)
  readonly consumers: Consumer[] = []
  /** bindings leading to this queue, by binding id */
  readonly incoming = new Map<string, Binding>()
  unackedCount = 0
  readyBytes = 0
  /** set once the queue is deleted; late acks and requeues are then dropped */
  deleted = false
  /** counters sampled for management rates */
  readonly stats = { publish: 0, deliver: 0, deliverNoAck: 0, get: 0, ack: 0, redeliver: 0 }
  /** last time the queue was used (consume, get, declare), for x-expires */
  lastUsed = Date.now()

  private nextSeq = 0
  private rr = 0
  private lastDeliveryAt = 0
  private flowWaiters: Set<FlowWaiter> | null = null
  private flowTimer: NodeJS.Timeout | null = null
  private draining = false
  private drainScheduled = false
  private hadConsumers = false
  private readonly drainLater = (): void => {
    this.drainScheduled = false
    try {
      this.drain()
    } catch (err) {
      // a fault here has no client request to blame: log it, never let it take the process down
      this.vhost.log.error({ err, queue: this.name }, 'internal error while delivering')
    }
  }

  constructor(
    readonly vhost: VHost,
    readonly name: string,
    readonly options: QueueOptions,
  ) {}

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
  get messageCount(): number {
    return this.ready.length
  }
  get consumerCount(): number {
    return this.consumers.length
  }

  /** Enqueues a routed message and delivers it if a consumer has room. */
  push(message: Message): void {
    const ttl = message.ttl
    const env = new Envelope(message, this, this.nextSeq++, ttl >= 0 ? message.timestamp + ttl : 0)
    this.ready.push(env)
    this.readyBytes += message.bodySize
    this.stats.publish++
    if (this.consumers.length > 0) this.drain()
  }

  /** basic.get: takes the head message, or undefined when empty. */
  get(noAck: boolean): Envelope | undefined {
    this.lastUsed = Date.now()
    const env = this.takeReady()
    if (!env) return undefined
    this.stats.get++
    if (!noAck) this.unackedCount++
    return env
  }

  /** Delivers ready messages to consumers with room, round-robin, at most DRAIN_BUDGET per pass. */
  drain(): void {
    if (this.draining || this.deleted) return
    this.draining = true
    let budget = DRAIN_BUDGET
    try {
      while (this.ready.length > 0 && budget-- > 0) {
        const c = this.nextConsumer()
        if (c === undefined) return
        const env = this.takeReady()
        if (env === undefined) return
        if (c.noAck) this.stats.deliverNoAck++
        else {
          this.unackedCount++
          c.unacked++
          env.consumer = c
        }
        this.stats.deliver++
        if (env.redelivered) this.stats.redeliver++
        c.delivered++
        c.sink.deliver(c, env)
      }
      if (budget < 0 && this.ready.length > 0) this.scheduleDrain()
    } finally {
      this.draining = false
      if (budget < DRAIN_BUDGET - 1) this.lastDeliveryAt = Date.now()
      if (this.flowWaiters !== null && this.ready.length < FLOW_LOW) this.releaseFlow()
    }
  }

  /** Called after a publish put this queue over FLOW_HIGH: pauses the publisher if consumers are active. */
  throttle(publisher: FlowWaiter): void {
    if (this.ready.length <= FLOW_HIGH || this.consumers.length === 0) return
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

  /** Resumes every publisher this queue paused. */
  releaseFlow(): void {
    const waiters = this.flowWaiters
    if (waiters === null) return
    this.flowWaiters = null
    if (this.flowTimer !== null) clearInterval(this.flowTimer)
    this.flowTimer = null
    for (const w of waiters) w.resumeFlow()
  }

  /** Runs drain on the next turn of the event loop (coalesced). */
  scheduleDrain(): void {
    if (this.drainScheduled || this.deleted) return
    this.drainScheduled = true
    setImmediate(this.drainLater)
  }

  /** A delivered message was acknowledged (or rejected without requeue, already dead-lettered). */
  settle(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    if (this.deleted) return
    this.unackedCount--
    this.stats.ack++
  }

  /** A delivered message goes back to the queue, ahead of newer ones, marked redelivered. */
  requeue(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    if (this.deleted) return
    this.unackedCount--
    env.redelivered = true
    env.deliveryCount++
    const seq = env.seq
    this.ready.insertOrdered(env, (e) => e.seq < seq)
    this.readyBytes += env.message.bodySize
  }

  addConsumer(c: Consumer): void {
    this.consumers.push(c)
    this.hadConsumers = true
    this.lastUsed = Date.now()
    this.scheduleDrain()
  }

  /** Removes a consumer; an auto-delete queue goes when its last consumer does (RabbitMQ). */
  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c)
    if (i < 0) return
    this.consumers.splice(i, 1)
    if (this.rr > i) this.rr--
    this.lastUsed = Date.now()
    if (this.consumers.length === 0) this.releaseFlow()
    if (this.consumers.length === 0 && this.hadConsumers && this.options.autoDelete && !this.deleted) {
      this.vhost.removeQueue(this)
    }
  }

  /** Drops every ready message; returns how many. Unacked messages stay with their consumers. */
  purge(): number {
    const n = this.ready.length
    this.ready.clear()
    this.readyBytes = 0
    this.releaseFlow()
    return n
  }

  /** Marks the queue deleted and cancels its consumers. Called by the vhost. */
  destroy(): number {
    const n = this.ready.length
    this.deleted = true
    this.releaseFlow()
    this.ready.clear()
    this.readyBytes = 0
    const consumers = this.consumers.splice(0)
    for (const c of consumers) c.sink.cancelledByServer(c)
    return n
  }

  private takeReady(): Envelope | undefined {
    const env = this.ready.shift()
    if (env !== undefined) this.readyBytes -= env.message.bodySize
    return env
  }

  private nextConsumer(): Consumer | undefined {
    const cs = this.consumers
    const n = cs.length
    for (let i = 0; i < n; i++) {
      if (this.rr >= n) this.rr = 0
      const c = cs[this.rr++]
      if (c.sink.canDeliver(c)) return c
    }
    return undefined
  }
}
