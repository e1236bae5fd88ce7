#!/usr/bin/env node
// Warren's own benchmark: a broker in a child process, a real client (amqplib) publishing and
// consuming over TCP in this process. Prints msgs/s per scenario. Ratios between runs on one
// machine mean something; single absolute numbers do not (machines are noisy).
// The two "amqp-client" scenarios run @cloudamqp/amqp-client over TCP and over WebSocket
// (AMQPWebSocketClient, the browser client, on ws://…/ws/amqp): same client, so their ratio is the
// cost of the WebSocket transport.
//
//   npm run bench                 all scenarios
//   npm run bench -- 16B          only scenarios whose name contains "16B"
//   BENCH_COUNT=50000 npm run bench
//   npm run bench -- stream       the stream scenarios (bench/streams.mjs), memory ones included
import { AMQPClient, AMQPWebSocketClient } from '@cloudamqp/amqp-client'
import amqp from 'amqplib'
import { WebSocket } from 'ws'
import { startBroker as startWarren } from './broker.mjs'

const COUNT = Number(process.env.BENCH_COUNT ?? 200_000)
const filter = process.argv[2] ?? ''

const scenarios = [
  { name: 'publish+consume 16B', size: 16, confirm: false },
  { name: 'publish+consume 1KiB', size: 1024, confirm: false },
  { name: 'publish+consume 16B confirms', size: 16, confirm: true },
  { name: 'publish+consume 1KiB confirms', size: 1024, confirm: true },
  { name: 'publish+consume 16B queue args (DLX+delivery-limit+TTL)', size: 16, confirm: false, queueArgs: true },
  { name: 'publish+consume 16B amqp-client TCP', size: 16, transport: 'tcp' },
  { name: 'publish+consume 16B amqp-client WebSocket', size: 16, transport: 'ws' },
].filter((s) => s.name.includes(filter))

export function startBroker() {
  return startWarren({ name: 'bench' })
}

async function run(url, s, count) {
  const pubConn = await amqp.connect(url)
  const subConn = await amqp.connect(url)
  const pub = s.confirm ? await pubConn.createConfirmChannel() : await pubConn.createChannel()
  const sub = await subConn.createChannel()
  const queue = `bench-${process.pid}-${Math.random().toString(36).slice(2)}`
  const args = s.queueArgs
    ? { 'x-dead-letter-exchange': 'amq.fanout', 'x-delivery-limit': 5, 'x-message-ttl': 3_600_000 }
    : {}
  await sub.assertQueue(queue, { autoDelete: false, arguments: args })
  await sub.prefetch(1000)
  const body = Buffer.alloc(s.size, 120)
  let consumed = 0
  let unackedSince = 0
  const t0 = process.hrtime.bigint()
  let tPublished = 0n
  const done = new Promise((resolve) => {
    void sub.consume(queue, (m) => {
      consumed++
      if (++unackedSince === 100 || consumed === count) {
        sub.ack(m, true)
        unackedSince = 0
      }
      if (consumed === count) resolve(process.hrtime.bigint())
    })
  })
  // publish with the client's own backpressure (and a window of 1000 unconfirmed with confirms)
  let outstanding = 0
  let wake = null
  const onConfirm = () => {
    outstanding--
    if (wake && outstanding < 500) {
      const w = wake
      wake = null
      w()
    }
  }
  for (let i = 0; i < count; i++) {
    let ok
    if (s.confirm) {
      outstanding++
      ok = pub.publish('', queue, body, {}, onConfirm)
      if (outstanding >= 1000) await new Promise((r) => (wake = r))
    } else ok = pub.publish('', queue, body)
    if (!ok) await new Promise((r) => pub.once('drain', r))
  }
  if (s.confirm) await pub.waitForConfirms()
  tPublished = process.hrtime.bigint()
  const tDone = await done
  const pubSecs = Number(tPublished - t0) / 1e9
  const allSecs = Number(tDone - t0) / 1e9
  await sub.deleteQueue(queue)
  await pubConn.close()
  await subConn.close()
  return { publishRate: count / pubSecs, consumeRate: count / allSecs }
}

