/**
 * The default exchange (""): every queue is implicitly bound to it with its own name as the key.
 *
 * RabbitMQ: the default exchange is a direct exchange whose bindings cannot be declared or removed
 * (queue.bind / queue.unbind on it fail with 403 ACCESS_REFUSED, checked by the caller before a
 * router is reached), so this router stores nothing and looks the queue up by name.
 */
import type { Binding, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'

/** Router of the default exchange of one vhost: routing key = queue name. */
export class DefaultRouter implements ExchangeRouter {
  constructor(private readonly vhost: VHost) {}

  bind(_binding: Binding): void {
    throw new Error('bindings to the default exchange are implicit and cannot be added')
  }

  unbind(_binding: Binding): void {
    throw new Error('bindings to the default exchange are implicit and cannot be removed')
  }

  route(_message: Message, routingKey: string, out: RouteTarget): void {
    const queue = this.vhost.queues.get(routingKey)
    if (queue !== undefined) out.add(queue)
  }
}

/** Factory for the default exchange's router (registered as {@link DEFAULT_EXCHANGE_TYPE}). */
export const defaultRouterFactory: RouterFactory = (_exchange: Exchange, vhost: VHost) => new DefaultRouter(vhost)

/**
 * Registry name of the default exchange's router. Not a declarable type: core/vhost.ts looks the
 * factory up under this name for exchange "" and refuses exchange.declare with it.
 */
export const DEFAULT_EXCHANGE_TYPE = 'x-default'
