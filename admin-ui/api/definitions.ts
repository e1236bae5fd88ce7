/**
 * GET/POST /api/definitions[/{vhost}] in RabbitMQ's format (rabbit_mgmt_wm_definitions): users
 * (with password hashes), vhosts, permissions, policies, exchanges, queues and bindings. Exported
 * files import into RabbitMQ 3.10 and RabbitMQ's exports import here; see definitions-import.ts.
 */
import type { Broker } from '../../core/broker.js'
import type { VHost } from '../../core/vhost.js'
import { requestVHost } from '../auth.js'
import { noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import type { Router } from '../router.js'
import { clusterId, RABBITMQ_VERSION, WARREN_VERSION } from '../version.js'
import { importDefinitions } from './definitions-import.js'
import { allParameters, parameterJson } from './parameters.js'
import { policyJson } from './policies.js'
import { topicPermissionJson } from './topic-permissions.js'
import { permissionJson, userJson } from './users.js'

type Obj = Record<string, unknown>

/** The topology of one vhost; `withVHost` adds the "vhost" key to every object (full export). */
function topology(v: VHost, withVHost: boolean): { queues: Obj[]; exchanges: Obj[]; bindings: Obj[] } {
  const tag = (o: Obj): Obj => (withVHost ? { name: o.name, vhost: v.name, ...o } : o)
  const queues = [...v.queues.values()]
    .filter((q) => !q.exclusive)
    .map((q) => tag({ name: q.name, durable: q.durable, auto_delete: q.autoDelete, arguments: tableJson(q.arguments) }))
  const exchanges = [...v.exchanges.values()]
    .filter((x) => x.name !== '' && !x.name.startsWith('amq.'))
    .map((x) =>
      tag({ name: x.name, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal, arguments: tableJson(x.arguments) }),
    )
  const bindings: Obj[] = []
  for (const b of v.bindings()) {
    if (b.source.name === '' || (b.destination.kind === 'queue' && b.destination.exclusive)) continue
    const o: Obj = {
      source: b.source.name,
      destination: b.destination.name,
      destination_type: b.destination.kind,
      routing_key: b.routingKey,
      arguments: tableJson(b.arguments),
    }
    bindings.push(withVHost ? { source: o.source, vhost: v.name, ...o } : o)
  }
  return { queues, exchanges, bindings }
}

const header = (): Obj => ({
  rabbit_version: RABBITMQ_VERSION,
  rabbitmq_version: RABBITMQ_VERSION,
  product_name: 'Warren',
  product_version: WARREN_VERSION,
  warren_version: WARREN_VERSION,
})

/** The whole broker's definitions. */
export function exportAll(broker: Broker): Obj {
  const queues: Obj[] = []
  const exchanges: Obj[] = []
  const bindings: Obj[] = []
  for (const v of broker.vhosts.values()) {
    const t = topology(v, true)
    queues.push(...t.queues)
    exchanges.push(...t.exchanges)
    bindings.push(...t.bindings)
  }
  return {
    ...header(),
    users: broker.users.list().map((u) => userJson(u, broker.users.getLimits(u.name))),
    vhosts: [...broker.vhosts.keys()].map((name) => {
      const m = broker.vhostMetadata.get(name)
      const o: Obj = { name }
      if (m !== undefined && (m.description !== '' || m.tags.length > 0)) {
        Object.assign(o, { description: m.description, tags: m.tags, metadata: { description: m.description, tags: m.tags } })
      }
      if (m?.defaultQueueType !== undefined) o.default_queue_type = m.defaultQueueType
      return o
    }),
    permissions: broker.users.permissions().map(permissionJson),
    topic_permissions: broker.users.topicPermissions().map(topicPermissionJson),
    parameters: exportedParameters(broker),
    global_parameters: [{ name: 'internal_cluster_id', value: clusterId(broker) }, ...broker.parameters.listGlobal().filter((g) => g.name !== 'internal_cluster_id')],
    policies: broker.policies.list().map(policyJson),
    queues,
    exchanges,
    bindings,
  }
}

/** One vhost's definitions (no users, vhosts or permissions; no "vhost" keys), as RabbitMQ. */
function exportVHost(broker: Broker, v: VHost): Obj {
  const t = topology(v, false)
  const policies = broker.policies.list(v.name).map((p) => {
    const { vhost: _, ...rest } = policyJson(p)
    return rest
  })
  const parameters = exportedParameters(broker, v.name).map((p) => {
    const { vhost: _, ...rest } = p
    return rest
  })
  return { ...header(), parameters, policies, ...t }
}

/**
 * The `parameters` of an export as RabbitMQ writes them: every runtime parameter but policies,
 * so vhost limits (component 'vhost-limits') and operator policies (component 'operator_policy')
 * are among them.
 */
function exportedParameters(broker: Broker, vhost?: string): Obj[] {
  return allParameters(broker, undefined, vhost).map(parameterJson)
}

function download(req: ApiRequest, body: Obj, name: string): ApiReply {
  // ?download=<file> (the web UI's export button) asks for an attachment
  const file = req.query.get('download')
  const headers = file === null ? undefined : { 'content-disposition': `attachment; filename="${file.replace(/["\\\r\n]/g, '_') || name}"` }
  return { status: 200, body, headers }
}

/** Adds the definitions routes (administrators only). */
export function registerDefinitions(router: Router): void {
  const admin = { access: 'administrator' as const }
  const upload = { ...admin, largeBody: true }
  router.get('/api/definitions', (req) => download(req, exportAll(req.ctx.broker), 'definitions.json'), admin)
  router.get('/api/definitions/:vhost', (req) => ok(exportVHost(req.ctx.broker, requestVHost(req))), admin)
  router.post(
    '/api/definitions',
    async (req) => {
      await importDefinitions(req, undefined)
      return noContent()
    },
    upload,
  )
  router.post(
    '/api/definitions/:vhost',
    async (req) => {
      await importDefinitions(req, requestVHost(req, true).name)
      return noContent()
    },
    upload,
  )
}
