#!/usr/bin/env node
// Cluster figures of issue 13 (after `npm run build`): a private etcd and Warren nodes as separate
// processes on loopback (no namespaces needed), 8 queues with one producer and one consumer each.
//
//   node bench/cluster.mjs                   8 queues on 1 node, then 4 + 4 on 2 nodes, clients on
//                                            the queue's node: aggregate msg/s and the 2-node/1-node ratio
//   node bench/cluster.mjs --wrong-node      2 nodes: clients on the queue's node, then queues declared
//                                            on one node and their clients on the other (each message
//                                            crosses the node link): the cost of one hop
//   node bench/cluster.mjs declare-latency   queue.declare round trips, a single node vs a cluster node
//
// Options: --seconds 10, --queues 8, --declares 2000 (declare-latency), --size 16.
// Load: /work/shared/amqp-perf's C tool when found (AMQP_PERF=path/to/amqp-perf, or built from
// AMQP_PERF_SRC / ../shared/amqp-perf into a temp dir with gcc and librabbitmq-dev): one tool
// process per node, S1-like (16 B, prefetch 1000, multi-ack 100, no confirms), and it reports each
// node's CPU. Without it, amqplib in one worker process per node (slower: the figures then show
// the client as much as the broker). Every figure is one run: compare ratios, and mind the load
// average printed with it (other work on the machine shows in it).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import amqp from 'amqplib'
import { ETCD_BIN, freePort, startEtcd as startEtcd_ } from './etcd.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'wrong-node': { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    queues: { type: 'string', default: '8' },
    declares: { type: 'string', default: '2000' },
    size: { type: 'string', default: '16' },
    worker: { type: 'string' }, // internal: amqplib load worker (JSON spec)
  },
})
const SECONDS = Number(opt.seconds)
const QUEUES = Number(opt.queues)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const load = () => os.loadavg()[0].toFixed(2)
const fmt = (x) => Math.round(x).toLocaleString('en-US')

if (opt.worker !== undefined) {
  await amqplibWorker(JSON.parse(opt.worker))
  process.exit(0)
}

async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if (await check()) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

const tmp = mkdtempSync(join(os.tmpdir(), 'warren-bench-cluster-'))
const children = new Set()
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
}
process.once('exit', cleanup)
process.once('SIGINT', () => process.exit(130))

function track(child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

async function startEtcd() {
  const e = await startEtcd_(join(tmp, 'etcd'))
  track(e.child)
  return { url: e.cluster, stop: e.stop }
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 5000)
  await gone
  clearTimeout(t)
}

