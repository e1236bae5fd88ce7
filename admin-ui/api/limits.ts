/**
 * Vhost limits and user limits (RabbitMQ rabbit_mgmt_wm_limits, _limit, _user_limits,
 * _user_limit): `GET /api/vhost-limits[/{vhost}]` lists `{vhost, value}`, `PUT
 * /api/vhost-limits/{vhost}/{name}` with `{"value": N}` sets max-connections or max-queues, and
 * the same for users with max-connections and max-channels. Enforced by core/limits.ts.
 */
import { USER_LIMIT_KEYS, VHOST_LIMIT_KEYS, vhostLimits, type Limits } from '../../core/limits.js'
import { int, objectBody } from '../coerce.js'
import { noContent, ok, type ApiRequest } from '../context.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { requestVHost, visibleVHosts } from '../auth.js'

const ADMIN = { access: 'administrator' as const }

/** A limit value from a PUT body: an integer (negative: no limit). */
export function limitValue(name: string, keys: string[], o: Record<string, unknown>): number {
  if (!keys.includes(name)) throw badRequest(`Validation failed\n\nUnrecognised terms [{<<"${name}">>,${JSON.stringify(o.value)}}] in limits\n`)
  return int(o, 'value', -(2 ** 31), 2 ** 31 - 1)
}

/** Adds the vhost-limits and user-limits routes. */
export function registerLimits(router: Router): void {
  const vhostJson = (req: ApiRequest, vhost: string): { vhost: string; value: Limits }[] => {
    const value = vhostLimits(req.ctx.broker.parameters, vhost)
    return value === undefined ? [] : [{ vhost, value }]
  }
  router.get('/api/vhost-limits', (req) => ok(visibleVHosts(req).flatMap((v) => vhostJson(req, v.name))), { list: { sort: ['vhost'] } })
  router.get('/api/vhost-limits/:vhost', (req) => ok(vhostJson(req, requestVHost(req).name)))
  router.put('/api/vhost-limits/:vhost/:name', (req) => {
    const v = requestVHost(req, true)
    const value = limitValue(req.params.name, VHOST_LIMIT_KEYS, objectBody(req.body))
    const limits = { ...vhostLimits(req.ctx.broker.parameters, v.name), [req.params.name]: value }
    req.ctx.broker.putParameter('vhost-limits', v.name, 'limits', limits)
    return noContent()
  }, ADMIN)
  router.delete('/api/vhost-limits/:vhost/:name', (req) => {
    const v = requestVHost(req, true)
    const { broker } = req.ctx
    const current = vhostLimits(broker.parameters, v.name)
    if (current === undefined || current[req.params.name] === undefined) throw objectNotFound()
    const { [req.params.name]: _gone, ...rest } = current
    if (Object.keys(rest).length === 0) broker.deleteParameter('vhost-limits', v.name, 'limits')
    else broker.putParameter('vhost-limits', v.name, 'limits', rest)
    return noContent()
  }, ADMIN)

  const users = (req: ApiRequest) => req.ctx.broker.users
  const user = (req: ApiRequest): string => {
    if (users(req).get(req.params.user) === undefined) throw objectNotFound()
    return req.params.user
  }
  router.get('/api/user-limits', (req) => ok(users(req).allLimits()), { ...ADMIN, list: { sort: ['user'] } })
  router.get('/api/user-limits/:user', (req) => {
    const u = user(req)
    const value = users(req).getLimits(u)
    return ok(value === undefined ? [] : [{ user: u, value }])
  }, ADMIN)
  router.put('/api/user-limits/:user/:name', (req) => {
    const u = user(req)
    const value = limitValue(req.params.name, USER_LIMIT_KEYS, objectBody(req.body))
    users(req).setLimits(u, { ...users(req).getLimits(u), [req.params.name]: value })
    return noContent()
  }, ADMIN)
  router.delete('/api/user-limits/:user/:name', (req) => {
    const u = user(req)
    const current = users(req).getLimits(u)
    if (current === undefined || current[req.params.name] === undefined) throw objectNotFound()
    const { [req.params.name]: _gone, ...rest } = current
    users(req).setLimits(u, rest)
    return noContent()
  }, ADMIN)
}
