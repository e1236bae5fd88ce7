/**
 * The `x-delayed-message` exchange type of rabbitmq-delayed-message-exchange (also LavinMQ's): a
 * message with an `x-delay` header (ms) is kept until its time and then routed by the rules of the
 * type named in the exchange's `x-delayed-type` argument, with the bindings of that moment (its
 * `x-delay` header delivered as published, as RabbitMQ 3.10 with the plugin does). Other messages
 * (no, negative or out-of-range `x-delay`) are routed at once by that type.
 *
 * As with the plugin, a delayed message reaches no queue at publish time: a mandatory one comes
 * back with basic.return 312 NO_ROUTE (and is still delivered later), and an alternate exchange
 * gets it at once as an unroutable message. The pending messages live in core/delayed.
 */
import { DelayedMessages, isReleased, messageDelay } from '../core/delayed/delayed-messages.js'
import { ConnectionError, ReplyCode, preconditionFailed } from '../core/errors.js'
import type { Binding, Exchange, ExchangeRouter, ExchangeTypeRegistry, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { FieldTable } from '../core/wire/field-table.js'
import type { VHost } from '../core/vhost.js'
import { DEFAULT_EXCHANGE_TYPE } from './default.js'

export const DELAYED_MESSAGE_TYPE = 'x-delayed-message'

/** Router of one delayed exchange: the inner type's router plus the pending messages. */
export class DelayedMessageRouter implements ExchangeRouter {
  constructor(
    private readonly inner: ExchangeRouter,
    readonly delayed: DelayedMessages,
  ) {}

  validateBinding(args: FieldTable, routingKey: string): string | undefined {
    return this.inner.validateBinding?.(args, routingKey)
  }

  bind(binding: Binding): void {
    this.inner.bind(binding)
  }

  unbind(binding: Binding): void {
    this.inner.unbind(binding)
  }

  route(message: Message, routingKey: string, out: RouteTarget): void {
    const delay = isReleased(message) ? 0 : messageDelay(message)
    if (delay > 0) this.delayed.delay(message, delay)
    else this.inner.route(message, routingKey, out)
  }

  dispose(): void {
    this.delayed.stop()
  }
}

/**
 * The factory of the type; it checks `x-delayed-type` as the plugin's validate/1 does, when the
 * exchange is created (a redeclare compares only what RabbitMQ compares).
 */
export function delayedMessageRouterFactory(registry: ExchangeTypeRegistry): RouterFactory {
  return (x: Exchange, vhost: VHost): ExchangeRouter => {
    let type = x.arguments['x-delayed-type']
    if (Buffer.isBuffer(type)) type = type.toString('utf8')
    if (type === DELAYED_MESSAGE_TYPE) {
      throw preconditionFailed("Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'")
    }
    if (typeof type !== 'string') throw preconditionFailed("Invalid argument, 'x-delayed-type' must be an existing exchange type")
    const factory = type === DEFAULT_EXCHANGE_TYPE ? undefined : registry.get(type)
    // rabbit_exchange:check_type: an unknown type closes the connection
    if (factory === undefined) throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unknown exchange type '${type}'`)
    const inner = factory(x, vhost)
    let delayed: DelayedMessages | null = null
    const store = vhost.storage?.openDelayedStore(x, () => delayed?.stop()) ?? null
    delayed = new DelayedMessages(x, vhost, store)
    return new DelayedMessageRouter(inner, delayed)
  }
}
