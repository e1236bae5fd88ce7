/** TLS options of core/config.ts: flags and WARREN_TLS_* environment, defaults, and the refusals. */
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_CONFIG, helpText, parseConfig } from '../../core/config.js'

describe('TLS options', () => {
  it('are off by default, on ports 5671 and 15671', () => {
    expect(DEFAULT_CONFIG).toMatchObject({ amqpsPort: 5671, httpsPort: 15671, tlsCert: '', tlsKey: '', tlsCa: '', tlsFailIfNoPeerCert: false })
  })

  it('come from flags and from WARREN_TLS_* (flags win)', () => {
    const env = { WARREN_TLS_CERT: '/env/cert.pem', WARREN_TLS_KEY: '/env/key.pem', WARREN_TLS_CA: '/env/ca.pem', WARREN_TLS_FAIL_IF_NO_PEER_CERT: 'true', WARREN_AMQPS_PORT: '5999' }
    expect(parseConfig([], env)).toMatchObject({ tlsCert: '/env/cert.pem', tlsKey: '/env/key.pem', tlsCa: '/env/ca.pem', tlsFailIfNoPeerCert: true, amqpsPort: 5999 })
    expect(parseConfig(['--tls-cert', '/f/c.pem', '--https-port=-1', '--tls-fail-if-no-peer-cert', 'false'], env)).toMatchObject({
      tlsCert: '/f/c.pem',
      httpsPort: -1,
      tlsFailIfNoPeerCert: false,
    })
  })

  it('refuse a certificate without a key and the reverse, and fail-if-no-peer-cert without a CA', () => {
    expect(() => parseConfig(['--tls-cert', 'c.pem'], {})).toThrow(new ConfigError('--tls-cert needs --tls-key (WARREN_TLS_KEY)'))
    expect(() => parseConfig(['--tls-key', 'k.pem'], {})).toThrow(new ConfigError('--tls-key needs --tls-cert (WARREN_TLS_CERT)'))
    expect(() => parseConfig(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-fail-if-no-peer-cert', 'true'], {})).toThrow(
      '--tls-fail-if-no-peer-cert needs --tls-ca',
    )
    expect(() => parseConfig(['--tls-fail-if-no-peer-cert', 'yes'], {})).toThrow("invalid --tls-fail-if-no-peer-cert 'yes': must be true or false")
    expect(() => parseConfig(['--amqps-port', '70000'], {})).toThrow('--amqps-port')
  })

  it('are in --help, with "none" for unset files', () => {
    const help = helpText()
    for (const f of ['--amqps-port', '--https-port', '--tls-cert', '--tls-key', '--tls-ca', '--tls-fail-if-no-peer-cert', 'WARREN_TLS_CERT']) expect(help).toContain(f)
    expect(help).toMatch(/--tls-cert .*\[default: none\]/)
    expect(help).toMatch(/--bind .*\[default: all\]/)
  })
})
