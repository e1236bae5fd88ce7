/** GET /api/consumers[/{vhost}] (RabbitMQ rabbit_mgmt_wm_consumers). */
import type { Broker } from '../../core/broker.js'
import type { Consumer } from '../../core/consumer.js'
import { listedVHosts } from '../auth.js'
import { ok, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import type { Router } from '../router.js'
import { channelDetails } from './common.js'

/** One consumer as /api/consumers and a queue's consumer_details show it. */
export function consumerJson(broker: Broker, c: Consumer): Record<string, unknown> {
  const q = c.queue
  const active = q.activeConsumer === undefined || q.activeConsumer === c
  return {
    arguments: tableJson(c.args),
    ack_required: !c.noAck,
    active,
    activity_status: active ? 'up' : 'waiting',
    channel_details: channelDetails(broker, c),
    consumer_tag: c.tag,
    exclusive: c.exclusive,
    prefetch_count: c.prefetch,
    queue: { name: q.name, vhost: q.vhost.name },
  }
}

/** Adds the consumer routes. */
export function registerConsumers(router: Router): void {
  const list = (req: ApiRequest) =>
    ok(
      listedVHosts(req).flatMap((v) =>
        [...v.queues.values()].flatMap((q) => q.consumers.map((c) => consumerJson(req.ctx.broker, c))),
      ),
    )
  const sort = { list: { sort: ['queue.vhost', 'queue.name', 'consumer_tag'] } }
  router.get('/api/consumers', list, sort)
  router.get('/api/consumers/:vhost', list, sort)
}
