/**
 * AMQPS and HTTPS/WSS with certificates made at test time (test/helpers/certs.ts): amqplib,
 * @cloudamqp/amqp-client over TLS and WSS, pika; TLS 1.2+ only; client certificates verified
 * against --tls-ca; the EXTERNAL mechanism with the certificate's CN as user, and its refusals as
 * RabbitMQ words them; the management API over HTTPS.
 */
import { execFile, spawnSync } from 'node:child_process'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { AMQPClient, AMQPWebSocketClient } from '@cloudamqp/amqp-client'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeUser } from '../../core/users.js'
import { PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { startTestBroker, waitFor, withBroker, type TestBroker } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { TestCa, type CertFiles } from '../helpers/certs.js'
import { replyText } from '../helpers/suite.js'

const PIKA_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pika', 'tls_client.py')
const REFUSED_EXTERNAL = 'Login was refused using authentication mechanism EXTERNAL. For details see the broker logfile.'

let ca: TestCa
let server: CertFiles
let alice: CertFiles
let b: TestBroker

beforeAll(async () => {
  ca = new TestCa()
  server = ca.server()
  alice = ca.client('/O=Warren/CN=alice')
  b = await startTestBroker({ amqpsPort: 0, httpsPort: 0, tlsCert: server.cert, tlsKey: server.key, tlsCa: ca.cert })
  b.broker.users.put(makeUser('alice', 'not-used-by-external', []))
  b.broker.users.setPermission({ user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' })
})
afterAll(async () => {
  await b?.stop()
  ca?.remove()
})

const caPem = (): Buffer => ca.read(ca.cert)
const clientTls = (c: CertFiles): { cert: Buffer; key: Buffer } => ({ cert: ca.read(c.cert), key: ca.read(c.key) })

/** Opens a TLS socket to `port` and resolves with it once the handshake is done (or rejects). */
function tlsConnect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem(), ...options })
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
  })
}

/** Resolves with what the broker's side of a TLS connection sent first, or rejects when it cut it. */
function firstBytes(s: net.Socket, send: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    s.once('data', resolve)
    s.once('error', reject)
    s.once('close', () => reject(new Error('closed without data')))
    s.write(send)
  })
}

describe('AMQPS listener', () => {
  it('is listed with the HTTPS and WSS listeners, separate from the plain ones', () => {
    expect(b.amqpsPort).toBeGreaterThan(0)
    expect(b.httpsPort).toBeGreaterThan(0)
    expect(b.amqpsPort).not.toBe(b.amqpPort)
    const protocols = b.broker.listeners.map((l) => `${l.protocol}:${l.port}`)
    expect(protocols).toEqual(
      expect.arrayContaining([`amqp/ssl:${b.amqpsPort}`, `https:${b.httpsPort}`, `https/web-amqp:${b.httpsPort}`, `amqp:${b.amqpPort}`]),
    )
  })

  it('amqplib: amqps:// with the CA, publish and get', async () => {
    const conn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${b.amqpsPort}`, { ca: [caPem()], servername: 'localhost' })
    try {
      const ch = await conn.createChannel()
      const { queue } = await ch.assertQueue('', { exclusive: true })
      ch.sendToQueue(queue, Buffer.from('secret'))
      const msg = await waitFor(async () => ch.get(queue, { noAck: true }), 5000, 'the message')
      expect(msg.content.toString()).toBe('secret')
    } finally {
      await conn.close()
    }
  })

  it('offers EXTERNAL on AMQPS (rabbit_auth_mechanism_ssl:should_offer), not on plain AMQP', async () => {
    const start = async (s: net.Socket): Promise<string> => {
      try {
        return (await firstBytes(s, PROTOCOL_HEADER)).toString('latin1')
      } finally {
        s.destroy()
      }
    }
    const overTls = await start(await tlsConnect(b.amqpsPort))
    const plain = await start(await new Promise<net.Socket>((resolve) => { const s = net.connect(b.amqpPort, '127.0.0.1', () => resolve(s)) }))
    expect(overTls).toContain('PLAIN AMQPLAIN EXTERNAL')
    expect(plain).toContain('PLAIN AMQPLAIN')
    expect(plain).not.toContain('EXTERNAL')
  })

  it('@cloudamqp/amqp-client: amqps:// with the CA', async () => {
    const client = new AMQPClient(`amqps://guest:guest@127.0.0.1:${b.amqpsPort}`, { ca: caPem() })
    const conn = await client.connect()
    try {
      const ch = await conn.channel()
      const q = await ch.queueDeclare('', { exclusive: true })
      await ch.basicPublish('', q.name, 'hello tls')
      const msg = await waitFor(async () => ch.basicGet(q.name, { noAck: true }), 5000, 'the message')
      expect(msg.bodyToString()).toBe('hello tls')
    } finally {
      await conn.close()
    }
  })

  it('refuses TLS 1.1 and TLS 1.0; accepts TLS 1.2 and 1.3', async () => {
    const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const
    await expect(tlsConnect(b.amqpsPort, old)).rejects.toThrow()
    await expect(tlsConnect(b.httpsPort, old)).rejects.toThrow()
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await tlsConnect(b.amqpsPort, { minVersion: v, maxVersion: v })
      expect(s.getProtocol()).toBe(v)
      s.destroy()
    }
  })

  it('drops a client whose certificate is not signed by --tls-ca', async () => {
    const other = new TestCa('Other CA')
    try {
      const stranger = other.client('/CN=alice')
      const s = await tlsConnect(b.amqpsPort, clientTls(stranger)).catch((err: Error) => err)
      // TLS 1.3 finishes the client's side of the handshake before the server checks its certificate
      if (s instanceof tls.TLSSocket) await expect(firstBytes(s, PROTOCOL_HEADER)).rejects.toThrow()
      else expect(s).toBeInstanceOf(Error)
      // the HTTPS port too: no HTTP answer
      const h = await tlsConnect(b.httpsPort, clientTls(stranger)).catch((err: Error) => err)
      if (h instanceof tls.TLSSocket) await expect(firstBytes(h, Buffer.from('GET /api/overview HTTP/1.1\r\nHost: x\r\n\r\n'))).rejects.toThrow()
      else expect(h).toBeInstanceOf(Error)
      await expect(
        amqp.connect(`amqps://127.0.0.1:${b.amqpsPort}`, { ca: [caPem()], servername: 'localhost', ...clientTls(stranger), credentials: amqp.credentials.external() }),
      ).rejects.toThrow()
    } finally {
      other.remove()
    }
  })
})

