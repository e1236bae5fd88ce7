/**
 * Cross-site WebSocket hijacking (issue 10, hole 10): a page from another origin cannot open an
 * AMQP WebSocket (403), the broker's own pages and configured origins can, and a browser page
 * whose Host is not a loopback name (DNS rebinding) does not get guest's loopback privilege.
 */
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { methodFrame } from '../helpers/raw-amqp.js'
import { RawWs } from '../helpers/ws.js'

let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker({ wsAllowedOrigins: ['http://app.example:8080'] })
})
afterAll(async () => b.stop())

/** The HTTP status of a refused upgrade with these headers, or 101. */
function upgradeStatus(origin: string | undefined, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${b.httpPort}/ws/amqp`, {
      ...(origin === undefined ? {} : { origin }),
      ...(host === undefined ? {} : { headers: { host } }),
    })
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.on('open', () => {
      resolve(101)
      ws.terminate()
    })
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

/** Logs in as guest over a WebSocket with these headers: 'open' once tune arrives, or 'refused'. */
async function guestLogin(origin: string | undefined, host?: string): Promise<'tuned' | 'refused'> {
  const raw = await RawWs.open(`ws://127.0.0.1:${b.httpPort}/ws/amqp`, undefined, {
    ...(origin === undefined ? {} : { origin }),
    ...(host === undefined ? {} : { headers: { host } }),
  })
  try {
    raw.send(PROTOCOL_HEADER)
    await raw.bytes(8, 'connection.start')
    raw.send(methodFrame(0, 10, 11, [{ product: 'origin test' }, 'PLAIN', '\0guest\0guest', 'en_US']))
    // connection.tune is method 10.30; a refused guest (no authentication_failure_close) loses the socket
    const start = raw.received.readUInt32BE(3) + 8
    const tuned = (): boolean => raw.received.length > start + 11 && raw.received.readUInt16BE(start + 9) === 30
    await waitFor(() => tuned() || raw.closeCode !== null, 5000, 'tune or close')
    return tuned() ? 'tuned' : 'refused'
  } finally {
    raw.ws.terminate()
  }
}

describe('Origin on AMQP WebSocket upgrades', () => {
  it('refuses a page from another origin with 403', async () => {
    expect(await upgradeStatus('http://evil.example')).toBe(403)
    expect(await upgradeStatus('null')).toBe(403)
    expect(await upgradeStatus(`http://127.0.0.1:${b.httpPort + 1}`)).toBe(403)
    expect(b.broker.connections.size).toBe(0)
  })

  it('accepts clients without Origin, the broker’s own origin and configured origins; guest may log in', async () => {
    expect(await guestLogin(undefined)).toBe('tuned')
    expect(await guestLogin(`http://127.0.0.1:${b.httpPort}`)).toBe('tuned')
    expect(await guestLogin('http://app.example:8080')).toBe('tuned')
  })

  it('a same-origin page under a non-loopback host name (DNS rebinding) cannot log in as guest', async () => {
    const host = `evil.example:${b.httpPort}`
    expect(await upgradeStatus(`http://${host}`, host)).toBe(101)
    expect(await guestLogin(`http://${host}`, host)).toBe('refused')
  })
})
