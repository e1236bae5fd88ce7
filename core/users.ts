/**
 * Users, their password hashes and their vhost permissions. The embedded default is RabbitMQ's:
 * guest/guest, allowed from loopback addresses only, with full permissions on vhost '/'.
 *
 * Passwords are stored as RabbitMQ stores them (rabbit_password_hashing_*): base64 of a 4-byte random
 * salt followed by hash(salt ++ utf8(password)), so exported definitions import into RabbitMQ and back.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** RabbitMQ's hashing modules; definitions name them in `hashing_algorithm`. */
export const HASHING_ALGORITHMS: Readonly<Record<string, string>> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
}

/** RabbitMQ's default (password_hashing_module). */
export const DEFAULT_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256'

/** A user as RabbitMQ stores it (internal auth backend). */
export interface User {
  readonly name: string
  /** base64(salt ++ hash(salt ++ password)); '' means the user cannot log in with a password */
  readonly passwordHash: string
  /** one of {@link HASHING_ALGORITHMS} */
  readonly hashingAlgorithm: string
  readonly tags: readonly string[]
  /** RabbitMQ loopback_users: this user may only connect from 127.0.0.0/8 or ::1 */
  readonly loopbackOnly: boolean
}

/** configure/write/read regular expressions of one user in one vhost (RabbitMQ's permission triple). */
export interface Permission {
  readonly user: string
  readonly vhost: string
  readonly configure: string
  readonly write: string
  readonly read: string
}

/**
 * A topic permission (rabbit_auth_backend_internal topic_permission): on a topic exchange, the
 * routing keys a user may publish with (write) and bind with (read), as regexes.
 */
export interface TopicPermission {
  readonly user: string
  readonly vhost: string
  readonly exchange: string
  readonly write: string
  readonly read: string
}

/** Outcome of {@link UserStore.authenticate}. */
export type AuthResult = { ok: true; user: User } | { ok: false; reason: string }

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string): boolean {
  if (address.startsWith('::ffff:')) address = address.slice(7)
  return address.startsWith('127.') || address === '::1' || address === 'localhost'
}

/** RabbitMQ's salted hash of a password: base64(salt ++ H(salt ++ password)). */
export function hashPassword(password: string, algorithm = DEFAULT_HASHING_ALGORITHM, salt = randomBytes(4)): string {
  const h = HASHING_ALGORITHMS[algorithm]
  if (h === undefined) throw new RangeError(`unknown hashing algorithm '${algorithm}'`)
  const digest = createHash(h).update(salt).update(password, 'utf8').digest()
  return Buffer.concat([salt, digest]).toString('base64')
}

/** True when `password` matches the user's stored hash. */
export function checkPassword(user: User, password: string): boolean {
  const h = HASHING_ALGORITHMS[user.hashingAlgorithm]
  if (h === undefined || user.passwordHash === '') return false
  const stored = Buffer.from(user.passwordHash, 'base64')
  if (stored.length <= 4) return false
  const digest = createHash(h).update(stored.subarray(0, 4)).update(password, 'utf8').digest()
  const expected = stored.subarray(4)
  return digest.length === expected.length && timingSafeEqual(digest, expected)
}

/** Builds a user from a clear-text password (hashed with a fresh salt). */
export function makeUser(name: string, password: string, tags: readonly string[], loopbackOnly = name === 'guest'): User {
  return { name, passwordHash: hashPassword(password), hashingAlgorithm: DEFAULT_HASHING_ALGORITHM, tags, loopbackOnly }
}

/** The users and their vhost permissions. */
export class UserStore {
  private readonly users = new Map<string, User>()
  /** by `${vhost}\0${user}` */
  private readonly perms = new Map<string, Permission>()
  /** by `${vhost}\0${user}\0${exchange}` */
  private readonly topicPerms = new Map<string, TopicPermission>()
  /** user limits (core/limits.ts), by user */
  private readonly limits = new Map<string, Readonly<Record<string, number>>>()
  /** called after every change (the broker's storage persists the users and permissions) */
  onChange: (() => void) | null = null
  /**
   * Bumped on every change of users or permissions: connections compare it to drop their cached
   * permission checks (core/access-control.ts), as RabbitMQ invalidates its permission cache.
   */
  generation = 0