describe('EXTERNAL (client certificate CN)', () => {
  const external = (c?: CertFiles) =>
    amqp.connect(`amqps://127.0.0.1:${b.amqpsPort}`, {
      ca: [caPem()],
      servername: 'localhost',
      ...(c === undefined ? {} : clientTls(c)),
      credentials: amqp.credentials.external(),
    })

  it('logs in as the CN of the verified certificate, without a password', async () => {
    const conn = await external(alice)
    try {
      const ch = await conn.createChannel()
      await ch.assertQueue('', { exclusive: true })
      const info = await waitFor(() => [...b.broker.connections].find((c) => c.userName === 'alice'), 5000, 'alice connected')
      expect(info.userName).toBe('alice')
    } finally {
      await conn.close()
    }
  })

  it('a client with a certificate can still use PLAIN', async () => {
    const conn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${b.amqpsPort}`, { ca: [caPem()], servername: 'localhost', ...clientTls(alice) })
    await conn.close()
  })

  it('refuses with 403 when there is no client certificate, or its CN is not a user', async () => {
    const nobody = ca.client('/CN=nobody')
    for (const attempt of [external(), external(nobody)]) {
      const err = (await attempt.then(
        (c) => c.close().then(() => new Error('connected')),
        (e: Error) => e,
      )) as Error & { code?: number }
      expect(err.message).toContain('ACCESS_REFUSED')
      expect(replyText(err)).toBe(`ACCESS_REFUSED - ${REFUSED_EXTERNAL}`)
    }
  })

  it('refuses a certificate without a CN', async () => {
    const noCn = ca.client('/O=Warren/OU=no common name')
    const err = await external(noCn).then(
      (c) => c.close().then(() => new Error('connected')),
      (e: Error) => e,
    )
    expect(replyText(err)).toBe(`ACCESS_REFUSED - ${REFUSED_EXTERNAL}`)
  })
})

describe('client certificates required (--tls-fail-if-no-peer-cert)', () => {
  it('refuses a TLS client without a certificate; one with a certificate logs in with EXTERNAL', async () => {
    await withBroker(
      async (strict) => {
        const options = { ca: [caPem()], servername: 'localhost' }
        await expect(amqp.connect(`amqps://guest:guest@127.0.0.1:${strict.amqpsPort}`, options)).rejects.toThrow()
        strict.broker.users.put(makeUser('alice', 'x', []))
        strict.broker.users.setPermission({ user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' })
        const conn = await amqp.connect(`amqps://127.0.0.1:${strict.amqpsPort}`, { ...options, ...clientTls(alice), credentials: amqp.credentials.external() })
        await conn.close()
      },
      { amqpsPort: 0, httpsPort: -1, tlsCert: server.cert, tlsKey: server.key, tlsCa: ca.cert, tlsFailIfNoPeerCert: true },
    )
  })
})

