/**
 * The built-in exchange types. Core never imports this module; whoever assembles the broker calls
 * {@link registerBuiltinExchanges} on the registry it hands to the Broker.
 */
import { DEDUP_EXCHANGE_TYPE } from '../core/dedup/dedup-settings.js'
import type { ExchangeTypeRegistry } from '../core/exchange.js'
import { CONSISTENT_HASH_TYPE, consistentHashRouterFactory } from './consistent-hash.js'
import { DEFAULT_EXCHANGE_TYPE, defaultRouterFactory } from './default.js'
import { directRouterFactory } from './direct.js'
import { fanoutRouterFactory } from './fanout.js'
import { headersRouterFactory } from './headers.js'
import { topicRouterFactory } from './topic.js'
import { DELAYED_MESSAGE_TYPE, delayedMessageRouterFactory } from './delayed-message.js'

export { CONSISTENT_HASH_TYPE, ConsistentHashRouter, consistentHashRouterFactory, jumpHash } from './consistent-hash.js'
export { DEFAULT_EXCHANGE_TYPE, DefaultRouter, defaultRouterFactory } from './default.js'
export { DirectRouter, directRouterFactory } from './direct.js'
export { FanoutRouter, fanoutRouterFactory } from './fanout.js'
export { HeadersRouter, headersMatch, headersRouterFactory, validateHeadersBindingArgs } from './headers.js'
export { DELAYED_MESSAGE_TYPE, DelayedMessageRouter, delayedMessageRouterFactory } from './delayed-message.js'
export { TOPIC_CACHE_SIZE, TopicRouter, topicRouterFactory, topicWords } from './topic.js'

/** The exchange types a client may declare (RabbitMQ's built-ins, and the consistent-hash, deduplication and delayed-message plugins'). */
export const BUILTIN_EXCHANGE_TYPES: readonly string[] = ['direct', 'fanout', 'topic', 'headers', CONSISTENT_HASH_TYPE, DEDUP_EXCHANGE_TYPE, DELAYED_MESSAGE_TYPE]

/**
 * Registers "direct", "fanout", "topic", "headers", "x-consistent-hash", "x-message-deduplication"
 * and "x-delayed-message" (which routes through the others, so it is registered last), plus the
 * default exchange's router under
 * {@link DEFAULT_EXCHANGE_TYPE} ("x-default"), which core/vhost.ts looks up for exchange "" and
 * refuses in exchange.declare. Lists of declarable types should use {@link BUILTIN_EXCHANGE_TYPES}
 * or filter that name out.
 */
export function registerBuiltinExchanges(registry: ExchangeTypeRegistry): void {
  registry.register('direct', directRouterFactory)
  registry.register('fanout', fanoutRouterFactory)
  registry.register('topic', topicRouterFactory)
  registry.register('headers', headersRouterFactory)
  registry.register(CONSISTENT_HASH_TYPE, consistentHashRouterFactory)
  // rabbitmq-message-deduplication's exchange type: a fanout exchange whose window core/vhost.ts adds
  registry.register(DEDUP_EXCHANGE_TYPE, fanoutRouterFactory)
  registry.register(DEFAULT_EXCHANGE_TYPE, defaultRouterFactory)
  registry.register(DELAYED_MESSAGE_TYPE, delayedMessageRouterFactory(registry))
}
