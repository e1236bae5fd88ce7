/**
 * Users, permissions and whoami (RabbitMQ rabbit_mgmt_wm_users, _user, _permissions, _permission,
 * _whoami). Users are stored with RabbitMQ's salted password hashes, so `password_hash` and
 * `hashing_algorithm` round-trip through definitions.
 */
import {
  DEFAULT_HASHING_ALGORITHM,
  HASHING_ALGORITHMS,
  hashPassword,
  type Permission,
  type User,
} from '../../core/users.js'
import { objectBody, shortName, str } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { parseTags } from './vhosts.js'

/** A user as /api/users and definitions show it. */
export function userJson(u: User, limits: Readonly<Record<string, number>> = {}): Record<string, unknown> {
  return { name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: [...u.tags], limits: { ...limits } }
}

/** A permission as /api/permissions and definitions show it. */
export function permissionJson(p: Permission): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read }
}

/**
 * A user from a PUT body or a definitions entry (rabbit_auth_backend_internal:put_user): `password`
 * or `password_hash` (+ `hashing_algorithm`), not both; neither clears the password.
 */
export function userInput(name: string, o: Record<string, unknown>, defaultAlgorithm = DEFAULT_HASHING_ALGORITHM): User {
  if (name === '') throw badRequest('user name must not be empty')
  shortName(name, 'user name')
  const hasPassword = o.password !== undefined && o.password !== null
  const hasHash = o.password_hash !== undefined && o.password_hash !== null
  if (hasPassword && hasHash) throw badRequest('both_password_and_password_hash_are_provided')
  const algorithm = str(o, 'hashing_algorithm', defaultAlgorithm)
  if (!Object.hasOwn(HASHING_ALGORITHMS, algorithm)) {
    throw badRequest(`unknown hashing_algorithm '${algorithm}'; use one of ${Object.keys(HASHING_ALGORITHMS).join(', ')}`)
  }
  let passwordHash = ''
  if (hasPassword) passwordHash = hashPassword(str(o, 'password'), algorithm)
  else if (hasHash) {
    passwordHash = str(o, 'password_hash')
    if (passwordHash !== '' && !/^[A-Za-z0-9+/]+={0,2}$/.test(passwordHash)) throw badRequest('password_hash is not valid base64')
  }
  return { name, passwordHash, hashingAlgorithm: algorithm, tags: parseTags(o.tags), loopbackOnly: name === 'guest' }
}

/** configure/write/read from a PUT body or a definitions entry; each must be a valid regex. */
export function permissionInput(user: string, vhost: string, o: Record<string, unknown>): Permission {
  const p = { user, vhost, configure: str(o, 'configure'), write: str(o, 'write'), read: str(o, 'read') }
  for (const k of ['configure', 'write', 'read'] as const) {
    try {
      new RegExp(p[k])
    } catch {
      throw badRequest(`${k} is not a valid regular expression: '${p[k]}'`)
    }
  }
  return p
}

function putUser(req: ApiRequest): ApiReply {
  const { broker } = req.ctx
  const u = userInput(req.params.user, objectBody(req.body))
  const existed = broker.users.get(u.name) !== undefined
  broker.users.put(u)
  return existed ? noContent() : created()
}

function putPermission(req: ApiRequest): ApiReply {
  const { broker } = req.ctx
  const { vhost, user } = req.params
  if (broker.vhost(vhost) === undefined || broker.users.get(user) === undefined) throw objectNotFound()
  const p = permissionInput(user, vhost, objectBody(req.body))
  const existed = broker.users.getPermission(user, vhost) !== undefined
  broker.users.setPermission(p)
  return existed ? noContent() : created()
}

const ADMIN = { access: 'administrator' as const }

/** Adds the user, permission and whoami routes. */
export function registerUsers(router: Router): void {
  router.get('/api/whoami', (req) => ok({ name: req.user.name, tags: [...req.user.tags] }))
  const users = (req: ApiRequest): User[] => req.ctx.broker.users.list()
  const json = (req: ApiRequest) => (u: User) => userJson(u, req.ctx.broker.users.getLimits(u.name))
  router.get('/api/users', (req) => ok(users(req).map(json(req))), { ...ADMIN, list: { sort: ['name'] } })
  router.get(
    '/api/users/without-permissions',
    (req) => {
      const perms = req.ctx.broker.users.permissions()
      return ok(users(req).filter((u) => !perms.some((p) => p.user === u.name)).map(json(req)))
    },
    { ...ADMIN, list: { sort: ['name'] } },
  )
  router.post(
    '/api/users/bulk-delete',
    (req) => {
      const list = objectBody(req.body).users
      if (!Array.isArray(list) || !list.every((n) => typeof n === 'string')) throw badRequest('users must be an array of user names')
      for (const n of list) req.ctx.broker.deleteUser(n)
      return noContent()
    },
    ADMIN,
  )
  router.get('/api/users/:user', (req) => {
    const u = req.ctx.broker.users.get(req.params.user)
    if (u === undefined) throw objectNotFound()
    return ok(json(req)(u))
  }, ADMIN)
  router.put('/api/users/:user', putUser, ADMIN)
  router.delete('/api/users/:user', (req) => {
    if (!req.ctx.broker.deleteUser(req.params.user)) throw objectNotFound()
    return noContent()
  }, ADMIN)
  const permSort = { ...ADMIN, list: { sort: ['vhost', 'user'] } }
  const perms = (req: ApiRequest): Permission[] => req.ctx.broker.users.permissions()
  router.get('/api/permissions', (req) => ok(perms(req).map(permissionJson)), permSort)
  router.get('/api/users/:user/permissions', (req) => {
    if (req.ctx.broker.users.get(req.params.user) === undefined) throw objectNotFound()
    return ok(perms(req).filter((p) => p.user === req.params.user).map(permissionJson))
  }, permSort)
  router.get('/api/vhosts/:vhost/permissions', (req) => {
    if (req.ctx.broker.vhost(req.params.vhost) === undefined) throw objectNotFound()
    return ok(perms(req).filter((p) => p.vhost === req.params.vhost).map(permissionJson))
  }, permSort)
  router.get('/api/permissions/:vhost/:user', (req) => {
    const p = req.ctx.broker.users.getPermission(req.params.user, req.params.vhost)
    if (p === undefined) throw objectNotFound()
    return ok(permissionJson(p))
  }, ADMIN)
  router.put('/api/permissions/:vhost/:user', putPermission, ADMIN)
  router.delete('/api/permissions/:vhost/:user', (req) => {
    if (!req.ctx.broker.users.deletePermission(req.params.user, req.params.vhost)) throw objectNotFound()
    return noContent()
  }, ADMIN)
}
