/**
 * core/dead-letter.ts on a real VHost without sockets: RabbitMQ's cycle rule (mc:is_death_cycle — a
 * message returning to a queue it died in is dropped unless a client rejection happened since), the
 * x-death bookkeeping (same queue+reason counted up and moved first, types RabbitMQ uses), the
 * first/last-death headers, routing key and exchange of the republished message, and a missing DLX
 * (dropped, warned once).
 */
import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { deadLetter, type DeathReason } from '../../core/dead-letter.js'
import { ExchangeTypeRegistry } from '../../core/exchange.js'
import { Message } from '../../core/message.js'
import type { Queue } from '../../core/queue.js'
import { VHost } from '../../core/vhost.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { encodeProperties, summarizeProperties, type BasicProperties, type PropertySummary } from '../../core/wire/properties.js'
import { registerBuiltinExchanges } from '../../exchanges/index.js'

function setup(): { vhost: VHost; warnings: string[] } {
  const types = new ExchangeTypeRegistry()
  registerBuiltinExchanges(types)
  const warnings: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg as string) })
  return { vhost: new VHost('/', types, log), warnings }
}

function declare(vhost: VHost, name: string, args: FieldTable = {}): Queue {
  return vhost.declareQueue(name, { durable: false, autoDelete: false, exclusiveOwner: null, arguments: args }, false, null).queue
}

function message(props: BasicProperties, exchange = 'src', routingKey = 'rk', ttl = -1): Message {
  const raw = encodeProperties(props)
  const s: PropertySummary = { deliveryMode: 0, priority: 0, expiration: undefined, headersAt: -1 }
  summarizeProperties(raw, s)
  const data = Buffer.concat([raw, Buffer.from('body')])
  return new Message(exchange, routingKey, data, raw.length, s.deliveryMode, s.priority, ttl, s.headersAt, Date.now() - 60_000)
}

/** An x-death history as a client would see it (newest first). */
const history = (...deaths: [string, DeathReason][]): FieldTable[] =>
  deaths.map(([queue, reason]) => ({ count: 1n, reason, queue, time: new Date(), exchange: '', 'routing-keys': ['rk'] }))

describe('dead-letter cycles (RabbitMQ mc:is_death_cycle)', () => {
  // [source queue, reason now, earlier deaths (newest first), target queue, dropped?]
  const cases: [string, DeathReason, [string, DeathReason][], string, boolean][] = [
    ['a', 'expired', [], 'a', true], // a TTL queue dead-lettering to itself
    ['a', 'maxlen', [], 'a', true],
    ['a', 'delivery_limit', [], 'a', true],
    ['a', 'rejected', [], 'a', false], // a client rejected: allowed
    ['a', 'rejected', [['a', 'rejected']], 'a', false],
    ['a', 'expired', [['x', 'rejected']], 'a', true], // the rejection is outside the cycle
    ['b', 'expired', [['a', 'expired']], 'a', true], // a → b → a, all automatic
    ['b', 'expired', [['a', 'rejected']], 'a', false], // a (rejected) → b (expired) → a
    ['b', 'expired', [['c', 'rejected'], ['a', 'expired']], 'a', false], // rejection inside the cycle
    ['b', 'expired', [['a', 'expired'], ['c', 'rejected']], 'a', true], // rejection before the cycle
    ['b', 'expired', [['c', 'expired']], 'a', false], // never been in a
  ]
  for (const [source, reason, earlier, target, dropped] of cases) {
    const name = `${earlier.map(([q, r]) => `${q}:${r}`).join(' ← ') || '(none)'} then ${source}:${reason} → ${target}: ${dropped ? 'dropped' : 'delivered'}`
    test(name, () => {
      const { vhost, warnings } = setup()
      vhost.declareExchange('dlx', 'fanout', { durable: false, autoDelete: false, internal: false, arguments: {} }, false)
      const src = declare(vhost, source, { 'x-dead-letter-exchange': 'dlx' })
      const dst = source === target ? src : declare(vhost, target)
      const observer = declare(vhost, 'observer')
      vhost.bindQueue(target, 'dlx', '', {}, null)
      vhost.bindQueue('observer', 'dlx', '', {}, null)
      const m = message({ headers: earlier.length ? { 'x-death': history(...earlier) } : {} })
      const n = deadLetter(src, m, reason)
      expect(dst.messageCount).toBe(dropped ? 0 : 1)
      expect(observer.messageCount).toBe(1) // other destinations are not affected
      expect(n).toBe(dropped ? 1 : 2)
      expect(warnings.includes('dead-letter cycle detected, message dropped')).toBe(dropped)
    })
  }
})

