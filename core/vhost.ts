/**
 * A virtual host: its exchanges, queues and bindings, and the one facade that AMQP channels and the
 * HTTP API both call to change topology and to publish. Methods throw ChannelError/ConnectionError
 * with RabbitMQ's reply codes and texts.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Authorize } from './access-control.js'
import type { DefinitionsObserver } from './cluster/definitions.js'
import {
  accessRefused,
  ChannelError,
  ConnectionError,
  notFound,
  preconditionFailed,
  ReplyCode,
  resourceLocked,
} from './errors.js'
import { exchangeDedupSettings, validateExchangeDedupArgs } from './dedup/dedup-settings.js'
import { DedupWindow } from './dedup/dedup-window.js'
import { DirectReplyTo, isReplyAddress } from './direct-reply-to.js'
import { Exchange, type Binding, type Destination, type ExchangeOptions, type ExchangeTypeRegistry } from './exchange.js'
import type { Message } from './message.js'
import { limitOf, queueLimitError, vhostLimits } from './limits.js'
import type { RuntimeParameters } from './parameters.js'
import type { Policy, PolicyStore } from './policies.js'
import { matchPolicy } from './policy-match.js'
import { Queue, FLOW_CHECK, FLOW_CHECK_BYTES, type FlowWaiter, type QueueOptions } from './queue.js'
import { validateQueueArguments, queueArgumentsEquivalent } from './arguments.js'
import { newQueue } from './stream/stream-queue.js'
import { encodeTable, fieldValuesEqual, type FieldTable } from './wire/field-table.js'
import type { Storage } from './storage.js'
import type { DurableLog } from './store/message-store.js'
import { storeFlow } from './store/stored-list.js'
import type { TraceOrigin, Tracer } from './trace.js'

/**
 * RabbitMQ creates these in every vhost, durable (name, type, internal). amq.rabbitmq.trace is the
 * firehose tracer's exchange (rabbit_vhost:declare_exchanges; core/trace.ts publishes to it while
 * tracing is on); tools and object_totals expect it (7 exchanges with the default one).
 */
const BUILTIN_EXCHANGES: [string, string, boolean][] = [
  ['amq.direct', 'direct', false],
  ['amq.fanout', 'fanout', false],
  ['amq.topic', 'topic', false],
  ['amq.headers', 'headers', false],
  ['amq.match', 'headers', false],
  ['amq.rabbitmq.trace', 'topic', true],
]

export interface DeclareQueueResult {
  queue: Queue
  messageCount: number
  consumerCount: number
}

export class VHost {
  readonly exchanges = new Map<string, Exchange>()
  readonly queues = new Map<string, Queue>()
  /** reused by publish: destinations of the message being routed */
  private readonly routed = new Set<Destination>()
  private readonly visited: Exchange[] = []
  private readonly warned = new Set<string>()
  /** set by publish() when a queue refused the message (x-overflow reject-publish): nack it */
  refused = false
  /**
   * Where durable definitions and queue stores go; null for a vhost that must never touch the disk
   * (the management API's trial-run vhosts, unit tests). Set by the Broker.
   */
  storage: Storage | null = null
  /** in a cluster, the definitions written to etcd (core/cluster/definitions.ts); null on a single node */
  definitions: DefinitionsObserver | null = null
  /** stores (and dedup window logs) that took a write in the current publish(): its confirm waits for them */
  readonly durableTouched: DurableLog[] = []
  /** waiting direct reply-to consumers; the Broker shares one registry among its vhosts */
  replyTo = new DirectReplyTo()
  /** the firehose (core/trace.ts) while tracing is on, else null: one check per publish and delivery */
  tracer: Tracer | null = null
  /**
   * The broker's policies and operator policies (core/policies.ts), matched when a queue or exchange
   * is created and re-applied by the Broker when they change; null: none apply (trial-run vhosts).
   */
  policySource: { policies: PolicyStore; operatorPolicies: PolicyStore } | null = null
  /** the broker's runtime parameters, for this vhost's limits (core/limits.ts); null: no limits */
  parameters: RuntimeParameters | null = null
  /** routeOnly() is running: deduplication windows are looked at, not changed */
  private dryRun = false
  /** durable dedup windows that took a new key in the current publish (written after the enqueue) */
  private readonly dedupStaged: DedupWindow[] = []