/** A Warren node from dist/ (with --cluster when `etcd` is given), serving on loopback. */
async function startNode(name, etcd) {
  const [amqpPort, httpPort, clusterPort] = [await freePort(), await freePort(), await freePort()]
  // BENCH_NODE_FLAGS: extra node flags for each Warren node, e.g. '--cpu-prof --cpu-prof-dir=/tmp/p'
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  const args = [...flags, join(root, 'dist/transport/cli.js'), '--amqp-port', amqpPort, '--http-port', httpPort, '--prometheus-port', '-1', '--bind', '127.0.0.1']
  args.push('--data-dir', join(tmp, name), '--log-level', 'warn', '--amqps-port', '-1', '--https-port', '-1')
  if (etcd) args.push('--cluster', etcd.url, '--cluster-name', 'bench', '--node-name', name, '--cluster-port', clusterPort)
  const child = track(spawn(process.execPath, args.map(String), { stdio: ['ignore', 'ignore', 'inherit'] }))
  const url = `amqp://guest:guest@127.0.0.1:${amqpPort}/`
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited`)
    const c = await amqp.connect(url)
    await c.close()
    return true
  }, 30_000, `${name} to serve`)
  return { name, url, httpPort, pid: child.pid, stop: () => stopChild(child) }
}

/** The C load tool, found or built; null when neither. */
function amqpPerf() {
  if (process.env.AMQP_PERF) return process.env.AMQP_PERF
  const src = process.env.AMQP_PERF_SRC ?? join(root, '..', 'shared', 'amqp-perf')
  if (!existsSync(join(src, 'amqp-perf.c'))) return null
  const dir = join(tmp, 'amqp-perf')
  const r = spawnSync('sh', ['-c', `mkdir -p ${dir} && cp ${src}/amqp-perf.c ${src}/Makefile ${dir}/ && make -s -C ${dir}`], { encoding: 'utf8' })
  return r.status === 0 ? join(dir, 'amqp-perf') : null
}

/** Runs a load of `queues` (one producer and one consumer each) against `node`: { rate, toolCpu, nodeCpu }. */
function runLoad(tool, node, queueBase, queues, clientUrl = node.url) {
  return new Promise((resolve, reject) => {
    // prettier-ignore
    const args = tool
      ? ['--uri', clientUrl, '--producers', queues, '--consumers', queues, '--queues', queues, '--queue', queueBase, '--size', opt.size,
          '--prefetch', '1000', '--multi-ack', '100', '--seconds', SECONDS, '--json', '-q', '--pid', node.pid]
      : [fileURLToPath(import.meta.url), '--worker', JSON.stringify({ url: clientUrl, queueBase, queues, seconds: SECONDS, size: Number(opt.size) })]
    const child = track(spawn(tool ?? process.execPath, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] }))
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      try {
        const j = JSON.parse(line)
        if (j.ok === false) throw new Error(j.error)
        resolve({ rate: j.consume_rate, publish: j.publish_rate, toolCpu: j.tool_cpu_pct ?? null, nodeCpu: j.broker_cpu_pct ?? null })
      } catch (err) {
        reject(new Error(`load on ${node.name} (exit ${code}): ${err.message}: ${out}`))
      }
    })
  })
}

/** amqplib load worker: `queues` queues, a publisher and a consumer each, for `seconds`; prints JSON. */
async function amqplibWorker({ url, queueBase, queues, seconds, size }) {
  const body = Buffer.alloc(size, 120)
  let consumed = 0
  let counting = false
  let stop = false
  const conns = []
  const pumps = []
  for (let q = 0; q < queues; q++) {
    const name = queueName(queueBase, q, queues)
    const pc = await amqp.connect(url)
    const cc = await amqp.connect(url)
    conns.push(pc, cc)
    const pch = await pc.createChannel()
    const cch = await cc.createChannel()
    await cch.assertQueue(name, { durable: false, autoDelete: true })
    await cch.prefetch(1000)
    let n = 0
    await cch.consume(name, (m) => {
      if (counting) consumed++
      if (++n % 100 === 0) cch.ack(m, true)
    })
    // batches of 500, yielding in between: amqplib's write result alone does not stop a tight loop
    const pump = () => {
      for (let i = 0; i < 500 && !stop; i++) if (!pch.sendToQueue(name, body)) return void pch.once('drain', pump)
      if (!stop) setImmediate(pump)
    }
    pumps.push(pump)
  }
  for (const p of pumps) setImmediate(p)
  await sleep(1000)
  counting = true
  const t0 = performance.now()
  await sleep(seconds * 1000)
  counting = false
  const rate = consumed / ((performance.now() - t0) / 1000)
  stop = true
  process.stdout.write(JSON.stringify({ ok: true, consume_rate: rate }) + '\n')
  await Promise.all(conns.map((c) => c.close().catch(() => undefined)))
}

/** The machine's CPU counters (/proc/stat, Linux): { busy, total } jiffies over all cores, or null. */
function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.reduce((a, b) => a + b, 0)
    return { busy: total - f[3] - f[4], total }
  } catch {
    return null
  }
}

/** Runs the load on every node at once; `plan` is [{ node, clientNode, queueBase, queues }]. */
async function aggregate(tool, plan) {
  const before = cpuTimes()
  const results = await Promise.all(plan.map((p) => runLoad(tool, p.node, p.queueBase, p.queues, p.clientNode.url)))
  const after = cpuTimes()
  // the whole machine's busy CPU during the run, in % of one core (200% = both cores of 2)
  const machineCpu = before && after ? ((after.busy - before.busy) / (after.total - before.total)) * os.cpus().length * 100 : null
  return { total: results.reduce((a, r) => a + r.rate, 0), results, machineCpu }
}

function describe(label, { total, results, machineCpu }, plan) {
  const parts = results.map((r, i) => {
    const cpu = r.nodeCpu !== null ? `, node CPU ${Math.round(r.nodeCpu)}%, tool CPU ${Math.round(r.toolCpu)}%` : ''
    return `${plan[i].queues} queues on ${plan[i].node.name}, clients on ${plan[i].clientNode.name}: ${fmt(r.rate)} msg/s${cpu}`
  })
  const nodesCpu = results.reduce((a, r) => a + (r.nodeCpu ?? 0), 0)
  const perCore = results[0].nodeCpu !== null ? `, ${fmt(total / (nodesCpu / 100))} msg/s per node core` : ''
  const machine = machineCpu !== null ? `; machine CPU busy ${Math.round(machineCpu)}% of ${os.cpus().length * 100}%` : ''
  console.log(`${label}: ${fmt(total)} msg/s consumed${perCore} (load average ${load()}${machine})\n  ${parts.join('\n  ')}`)
}

async function throughput() {
  const tool = amqpPerf()
  console.log(`load: ${tool ?? 'amqplib workers (no amqp-perf)'}; ${QUEUES} queues, 1 producer + 1 consumer each, ${opt.size} B, ${SECONDS} s; ${os.cpus().length} cores`)
  const etcd = await startEtcd()
  const n1 = await startNode('n1', etcd)
  let one = null
  if (!opt['wrong-node']) {
    const plan1 = [{ node: n1, clientNode: n1, queueBase: 'b1-n1', queues: QUEUES }]
    one = await aggregate(tool, plan1)
    describe('1 node ', one, plan1)
  }
  const n2 = await startNode('n2', etcd)
  const half = Math.ceil(QUEUES / 2)
  const plan2 = [
    { node: n1, clientNode: n1, queueBase: 'b2-n1', queues: half },
    { node: n2, clientNode: n2, queueBase: 'b2-n2', queues: QUEUES - half },
  ]
  const two = await aggregate(tool, plan2)
  describe('2 nodes', two, plan2)
  if (one !== null) console.log(`2 nodes / 1 node: ${(two.total / one.total).toFixed(2)}x (target 1.7x)`)
  else await wrongNode(tool, n1, n2, two)
  await Promise.all([n1.stop(), n2.stop()])
  await etcd.stop()
}

/** Queues homed on one node, clients on the other: needs cluster-wide definitions and the node link. */
async function wrongNode(tool, n1, n2, right) {
  const half = Math.ceil(QUEUES / 2)
  const plan = [
    { node: n1, clientNode: n2, queueBase: 'w-n1', queues: half },
    { node: n2, clientNode: n1, queueBase: 'w-n2', queues: QUEUES - half },
  ]
  // declare each queue on its home node first (the tool's own declare, on the other node, then
  // finds it), and check that the other node sees it there
  for (const p of plan) {
    const c = await amqp.connect(p.node.url)
    const ch = await c.createChannel()
    for (let q = 0; q < p.queues; q++) await ch.assertQueue(queueName(p.queueBase, q, p.queues), { durable: false, autoDelete: true })
    await c.close()
    const r = await fetch(`http://127.0.0.1:${p.clientNode.httpPort}/api/queues/%2F/${queueName(p.queueBase, 0, p.queues)}`, {
      headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') },
    })
    const q = r.ok ? await r.json() : null
    if (q?.node !== p.node.name) {
      console.log(
        `wrong node: skipped: queue ${queueName(p.queueBase, 0, p.queues)} declared on ${p.node.name} is not seen there from ${p.clientNode.name} ` +
          `(/api/queues → ${r.status}${q ? `, node ${q.node}` : ''}); this needs cluster-wide definitions and the node link (issue 13, next phases)`,
      )
      return
    }
  }
  const wrong = await aggregate(tool, plan)
  describe('wrong node', wrong, plan)
  console.log(`wrong node / right node: ${(wrong.total / right.total).toFixed(2)}x (the cost of one hop)`)
}