describe('x-death bookkeeping', () => {
  test('a first death: one entry with RabbitMQ types, first and last death headers, routing and expiry', () => {
    const { vhost } = setup()
    vhost.declareExchange('dlx', 'direct', { durable: false, autoDelete: false, internal: false, arguments: {} }, false)
    const src = declare(vhost, 'work', { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' })
    const dlq = declare(vhost, 'dlq')
    vhost.bindQueue('dlq', 'dlx', 'dead', {}, null)
    const before = Date.now()
    deadLetter(src, message({ headers: { mine: 'kept' }, expiration: '5000', messageId: 'id-1' }, 'src', 'orig', 5000), 'expired')
    const dead = dlq.ready.peek()!.message
    expect(dead.exchange).toBe('dlx')
    expect(dead.routingKey).toBe('dead')
    expect(dead.ttl).toBe(-1)
    expect(dead.timestamp).toBeGreaterThanOrEqual(before) // republished now: a TTL in the next queue counts from here
    expect(dead.properties.expiration).toBeUndefined()
    expect(dead.properties.messageId).toBe('id-1')
    const h = dead.headers!
    expect(h.mine).toBe('kept')
    const [death] = h['x-death'] as FieldTable[]
    expect(death).toMatchObject({ count: 1, reason: 'expired', queue: 'work', exchange: 'src', 'routing-keys': ['orig'], 'original-expiration': '5000' })
    expect(death.time).toBeInstanceOf(Date)
    expect(Math.abs((death.time as Date).getTime() - Date.now())).toBeLessThan(2000)
    expect(h).toMatchObject({
      'x-first-death-queue': 'work',
      'x-first-death-reason': 'expired',
      'x-first-death-exchange': 'src',
      'x-last-death-queue': 'work',
      'x-last-death-reason': 'expired',
      'x-last-death-exchange': 'src',
    })
  })

  test('the same (queue, reason) again counts up and moves first; x-first-death stays, x-last-death moves', () => {
    const { vhost } = setup()
    vhost.declareExchange('dlx', 'fanout', { durable: false, autoDelete: false, internal: false, arguments: {} }, false)
    const a = declare(vhost, 'a', { 'x-dead-letter-exchange': 'dlx' })
    const sink = declare(vhost, 'sink')
    vhost.bindQueue('sink', 'dlx', '', {}, null)
    let m = message({ headers: { app: 1 } })
    const steps: [Queue, DeathReason][] = [[a, 'rejected'], [a, 'expired'], [a, 'rejected']]
    for (const [q, reason] of steps) {
      deadLetter(q, m, reason)
      m = sink.ready.shift()!.message
    }
    const deaths = m.headers!['x-death'] as FieldTable[]
    expect(deaths.map((d) => [d.queue, d.reason, d.count])).toEqual([
      ['a', 'rejected', 2],
      ['a', 'expired', 1],
    ])
    // the first entry kept its exchange (the original one), as RabbitMQ does
    expect(deaths[0].exchange).toBe('src')
    expect(deaths[1].exchange).toBe('dlx')
    expect(m.headers).toMatchObject({ 'x-first-death-reason': 'rejected', 'x-last-death-reason': 'rejected', 'x-last-death-exchange': 'dlx' })
    // counts go out as 64-bit longs ('l'), as RabbitMQ sends them
    const raw = m.props
    const at = raw.indexOf(Buffer.from('count'))
    expect(String.fromCharCode(raw[at + 5])).toBe('l')
  })

  test('a DLX that does not exist: nothing is routed, one warning however often it happens', () => {
    const { vhost, warnings } = setup()
    const src = declare(vhost, 'work', { 'x-dead-letter-exchange': 'missing' })
    for (let i = 0; i < 5; i++) expect(deadLetter(src, message({}), 'rejected')).toBe(0)
    expect(warnings.filter((w) => w === 'dead-letter exchange not found, message dropped')).toHaveLength(1)
  })

  test('a queue without a DLX dead-letters nowhere', () => {
    const { vhost } = setup()
    const src = declare(vhost, 'plain')
    expect(deadLetter(src, message({}), 'maxlen')).toBe(0)
  })
})