  constructor(
    readonly name: string,
    private readonly types: ExchangeTypeRegistry,
    readonly log: Logger,
  ) {
    const dflt = new Exchange(this, '', 'direct', { durable: true, autoDelete: false, internal: false, arguments: {} })
    dflt.router = this.types.get('x-default')!(dflt, this)
    this.exchanges.set('', dflt)
    for (const [name, type, internal] of BUILTIN_EXCHANGES) {
      this.createExchange(name, type, { durable: true, autoDelete: false, internal, arguments: {} })
    }
  }

  /** The policy and operator policy that apply to a queue or exchange of this vhost (rabbit_policy:set). */
  matchPolicies(o: Queue | Exchange): [Policy | null, Policy | null] {
    const src = this.policySource
    if (src === null) return [null, null]
    const t = o.kind === 'queue' ? { kind: o.kind, name: o.name, queueType: queueType(o.arguments) } : { kind: o.kind, name: o.name }
    return [matchPolicy(src.policies.inVHost(this.name), t) ?? null, matchPolicy(src.operatorPolicies.inVHost(this.name), t) ?? null]
  }

  /** Re-applies the policies to every queue and exchange whose matching policy changed. */
  reapplyPolicies(): void {
    for (const x of this.exchanges.values()) {
      if (x.name === '') continue
      const [p, op] = this.matchPolicies(x)
      if (p !== x.policy || op !== x.operatorPolicy) x.applyPolicies(p, op)
    }
    for (const q of this.queues.values()) {
      const [p, op] = this.matchPolicies(q)
      if (p !== q.policy || op !== q.operatorPolicy) q.guard(() => q.applyPolicies(p, op))
    }
  }

  // ---- exchanges ----------------------------------------------------------------------------

  getExchange(name: string): Exchange {
    const x = this.exchanges.get(name)
    if (x === undefined) throw notFound('exchange', name, this.name)
    return x
  }

