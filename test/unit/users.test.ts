/** Password hashing as RabbitMQ does it (rabbit_password_hashing_*), so definitions move both ways. */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { checkPassword, hashPassword, makeUser, UserStore, type User } from '../../core/users.js'

const user = (passwordHash: string, hashingAlgorithm = 'rabbit_password_hashing_sha256'): User => ({
  name: 'u',
  passwordHash,
  hashingAlgorithm,
  tags: [],
  loopbackOnly: false,
})

describe('password hashes', () => {
  it('checks a hash made by RabbitMQ 3.10 (guest/guest)', () => {
    const u = user('RRMDajo/UgJGI9GjTSrg3zza0rpPrdqv2S9U8PGbzX9HoIzH')
    expect(checkPassword(u, 'guest')).toBe(true)
    expect(checkPassword(u, 'Guest')).toBe(false)
  })

  it('makes salted hashes in RabbitMQ layout for sha256, sha512 and md5', () => {
    const salt = Buffer.from([1, 2, 3, 4])
    for (const [alg, h] of [
      ['rabbit_password_hashing_sha256', 'sha256'],
      ['rabbit_password_hashing_sha512', 'sha512'],
      ['rabbit_password_hashing_md5', 'md5'],
    ]) {
      const hash = hashPassword('pw', alg, salt)
      const expected = Buffer.concat([salt, createHash(h).update(Buffer.concat([salt, Buffer.from('pw')])).digest()])
      expect(hash).toBe(expected.toString('base64'))
      expect(checkPassword(user(hash, alg), 'pw')).toBe(true)
    }
    expect(hashPassword('pw')).not.toBe(hashPassword('pw'))
    expect(() => hashPassword('pw', 'nope')).toThrow(/unknown hashing algorithm/)
  })

  it('an empty hash or an unknown algorithm never authenticates', () => {
    expect(checkPassword(user(''), '')).toBe(false)
    expect(checkPassword(user(hashPassword('x'), 'nope'), 'x')).toBe(false)
    expect(checkPassword(user('AAAA'), '')).toBe(false)
  })

  it('the default store has guest/guest (loopback only) with permissions on /', () => {
    const s = new UserStore()
    expect(s.authenticate('guest', 'guest', '127.0.0.1').ok).toBe(true)
    expect(s.authenticate('guest', 'guest', '10.0.0.1')).toEqual({ ok: false, reason: "user 'guest' can only connect via localhost" })
    expect(s.getPermission('guest', '/')).toEqual({ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' })
    s.put(makeUser('bob', 'pw', []))
    s.setPermission({ user: 'bob', vhost: 'v', configure: '', write: '', read: '.*' })
    expect(s.delete('bob')).toBe(true)
    expect(s.permissions().map((p) => p.user)).toEqual(['guest'])
  })
})
