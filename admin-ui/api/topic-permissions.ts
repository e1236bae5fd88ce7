/**
 * Topic permissions (RabbitMQ rabbit_mgmt_wm_topic_permissions, _topic_permission,
 * _topic_permissions_user, _topic_permissions_vhost): per user, vhost and topic exchange, the
 * `write` and `read` regexes that routing keys must match when publishing to / binding from that
 * exchange (enforced in core/topic-access.ts). Administrators only.
 */
import { compilePolicyPattern } from '../../core/policy-match.js'
import type { TopicPermission } from '../../core/users.js'
import { objectBody, str } from '../coerce.js'
import { created, noContent, ok, type ApiRequest } from '../context.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'

/** A topic permission as RabbitMQ lists and exports it. */
export function topicPermissionJson(p: TopicPermission): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read }
}

/** A topic permission from a PUT body or a definitions entry; write and read must compile. */
export function topicPermissionInput(user: string, vhost: string, o: Record<string, unknown>): TopicPermission {
  const p = { user, vhost, exchange: str(o, 'exchange'), write: str(o, 'write'), read: str(o, 'read') }
  for (const k of ['write', 'read'] as const) {
    try {
      compilePolicyPattern(p[k])
    } catch {
      throw badRequest(`${k} is not a valid regular expression: '${p[k]}'`)
    }
  }
  return p
}

const ADMIN = { access: 'administrator' as const }
const SORT = { ...ADMIN, list: { sort: ['vhost', 'user', 'exchange'] } }

/** Adds the topic permission routes. */
export function registerTopicPermissions(router: Router): void {
  const all = (req: ApiRequest): TopicPermission[] => req.ctx.broker.users.topicPermissions()
  const known = (req: ApiRequest): void => {
    const { broker } = req.ctx
    if (req.params.vhost !== undefined && broker.vhost(req.params.vhost) === undefined) throw objectNotFound()
    if (req.params.user !== undefined && broker.users.get(req.params.user) === undefined) throw objectNotFound()
  }
  router.get('/api/topic-permissions', (req) => ok(all(req).map(topicPermissionJson)), SORT)
  router.get('/api/users/:user/topic-permissions', (req) => {
    known(req)
    return ok(all(req).filter((p) => p.user === req.params.user).map(topicPermissionJson))
  }, SORT)
  router.get('/api/vhosts/:vhost/topic-permissions', (req) => {
    known(req)
    return ok(all(req).filter((p) => p.vhost === req.params.vhost).map(topicPermissionJson))
  }, SORT)
  router.get('/api/topic-permissions/:vhost/:user', (req) => {
    known(req)
    const list = all(req).filter((p) => p.vhost === req.params.vhost && p.user === req.params.user)
    if (list.length === 0) throw objectNotFound()
    return ok(list.map(topicPermissionJson))
  }, SORT)
  router.put('/api/topic-permissions/:vhost/:user', (req) => {
    known(req)
    const p = topicPermissionInput(req.params.user, req.params.vhost, objectBody(req.body))
    const { users } = req.ctx.broker
    const existed = users.getTopicPermission(p.user, p.vhost, p.exchange) !== undefined
    users.setTopicPermission(p)
    return existed ? noContent() : created()
  }, ADMIN)
  router.delete('/api/topic-permissions/:vhost/:user', (req) => {
    known(req)
    const exchange = req.query.get('exchange') ?? undefined
    if (req.ctx.broker.users.deleteTopicPermissions(req.params.user, req.params.vhost, exchange) === 0) throw objectNotFound()
    return noContent()
  }, ADMIN)
}