  /**
   * exchange.declare; returns the existing or new exchange. `authorize` (core/access-control.ts) runs
   * where RabbitMQ checks permissions: after the type and default-exchange checks, before creating.
   */
  declareExchange(name: string, type: string, options: ExchangeOptions, passive: boolean, authorize?: Authorize): Exchange {
    const existing = this.exchanges.get(name)
    if (passive) {
      if (name === '') throw accessRefused('operation not permitted on the default exchange')
      if (existing === undefined) throw notFound('exchange', name, this.name)
      return existing
    }
    if (this.types.get(type) === undefined || type === 'x-default') {
      // RabbitMQ checks the type first and closes the connection for an unknown one.
      throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unknown exchange type '${type}'`)
    }
    if (name === '') throw accessRefused('operation not permitted on the default exchange')
    authorize?.(name, existing === undefined)
    if (existing !== undefined) {
      // RabbitMQ: an equivalent redeclare of an existing exchange (amq.* included) is fine.
      this.assertExchangeEquivalent(existing, type, options)
      return existing
    }
    if (name.startsWith('amq.')) throw accessRefused(`exchange name '${name}' contains reserved prefix 'amq.*'`)
    const ae = options.arguments['alternate-exchange']
    if (ae !== undefined && typeof ae !== 'string') {
      throw preconditionFailed(`invalid arg 'alternate-exchange' for exchange '${name}' in vhost '${this.name}'`)
    }
    const dedupInvalid = validateExchangeDedupArgs(options.arguments, type)
    if (dedupInvalid !== undefined) throw preconditionFailed(dedupInvalid)
    return this.createExchange(name, type, options)
  }

  private createExchange(name: string, type: string, options: ExchangeOptions): Exchange {
    const x = new Exchange(this, name, type, options)
    if (name !== '') {
      const [p, op] = this.matchPolicies(x)
      if (p !== null || op !== null) x.applyPolicies(p, op)
    }
    x.router = this.types.get(type)!(x, this)
    const dedup = exchangeDedupSettings(options.arguments, type)
    if (dedup !== null) {
      x.dedup = new DedupWindow(dedup)
      // a durable exchange keeps its window on disk (the storage opens, or at boot replays, its log)
      if (options.durable && dedup.persist && this.storage !== null) x.dedup.log = this.storage.openDedupLog(this, x.name, x.dedup)
    }
    this.exchanges.set(name, x)
    this.storage?.exchangeAdded(this, x)
    if (name !== '' && !name.startsWith('amq.')) this.definitions?.exchangeAdded(this, x)
    return x
  }

  private assertExchangeEquivalent(x: Exchange, type: string, o: ExchangeOptions): void {
    const where = `for exchange '${x.name}' in vhost '${this.name}'`
    const check = (arg: string, received: unknown, current: unknown): void => {
      if (received !== current) {
        throw preconditionFailed(`inequivalent arg '${arg}' ${where}: received '${received}' but current is '${current}'`)
      }
    }
    check('type', type, x.type)
    check('durable', o.durable, x.durable)
    check('auto_delete', o.autoDelete, x.autoDelete)
    check('internal', o.internal, x.internal)
    // RabbitMQ compares only the alternate-exchange argument.
    const a = o.arguments['alternate-exchange']
    const b = x.arguments['alternate-exchange']
    if (!fieldValuesEqual(a, b)) {
      throw preconditionFailed(
        `inequivalent arg 'alternate-exchange' ${where}: received ${describePair(a, b)}`,
      )
    }
  }

  /** exchange.delete; a missing exchange is not an error (RabbitMQ). */
  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '' || name.startsWith('amq.')) {
      throw accessRefused(
        name === ''
          ? 'operation not permitted on the default exchange'
          : `deletion of system exchange '${name}' in vhost '${this.name}' not allowed`,
      )
    }
    const x = this.exchanges.get(name)
    if (x === undefined) return
    // RabbitMQ: only bindings with this exchange as source make it "in use"
    if (ifUnused && x.bindings.size > 0) {
      throw preconditionFailed(`exchange '${name}' in vhost '${this.name}' in use`)
    }
    this.removeExchange(x)
  }

  private removeExchange(x: Exchange): void {
    this.exchanges.delete(x.name)
    x.router.dispose?.()
    for (const b of [...x.bindings.values()]) this.removeBinding(b, false)
    for (const b of [...x.incoming.values()]) this.removeBinding(b, true)
    this.storage?.exchangeRemoved(this, x)
    this.definitions?.exchangeRemoved(this, x)
  }

  // ---- queues -------------------------------------------------------------------------------

  /** Looks a queue up for an operation by `owner` (405 when another connection owns it). */
  getQueue(name: string, owner: object | null): Queue {
    const q = this.queues.get(name)
    if (q === undefined) throw notFound('queue', name, this.name)
    this.checkOwner(q, owner)
    return q
  }

  private checkOwner(q: Queue, owner: object | null, strict = false): void {
    const o = q.options.exclusiveOwner
    // strict (redeclare): the exclusive flag must match as well (RabbitMQ check_exclusive_access strict)
    if ((o !== null || strict) && o !== owner) {
      throw resourceLocked(
        `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'. It could be ` +
          'originally declared on another connection or the exclusive property value does not match that ' +
          'of the original declaration.',
      )
    }
  }

  /**
   * queue.declare. An empty name gets a server-generated `amq.gen-…` name; `authorize` runs on the
   * actual name before anything is created, as RabbitMQ checks configure on it (not when passive).
   * `serverNamed`: `name` is an amq.gen-… name the cluster generated and claimed (not refused as reserved).
   */
  declareQueue(name: string, options: QueueOptions, passive: boolean, owner: object | null, authorize?: Authorize, serverNamed = false): DeclareQueueResult {
    if (passive) {
      const q = this.getQueue(name, owner)
      q.checkAvailable()
      q.lastUsed = Date.now()
      return { queue: q, messageCount: q.messageCount, consumerCount: q.consumerCount }
    }
    if (name === '') {
      // RabbitMQ is_server_named_allowed: only classic queues may be server-named
      const type = options.arguments['x-queue-type']
      if (type === 'quorum' || type === 'stream') {
        throw preconditionFailed(`Cannot declare a server-named queue for type rabbit_${type}_queue`)
      }
      name = generateName('amq.gen-')
    } else if (name.startsWith('amq.') && !serverNamed) {
      throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`)
    }
    const existing = this.queues.get(name)
    authorize?.(name, existing === undefined)
    if (existing !== undefined) {
      this.checkOwner(existing, options.exclusiveOwner, true)
      this.assertQueueEquivalent(existing, options)
      existing.lastUsed = Date.now()
      return { queue: existing, messageCount: existing.messageCount, consumerCount: existing.consumerCount }
    }
    validateQueueArguments(name, this.name, options)
    // rabbit_queue_type:declare → check_vhost_queue_limit, for new queues only
    const maxQueues = this.parameters === null ? undefined : limitOf(vhostLimits(this.parameters, this.name), 'max-queues')
    if (maxQueues !== undefined && this.queues.size >= maxQueues) throw queueLimitError(name, this.name, maxQueues)
    const q = newQueue(this, name, options)
    this.queues.set(name, q)
    this.storage?.queueAdded(this, q)
    this.definitions?.queueAdded(this, q)
    // RabbitMQ: every queue is bound to the default exchange by its name (implicitly).
    return { queue: q, messageCount: 0, consumerCount: 0 }
  }

  private assertQueueEquivalent(q: Queue, o: QueueOptions): void {
    const where = `for queue '${q.name}' in vhost '${this.name}'`
    if (o.durable !== q.durable) {
      throw preconditionFailed(`inequivalent arg 'durable' ${where}: received '${o.durable}' but current is '${q.durable}'`)
    }
    if (o.autoDelete !== q.autoDelete) {
      throw preconditionFailed(
        `inequivalent arg 'auto_delete' ${where}: received '${o.autoDelete}' but current is '${q.autoDelete}'`,
      )
    }
    const bad = queueArgumentsEquivalent(o.arguments, q.arguments)
    if (bad !== undefined) {
      // a classic queue declared without x-queue-type has 'classic' (RabbitMQ stores the default type)
      const current = bad === 'x-queue-type' ? (q.arguments[bad] ?? 'classic') : q.arguments[bad]
      throw preconditionFailed(`inequivalent arg '${bad}' ${where}: received ${describePair(o.arguments[bad], current)}`)
    }
  }

  /** queue.delete; returns the number of messages deleted. A missing queue is not an error. */
  deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean, owner: object | null): number {
    const q = this.queues.get(name)
    if (q === undefined) return 0
    this.checkOwner(q, owner)
    if (ifUnused && q.consumerCount > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' in use`)
    if (ifEmpty && q.messageCount > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' not empty`)
    return this.removeQueue(q)
  }

  /** Removes a queue with its bindings and cancels its consumers. */
  removeQueue(q: Queue): number {
    if (this.queues.get(q.name) !== q) return 0
    this.queues.delete(q.name)
    for (const b of [...q.incoming.values()]) this.removeBinding(b, true)
    const n = q.destroy()
    this.storage?.queueRemoved(this, q)
    this.definitions?.queueRemoved(this, q)
    return n
  }

  purgeQueue(name: string, owner: object | null): number {
    return this.getQueue(name, owner).purge()
  }

  /** Deletes the exclusive queues of a closing connection. */
  dropExclusiveQueues(owner: object): void {
    for (const q of [...this.queues.values()]) if (q.options.exclusiveOwner === owner) this.removeQueue(q)
  }

  // ---- bindings -----------------------------------------------------------------------------

  bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable, owner: object | null): void {
    // RabbitMQ's order: the default exchange (403), then the source, then the queue (404, 405)
    const x = this.bindableSource(exchange)
    const q = this.getQueue(queue, owner)
    this.addBinding(x, q, routingKey, args)
  }

  unbindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable, owner: object | null): void {
    const x = this.bindableSource(exchange)
    const q = this.getQueue(queue, owner)
    const b = x.bindings.get(bindingId(q, routingKey, args))
    // RabbitMQ: unbinding a binding that does not exist succeeds.
    if (b !== undefined) this.removeBinding(b, true)
  }

  bindExchange(destination: string, source: string, routingKey: string, args: FieldTable): void {
    const [s, d] = this.bindableExchanges(source, destination)
    this.addBinding(s, d, routingKey, args)
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable): void {
    const [s, d] = this.bindableExchanges(source, destination)
    const b = s.bindings.get(bindingId(d, routingKey, args))
    if (b !== undefined) this.removeBinding(b, true)
  }

  /** RabbitMQ's order: 403 if either is the default exchange, then 404 for the source, then the destination. */
  private bindableExchanges(source: string, destination: string): [Exchange, Exchange] {
    if (source === '' || destination === '') throw accessRefused(`operation not permitted on the default exchange`)
    return [this.getExchange(source), this.getExchange(destination)]
  }

  private bindableSource(name: string): Exchange {
    if (name === '') throw accessRefused(`operation not permitted on the default exchange`)
    return this.getExchange(name)
  }

  private addBinding(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    const invalid = source.router.validateBinding?.(args, routingKey)
    if (invalid !== undefined) throw preconditionFailed(invalid)
    const id = bindingId(destination, routingKey, args)
    if (source.bindings.has(id)) return
    const b: Binding = { source, destination, routingKey, arguments: args, id }
    source.router.bind(b)
    source.bindings.set(id, b)
    destination.incoming.set(`${source.name}\u0000${id}`, b)
    this.storage?.bindingAdded(this, b)
    this.definitions?.bindingAdded(this, b)
  }

  /** Removes a binding; `autoDeleteSource` lets an auto-delete source go with its last binding. */
  private removeBinding(b: Binding, autoDeleteSource: boolean): void {
    const { source, destination } = b
    if (!source.bindings.delete(b.id)) return
    source.router.unbind(b)
    destination.incoming.delete(`${source.name}\u0000${b.id}`)
    this.storage?.bindingRemoved(this, b)
    this.definitions?.bindingRemoved(this, b)
    if (autoDeleteSource && source.autoDelete && source.bindings.size === 0 && this.exchanges.get(source.name) === source) {
      this.removeExchange(source)
    }
  }

  /** Every binding in the vhost (for listings), default-exchange bindings excluded. */
  *bindings(): IterableIterator<Binding> {
    for (const x of this.exchanges.values()) yield* x.bindings.values()
  }

  /** Logs a warning once per key (missing dead-letter exchange, dead-letter cycles). */
  warnOnce(key: string, fields: object, msg: string): void {
    if (this.warned.has(key)) return
    if (this.warned.size > 10_000) this.warned.clear()
    this.warned.add(key)
    this.log.warn(fields, msg)
  }

  // ---- publish ------------------------------------------------------------------------------

  /**
   * Routes a message from `exchange` and enqueues it in every matching queue, each queue once.
   * Follows exchange-to-exchange bindings and alternate exchanges. Returns the number of queues.
   * `origin` (the publishing channel) only names the publisher in the firehose's trace copy.
   */
  publish(exchange: Exchange, message: Message, publisher: FlowWaiter | null = null, origin: TraceOrigin | null = null): number {
    this.refused = false
    this.durableTouched.length = 0
    if (exchange.name === '' && isReplyAddress(message.routingKey)) return this.publishReply(exchange, message)
    const routed = this.routed
    this.routeFrom(exchange, message, routed)
    // cleared before enqueueing: a queue may dead-letter (drop-head, reject-publish-dlx) and route again
    this.visited.length = 0
    // RabbitMQ traces after routing, before enqueueing (rabbit_channel: tap_in then deliver_to_queues)
    if (this.tracer !== null) this.tracer.published(exchange.name, message, routed, origin)
    let n = 0
    if (routed.size > 0) {
      for (const d of routed) {
        if (d.kind === 'queue') {
          if (!d.push(message)) this.refused = true
          else if (publisher !== null) {
            if (d.ready.length > FLOW_CHECK || d.readyBytes > FLOW_CHECK_BYTES) d.throttle(publisher)
            // a store whose group commit falls behind pauses its publishers (store/stored-list.ts)
            if (d.store !== null && d.store.pendingBytes > storeFlow.high) d.store.throttle(publisher)
          }
          n++
        }
      }
      routed.clear()
    }
    if (this.dedupStaged.length > 0) this.commitDedup()
    return n
  }

  /** Durable dedup windows write their new keys once the message's stores are durable. */
  private commitDedup(): void {
    const staged = this.dedupStaged
    for (let i = 0; i < staged.length; i++) staged[i].commit(this.durableTouched)
    staged.length = 0
  }

  /**
   * A reply to a direct reply-to address (core/direct-reply-to.ts) goes straight to its consumer, or
   * nowhere. Either way it reached no queue: RabbitMQ 3.10's rabbit_exchange:route gives [] for these
   * keys, so the publish counts as unroutable and a mandatory one is returned (312) even when delivered.
   */
  private publishReply(exchange: Exchange, message: Message): number {
    exchange.publishIn++
    this.replyTo.deliver(message.routingKey, message)
    return 0
  }

  /** Which queues would a message reach? For the route tester; does not enqueue. */
  routeOnly(exchange: Exchange, message: Message): Queue[] {
    const out = new Set<Destination>()
    this.dryRun = true
    try {
      this.routeFrom(exchange, message, out)
    } finally {
      this.dryRun = false
    }
    this.visited.length = 0
    return [...out].filter((d): d is Queue => d.kind === 'queue')
  }

  private routeFrom(x: Exchange, message: Message, out: Set<Destination>): void {
    x.publishIn++
    const before = out.size
    // x-message-deduplication: a duplicate is not routed, as the plugin's exchange routes it to []
    // (so an alternate exchange or a mandatory return follows, as there)
    const dedup = x.dedup
    if (dedup === null || this.dryRun || !dedup.seen(message, Date.now(), this.durableTouched, this.dedupStaged)) {
      x.router.route(message, message.routingKey, out)
    }
    if (out.size > before) {
      // Exchange-to-exchange: follow each exchange destination once (cycles are allowed in RabbitMQ).
      for (const d of out) {
        if (d.kind === 'exchange' && !this.visited.includes(d)) {
          this.visited.push(d)
          this.routeFrom(d, message, out)
        }
      }
    }
    if (out.size === before) {
        const ae = x.alternateExchange
      if (ae !== undefined) {
        const alt = this.exchanges.get(ae)
        if (alt !== undefined && !this.visited.includes(alt)) {
          this.visited.push(alt)
          this.routeFrom(alt, message, out)
        }
      }
    } else x.publishOut++
  }
}

