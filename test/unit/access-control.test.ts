/** core/access-control.ts: RabbitMQ's permission semantics and the per-connection caches. */
import { describe, expect, it } from 'vitest'
import { AccessControl, compilePermission, resourceAccessRefusedText, vhostAccessRefusedText } from '../../core/access-control.js'
import { ChannelError } from '../../core/errors.js'
import { makeUser, UserStore } from '../../core/users.js'

function store(configure: string, write: string, read: string): UserStore {
  const s = new UserStore([makeUser('bob', 'pw', [])])
  s.setPermission({ user: 'bob', vhost: '/', configure, write, read })
  return s
}

describe('access control', () => {
  it('matches unanchored; an empty pattern is ^$; an uncompilable one matches nothing', () => {
    expect(compilePermission('')!.test('')).toBe(true)
    expect(compilePermission('')!.test('x')).toBe(false)
    expect(compilePermission('b')!.test('abc')).toBe(true)
    expect(compilePermission('(')).toBeNull()
    const a = new AccessControl(store('(', 'mid', ''), 'bob', '/')
    expect(a.permitted('configure', 'queue', '(')).toBe(false)
    expect(a.permitted('write', 'exchange', 'a-mid-b')).toBe(true)
    expect(a.permitted('read', 'queue', 'q')).toBe(false)
  })

  it('checks the default exchange as amq.default and refuses with RabbitMQ’s texts', () => {
    const a = new AccessControl(store('', '^amq\\.default$', ''), 'bob', '/')
    expect(() => a.checkPublish('')).not.toThrow()
    expect(() => a.checkPublish('x')).toThrow(ChannelError)
    expect(() => a.check('read', 'queue', 'q')).toThrow("ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'bob'")
    expect(resourceAccessRefusedText('exchange', '', '/', 'bob')).toBe("access to exchange 'amq.default' in vhost '/' refused for user 'bob'")
    expect(vhostAccessRefusedText('v', 'bob')).toBe("access to vhost 'v' refused for user 'bob'")
  })

  it('vhost access needs a permission entry, not any particular pattern', () => {
    const s = store('', '', '')
    expect(new AccessControl(s, 'bob', '/').canAccessVHost()).toBe(true)
    expect(new AccessControl(s, 'bob', '/other').canAccessVHost()).toBe(false)
  })

  it('drops the cached verdicts when users or permissions change', () => {
    const s = store('', '.*', '')
    const a = new AccessControl(s, 'bob', '/')
    expect(() => a.checkPublish('x')).not.toThrow()
    s.setPermission({ user: 'bob', vhost: '/', configure: '', write: '', read: '' })
    expect(() => a.checkPublish('x')).toThrow(ChannelError)
    s.setPermission({ user: 'bob', vhost: '/', configure: '', write: 'x', read: '' })
    expect(() => a.checkPublish('x')).not.toThrow()
    s.delete('bob')
    expect(a.canAccessVHost()).toBe(false)
    expect(() => a.checkPublish('x')).toThrow(ChannelError)
  })
})
