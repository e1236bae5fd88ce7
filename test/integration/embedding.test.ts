/**
 * startBroker() as an embedding application calls it: only AMQP listens, on loopback, unless HTTP or
 * Prometheus are asked for; two embedded brokers side by side do not collide; the CLI keeps its
 * defaults (management 15672, Prometheus 15692, all interfaces) because it passes a full config.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import amqp from 'amqplib'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, parseConfig } from '../../core/config.js'
import { EMBEDDED_DEFAULTS, startBroker, type RunningBroker, type StartOptions } from '../../transport/server.js'

const started: RunningBroker[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const b of started.splice(0)) await b.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function embedded(options: StartOptions = {}): Promise<RunningBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-embed-'))
  dirs.push(dataDir)
  const b = await startBroker({ amqpPort: 0, dataDir, logger: pino({ level: 'silent' }), ...options })
  started.push(b)
  return b
}

describe('embedded startBroker', () => {
  it('opens only the AMQP listener, on 127.0.0.1, when given just amqpPort', async () => {
    const b = await embedded()
    expect(b.httpPort).toBe(-1)
    expect(b.prometheusPort).toBe(-1)
    expect(b.broker.listeners).toEqual([{ protocol: 'amqp', ip: '127.0.0.1', port: b.amqpPort }])
    const c = await amqp.connect(b.url)
    await c.close()
  })

  it('two embedded brokers run side by side', async () => {
    const [a, b] = await Promise.all([embedded(), embedded()])
    expect(a.amqpPort).not.toBe(b.amqpPort)
    for (const x of [a, b]) {
      const c = await amqp.connect(x.url)
      await c.close()
    }
  })

  it('opens HTTP and Prometheus when asked for, on loopback, two at once on port 0', async () => {
    const [a, b] = await Promise.all([embedded({ httpPort: 0, prometheusPort: 0 }), embedded({ httpPort: 0, prometheusPort: 0 })])
    for (const x of [a, b]) {
      expect(x.httpPort).toBeGreaterThan(0)
      expect(x.prometheusPort).toBeGreaterThan(0)
      expect(x.broker.listeners.map((l) => l.protocol)).toEqual(expect.arrayContaining(['amqp', 'http', 'http/prometheus']))
      expect(new Set(x.broker.listeners.map((l) => l.ip))).toEqual(new Set(['127.0.0.1']))
      expect((await fetch(`http://127.0.0.1:${x.httpPort}/api/overview`)).status).toBe(401)
      expect((await fetch(`http://127.0.0.1:${x.prometheusPort}/metrics`)).status).toBe(200)
    }
  })

  it('an option passed as undefined keeps the embedded default', async () => {
    const b = await embedded({ httpPort: undefined, bind: undefined })
    expect(b.httpPort).toBe(-1)
    expect(b.config.bind).toBe('127.0.0.1')
  })

  it('the CLI keeps management on 15672, Prometheus on 15692 and all interfaces', () => {
    const cli = parseConfig([], {})!
    expect(cli).toMatchObject({ httpPort: 15672, prometheusPort: 15692, bind: '' })
    // every key is set, so startBroker's embedded defaults never apply to the CLI
    expect(Object.keys(cli).sort()).toEqual(Object.keys(EMBEDDED_DEFAULTS).sort())
    expect(DEFAULT_CONFIG).toMatchObject({ httpPort: 15672, prometheusPort: 15692, bind: '' })
  })
})
