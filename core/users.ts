/**
 * Users and authentication. The embedded default is RabbitMQ's: guest/guest, allowed from loopback
 * addresses only.
 */
import { timingSafeEqual } from 'node:crypto'

export interface User {
  readonly name: string
  readonly password: string
  readonly tags: readonly string[]
  /** RabbitMQ loopback_users: this user may only connect from 127.0.0.0/8 or ::1 */
  readonly loopbackOnly: boolean
}

export type AuthResult = { ok: true; user: User } | { ok: false; reason: string }

export function isLoopback(address: string): boolean {
  if (address.startsWith('::ffff:')) address = address.slice(7)
  return address.startsWith('127.') || address === '::1' || address === 'localhost'
}

export class UserStore {
  private readonly users = new Map<string, User>()

  constructor(users: User[] = [{ name: 'guest', password: 'guest', tags: ['administrator'], loopbackOnly: true }]) {
    for (const u of users) this.users.set(u.name, u)
  }

  get(name: string): User | undefined {
    return this.users.get(name)
  }

  list(): User[] {
    return [...this.users.values()]
  }

  put(user: User): void {
    this.users.set(user.name, user)
  }

  delete(name: string): boolean {
    return this.users.delete(name)
  }

  /** Checks credentials and the loopback rule; the reason text follows RabbitMQ's. */
  authenticate(name: string, password: string, peerAddress: string): AuthResult {
    const u = this.users.get(name)
    if (u === undefined || !safeEqual(u.password, password)) {
      return { ok: false, reason: `Login was refused using authentication mechanism PLAIN. For details see the broker logfile.` }
    }
    if (u.loopbackOnly && !isLoopback(peerAddress)) {
      return { ok: false, reason: `user '${name}' can only connect via localhost` }
    }
    return { ok: true, user: u }
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
