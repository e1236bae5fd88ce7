/**
 * The built-in exchange types. Core never imports this module; whoever assembles the broker calls
 * {@link registerBuiltinExchanges} on the registry it hands to the Broker.
 */
import type { ExchangeTypeRegistry } from '../core/exchange.js'
import { DEFAULT_EXCHANGE_TYPE, defaultRouterFactory } from './default.js'
import { directRouterFactory } from './direct.js'
import { fanoutRouterFactory } from './fanout.js'
import { headersRouterFactory } from './headers.js'
import { topicRouterFactory } from './topic.js'
import { DELAYED_MESSAGE_TYPE, delayedMessageRouterFactory } from './delayed-message.js'

export { DEFAULT_EXCHANGE_TYPE, DefaultRouter, defaultRouterFactory } from './default.js'
export { DirectRouter, directRouterFactory } from './direct.js'
export { FanoutRouter, fanoutRouterFactory } from './fanout.js'
export { HeadersRouter, headersMatch, headersRouterFactory, validateHeadersBindingArgs } from './headers.js'
export { DELAYED_MESSAGE_TYPE, DelayedMessageRouter, delayedMessageRouterFactory } from './delayed-message.js'
export { TOPIC_CACHE_SIZE, TopicRouter, topicRouterFactory, topicWords } from './topic.js'

/** The exchange types a client may declare (RabbitMQ's built-ins, and the delayed-message plugin's). */
export const BUILTIN_EXCHANGE_TYPES: readonly string[] = ['direct', 'fanout', 'topic', 'headers', 'x-delayed-message']

/**
 * Registers "direct", "fanout", "topic", "headers" and "x-delayed-message" (which routes through
 * the others, so it is registered last), plus the default exchange's router under
 * {@link DEFAULT_EXCHANGE_TYPE} ("x-default"), which core/vhost.ts looks up for exchange "" and
 * refuses in exchange.declare. Lists of declarable types should use {@link BUILTIN_EXCHANGE_TYPES}
 * or filter that name out.
 */
export function registerBuiltinExchanges(registry: ExchangeTypeRegistry): void {
  registry.register('direct', directRouterFactory)
  registry.register('fanout', fanoutRouterFactory)
  registry.register('topic', topicRouterFactory)
  registry.register('headers', headersRouterFactory)
  registry.register(DEFAULT_EXCHANGE_TYPE, defaultRouterFactory)
  registry.register(DELAYED_MESSAGE_TYPE, delayedMessageRouterFactory(registry))
}