  constructor(users: User[] = [makeUser('guest', 'guest', ['administrator'], true)]) {
    for (const u of users) this.users.set(u.name, u)
    if (users.some((u) => u.name === 'guest')) this.setPermission({ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' })
  }

  get(name: string): User | undefined {
    return this.users.get(name)
  }

  list(): User[] {
    return [...this.users.values()]
  }

  put(user: User): void {
    this.users.set(user.name, user)
    this.generation++
    this.onChange?.()
  }

  /** Adds or replaces many users and permissions as one change (a definitions import). */
  putAll(users: readonly User[], perms: readonly Permission[]): void {
    if (users.length === 0 && perms.length === 0) return
    for (const u of users) this.users.set(u.name, u)
    for (const p of perms) this.perms.set(`${p.vhost}\u0000${p.user}`, p)
    this.generation++
    this.onChange?.()
  }

  /** Deletes a user and its permissions. */
  delete(name: string): boolean {
    if (!this.users.delete(name)) return false
    for (const [k, p] of this.perms) if (p.user === name) this.perms.delete(k)
    for (const [k, p] of this.topicPerms) if (p.user === name) this.topicPerms.delete(k)
    this.limits.delete(name)
    this.generation++
    this.onChange?.()
    return true
  }

  // ---- permissions --------------------------------------------------------------------------

  getPermission(user: string, vhost: string): Permission | undefined {
    return this.perms.get(`${vhost}\u0000${user}`)
  }

  setPermission(p: Permission): void {
    this.perms.set(`${p.vhost}\u0000${p.user}`, p)
    this.generation++
    this.onChange?.()
  }

  deletePermission(user: string, vhost: string): boolean {
    const gone = this.perms.delete(`${vhost}\u0000${user}`)
    if (gone) this.generation++
    if (gone) this.onChange?.()
    return gone
  }

  /** Removes every permission in a vhost (the vhost is being deleted). */
  deleteVHostPermissions(vhost: string): void {
    for (const [k, p] of this.perms) if (p.vhost === vhost) this.perms.delete(k)
    for (const [k, p] of this.topicPerms) if (p.vhost === vhost) this.topicPerms.delete(k)
    this.generation++
    this.onChange?.()
  }

  permissions(): Permission[] {
    return [...this.perms.values()]
  }

  // ---- topic permissions and user limits -----------------------------------------------------

  /** The topic permission of a user on one exchange, or undefined (then every key is allowed). */
  getTopicPermission(user: string, vhost: string, exchange: string): TopicPermission | undefined {
    return this.topicPerms.get(`${vhost}\u0000${user}\u0000${exchange}`)
  }

  setTopicPermission(p: TopicPermission): void {
    this.topicPerms.set(`${p.vhost}\u0000${p.user}\u0000${p.exchange}`, p)
    this.generation++
    this.onChange?.()
  }

  /** Deletes a user's topic permissions in a vhost (on one exchange, or all); returns how many. */
  deleteTopicPermissions(user: string, vhost: string, exchange?: string): number {
    let n = 0
    for (const [k, p] of this.topicPerms) {
      if (p.user === user && p.vhost === vhost && (exchange === undefined || p.exchange === exchange)) {
        this.topicPerms.delete(k)
        n++
      }
    }
    if (n > 0) {
      this.generation++
      this.onChange?.()
    }
    return n
  }

  topicPermissions(): TopicPermission[] {
    return [...this.topicPerms.values()]
  }

  /** A user's limits, or undefined. */
  getLimits(user: string): Readonly<Record<string, number>> | undefined {
    return this.limits.get(user)
  }

  /** Sets (or with an empty object, clears) a user's limits. */
  setLimits(user: string, limits: Readonly<Record<string, number>>): void {
    if (Object.keys(limits).length === 0) this.limits.delete(user)
    else this.limits.set(user, limits)
    this.onChange?.()
  }

  allLimits(): { user: string; value: Readonly<Record<string, number>> }[] {
    return [...this.limits].map(([user, value]) => ({ user, value }))
  }

  /** Replaces every user and permission (restoring a persisted snapshot); onChange is not called. */
  replaceAll(
    users: readonly User[],
    perms: readonly Permission[],
    topicPerms: readonly TopicPermission[] = [],
    limits: readonly { user: string; value: Readonly<Record<string, number>> }[] = [],
  ): void {
    this.generation++
    this.users.clear()
    this.perms.clear()
    this.topicPerms.clear()
    this.limits.clear()
    for (const u of users) this.users.set(u.name, u)
    for (const p of perms) this.perms.set(`${p.vhost}\u0000${p.user}`, p)
    for (const p of topicPerms) this.topicPerms.set(`${p.vhost}\u0000${p.user}\u0000${p.exchange}`, p)
    for (const l of limits) this.limits.set(l.user, l.value)
  }

  /** Checks credentials and the loopback rule; the reason text follows RabbitMQ's. */
  authenticate(name: string, password: string, peerAddress: string): AuthResult {
    const u = this.users.get(name)
    if (u === undefined || !checkPassword(u, password)) {
      return { ok: false, reason: `Login was refused using authentication mechanism PLAIN. For details see the broker logfile.` }
    }
    if (u.loopbackOnly && !isLoopback(peerAddress)) {
      return { ok: false, reason: `user '${name}' can only connect via localhost` }
    }
    return { ok: true, user: u }
  }
}
