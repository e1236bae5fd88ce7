#!/usr/bin/env node
// Replicated quorum queues (issue 14): S2-style throughput (persistent 64-byte messages, publisher
// confirms, a window of 1000 unconfirmed, consumer with prefetch 200 and acks) of one quorum queue
// with 3 replicas across 3 local nodes, against an unreplicated durable (classic) queue of the same
// node, in one run. Nodes in child processes (bench/link-node.mjs) joined through a private etcd
// (/usr/bin/etcd); clients (amqplib) in this process, on the leader n1. Prints msg/s and the ratio.
//
//   npm run build && node bench/quorum.mjs          (QUORUM_MESSAGES=50000 by default)
//   node bench/quorum.mjs --stream                  (a stream with 3 replicas against one with 1)
//   QUORUM_URL=amqp://guest:guest@127.0.0.1:5682 node bench/quorum.mjs   (the same runs against another broker)
import amqp from 'amqplib'
import { linkCluster } from './link-cluster.mjs'

const N = Number(process.env.QUORUM_MESSAGES ?? 50_000)
const WINDOW = 1000
const bench = linkCluster('bench-quorum')

/** Publishes N persistent messages with confirms to `q` while consuming them; msg/s (all confirmed and consumed). */
async function run(url, q, args) {
  const sub = await amqp.connect(url)
  const pubc = await amqp.connect(url)
  const sch = await sub.createChannel()
  await sch.assertQueue(q, { durable: true, arguments: args })
  await sch.prefetch(200)
  const pch = await pubc.createConfirmChannel()
  let got = 0
  const consumed = new Promise((resolve) => {
    void sch.consume(q, (m) => {
      if (++got % 50 === 0 || got === N) sch.ack(m, true)
      if (got === N) resolve()
    })
  })
  const body = Buffer.alloc(64, 1)
  let confirmed = 0
  let outstanding = 0
  let wake = null
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    while (outstanding >= WINDOW) await new Promise((r) => (wake = r))
    outstanding++
    pch.sendToQueue(q, body, { persistent: true }, (err) => {
      if (err) throw err
      confirmed++
      outstanding--
      if (wake !== null) {
        const w = wake
        wake = null
        w()
      }
    })
  }
  await pch.waitForConfirms()
  await consumed
  const t1 = process.hrtime.bigint()
  await pubc.close()
  await sub.close()
  if (confirmed !== N) throw new Error(`${confirmed} confirms`)
  return N / (Number(t1 - t0) / 1e9)
}

// QUORUM_URL=amqp://…: the same two runs against another broker (e.g. a RabbitMQ node), nothing started here
if (process.env.QUORUM_URL) {
  const url = process.env.QUORUM_URL
  const quorum = { 'x-queue-type': 'quorum' }
  await run(url, 'bench.warm', quorum)
  const durable = await run(url, 'bench.durable', {})
  const replicated = await run(url, 'bench.quorum', quorum)
  console.log(`${N} x 64 B persistent, confirms (window ${WINDOW}), consumer prefetch 200 with acks, ${url.replace(/\/\/[^@]*@/, '//')}`)
  console.log(`durable classic queue: ${durable.toFixed(0)} msg/s; quorum queue: ${replicated.toFixed(0)} msg/s; ratio ${(replicated / durable).toFixed(2)}`)
  process.exit(0)
}

const etcd = await bench.startEtcd()
const nodes = []
for (const n of ['n1', 'n2', 'n3']) nodes.push(await bench.startNode(etcd, n))
try {
  for (const other of ['n2', 'n3']) {
    nodes[0].child.send({ linked: other })
    await nodes[0].next('linked')
  }
  nodes[1].child.send({ linked: 'n3' })
  await nodes[1].next('linked')
  if (process.argv.includes('--stream')) {
    // replicated streams: a stream with 3 replicas against one with a replica set of one (x-initial-cluster-size 1: no follower, nothing shipped)
    const one = { 'x-queue-type': 'stream', 'x-initial-cluster-size': 1 }
    const three = { 'x-queue-type': 'stream', 'x-initial-cluster-size': 3 }
    await run(nodes[0].url, 'warm', three)
    const single = await run(nodes[0].url, 'stream-1', one)
    const replicated = await run(nodes[0].url, 'stream-3', three)
    console.log(`${N} x 64 B persistent, confirms (window ${WINDOW}), consumer prefetch 200 with acks, clients on n1`)
    console.log(`stream, 1 replica (n1):             ${single.toFixed(0)} msg/s`)
    console.log(`stream, 3 replicas (n1 leads):      ${replicated.toFixed(0)} msg/s`)
    console.log(`ratio (3 replicas / 1): ${(replicated / single).toFixed(2)}`)
  } else {
    const quorum = { 'x-queue-type': 'quorum' }
    await run(nodes[0].url, 'warm', quorum)
    const durable = await run(nodes[0].url, 'durable', {})
    const replicated = await run(nodes[0].url, 'quorum', quorum)
    console.log(`${N} x 64 B persistent, confirms (window ${WINDOW}), consumer prefetch 200 with acks, clients on n1`)
    console.log(`durable classic queue on n1 (unreplicated): ${durable.toFixed(0)} msg/s`)
    console.log(`quorum queue, 3 replicas (n1 leads):        ${replicated.toFixed(0)} msg/s`)
    console.log(`ratio (quorum / durable): ${(replicated / durable).toFixed(2)}`)
  }
} finally {
  await bench.stop()
}
