/**
 * The backlog at a glance with real clients: growth, consume rate, time to drain and oldest
 * message age per queue in GET /api/queues and GET /api/backlog (worst first), the per-queue alert
 * thresholds (PUT/DELETE …/backlog-alert, kept across a restart for a durable queue), and
 * `warren_queue_backlog_alert` in Prometheus.
 */
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { boot, connect, dataDir, halt } from '../helpers/restart.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('blg', { statsInterval: 50 })
const { uniq } = s
const api = () => apiClient(s.b)
const q = (name: string) => `/api/queues/%2F/${encodeURIComponent(name)}`

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${s.b.prometheusPort}/metrics`)).text()
}

describe('figures', () => {
  it('shows a queue without consumers as growing, with its oldest message age', async () => {
    const { ch } = await s.amqplibChannel()
    const name = uniq('grow')
    await ch.assertQueue(name, { exclusive: true })
    const t0 = Date.now()
    const pump = setInterval(() => {
      for (let i = 0; i < 20; i++) ch.sendToQueue(name, Buffer.from('x'))
    }, 10)
    try {
      const r = await waitFor(async () => {
        const b = (await api().get(q(name))).body.backlog
        return b?.state === 'growing' && b.growth_rate > 100 && b
      }, 5000, 'a growing backlog')
      expect(r.drain_seconds).toBeNull()
      expect(r.in_rate).toBeGreaterThan(100)
      expect(r.consume_rate).toBe(0)
      expect(r.oldest_message_age_ms).toBeGreaterThan(0)
      expect(r.oldest_message_age_ms).toBeLessThanOrEqual(Date.now() - t0 + 5)
      expect(r.alert).toBe(false)
      expect(r.alert_thresholds).toBeNull()
    } finally {
      clearInterval(pump)
    }
  })

  it('shows a queue being consumed faster than fed as draining, with a time to drain', async () => {
    const { ch } = await s.amqplibChannel()
    const name = uniq('drain')
    await ch.assertQueue(name, { exclusive: true })
    for (let i = 0; i < 4000; i++) ch.sendToQueue(name, Buffer.from('x'))
    await waitFor(() => s.queue(name).messageCount === 4000)
    await ch.prefetch(50)
    // a slow consumer: acks every 2 ms in batches
    await ch.consume(name, (m) => {
      if (m === null) return
      setTimeout(() => {
        try {
          ch.ack(m)
        } catch {
          // the test is over and the connection closed
        }
      }, 2)
    })
    const r = await waitFor(async () => {
      const b = (await api().get(q(name))).body.backlog
      return b?.state === 'draining' && b.drain_seconds > 0 && b
    }, 8000, 'a draining backlog')
    expect(r.consume_rate).toBeGreaterThan(0)
    expect(r.growth_rate).toBeLessThan(0)
    expect(r.drain_seconds).toBeCloseTo(r.messages / -r.growth_rate, 0)
    await waitFor(async () => (await api().get(q(name))).body.backlog?.state === 'empty', 20000, 'an empty queue')
    const done = (await api().get(q(name))).body.backlog
    expect(done.drain_seconds).toBe(0)
    expect(done.oldest_message_age_ms).toBeNull()
  })
})

describe('streams', () => {
  it('reports what the slowest consumer group has not processed, and the age of its first message', async () => {
    const { ch } = await s.amqplibChannel()
    const name = uniq('stream')
    await ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'stream' } })
    try {
      const t0 = Date.now()
      for (let i = 0; i < 100; i++) ch.sendToQueue(name, Buffer.from(`m${i}`))
      // nobody reads it: everything it keeps is backlog
      // the in rate is a short-lived figure (smoothed over a few 50 ms samples): seen at any poll
      let sawIn = false
      const all = await waitFor(async () => {
        const b = (await api().get(q(name))).body.backlog
        if (b?.in_rate > 0) sawIn = true
        return b?.messages === 100 && sawIn && b
      }, 5000, 'the stream backlog')
      expect(all.oldest_message_age_ms).toBeGreaterThanOrEqual(0)
      expect(all.oldest_message_age_ms).toBeLessThanOrEqual(Date.now() - t0 + 5)
      expect(all.message_bytes).toBeGreaterThan(0)
      // a group that acks the first 60 leaves 40 behind it, however many it was sent
      await ch.prefetch(100)
      let seen = 0
      const { consumerTag } = await ch.consume(
        name,
        (m) => {
          if (m === null) return
          if (seen++ < 60) ch.ack(m)
        },
        { arguments: { 'x-stream-consumer-name': 'g', 'x-stream-offset': 'first' } },
      )
      let sawOut = false
      const part = await waitFor(async () => {
        const b = (await api().get(q(name))).body.backlog
        if (b?.consume_rate > 0) sawOut = true
        return b?.messages === 40 && sawOut && b
      }, 5000, 'the group lag as backlog')
      expect(part.oldest_message_age_ms).not.toBeNull()
      await ch.cancel(consumerTag)
      // the committed group stays the slowest reader after its consumer went
      expect((await api().get(q(name))).body.backlog.messages).toBe(40)
    } finally {
      await ch.deleteQueue(name)
    }
  })
})

describe('alerts', () => {
  it('raises the alert of a queue over its thresholds in the API, first in /api/backlog, and in Prometheus', async () => {
    const { ch } = await s.amqplibChannel()
    const calm = uniq('calm')
    const hot = uniq('hot')
    await ch.assertQueue(calm, { exclusive: true })
    await ch.assertQueue(hot, { exclusive: true })
    for (let i = 0; i < 5; i++) ch.sendToQueue(hot, Buffer.from('x'))
    ch.sendToQueue(calm, Buffer.from('x'))
    expect((await api().put(`${q(hot)}/backlog-alert`, { max_messages: 3, max_age_ms: 60_000 })).status).toBe(204)
    expect((await api().put(`${q(calm)}/backlog-alert`, { max_messages: 100 })).status).toBe(204)
    const row = await waitFor(async () => {
      const list = (await api().get('/api/backlog')).body as { name: string; alert: boolean; alert_reasons: string[] }[]
      return list[0]?.name === hot && list[0].alert && list[0]
    }, 3000, 'the alerting queue first')
    expect(row.alert).toBe(true)
    expect(row.alert_reasons).toEqual(['max_messages'])
    const one = (await api().get(q(hot))).body.backlog
    expect(one.alert_thresholds).toEqual({ max_messages: 3, max_age_ms: 60_000, max_drain_seconds: null })
    const text = await metrics()
    expect(text).toContain(`warren_queue_backlog_alert{vhost="/",queue="${hot}"} 1`)
    expect(text).toContain(`warren_queue_backlog_alert{vhost="/",queue="${calm}"} 0`)
    const per = await (await fetch(`http://127.0.0.1:${s.b.prometheusPort}/metrics/per-object`)).text()
    expect(per).toMatch(new RegExp(`warren_queue_oldest_message_age_seconds\\{vhost="/",queue="${hot}"\\} \\d`))
    // an age threshold, and a queue that cannot drain (no consumer) over max_drain_seconds
    await api().put(`${q(calm)}/backlog-alert`, { max_age_ms: 0, max_drain_seconds: 3600 })
    const calmRow = await waitFor(async () => {
      const list = (await api().get('/api/backlog')).body as { name: string; alert_reasons: string[] }[]
      const r = list.find((x) => x.name === calm)
      return r !== undefined && r.alert_reasons.length === 2 && r
    }, 3000, 'age and drain alerts')
    expect(calmRow.alert_reasons).toEqual(['max_age_ms', 'max_drain_seconds'])
    expect((await api().del(`${q(hot)}/backlog-alert`)).status).toBe(204)
    expect((await api().get(q(hot))).body.backlog.alert_thresholds).toBeNull()
    expect(await metrics()).not.toContain(`queue="${hot}"`)
  })

  it('refuses bad thresholds with 400 and unknown queues with 404', async () => {
    const { ch } = await s.amqplibChannel()
    const name = uniq('bad')
    await ch.assertQueue(name, { exclusive: true })
    for (const body of [{ max_messages: -1 }, { max_age_ms: 'soon' }, { max_drain: 5 }, [1]]) {
      const r = await api().put(`${q(name)}/backlog-alert`, body)
      expect(r.status).toBe(400)
      expect(r.body.error).toBe('bad_request')
    }
    expect((await api().put(`${q(uniq('none'))}/backlog-alert`, { max_messages: 1 })).status).toBe(404)
    // all null clears
    await api().put(`${q(name)}/backlog-alert`, { max_messages: 1 })
    await api().put(`${q(name)}/backlog-alert`, { max_messages: null })
    expect((await api().get(q(name))).body.backlog.alert_thresholds).toBeNull()
  })

  it('keeps the thresholds of a durable queue across a restart', async () => {
    const dir = dataDir()
    let b = await boot(dir, { httpPort: 0 })
    const c = await connect(b)
    const ch = await c.createChannel()
    await ch.assertQueue('kept', { durable: true })
    await ch.assertQueue('transient-q', { durable: false })
    expect((await apiClient(b).put('/api/queues/%2F/kept/backlog-alert', { max_drain_seconds: 30 })).status).toBe(204)
    await halt(b)
    b = await boot(dir, { httpPort: 0 })
    const r = await apiClient(b).get('/api/queues/%2F/kept')
    expect(r.body.backlog.alert_thresholds).toEqual({ max_messages: null, max_age_ms: null, max_drain_seconds: 30 })
  })
})
