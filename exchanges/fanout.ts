/**
 * The fanout exchange: a message goes to every bound destination, whatever its routing key.
 *
 * RabbitMQ (rabbit_exchange_type_fanout): binding keys and arguments are ignored for routing, but a
 * destination bound twice (different keys or arguments) is two bindings and stays until both go.
 */
import type { Binding, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'
import { DestinationSet } from './destination-set.js'

/** Router of one fanout exchange: a reference-counted set of every bound destination. */
export class FanoutRouter implements ExchangeRouter {
  private readonly all = new DestinationSet()
  /** ids of the bindings held, so a repeated bind or unbind of one binding counts once */
  private readonly ids = new Set<string>()

  bind(binding: Binding): void {
    if (this.ids.has(binding.id)) return
    this.ids.add(binding.id)
    this.all.add(binding.destination)
  }

  unbind(binding: Binding): void {
    if (!this.ids.delete(binding.id)) return
    this.all.remove(binding.destination)
  }

  route(_message: Message, _routingKey: string, out: RouteTarget): void {
    this.all.addAllTo(out)
  }

  /** Number of distinct bound destinations (for tests and diagnostics). */
  get size(): number {
    return this.all.size
  }
}

/** Factory registered as the "fanout" exchange type. */
export const fanoutRouterFactory: RouterFactory = (_exchange: Exchange, _vhost: VHost) => new FanoutRouter()
