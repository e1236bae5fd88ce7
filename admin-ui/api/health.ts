/**
 * Health checks as RabbitMQ answers them (rabbit_mgmt_wm_health_check_*): 200 `{"status":"ok"}`,
 * or 503 `{"status":"failed","reason":…}` plus check-specific fields; and the aliveness test, which
 * declares the queue `aliveness-test` in a vhost, publishes to it and gets the message back.
 */
import { Message } from '../../core/message.js'
import { EMPTY_PROPERTIES } from '../../core/wire/properties.js'
import { requestVHost } from '../auth.js'
import { ok, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest, HealthCheckFailed } from '../http-errors.js'
import type { Router } from '../router.js'

/** Protocol names RabbitMQ accepts for protocol-listener, by Warren's listener protocol. */
const PROTOCOL_ALIASES: Readonly<Record<string, readonly string[]>> = {
  amqp: ['amqp', 'amqp091', 'amqp0.9.1', 'amqp0-9-1'],
  'amqp/ssl': ['amqps', 'amqp/ssl'],
  http: ['http', 'management'],
  'http/web-amqp': ['http/web-amqp', 'web-amqp'],
  'http/prometheus': ['http/prometheus', 'prometheus'],
}

function portListener(req: ApiRequest): ApiReply {
  const raw = req.params.port
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw badRequest(`invalid port '${raw}'`)
  const port = Number(raw)
  const ports = req.ctx.broker.listeners.map((l) => l.port)
  if (!ports.includes(port)) throw new HealthCheckFailed({ reason: 'No active listener', missing: port, ports })
  return ok({ status: 'ok', port })
}

function protocolListener(req: ApiRequest): ApiReply {
  const wanted = req.params.protocol.toLowerCase()
  const protocols = [...new Set(req.ctx.broker.listeners.map((l) => l.protocol))]
  const found = protocols.some((p) => p === wanted || (PROTOCOL_ALIASES[p] ?? []).includes(wanted))
  if (!found) throw new HealthCheckFailed({ reason: 'No active listener', missing: req.params.protocol, protocols })
  return ok({ status: 'ok', protocol: req.params.protocol })
}

function aliveness(req: ApiRequest): ApiReply {
  const v = requestVHost(req, true)
  const name = 'aliveness-test'
  const q = v.declareQueue(name, { durable: false, autoDelete: false, exclusiveOwner: null, arguments: {} }, false, null).queue
  const body = Buffer.from('test_message')
  const data = Buffer.concat([EMPTY_PROPERTIES, body])
  const msg = new Message('', name, data, EMPTY_PROPERTIES.length, 0, 0, -1, -1, Date.now())
  v.publish(v.getExchange(''), msg, null)
  const env = q.get(true)
  if (env === undefined || !env.message.body.equals(body)) {
    throw new HealthCheckFailed({ reason: 'aliveness test message was not delivered back' })
  }
  return ok({ status: 'ok' })
}

/**
 * rabbit_mgmt_wm_health_check_alarms: 503 with the alarms in effect (resources `memory` and `disk` as
 * RabbitMQ names them; `file_descriptor_limit` for Warren's fd alarm, named after the Prometheus metric).
 */
function alarms(local: boolean) {
  return (req: ApiRequest): ApiReply => {
    const b = req.ctx.broker
    const on: { node: string; resource: string }[] = []
    if (b.memAlarmOn) on.push({ node: b.nodeName, resource: 'memory' })
    if (b.diskAlarmOn) on.push({ node: b.nodeName, resource: 'disk' })
    if (b.fdAlarmOn) on.push({ node: b.nodeName, resource: 'file_descriptor_limit' })
    if (on.length === 0) return ok({ status: 'ok' })
    const reason = local ? 'There are alarms in effect on the node' : 'There are alarms in effect in the cluster'
    throw new HealthCheckFailed({ reason, alarms: on })
  }
}

/** Adds the health-check and aliveness routes. */
export function registerHealth(router: Router): void {
  const fine = (): ApiReply => ok({ status: 'ok' })
  router.get('/api/health/checks/alarms', alarms(false))
  router.get('/api/health/checks/local-alarms', alarms(true))
  router.get('/api/health/checks/virtual-hosts', fine)
  router.get('/api/health/checks/node-is-mirror-sync-critical', fine)
  router.get('/api/health/checks/node-is-quorum-critical', () => ok({ status: 'ok', reason: 'single node cluster' }))
  router.get('/api/health/checks/certificate-expiration/:within/:unit', fine)
  router.get('/api/health/checks/port-listener/:port', portListener)
  router.get('/api/health/checks/protocol-listener/:protocol', protocolListener)
  router.get('/api/health/checks/ready-to-serve-clients', fine)
  router.get('/api/healthchecks/node', fine)
  router.get('/api/aliveness-test/:vhost', aliveness)
}
