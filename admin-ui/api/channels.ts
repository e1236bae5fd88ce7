/** Channels (RabbitMQ rabbit_mgmt_wm_channels, _channel): list, show, per connection, per vhost. */
import type { ChannelInfo, ConnectionInfo } from '../../core/connections.js'
import { requestVHost } from '../auth.js'
import { ok, type ApiContext, type ApiRequest } from '../context.js'
import { objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { channelName, messageStats } from './common.js'
import { connectionOf, visibleConnections } from './connections.js'

/** The publishing side of a channel's message_stats (RabbitMQ channel_exchange_metrics). */
const PUBLISH_KEYS = ['confirm', 'drop_unroutable', 'publish', 'return_unroutable']
/** The consuming side (RabbitMQ channel_queue_metrics), deliver_get included. */
const DELIVER_KEYS = ['ack', 'deliver', 'deliver_get', 'deliver_no_ack', 'get', 'get_empty', 'get_no_ack', 'redeliver']

/**
 * A channel's message_stats with `*_details.rate`: each side appears once the channel used it, as
 * RabbitMQ shows a publishing channel's publish/confirm/… and a consuming channel's deliver/ack/….
 */
function channelStats(ctx: ApiContext, ch: ChannelInfo): Record<string, unknown> | undefined {
  const c = ch.messageStats
  const r = ctx.sampler.channelRates(ch)
  const counts = { ...c, deliver_get: c.deliver + c.deliver_no_ack + c.get + c.get_no_ack }
  const rates = { ...r, deliver_get: r.deliver + r.deliver_no_ack + r.get + r.get_no_ack }
  const keys: string[] = []
  if (c.publish > 0) keys.push(...PUBLISH_KEYS)
  if (counts.deliver_get + c.get_empty + c.ack > 0) keys.push(...DELIVER_KEYS)
  return keys.length === 0 ? undefined : messageStats(counts, rates, keys.sort())
}

/** A channel as /api/channels shows it. */
export function channelJson(ctx: ApiContext, conn: ConnectionInfo, ch: ChannelInfo): Record<string, unknown> {
  const stats = channelStats(ctx, ch)
  return {
    acks_uncommitted: 0,
    confirm: ch.confirm,
    connection_details: { name: conn.name, peer_host: conn.peerHost, peer_port: conn.peerPort },
    consumer_count: ch.consumerCount,
    global_prefetch_count: ch.globalPrefetchCount,
    ...(stats === undefined ? {} : { message_stats: stats }),
    messages_unacknowledged: ch.unackedCount,
    messages_uncommitted: 0,
    messages_unconfirmed: 0,
    name: channelName(conn, ch),
    node: ctx.broker.nodeName,
    number: ch.id,
    pending_raft_commands: 0,
    prefetch_count: ch.prefetchCount,
    state: 'running',
    transactional: ch.transactional,
    user: conn.userName ?? '',
    user_who_performed_action: conn.userName ?? '',
    vhost: conn.vhostName ?? '',
  }
}

function channelsOf(ctx: ApiContext, conns: Iterable<ConnectionInfo>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const c of conns) for (const ch of c.channels()) out.push(channelJson(ctx, c, ch))
  return out
}

const SORT = { list: { sort: ['name'] } }

/** Adds the channel routes. */
export function registerChannels(router: Router): void {
  router.get('/api/channels', (req) => ok(channelsOf(req.ctx, visibleConnections(req))), SORT)
  router.get(
    '/api/vhosts/:vhost/channels',
    (req) => {
      const v = requestVHost(req)
      return ok(channelsOf(req.ctx, visibleConnections(req).filter((c) => c.vhostName === v.name)))
    },
    SORT,
  )
  router.get('/api/connections/:name/channels', (req: ApiRequest) => ok(channelsOf(req.ctx, [connectionOf(req)])), SORT)
  router.get('/api/channels/:name', (req) => {
    for (const c of visibleConnections(req)) {
      for (const ch of c.channels()) if (channelName(c, ch) === req.params.name) return ok(channelJson(req.ctx, c, ch))
    }
    throw objectNotFound()
  })
}