/** The same publish+consume loop with @cloudamqp/amqp-client, over TCP or WebSocket. */
async function runAmqpClient(s, count) {
  // Node 20 has no global WebSocket; the browser client looks it up when it connects
  globalThis.WebSocket ??= WebSocket
  const connect = async () => {
    const c = s.transport === 'ws' ? new AMQPWebSocketClient({ url: wsUrl }) : new AMQPClient(url)
    await c.connect()
    // ws turns Nagle off on its socket and amqp-client's TCP client does not: level the field
    if (s.transport === 'tcp') c.socket.setNoDelay(true)
    return c
  }
  const pubConn = await connect()
  const subConn = await connect()
  const pub = await pubConn.channel()
  const sub = await subConn.channel()
  const queue = `bench-${process.pid}-${Math.random().toString(36).slice(2)}`
  await sub.queueDeclare(queue, { autoDelete: false })
  await sub.basicQos(1000)
  const body = Buffer.alloc(s.size, 120)
  let consumed = 0
  let unackedSince = 0
  const t0 = process.hrtime.bigint()
  const done = new Promise((resolve) => {
    void sub.basicConsume(queue, { noAck: false }, (m) => {
      consumed++
      if (++unackedSince === 100 || consumed === count) {
        void sub.basicAck(m.deliveryTag, true)
        unackedSince = 0
      }
      if (consumed === count) resolve(process.hrtime.bigint())
    })
  })
  // amqp-client has no write backpressure and takes a fresh frame_max buffer per publish until
  // earlier sends settle: every 256 publishes, wait for the last send (buffers go back to its
  // pool) and hold back while the socket (net or ws) has more than 1 MiB queued
  const buffered = () => (s.transport === 'ws' ? pubConn.socket.bufferedAmount : pubConn.socket.writableLength)
  for (let i = 0; i < count; i++) {
    const sent = pub.basicPublish('', queue, body)
    if ((i & 255) === 255) {
      await sent
      while (buffered() > 1 << 20) await new Promise((r) => setTimeout(r, 1))
    }
  }
  const tPublished = process.hrtime.bigint()
  const tDone = await done
  await sub.queueDelete(queue)
  await pubConn.close()
  await subConn.close()
  return { publishRate: count / (Number(tPublished - t0) / 1e9), consumeRate: count / (Number(tDone - t0) / 1e9) }
}

async function main() {
  const broker = await startBroker()
  wsUrl = `ws://127.0.0.1:${broker.httpPort}/ws/amqp`
  url = `amqp://guest:guest@127.0.0.1:${broker.port}`
  console.log(`Warren benchmark: ${COUNT} messages per scenario, amqplib client unless named, broker pid ${broker.pid}`)
  console.log(`${'scenario'.padEnd(58)} ${'publish msg/s'.padStart(14)} ${'end-to-end msg/s'.padStart(17)}`)
  try {
    await run(url, scenarios[0] ?? { size: 16, confirm: false }, Math.min(COUNT, 20_000)) // warm-up
    for (const s of scenarios) {
      const r = s.transport === undefined ? await run(url, s, COUNT) : await runAmqpClient(s, COUNT)
      console.log(`${s.name.padEnd(58)} ${Math.round(r.publishRate).toString().padStart(14)} ${Math.round(r.consumeRate).toString().padStart(17)}`)
    }
    // streams (bench/streams.mjs): rates always, the memory comparison when asked for by name
    const streams = await import('./streams.mjs')
    if (filter.includes('stream')) await streams.streamScenarios(url)
    else if (filter === '') await streams.streamRates(url)
  } finally {
    await broker.stop()
  }
}

let wsUrl = ''
let url = ''
if (import.meta.url === `file://${process.argv[1]}`) await main()
