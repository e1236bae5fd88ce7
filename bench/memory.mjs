#!/usr/bin/env node
// Broker memory per queued message (issue 4, "Memory stays bounded"): Warren in a child process,
// a publisher here sending MEM_COUNT (default 1,000,000) 100-byte messages with confirms (at most
// 1000 outstanding) and no consumer, first persistent to a durable queue, then transient to a
// non-durable queue, then the same two with x-message-ttl. The broker's RSS is read from /proc/<pid>/status, each reading the minimum of
// samples every 250 ms over MEM_SETTLE seconds (as amqp-perf --memload does: a GC'd heap swings,
// the minimum is closest to live memory). Prints RSS growth per queued message per queue.
//
//   npm run bench:memory
//   MEM_COUNT=200000 npm run bench:memory
//   MEM_CASES=durable-ttl,transient-ttl npm run bench:memory   (queues with x-message-ttl)
//   MEM_CASES=durable-priority,transient-priority npm run bench:memory   (x-max-priority 5)
//
// The RabbitMQ side-by-side uses amqp-perf --memload on the same load (see the README there).
import amqp from 'amqplib'
import { rssKb, startBroker as startWarren } from './broker.mjs'

const COUNT = Number(process.env.MEM_COUNT ?? 1_000_000)
const SETTLE = Number(process.env.MEM_SETTLE ?? 5)
const SIZE = 100

function startBroker() {
  return startWarren({ name: 'membench', http: false })
}


/** Minimum RSS over SETTLE seconds of 250 ms samples. */
async function settledRss(pid) {
  let min = Infinity
  for (let t = 0; t < SETTLE * 4; t++) {
    min = Math.min(min, rssKb(pid))
    await new Promise((r) => setTimeout(r, 250))
  }
  return min
}

async function publish(ch, queue, persistent, priorities) {
  const body = Buffer.alloc(SIZE, 120)
  let outstanding = 0
  let wake = null
  const done = () => {
    outstanding--
    if (wake !== null && outstanding < 500) {
      const w = wake
      wake = null
      w()
    }
  }
  for (let i = 0; i < COUNT; i++) {
    while (outstanding >= 1000) await new Promise((r) => (wake = r))
    outstanding++
    ch.sendToQueue(queue, body, priorities ? { persistent, priority: i % priorities } : { persistent }, done)
  }
  await ch.waitForConfirms()
}

async function measure(broker, conn, queue, durable, args) {
  const ch = await conn.createConfirmChannel()
  await ch.assertQueue(queue, { durable, autoDelete: false, arguments: args })
  const before = await settledRss(broker.pid)
  const t0 = Date.now()
  const maxPriority = args?.['x-max-priority']
  await publish(ch, queue, durable, maxPriority === undefined ? 0 : maxPriority + 1)
  const secs = (Date.now() - t0) / 1000
  const depth = (await ch.checkQueue(queue)).messageCount
  const after = await settledRss(broker.pid)
  await ch.deleteQueue(queue)
  const afterDelete = await settledRss(broker.pid)
  await ch.close()
  return {
    queue:
      (durable ? 'durable, persistent' : 'transient, non-persistent') +
      (args?.['x-message-ttl'] !== undefined ? ', x-message-ttl' : '') +
      (maxPriority !== undefined ? ', x-max-priority' : ''),
    messages: depth,
    rss_before_kb: before,
    rss_after_kb: after,
    rss_after_delete_kb: afterDelete,
    bytes_per_msg: Math.round(((after - before) * 1024) / COUNT),
    publish_rate: Math.round(COUNT / secs),
  }
}

// the cases: plain queues, and queues with a queue TTL (x-message-ttl, one hour: nothing expires
// during the run) whose messages all carry an expiry time. MEM_CASES picks some, e.g. "durable-ttl,transient-ttl"
const TTL_ARGS = { 'x-message-ttl': 3_600_000 }
const PRIORITY_ARGS = { 'x-max-priority': 5 }
const CASES = [
  { name: 'durable', queue: 'mem-durable', durable: true },
  { name: 'transient', queue: 'mem-transient', durable: false },
  { name: 'durable-ttl', queue: 'mem-durable-ttl', durable: true, args: TTL_ARGS },
  { name: 'transient-ttl', queue: 'mem-transient-ttl', durable: false, args: TTL_ARGS },
  // x-max-priority 5, messages spread over the six levels
  { name: 'durable-priority', queue: 'mem-durable-priority', durable: true, args: PRIORITY_ARGS },
  { name: 'transient-priority', queue: 'mem-transient-priority', durable: false, args: PRIORITY_ARGS },
  { name: 'durable-priority-ttl', queue: 'mem-durable-priority-ttl', durable: true, args: { ...TTL_ARGS, ...PRIORITY_ARGS } },
].filter((c) => process.env.MEM_CASES === undefined || process.env.MEM_CASES.split(',').includes(c.name))

// a fresh broker per queue: a heap grown by the first run would hide the second one's growth
const results = []
for (const c of CASES) {
  const broker = await startBroker()
  try {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`)
    // settle the freshly started process first (JIT, heap growth)
    await settledRss(broker.pid)
    results.push(await measure(broker, conn, c.queue, c.durable, c.args))
    await conn.close()
  } finally {
    await broker.stop()
  }
}
for (const r of results) {
  console.log(
    `${r.queue.padEnd(42)} ${r.messages} msgs  RSS ${r.rss_before_kb} -> ${r.rss_after_kb} kB (after delete ${r.rss_after_delete_kb})  ` +
      `${r.bytes_per_msg} bytes/msg  ${r.publish_rate} msg/s`,
  )
}
console.log(JSON.stringify({ count: COUNT, size: SIZE, results }))
