/**
 * HTTP Basic authentication and RabbitMQ's management authorisation: a user needs one of the
 * management tags; `administrator` may do everything, `monitoring` may see every vhost, and other
 * users see and change only the vhosts they have permissions in. guest is refused from
 * non-loopback addresses, as over AMQP.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Broker } from '../core/broker.js'
import { checkPassword, isLoopback, type User } from '../core/users.js'
import type { ApiRequest } from './context.js'
import { loginFailed, notAuthorised, objectNotFound, type HttpError } from './http-errors.js'
import type { Access } from './router.js'
import type { VHost } from '../core/vhost.js'

const MANAGEMENT_TAGS = ['administrator', 'monitoring', 'policymaker', 'management']

/** Checks the Authorization header; returns the user or throws 401. */
export function authenticate(broker: Broker, headers: IncomingHttpHeaders, peerAddress: string): User {
  const h = headers.authorization
  if (h === undefined || !/^basic\s+/i.test(h)) throw loginFailed()
  const decoded = Buffer.from(h.replace(/^basic\s+/i, ''), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) throw loginFailed()
  const user = broker.users.get(decoded.slice(0, colon))
  if (user === undefined || !checkPassword(user, decoded.slice(colon + 1))) throw loginFailed()
  if (user.loopbackOnly && !isLoopback(peerAddress)) throw loginFailed('User can only log in via localhost')
  if (!user.tags.some((t) => MANAGEMENT_TAGS.includes(t))) throw notAuthorised('Not management user')
  return user
}

const has = (u: User, tag: string): boolean => u.tags.includes(tag)

/** Throws 401 unless the user's tags grant `access`. */
export function checkAccess(user: User, access: Access): void {
  if (has(user, 'administrator') || access === 'management') return
  if (access === 'monitoring' && has(user, 'monitoring')) return
  if (access === 'policymaker' && has(user, 'policymaker')) return
  throw notAuthorised(access === 'administrator' ? 'Not administrator user' : `Not ${access} user`)
}

/** May the user see this vhost's objects (administrators and monitoring users see all)? */
export function canSeeVHost(broker: Broker, user: User, vhost: string): boolean {
  if (has(user, 'administrator') || has(user, 'monitoring')) return true
  return canLogInto(broker, user, vhost)
}

/** May the user log in to this vhost (a permission entry there; RabbitMQ list_login_vhosts)? */
export function canLogInto(broker: Broker, user: User, vhost: string): boolean {
  return broker.users.getPermission(user.name, vhost) !== undefined
}

/** RabbitMQ is_authorized_vhost's refusal (401). */
const vhostRefused = (): HttpError => notAuthorised('User not authorised to access virtual host')

/**
 * The vhost a request names, for reading (`write` false) or changing it. 404 when it does not exist,
 * 401 when the user may not use it (RabbitMQ is_authorized_vhost / is_authorized_vhost_visible).
 */
export function requestVHost(req: ApiRequest, write = false, name = req.params.vhost): VHost {
  const { broker } = req.ctx
  const v = broker.vhost(name)
  if (v === undefined) throw objectNotFound()
  const allowed = write
    ? has(req.user, 'administrator') || canLogInto(broker, req.user, name)
    : canSeeVHost(broker, req.user, name)
  if (!allowed) throw vhostRefused()
  return v
}

/**
 * The vhost of a policy request. Reading a list needs what is_authorized_vhost needs (administrator
 * or a permission entry); reading one policy or changing one needs is_authorized_policies:
 * administrator, or policymaker with a permission entry. RabbitMQ checks this before it looks the
 * vhost up, so an unknown vhost is 404 only for a user who passes.
 */
export function policyVHost(req: ApiRequest, policymaker: boolean): VHost {
  const { broker } = req.ctx
  const name = req.params.vhost
  const exists = broker.vhost(name) !== undefined
  const admin = has(req.user, 'administrator')
  if (policymaker) {
    if (!admin && !(has(req.user, 'policymaker') && (!exists || canLogInto(broker, req.user, name)))) {
      throw notAuthorised('User not authorised to access object')
    }
  } else if (!admin && exists && !canLogInto(broker, req.user, name)) throw vhostRefused()
  const v = broker.vhost(name)
  if (v === undefined) throw objectNotFound()
  return v
}

/** The vhosts whose policies a user may list (RabbitMQ filter_vhost: all for administrators). */
export function policyVHosts(req: ApiRequest): string[] {
  const { broker } = req.ctx
  const all = [...broker.vhosts.keys()]
  return has(req.user, 'administrator') ? all : all.filter((n) => canLogInto(broker, req.user, n))
}

/** The vhosts a user may see, in name order. */
export function visibleVHosts(req: ApiRequest): VHost[] {
  const { broker } = req.ctx
  return [...broker.vhosts.values()].filter((v) => canSeeVHost(broker, req.user, v.name))
}

/** The vhosts a list endpoint covers: the one in the path, or every visible one. */
export function listedVHosts(req: ApiRequest): VHost[] {
  return req.params.vhost === undefined ? visibleVHosts(req) : [requestVHost(req)]
}
