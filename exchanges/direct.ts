/**
 * The direct exchange: a message goes to every destination bound with exactly its routing key.
 *
 * RabbitMQ (rabbit_exchange_type_direct): routing is byte-for-byte equality of routing key and
 * binding key; binding arguments take no part in matching, but they do make bindings distinct, so
 * one queue may be bound twice under one key (different arguments) and stays bound until both go.
 */
import type { Binding, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'
import { DestinationSet } from './destination-set.js'

/** Router of one direct exchange: binding key → reference-counted destinations. */
export class DirectRouter implements ExchangeRouter {
  private readonly byKey = new Map<string, DestinationSet>()
  /** ids of the bindings held, so a repeated bind or unbind of one binding counts once */
  private readonly ids = new Set<string>()

  bind(binding: Binding): void {
    if (this.ids.has(binding.id)) return
    this.ids.add(binding.id)
    let set = this.byKey.get(binding.routingKey)
    if (set === undefined) {
      set = new DestinationSet()
      this.byKey.set(binding.routingKey, set)
    }
    set.add(binding.destination)
  }

  unbind(binding: Binding): void {
    if (!this.ids.delete(binding.id)) return
    const set = this.byKey.get(binding.routingKey)
    if (set === undefined) return
    set.remove(binding.destination)
    if (set.size === 0) this.byKey.delete(binding.routingKey)
  }

  route(_message: Message, routingKey: string, out: RouteTarget): void {
    const set = this.byKey.get(routingKey)
    if (set !== undefined) set.addAllTo(out)
  }

  /** Number of distinct binding keys (for tests and diagnostics). */
  get keyCount(): number {
    return this.byKey.size
  }
}

/** Factory registered as the "direct" exchange type. */
export const directRouterFactory: RouterFactory = (_exchange: Exchange, _vhost: VHost) => new DirectRouter()