describe('TLS files at start', () => {
  it('an unreadable certificate or a key that does not match is refused before anything listens', async () => {
    await expect(startTestBroker({ amqpsPort: 0, tlsCert: '/nonexistent/cert.pem', tlsKey: server.key })).rejects.toThrow(
      "cannot read the TLS certificate '/nonexistent/cert.pem': ENOENT",
    )
    const other = ca.server('mismatch')
    await expect(startTestBroker({ amqpsPort: 0, tlsCert: server.cert, tlsKey: other.key })).rejects.toThrow('invalid TLS certificate, key or CA')
    // embedders skip parseConfig's checks: half a key pair must not quietly leave TLS off
    await expect(startTestBroker({ amqpsPort: 0, tlsCert: server.cert })).rejects.toThrow('TLS needs both tlsCert and tlsKey')
  })

  it('without a certificate no TLS listener opens', () => {
    // the suite's other brokers (startTestBroker without tlsCert) have none
    return withBroker(async (plain) => {
      expect(plain.amqpsPort).toBe(-1)
      expect(plain.httpsPort).toBe(-1)
      expect(plain.broker.listeners.map((l) => l.protocol)).not.toContain('amqp/ssl')
    })
  })
})

describe('HTTPS and WSS on the management port', () => {
  it('the management API shows which connections use TLS (ssl, ssl_protocol)', async () => {
    const tlsConn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${b.amqpsPort}`, { ca: [caPem()], servername: 'localhost', clientProperties: { connection_name: 'over-tls' } })
    const plainConn = await amqp.connect(b.url, { clientProperties: { connection_name: 'in-clear' } })
    try {
      const api = apiClient(b)
      const list = await waitFor(async () => {
        const r = await api.get<Record<string, unknown>[]>('/api/connections')
        return r.body.length >= 2 ? r.body : null
      }, 5000, 'two connections')
      const byName = (n: string) => list.find((c) => c.user_provided_name === n)
      expect(byName('over-tls')).toMatchObject({ ssl: true, ssl_protocol: expect.stringMatching(/^tlsv1\.[23]$/), ssl_cipher: expect.any(String) })
      expect(byName('in-clear')).toMatchObject({ ssl: false, ssl_protocol: null, ssl_cipher: null })
    } finally {
      await tlsConn.close()
      await plainConn.close()
    }
  })


  it('serves the management API over HTTPS with the same handler', async () => {
    const body = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const auth = Buffer.from('guest:guest').toString('base64')
      https
        .get({ host: '127.0.0.1', port: b.httpsPort, path: '/api/overview', servername: 'localhost', ca: caPem(), headers: { authorization: `Basic ${auth}` } }, (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (d: string) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }))
        })
        .on('error', reject)
    })
    expect(body.status).toBe(200)
    expect(body.json.rabbitmq_version).toBe('3.10.8')
    const listeners = body.json.listeners as { protocol: string; port: number }[]
    expect(listeners).toEqual(expect.arrayContaining([expect.objectContaining({ protocol: 'amqp/ssl', port: b.amqpsPort })]))
  })

  it('@cloudamqp/amqp-client AMQPWebSocketClient over wss://', async () => {
    const ca = caPem()
    // Node 20 has no global WebSocket: ws, told to trust the test CA
    ;(globalThis as Record<string, unknown>).WebSocket = class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { ca })
      }
    }
    const client = new AMQPWebSocketClient({ url: `wss://127.0.0.1:${b.httpsPort}/ws/amqp`, username: 'guest', password: 'guest' })
    const conn = await client.connect()
    try {
      const ch = await conn.channel()
      const q = await ch.queueDeclare('', { exclusive: true })
      await ch.basicPublish('', q.name, 'over wss')
      const msg = await waitFor(async () => ch.basicGet(q.name, { noAck: true }), 5000, 'the message')
      expect(msg.bodyToString()).toBe('over wss')
      const c = await waitFor(() => [...b.broker.connections].find((x) => x.protocol.includes('WebSocket') && x.tls !== null), 5000, 'the WSS connection')
      expect(c.tls?.protocol).toMatch(/^TLSv1\.[23]$/)
    } finally {
      await conn.close()
    }
  })
})

/** The first python3 that can import pika. */
function findPython(): string | null {
  for (const python of [process.env.WARREN_PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x)) {
    if (spawnSync(python, ['-c', 'import pika'], { timeout: 10_000 }).status === 0) return python
  }
  return null
}
const python = findPython()

describe.skipIf(python === null)('pika over TLS', () => {
  it('PLAIN with the server verified, EXTERNAL with a client certificate, EXTERNAL without one refused', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(python!, [PIKA_SCRIPT, String(b.amqpsPort), ca.cert, alice.cert, alice.key], { timeout: 30_000, encoding: 'utf8' }, (err, out, se) =>
        err ? reject(new Error(`pika script failed (${err.message}):\n${se}\n${out}`)) : resolve(out),
      )
    })
    const steps = new Map(stdout.trim().split('\n').map((l) => { const s = JSON.parse(l) as Record<string, unknown>; return [s.step, s] }))
    expect(steps.get('plain')).toMatchObject({ body: 'over tls', version: expect.stringMatching(/^TLSv1\.[23]$/) })
    expect(steps.get('external')).toMatchObject({ body: 'over tls' })
    expect(String(steps.get('external_no_cert')?.error)).toContain('ACCESS_REFUSED')
  }, 40_000)
})
