/**
 * `__proto__` in JSON argument tables (issue 10, hole 12): JSON.parse keeps `"__proto__"` as an own
 * key, and copying it into a plain object would make it the table's prototype, so
 * `{"__proto__": {"x-max-length": 1}}` would plant a hidden max-length. It must stay an ordinary
 * (unknown, ignored) argument named `__proto__`, through HTTP declare and definitions import alike.
 */
import { describe, expect, it } from 'vitest'
import { apiClient } from '../helpers/http.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('proto')

const HIDDEN = '{"__proto__": {"x-max-length": 1, "x-message-ttl": 5}}'

/** The queue really holds more than one message: no hidden x-max-length, no hidden TTL. */
async function expectNoHiddenLimits(name: string): Promise<void> {
  const q = s.queue(name)
  expect(q.settings.maxLength).toBe(-1)
  expect(q.arguments['x-max-length']).toBeUndefined()
  expect(q.arguments['x-message-ttl']).toBeUndefined()
  expect(Object.hasOwn(q.arguments, '__proto__')).toBe(true)
  const { ch } = await s.amqplibChannel()
  for (let i = 0; i < 3; i++) ch.sendToQueue(name, Buffer.from(`m${i}`))
  const check = await ch.checkQueue(name)
  expect(check.messageCount).toBe(3)
}

describe('__proto__ in argument tables', () => {
  it('HTTP queue declare: __proto__ is a plain argument, not a hidden x-max-length', async () => {
    const api = apiClient(s.b)
    const name = s.uniq('http')
    const r = await api.request('PUT', `/api/queues/%2F/${name}`, `{"durable": false, "arguments": ${HIDDEN}}`)
    expect(r.status).toBe(201)
    expect(Object.keys(s.queue(name).arguments)).toEqual(['__proto__'])
    await expectNoHiddenLimits(name)
    // shown back as an ordinary key
    const shown = await api.get(`/api/queues/%2F/${name}`)
    expect(shown.body.arguments).toEqual({ ['__proto__']: { 'x-max-length': 1, 'x-message-ttl': 5 } })
    expect(JSON.stringify(shown.body.arguments)).toContain('"__proto__"')
  })

  it('definitions import: __proto__ is a plain argument, not a hidden x-max-length', async () => {
    const api = apiClient(s.b)
    const name = s.uniq('defs')
    const body = `{"queues": [{"name": "${name}", "vhost": "/", "durable": false, "auto_delete": false, "arguments": ${HIDDEN}}]}`
    const r = await api.request('POST', '/api/definitions', body)
    expect(r.status).toBe(204)
    await expectNoHiddenLimits(name)
  })

  it('an argument named constructor or __proto__ with a scalar value is ignored like any unknown argument', async () => {
    const api = apiClient(s.b)
    const name = s.uniq('scalar')
    const r = await api.request('PUT', `/api/queues/%2F/${name}`, '{"arguments": {"__proto__": 1, "constructor": "x"}}')
    expect(r.status).toBe(201)
    expect(s.queue(name).arguments).toEqual(Object.assign(Object.create(null), { ['__proto__']: 1, constructor: 'x' }))
  })
})
