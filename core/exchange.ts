/**
 * Exchanges and bindings. Core knows the Exchange and its bindings; how an exchange type matches a
 * message is an ExchangeRouter supplied by a registered type (exchanges/ registers the built-ins), so
 * core never imports exchanges/.
 */
import type { DedupWindow } from './dedup/dedup-window.js'
import type { Message } from './message.js'
import { mergeDefinitions, type Policy } from './policies.js'
import type { FieldTable } from './wire/field-table.js'
import type { Queue } from './queue.js'
import type { VHost } from './vhost.js'

/** Where a binding leads: a queue or (exchange-to-exchange binding) another exchange. */
export type Destination = Queue | Exchange

export interface Binding {
  readonly source: Exchange
  readonly destination: Destination
  readonly routingKey: string
  readonly arguments: FieldTable
  /** identity of the binding within its source: destination kind + name + key + arguments */
  readonly id: string
}

/** Collects the destinations a message is routed to; a Set, so two paths to one queue count once. */
export interface RouteTarget {
  add(destination: Destination): unknown
}

/** The matching logic of one exchange type for one exchange. */
export interface ExchangeRouter {
  /** Checks a new binding's arguments and key; returns RabbitMQ's reason text when they are invalid (→ 406). */
  validateBinding?(args: FieldTable, routingKey: string): string | undefined
  bind(binding: Binding): void
  unbind(binding: Binding): void
  /** Adds every destination whose binding matches the message. */
  route(message: Message, routingKey: string, out: RouteTarget): void
  /** The exchange is gone (deleted, or its vhost): stop timers, drop what it holds. */
  dispose?(): void
  /** x-delayed-message: the messages waiting for their time (management API) */
  readonly delayed?: DelayedInfo
}

/** What an x-delayed-message exchange tells the management API. */
export interface DelayedInfo {
  readonly pending: number
  readonly bytes: number
  /** routed messages, and how late their routing started (ms after the due time) */
  readonly stats: { readonly routed: number; readonly maxLatenessMs: number; readonly lateness: Uint32Array }
}

export type RouterFactory = (exchange: Exchange, vhost: VHost) => ExchangeRouter

export interface ExchangeOptions {
  durable: boolean
  autoDelete: boolean
  internal: boolean
  arguments: FieldTable
}

export class Exchange {
  readonly kind = 'exchange' as const
  /** bindings from this exchange, by binding id */
  readonly bindings = new Map<string, Binding>()
  /** bindings to this exchange (exchange-to-exchange), by binding id */
  readonly incoming = new Map<string, Binding>()
  router!: ExchangeRouter
  /** x-message-deduplication: the window checked before routing (core/dedup/), or null */
  dedup: DedupWindow | null = null
  /** messages published to this exchange (for management rates) */
  publishIn = 0
  publishOut = 0
  /** the policy and operator policy that apply (rabbit_policy:match), or null */
  policy: Policy | null = null
  operatorPolicy: Policy | null = null
  /**
   * Where unroutable messages go: the alternate-exchange argument, else the policy's
   * (rabbit_policy:get_arg: the argument wins). Kept up to date by applyPolicies.
   */
  alternateExchange: string | undefined

  constructor(
    readonly vhost: VHost,
    readonly name: string,
    readonly type: string,
    readonly options: ExchangeOptions,
  ) {
    this.alternateExchange = this.resolveAlternate()
  }

  /** New policies for this exchange (declare, or a policy put or deleted). */
  applyPolicies(policy: Policy | null, operatorPolicy: Policy | null): void {
    this.policy = policy
    this.operatorPolicy = operatorPolicy
    this.alternateExchange = this.resolveAlternate()
  }

  private resolveAlternate(): string | undefined {
    const arg = this.options.arguments['alternate-exchange']
    if (typeof arg === 'string') return arg
    const pol = mergeDefinitions(this.policy, this.operatorPolicy)['alternate-exchange']
    return typeof pol === 'string' ? pol : undefined
  }

  get durable(): boolean {
    return this.options.durable
  }
  get autoDelete(): boolean {
    return this.options.autoDelete
  }
  get internal(): boolean {
    return this.options.internal
  }
  get arguments(): FieldTable {
    return this.options.arguments
  }
}

/** Exchange types by name ("direct", "topic", …). */
export class ExchangeTypeRegistry {
  private readonly types = new Map<string, RouterFactory>()

  register(type: string, factory: RouterFactory): void {
    this.types.set(type, factory)
  }

  get(type: string): RouterFactory | undefined {
    return this.types.get(type)
  }

  names(): string[] {
    return [...this.types.keys()]
  }
}
