#!/usr/bin/env node
// The cost of one hop over the node link (issue 13): throughput of one queue with its producer and
// consumer on the queue's home node, against the same with both clients on the other node (every
// message crosses the link twice: the publish to the home, the delivery back). Two nodes in child
// processes joined through a private etcd (/usr/bin/etcd); clients (amqplib) in this process.
// Transient 64-byte messages, consumer prefetch 200 with acks. Prints msg/s for both and the ratio.
//
//   npm run build && node bench/link.mjs          (LINK_MESSAGES=100000 by default)
import amqp from 'amqplib'
import { linkCluster } from './link-cluster.mjs'

const N = Number(process.env.LINK_MESSAGES ?? 100_000)
const bench = linkCluster('bench-link')

/** Publishes N messages to `q` through `pubUrl` while consuming them through `subUrl`; msg/s. */
async function run(pubUrl, subUrl, q) {
  const sub = await amqp.connect(subUrl)
  const pubc = await amqp.connect(pubUrl)
  const sch = await sub.createChannel()
  await sch.prefetch(200)
  const pch = await pubc.createChannel()
  let got = 0
  let t0 = 0
  const done = new Promise((resolve) => {
    void sch.consume(q, (m) => {
      if (++got % 50 === 0 || got === N) sch.ack(m, true)
      if (got === N) resolve(process.hrtime.bigint())
    })
  })
  const body = Buffer.alloc(64, 1)
  t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    if (!pch.sendToQueue(q, body)) await new Promise((r) => pch.once('drain', r))
  }
  const t1 = await done
  await pubc.close()
  await sub.close()
  return N / (Number(t1 - t0) / 1e9)
}

const etcd = await bench.startEtcd()
const prof = process.env.LINK_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LINK_PROF}`] : []
const n1 = await bench.startNode(etcd, 'n1', prof)
const n2 = await bench.startNode(etcd, 'n2', prof)
try {
  n1.child.send({ linked: 'n2' })
  await n1.next('linked')
  for (const q of ['warm', 'local', 'hop']) {
    const c = await amqp.connect(n1.url)
    const ch = await c.createChannel()
    await ch.assertQueue(q, { durable: false })
    await c.close()
    n2.child.send({ place: { vhost: '/', name: q, node: 'n1', durable: false, autoDelete: false, exclusive: false, arguments: {} } })
    await n2.next('placed')
  }
  await run(n2.url, n2.url, 'warm')
  const local = await run(n1.url, n1.url, 'local')
  const hop = await run(n2.url, n2.url, 'hop')
  console.log(`1 queue on n1, ${N} x 64 B, prefetch 200 with acks`)
  console.log(`clients on the home node n1:  ${local.toFixed(0)} msg/s`)
  console.log(`clients on the other node n2: ${hop.toFixed(0)} msg/s (publish and delivery cross the link)`)
  console.log(`ratio (other node / home node): ${(hop / local).toFixed(2)}`)
} finally {
  await bench.stop()
}
