#!/usr/bin/env node
// RPC benchmark: N sequential calls with amqplib, each a request to a queue served by a responder on
// another connection, the reply coming back either over direct reply-to (amq.rabbitmq.reply-to) or
// through a server-named exclusive reply queue (the classic recipe). Prints calls/s and latency
// percentiles for both. The broker runs in a child process; both clients run in this one.
//
//   npm run build && node bench/rpc.mjs          (RPC_CALLS=5000 by default, RPC_ROUNDS=3)
import { join } from 'node:path'
import amqp from 'amqplib'
import { startBroker as startWarren } from './broker.mjs'

const CALLS = Number(process.env.RPC_CALLS ?? 5000)
const ROUNDS = Number(process.env.RPC_ROUNDS ?? 3)
const WARMUP = 200

function startBroker() {
  return startWarren({ name: 'bench-rpc', http: false })
}

/** The responder: echoes each request to its reply_to with the correlation id. */
async function startResponder(url, queue) {
  const conn = await amqp.connect(url)
  const ch = await conn.createChannel()
  await ch.assertQueue(queue, { durable: false, autoDelete: true })
  await ch.consume(
    queue,
    (m) => ch.sendToQueue(m.properties.replyTo, m.content, { correlationId: m.properties.correlationId }),
    { noAck: true },
  )
  return conn
}

/** A requester whose replies come to `replyTo` (the pseudo-queue or its own queue). */
async function startRequester(url, direct) {
  const conn = await amqp.connect(url)
  const ch = await conn.createChannel()
  let replyTo = 'amq.rabbitmq.reply-to'
  if (!direct) replyTo = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue
  let waiting = null
  await ch.consume(
    replyTo,
    (m) => {
      const w = waiting
      if (w !== null && m.properties.correlationId === w.id) {
        waiting = null
        w.resolve()
      }
    },
    { noAck: true },
  )
  let seq = 0
  const body = Buffer.alloc(64, 0x2e)
  return {
    conn,
    call(queue) {
      const id = String(++seq)
      return new Promise((resolve) => {
        waiting = { id, resolve }
        ch.sendToQueue(queue, body, { replyTo, correlationId: id })
      })
    },
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function run(url, direct, round) {
  const queue = `bench.rpc.${direct ? 'direct' : 'queue'}.${round}`
  const responder = await startResponder(url, queue)
  const req = await startRequester(url, direct)
  for (let i = 0; i < WARMUP; i++) await req.call(queue)
  const lat = new Float64Array(CALLS)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) {
    const s = process.hrtime.bigint()
    await req.call(queue)
    lat[i] = Number(process.hrtime.bigint() - s) / 1e6
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  await req.conn.close()
  await responder.close()
  const sorted = Array.from(lat).sort((a, b) => a - b)
  return { rate: CALLS / secs, p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}

const broker = await startBroker()
try {
  console.log(`${CALLS} sequential RPC calls (64 B), amqplib, best of ${ROUNDS} rounds (alternating)`)
  const scenarios = [
    ['direct reply-to (amq.rabbitmq.reply-to)', true, []],
    ['server-named exclusive reply queue', false, []],
  ]
  // rounds alternate between the two so that load from elsewhere on the machine hits both alike
  for (let r = 0; r < ROUNDS; r++) for (const [, direct, results] of scenarios) results.push(await run(broker.url, direct, r))
  for (const [name, , results] of scenarios) {
    const best = results.reduce((a, b) => (b.rate > a.rate ? b : a))
    const all = results.map((x) => x.rate.toFixed(0)).join(' / ')
    console.log(
      `${name.padEnd(42)} ${best.rate.toFixed(0).padStart(6)} calls/s  p50 ${best.p50.toFixed(3)} ms  p99 ${best.p99.toFixed(3)} ms  (rounds: ${all} calls/s)`,
    )
  }
} finally {
  await broker.stop()
}
