// Stream queue scenarios of `npm run bench` (also `node bench/streams.mjs` after a build):
// - publish with confirms into a stream (a window of 1000 unconfirmed), 16-byte bodies;
// - 3 independent readers from `first` over the whole stream, at the same time (each reader's rate);
// - the broker's memory with a stream of STREAM_SMALL messages vs one of STREAM_BIG: a fresh broker
//   each, in this process (so that a full GC can be forced), live heap + external memory after GC
//   and the process's RSS (the RSS also holds what V8 and malloc keep after a burst of publishes).
//
//   STREAM_COUNT=1000000 STREAM_SMALL=10000 STREAM_BIG=10000000 node bench/streams.mjs
//   STREAM_URL=amqp://guest:guest@127.0.0.1:5682 node bench/streams.mjs   (rates against another broker)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import amqp from 'amqplib'

const COUNT = Number(process.env.STREAM_COUNT ?? 1_000_000)
const SMALL = Number(process.env.STREAM_SMALL ?? 10_000)
const BIG = Number(process.env.STREAM_BIG ?? 10_000_000)
const READERS = 3

/** Publishes `count` 16-byte messages into `queue` with confirms; returns msgs/s. */
export async function publishStream(url, queue, count) {
  const conn = await amqp.connect(url)
  const ch = await conn.createConfirmChannel()
  const body = Buffer.alloc(16, 120)
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
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < count; i++) {
    outstanding++
    const ok = ch.publish('', queue, body, {}, onConfirm)
    if (outstanding >= 1000) await new Promise((r) => (wake = r))
    if (!ok) await new Promise((r) => ch.once('drain', r))
  }
  await ch.waitForConfirms()
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  await conn.close()
  return count / secs
}

/** One reader from `first` until it has `count` messages; resolves with its msgs/s. */
async function readAll(url, queue, count) {
  const conn = await amqp.connect(url)
  const ch = await conn.createChannel()
  await ch.prefetch(1000)
  let n = 0
  let since = 0
  const t0 = process.hrtime.bigint()
  const secs = await new Promise((resolve) => {
    void ch.consume(
      queue,
      (m) => {
        n++
        if (++since === 100 || n === count) {
          ch.ack(m, true)
          since = 0
        }
        if (n === count) resolve(Number(process.hrtime.bigint() - t0) / 1e9)
      },
      { arguments: { 'x-stream-offset': 'first' } },
    )
  })
  await conn.close()
  return count / secs
}

async function declare(url, queue) {
  const conn = await amqp.connect(url)
  const ch = await conn.createChannel()
  await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'stream' } })
  await conn.close()
}

async function remove(url, queue) {
  const conn = await amqp.connect(url)
  const ch = await conn.createChannel()
  await ch.deleteQueue(queue)
  await conn.close()
}

const MiB = 1024 * 1024

/** A full GC (gc() without --expose-gc on the command line) */
function fullGc() {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  gc()
  gc()
}

/** The rate scenarios against the broker at `url`; prints one line each. */
export async function streamRates(url, count = COUNT) {
  const queue = `bench-stream-${process.pid}-${Math.random().toString(36).slice(2)}`
  await declare(url, queue)
  const pubRate = await publishStream(url, queue, count)
  console.log(`${`stream publish 16B confirms (${count})`.padEnd(58)} ${Math.round(pubRate).toString().padStart(14)}`)
  const rates = await Promise.all(Array.from({ length: READERS }, () => readAll(url, queue, count)))
  console.log(`${`stream ${READERS} readers from first (each)`.padEnd(58)} ${rates.map((r) => Math.round(r)).join(' / ').padStart(14)}`)
  await remove(url, queue)
}

/** Memory of a fresh in-process broker (dist/) holding one stream of `count` messages. */
export async function streamMemory(count) {
  const { startBroker } = await import('../dist/transport/server.js')
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-mem-'))
  const b = await startBroker({ amqpPort: 0, dataDir, logLevel: 'warn' })
  try {
    await declare(b.url, 'bench-stream-mem')
    fullGc()
    const before = process.memoryUsage()
    await publishStream(b.url, 'bench-stream-mem', count)
    await new Promise((r) => setTimeout(r, 500))
    fullGc()
    const after = process.memoryUsage()
    const live = (m) => (m.heapUsed + m.external) / MiB
    return { liveBefore: live(before), liveAfter: live(after), rssBefore: before.rss / MiB, rssAfter: after.rss / MiB }
  } finally {
    await b.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Every stream scenario: rates on the running broker, memory on fresh ones. */
export async function streamScenarios(url) {
  await streamRates(url)
  for (const n of [SMALL, BIG]) {
    const m = await streamMemory(n)
    const f = (a, b) => `${a.toFixed(1)} → ${b.toFixed(1)}`
    console.log(`${`stream of ${n}: live heap+external MiB, RSS MiB`.padEnd(58)} ${f(m.liveBefore, m.liveAfter).padStart(14)}   ${f(m.rssBefore, m.rssAfter)}`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.env.STREAM_URL !== undefined) await streamRates(process.env.STREAM_URL)
  else {
    const { startBroker } = await import('./run.mjs')
    const b = await startBroker()
    try {
      await streamScenarios(`amqp://guest:guest@127.0.0.1:${b.port}`)
    } finally {
      await b.stop()
    }
  }
}
