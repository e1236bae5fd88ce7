/**
 * transport/tls.ts externalLogin: the EXTERNAL mechanism's checks after the TLS handshake, as
 * rabbit_auth_mechanism_ssl and rabbit_reader make them (the addresses are only compared, never used).
 */
import { describe, expect, it } from 'vitest'
import { makeUser, UserStore } from '../../core/users.js'
import { offeredMechanisms } from '../../transport/sasl.js'
import { externalLogin, type TlsPeer } from '../../transport/tls.js'

const peer = (commonName: string | undefined, externalRefusal?: string): TlsPeer => ({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', commonName, externalRefusal })

describe('EXTERNAL login', () => {
  const users = new UserStore([makeUser('guest', 'guest', ['administrator'], true), makeUser('alice', 'pw', [])])

  it('logs in the user named by the CN, whatever its password', () => {
    const r = externalLogin(users, peer('alice'), '10.1.2.3')
    expect(r.ok && r.user.name).toBe('alice')
  })

  it('keeps the loopback rule: guest by certificate only from loopback', () => {
    expect(externalLogin(users, peer('guest'), '127.0.0.1').ok).toBe(true)
    expect(externalLogin(users, peer('guest'), '::ffff:10.1.2.3')).toEqual({ ok: false, reason: "user 'guest' can only connect via localhost" })
  })

  it("refuses with RabbitMQ's reasons: no certificate, no CN, unknown user", () => {
    expect(externalLogin(users, peer(undefined, 'connection peer presented no TLS (x.509) certificate'), '127.0.0.1')).toEqual({
      ok: false,
      reason: 'connection peer presented no TLS (x.509) certificate',
    })
    expect(externalLogin(users, peer(undefined, 'no name found'), '127.0.0.1')).toEqual({ ok: false, reason: 'no name found' })
    expect(externalLogin(users, peer('mallory'), '127.0.0.1')).toEqual({ ok: false, reason: "user 'mallory' - invalid credentials" })
  })

  it('is offered on TLS connections only', () => {
    expect(offeredMechanisms(peer('alice'))).toBe('PLAIN AMQPLAIN EXTERNAL')
    expect(offeredMechanisms(null)).toBe('PLAIN AMQPLAIN')
  })
})
