#!/usr/bin/env node
// Delayed-message accuracy with many pending delays (issue 12): a broker in a child process, a
// durable x-delayed-message exchange (x-delayed-type direct) bound to a durable queue, and
// DELAY_COUNT (default 1,000,000) persistent 100-byte messages published with confirms, in random
// order of due time, all due within DELAY_WINDOW_MS (default 120 s) starting DELAY_LEAD_MS
// (default 240 s) after the start, so that every one of them is pending at once before the first
// falls due. The broker's RSS is read from /proc/<pid>/status (minimum of 250 ms samples over 3 s)
// before publishing and with everything pending. A consumer (no-ack) takes the messages as they
// are routed; each body carries its due time, so lateness = arrival at the consumer − due time
// (it includes the queue and the client: an upper bound on the exchange's own lateness). For
// Warren the exchange's own figures (how late routing started, from the management API's
// delayed_lateness_ms, log2 buckets) are printed too.
//
//   node bench/delayed.mjs                       (after npm run build)
//   DELAY_COUNT=100000 DELAY_LEAD_MS=20000 node bench/delayed.mjs
//   DELAY_URL=amqp://guest:guest@127.0.0.1:5673 DELAY_PID=1234 node bench/delayed.mjs   (another broker, e.g. RabbitMQ with the plugin)
import { join } from 'node:path'
import { AMQPClient } from '@cloudamqp/amqp-client'
import amqp from 'amqplib'
import { rssKb, startBroker as startWarren } from './broker.mjs'

const COUNT = Number(process.env.DELAY_COUNT ?? 1_000_000)
const WINDOW = Number(process.env.DELAY_WINDOW_MS ?? 120_000)
const LEAD = Number(process.env.DELAY_LEAD_MS ?? 240_000)
const SIZE = 100

async function startBroker() {
  if (process.env.DELAY_URL) return { url: process.env.DELAY_URL, pid: Number(process.env.DELAY_PID ?? 0), stop: async () => {} }
  return startWarren({ name: 'delaybench' })
}


async function settledRss(pid, seconds = 3) {
  let min = Infinity
  for (let t = 0; t < seconds * 4; t++) {
    min = Math.min(min, rssKb(pid))
    await new Promise((r) => setTimeout(r, 250))
  }
  return min
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

const broker = await startBroker().catch(async (err) => {
  console.error(err)
  process.exit(1)
})
try {
  const conn = await amqp.connect(broker.url)
  const ch = await conn.createConfirmChannel()
  await ch.assertExchange('bench.delayed', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } })
  await ch.assertQueue('bench.delayed.out', { durable: true })
  await ch.purgeQueue('bench.delayed.out')
  await ch.bindQueue('bench.delayed.out', 'bench.delayed', 'k')
  const rssBefore = await settledRss(broker.pid)

  const lateness = new Float64Array(COUNT)
  let received = 0
  let finished
  const done = new Promise((r) => (finished = r))
  // the consumer: @cloudamqp/amqp-client, lighter than amqplib on a busy machine
  const cconn = await new AMQPClient(broker.url).connect()
  const cch = await cconn.channel()
  await cch.basicConsume('bench.delayed.out', { noAck: true }, (m) => {
    lateness[received++] = Date.now() - Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).readDoubleLE(0)
    if (received === COUNT) finished()
  })

  const t0 = Date.now()
  const start = t0 + LEAD
  let outstanding = 0
  let wake = null
  const confirmed = () => {
    outstanding--
    if (wake !== null && outstanding < 500) {
      const w = wake
      wake = null
      w()
    }
  }
  let tooLate = 0
  for (let i = 0; i < COUNT; i++) {
    while (outstanding >= 1000) await new Promise((r) => (wake = r))
    const due = start + Math.floor(Math.random() * WINDOW)
    const body = Buffer.alloc(SIZE, 120)
    body.writeDoubleLE(due, 0)
    const delay = due - Date.now()
    if (delay <= 0) tooLate++
    outstanding++
    ch.publish('bench.delayed', 'k', body, { persistent: true, headers: { 'x-delay': delay } }, confirmed)
  }
  await ch.waitForConfirms()
  const publishSecs = (Date.now() - t0) / 1000
  const rssPending = await settledRss(broker.pid)
  const pendingAt = Date.now()
  if (pendingAt > start) console.error(`warning: publishing took ${publishSecs.toFixed(1)} s, past the lead of ${LEAD / 1000} s: not everything was pending at once`)
  await Promise.race([done, new Promise((r) => setTimeout(r, LEAD + WINDOW + 120_000 - (Date.now() - t0)))])
  const got = received
  const sorted = Float64Array.from(lateness.subarray(0, got)).sort()
  const result = {
    broker: process.env.DELAY_URL ? broker.url : 'warren',
    count: COUNT,
    window_ms: WINDOW,
    published_per_s: Math.round(COUNT / publishSecs),
    published_after_due: tooLate,
    received: got,
    lateness_ms: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[got - 1], min: sorted[0] },
    rss_before_kb: rssBefore,
    rss_pending_kb: rssPending,
    rss_bytes_per_pending_msg: Math.round(((rssPending - rssBefore) * 1024) / COUNT),
    load_average: (await import('node:os')).loadavg().map((l) => +l.toFixed(1)),
  }
  if (broker.api) {
    const r = await fetch(`${broker.api}/api/exchanges/%2F/bench.delayed`, { headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') } })
    const x = await r.json()
    result.exchange_lateness_ms = x.delayed_lateness_ms
  }
  console.log(
    `${COUNT} persistent delayed messages (due within ${WINDOW / 1000} s): published ${result.published_per_s}/s; ` +
      `RSS ${rssBefore} -> ${rssPending} kB with all pending (${result.rss_bytes_per_pending_msg} B/msg); ` +
      `received ${got}; lateness at the consumer p50 ${result.lateness_ms.p50} ms, p99 ${result.lateness_ms.p99} ms, p99.9 ${result.lateness_ms.p999} ms, max ${result.lateness_ms.max} ms` +
      (result.exchange_lateness_ms ? `; routing started late by p50 ≤ ${result.exchange_lateness_ms.p50} ms, p99 ≤ ${result.exchange_lateness_ms.p99} ms, max ${result.exchange_lateness_ms.max} ms` : '') +
      `; load average ${result.load_average.join(' ')}`,
  )
  console.log(JSON.stringify(result))
  await cconn.close()
  await conn.close()
} finally {
  await broker.stop()
}
// the consumer's socket may keep the loop alive a moment longer
process.exit(0)