/** The tool's queue names: NAME-0 … NAME-(K-1), or NAME alone when K is 1. */
function queueName(base, q, k) {
  return k > 1 ? `${base}-${q}` : base
}

async function declareLatency() {
  const N = Number(opt.declares)
  // both nodes run at once and the declares alternate between them, so that other load on the
  // machine (and disk flushes) falls on both alike
  console.log(`queue.declare round trips, ${N} distinct queues per node and kind, one at a time, alternating between the nodes (amqplib); ${os.cpus().length} cores`)
  const etcd = await startEtcd()
  const nodes = [await startNode('single'), await startNode('n1', etcd)]
  const chans = []
  for (const node of nodes) {
    const c = await amqp.connect(node.url)
    chans.push({ c, ch: await c.createChannel() })
  }
  const out = [{}, {}]
  for (const durable of [false, true]) {
    const kind = durable ? 'durable' : 'transient'
    const t = [[], []]
    for (let i = -100; i < N; i++) {
      for (let k = 0; k < 2; k++) {
        const t0 = performance.now()
        await chans[k].ch.assertQueue(`dl-${kind}-${i}`, { durable })
        if (i >= 0) t[k].push(performance.now() - t0) // the first 100: warm-up
      }
    }
    for (let k = 0; k < 2; k++) {
      t[k].sort((a, b) => a - b)
      out[k][kind] = { p50: t[k][Math.floor(N / 2)], p99: t[k][Math.floor(N * 0.99)] }
    }
  }
  for (const { c } of chans) await c.close()
  await Promise.all(nodes.map((n) => n.stop()))
  await etcd.stop()
  const [a, b] = out
  const ms = (x) => `${x.toFixed(3)} ms`
  for (const k of ['transient', 'durable']) {
    console.log(`${k.padEnd(9)} single node: p50 ${ms(a[k].p50)}, p99 ${ms(a[k].p99)} | cluster node: p50 ${ms(b[k].p50)}, p99 ${ms(b[k].p99)} | p50 ratio ${(b[k].p50 / a[k].p50).toFixed(2)}x`)
  }
  console.log(`load average ${load()}`)
}

if (!existsSync(join(root, 'dist/transport/cli.js'))) throw new Error('build first: npm run build')
if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} is not installed (Debian etcd-server)`)
if (positionals[0] === 'declare-latency') await declareLatency()
else await throughput()
process.exit(0)
