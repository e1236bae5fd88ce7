/**
 * Connections (RabbitMQ rabbit_mgmt_wm_connections, _connection): list, show, and DELETE, which
 * closes the connection with 320 CONNECTION_FORCED and the X-Reason header as the reason text.
 */
import type { Broker } from '../../core/broker.js'
import type { ConnectionInfo } from '../../core/connections.js'
import { canSeeVHost, requestVHost } from '../auth.js'
import { noContent, ok, type ApiContext, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { notAuthorised, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { withDetails } from './common.js'

/** host and port of the local end, from RabbitMQ's name "peer:port -> host:port". */
function localEnd(c: ConnectionInfo): { host: string; port: number } {
  const local = c.name.split(' -> ')[1] ?? ''
  const i = local.lastIndexOf(':')
  return { host: i < 0 ? local : local.slice(0, i), port: i < 0 ? 0 : Number(local.slice(i + 1)) }
}

/**
 * RabbitMQ's connection states: `starting` until open, then `running`; while a resource alarm is
 * on, `blocked` once the connection has published (it is no longer read from), `blocking` before.
 */
function connectionState(broker: Broker, c: ConnectionInfo): string {
  if (c.userName === undefined) return 'starting'
  if (c.blockedByAlarm === true) return 'blocked'
  return broker.publishBlocked ? 'blocking' : 'running'
}

/** A connection as /api/connections shows it (RabbitMQ 3.10 fields). */
export function connectionJson(ctx: ApiContext, c: ConnectionInfo): Record<string, unknown> {
  const rates = ctx.sampler.connectionRates(c)
  let channels = 0
  for (const _ of c.channels()) channels++
  const props = tableJson(c.clientProperties)
  const local = localEnd(c)
  const out: Record<string, unknown> = {
    auth_mechanism: 'PLAIN',
    channel_max: c.channelMax,
    channels,
    client_properties: props,
    connected_at: c.connectedAt,
    frame_max: c.frameMax,
    host: local.host,
    name: c.name,
    node: ctx.broker.nodeName,
    peer_cert_issuer: null,
    peer_cert_subject: null,
    peer_cert_validity: null,
    peer_host: c.peerHost,
    peer_port: c.peerPort,
    port: local.port,
    protocol: c.protocol,
    send_pend: 0,
    ssl: c.tls !== null,
    ssl_cipher: c.tls?.cipher ?? null,
    ssl_hash: null,
    ssl_key_exchange: null,
    // RabbitMQ shows Erlang's version atoms: 'tlsv1.3'
    ssl_protocol: c.tls?.protocol?.toLowerCase() ?? null,
    state: connectionState(ctx.broker, c),
    timeout: c.heartbeat,
    type: 'network',
    user: c.userName ?? '',
    user_who_performed_action: c.userName ?? '',
    vhost: c.vhostName ?? '',
  }
  // RabbitMQ shows byte counts with rates, socket read/write counts without (see the 3.10 sample)
  out.recv_cnt = c.recvCount
  withDetails(out, 'recv_oct', c.bytesIn, rates.recvOct)
  out.send_cnt = c.sendCount
  withDetails(out, 'send_oct', c.bytesOut, rates.sendOct)
  if (typeof props.connection_name === 'string') out.user_provided_name = props.connection_name
  return out
}

/** May this user see the connection (its own, or any in a vhost it may see as monitor/admin)? */
function visible(req: ApiRequest, c: ConnectionInfo): boolean {
  const u = req.user
  if (u.tags.includes('administrator') || u.tags.includes('monitoring')) return true
  return c.userName === u.name && (c.vhostName === undefined || canSeeVHost(req.ctx.broker, u, c.vhostName))
}

/** The connection a request names (404 when unknown or not visible). */
export function connectionOf(req: ApiRequest, name = req.params.name): ConnectionInfo {
  for (const c of req.ctx.broker.connections) if (c.name === name && visible(req, c)) return c
  throw objectNotFound()
}

/** The connections the requesting user may see. */
export function visibleConnections(req: ApiRequest, broker: Broker = req.ctx.broker): ConnectionInfo[] {
  return [...broker.connections].filter((c) => visible(req, c))
}

function closeConnection(req: ApiRequest): ApiReply {
  const c = connectionOf(req)
  const u = req.user
  if (!u.tags.includes('administrator') && c.userName !== u.name) throw notAuthorised('Access refused.')
  const header = req.headers['x-reason']
  const reason = typeof header === 'string' && header !== '' ? header : 'Closed via management plugin'
  req.ctx.log.info({ connection: c.name, reason, by: u.name }, 'closing connection on request')
  c.forceClose(reason)
  return noContent()
}

const SORT = { list: { sort: ['name'] } }

/** Adds the connection routes. */
export function registerConnections(router: Router): void {
  router.get('/api/connections', (req) => ok(visibleConnections(req).map((c) => connectionJson(req.ctx, c))), SORT)
  router.get(
    '/api/vhosts/:vhost/connections',
    (req) => {
      const v = requestVHost(req)
      return ok(visibleConnections(req).filter((c) => c.vhostName === v.name).map((c) => connectionJson(req.ctx, c)))
    },
    SORT,
  )
  router.get('/api/connections/:name', (req) => ok(connectionJson(req.ctx, connectionOf(req))))
  router.delete('/api/connections/:name', closeConnection)
}
