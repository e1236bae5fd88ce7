#!/usr/bin/env node
// queue.declare latency with and without the cluster (issue 13): DECLARE_COUNT (default 200)
// queue.declare of new queues, one at a time (each waits for its declare-ok), by one amqplib
// channel, against (1) a single node and (2) node n1 of a 2-node cluster coordinated by a private
// etcd (/usr/bin/etcd, Debian's etcd-server, on free loopback ports and a temp dir). Every broker is
// a child process (the CLI). In the cluster a declare is a claim in etcd plus the wait until both
// members have applied it (transport/cluster/definitions-store.ts). Prints median, p95 and mean.
//
//   node bench/declare-latency.mjs           (after npm run build)
//   DECLARE_COUNT=1000 node bench/declare-latency.mjs
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'

const root = fileURLToPath(new URL('..', import.meta.url))
const COUNT = Number(process.env.DECLARE_COUNT ?? 200)
const ETCD = process.env.WARREN_TEST_ETCD ?? '/usr/bin/etcd'

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

async function startEtcd() {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-etcd-'))
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const child = spawn(ETCD, ['--name', 'b', '--data-dir', dir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `b=http://127.0.0.1:${peer}`, '--log-level', 'error'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false)
    if (ok) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return { url: `etcd://127.0.0.1:${client}`, async stop() { child.kill('SIGKILL'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }) } }
}

async function startNode(extra) {
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-bench-decl-'))
  const child = spawn(process.execPath, [join(root, 'dist/transport/cli.js'), '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1',
    '--bind', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d) => {
      buf += d
      const m = buf.match(/"protocol":"amqp","port":(\d+)/)
      // a cluster node serves once it has joined
      if (m && (!extra.includes('--cluster') || buf.includes('joined cluster'))) resolve(Number(m[1]))
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
  return { url: `amqp://guest:guest@127.0.0.1:${port}`, async stop() { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dataDir, { recursive: true, force: true }) } }
}

async function measure(url, label) {
  const c = await amqp.connect(url)
  const ch = await c.createChannel()
  for (let i = 0; i < 20; i++) await ch.assertQueue(`warm-${i}`) // warm-up
  const ms = []
  for (let i = 0; i < COUNT; i++) {
    const t = process.hrtime.bigint()
    await ch.assertQueue(`lat-${i}`, { durable: i % 2 === 0 })
    ms.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  await c.close()
  ms.sort((a, b) => a - b)
  const r = (v) => v.toFixed(2)
  console.log(`${label}: ${COUNT} queue.declare, median ${r(ms[Math.floor(COUNT / 2)])} ms, p95 ${r(ms[Math.floor(COUNT * 0.95)])} ms, mean ${r(ms.reduce((a, b) => a + b, 0) / COUNT)} ms`)
}

const single = await startNode([])
await measure(single.url, '1 node, no cluster')
await single.stop()

const etcd = await startEtcd()
const n1 = await startNode(['--cluster', etcd.url, '--cluster-name', 'bench', '--node-name', 'n1', '--cluster-port', '0'])
const n2 = await startNode(['--cluster', etcd.url, '--cluster-name', 'bench', '--node-name', 'n2', '--cluster-port', '0'])
await measure(n1.url, '2-node cluster, declared on n1')
await n1.stop()
await n2.stop()
await etcd.stop()
