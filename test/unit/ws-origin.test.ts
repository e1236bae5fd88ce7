/**
 * The Origin check on AMQP WebSocket upgrades (transport/ws-origin.ts) and the parsing of
 * --ws-allowed-origins: which origins may connect, and which keep the guest-from-loopback privilege.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../core/config.js'
import { checkOrigin } from '../../transport/ws-origin.js'

const allowed = ['http://app.example:8080']

describe('checkOrigin', () => {
  it.each([
    // [origin, host, allowed, loopbackTrusted]
    [undefined, '127.0.0.1:15672', true, true], // not a browser
    ['http://127.0.0.1:15672', '127.0.0.1:15672', true, true], // same origin, loopback host
    ['http://localhost:15672', 'LOCALHOST:15672', true, true],
    ['http://[::1]:15672', '[::1]:15672', true, true],
    ['https://127.0.0.1', '127.0.0.1:443', true, true], // default port dropped on both sides
    ['http://app.example:8080', '127.0.0.1:15672', true, true], // configured
    ['http://evil.example', '127.0.0.1:15672', false, false], // cross-site
    ['http://127.0.0.1:8000', '127.0.0.1:15672', false, false], // another port is another origin
    ['null', '127.0.0.1:15672', false, false], // sandboxed frame or file: page
    ['file:///tmp/x.html', '127.0.0.1:15672', false, false],
    ['http://evil.example:15672', undefined, false, false],
    // DNS rebinding: same origin by the Host header, but not a loopback name: no guest privilege
    ['http://evil.example:15672', 'evil.example:15672', true, false],
    ['http://127.evil.example:15672', '127.evil.example:15672', true, false],
    ['http://broker.internal:15672', 'broker.internal:15672', true, false],
  ])('%s with Host %s: allowed %s, loopback trusted %s', (origin, host, ok, trusted) => {
    expect(checkOrigin(origin, host, allowed)).toEqual({ allowed: ok, loopbackTrusted: trusted })
  })
})

describe('--ws-allowed-origins', () => {
  it('parses a comma list into origins, from the flag or the environment', () => {
    expect(parseConfig(['--ws-allowed-origins', 'http://a.example, https://B.example:8443/'], {})!.wsAllowedOrigins).toEqual([
      'http://a.example',
      'https://b.example:8443',
    ])
    expect(parseConfig([], { WARREN_WS_ALLOWED_ORIGINS: 'http://a.example' })!.wsAllowedOrigins).toEqual(['http://a.example'])
    expect(parseConfig([], {})!.wsAllowedOrigins).toEqual([])
  })

  it.each(['a.example', 'http://a.example/path', 'ftp://a.example', '*'])('refuses %s', (raw) => {
    expect(() => parseConfig(['--ws-allowed-origins', raw], {})).toThrow(ConfigError)
  })
})