/** A queue's type for apply-to (x-queue-type; classic when absent). */
function queueType(args: FieldTable): string {
  const t = args['x-queue-type']
  return typeof t === 'string' ? t : 'classic'
}

function bindingId(destination: Destination, routingKey: string, args: FieldTable): string {
  const argKey = Object.keys(args).length === 0 ? '' : encodeTable(args).toString('base64')
  return `${destination.kind === 'queue' ? 'q' : 'e'}\u0000${destination.name}\u0000${routingKey}\u0000${argKey}`
}

/** Server-generated names as RabbitMQ makes them: prefix + 22 url-safe base64 characters. */
export function generateName(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url')
}

/**
 * `X but current is Y` as rabbit_misc:assert_args_equivalence words it: bare values when both sides are
 * present, typed values (or none) when one is missing.
 */
export function describePair(received: unknown, current: unknown): string {
  if (received !== undefined && current !== undefined) return `'${String(received)}' but current is '${String(current)}'`
  return `${describe(received)} but current is ${describe(current)}`
}

function describe(v: unknown): string {
  if (v === undefined) return 'none'
  if (typeof v === 'string') return `the value '${v}' of type 'longstr'`
  if (typeof v === 'number') return `the value '${v}' of type '${Number.isInteger(v) ? 'long' : 'double'}'`
  if (typeof v === 'boolean') return `the value '${v}' of type 'bool'`
  return `the value '${String(v)}'`
}

export { ChannelError }
