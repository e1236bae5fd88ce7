/**
 * Fault-test harness (issues 13 and 14): a private network of namespaces holding an etcd and
 * several Warren nodes (dist/transport/cli.js), with faults a test can inject: cut a node's links
 * (all, peers only, etcd only), SIGSTOP/SIGCONT, kill -9 and restart a node, restart etcd.
 *
 * Topology (everything inside namespaces named `wfc<pid>-<seq>-*`; nothing is added to the root
 * namespace's interfaces, addresses or routes):
 *
 *   ns …-br      two bridges: br0 "peers" 10.253.13.0/24 (node ↔ node, clients) and br1 "etcd"
 *                10.253.14.0/24 (node ↔ etcd); one veth pair per member and bridge, bridge end here
 *   ns …-etcd    eth1 10.253.14.1, etcd on :2379
 *   ns …-<node>  eth0 10.253.13.(10+i) (the node's --bind and --advertise-address), eth1 10.253.14.(10+i)
 *
 * 10.253.0.0/16 is private and routed nowhere; the namespaces have no default route, so no packet
 * can leave them. A link is cut by setting the bridge end of a veth down (the node keeps its
 * address, its own clients still reach it). Each namespace has an agent (test/helpers/netns-agent.mjs)
 * that runs real clients there for the test process, which stays in the root namespace. Nodes bind
 * their namespace address, not loopback, so clients use a user seeded in each node's data dir
 * before its first start (guest is loopback-only, as in RabbitMQ).
 *
 * Plain ESM (typed by netns-cluster.d.mts) so that scripts/cluster-faults.mjs runs it with plain node.
 * Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2; `netnsClusterUnavailable` says why not.
 */
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..', '..')
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')
const AGENT = path.join(HERE, 'netns-agent.mjs')
export const ETCD_BIN = process.env.WARREN_TEST_ETCD ?? '/usr/bin/etcd'
/** the peers network (node addresses, clients) and the etcd network */
export const PEERS_NET = '10.253.13'
export const ETCD_NET = '10.253.14'
export const ETCD_ADDRESS = `${ETCD_NET}.1`
/** the user seeded in every node's data dir (guest may only connect from loopback) */
export const FAULT_USER = 'faults'
export const FAULT_PASS = 'faults'
/** seconds of a node's etcd lease (transport/cluster/membership.ts LEASE_TTL_S: the CLI's) */
export const LEASE_TTL_S = 5
const NS_PREFIX = 'wfc'

/** Runs `ip …args`; throws with its stderr on failure. */
function ip(args, input) {
  const r = spawnSync('ip', args, { encoding: 'utf8', input, timeout: 10_000 })
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`)
  return r.stdout
}

/** Runs a shell script inside namespace `ns`. */
const inNs = (ns, script) => ip(['netns', 'exec', ns, 'sh', '-c', `set -e\n${script}`])

const listNs = () =>
  ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n !== '')

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

/** Deletes namespaces left by harness processes that died without cleaning up (never a live one's). */
function removeStale() {
  for (const ns of listNs()) {
    const m = /^wfc(\d+)-/.exec(ns)
    if (m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]))) spawnSync('ip', ['netns', 'del', ns])
  }
}

function probe() {
  if (!existsSync(ETCD_BIN)) return `${ETCD_BIN} is not installed (Debian etcd-server)`
  const ns = `${NS_PREFIX}${process.pid}-probe`
  try {
    ip(['netns', 'add', ns])
    inNs(ns, 'ip link set lo up\nip link add br0 type bridge\nip link add v0 type veth peer name v1\nip link set v0 master br0')
    return undefined
  } catch (err) {
    return `network namespaces cannot be made here (needs root and iproute2): ${err.message.split('\n')[0]}`
  } finally {
    spawnSync('ip', ['netns', 'del', ns])
  }
}

/** Why the harness cannot run here, or undefined. */
export const netnsClusterUnavailable = probe()

/** The namespaces of live harnesses, deleted on exit even when a test run is interrupted. */
const liveNamespaces = new Set()
const liveProcesses = new Set()
process.once('exit', () => {
  for (const p of liveProcesses) {
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {}
  }
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns])
})

/** Polls `check` (sync or async; truthy ends) every 50 ms up to `ms`. */
export async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try {
      const v = await check()
      if (v) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A child process whose output is kept (last 8 KiB) for failure messages. */
function track(child, label) {
  const rec = { child, pid: child.pid, label, out: '', exited: null }
  // FAULTS_LOG_DIR=dir keeps every process's whole output in dir/<label>.log (to read after a run)
  const file = process.env.FAULTS_LOG_DIR ? path.join(process.env.FAULTS_LOG_DIR, `${label.replace(/[^\w.-]+/g, '_')}.log`) : null
  const keep = (d) => {
    rec.out = (rec.out + d).slice(-8192)
    if (file !== null) appendFileSync(file, d)
  }
  child.stdout?.setEncoding('utf8').on('data', keep)
  child.stderr?.setEncoding('utf8').on('data', keep)
  rec.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      liveProcesses.delete(rec)
      resolve(signal ?? code)
    }),
  )
  child.once('error', (err) => keep(`spawn error: ${err.message}`))
  liveProcesses.add(rec)
  return rec
}

/** Sends SIGKILL (after SIGCONT, so a stopped process dies at once) and waits for the exit. */
async function killHard(rec) {
  if (rec === null || rec.child.exitCode !== null || rec.child.signalCode !== null) return
  try {
    process.kill(rec.pid, 'SIGCONT')
    process.kill(rec.pid, 'SIGKILL')
  } catch {}
  await rec.exited
}

/** JSON-over-stdio client of one netns-agent.mjs process. */
class Agent {
  constructor(ns, env) {
    this.ns = ns
    this.seq = 0
    this.pending = new Map()
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    this.rec = track(child, `agent ${ns}`)
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        let msg
        try {
          msg = JSON.parse(line)
        } catch {
          continue
        }
        const p = this.pending.get(msg.id)
        if (p === undefined) continue
        this.pending.delete(msg.id)
        clearTimeout(p.timer)
        if (msg.ok) p.resolve(msg.value)
        else p.reject(new Error(`${p.op} in ${ns}: ${msg.error}`))
      }
    })
    this.rec.exited.then(() => {
      for (const p of this.pending.values()) p.reject(new Error(`agent in ${ns} exited: ${this.rec.out.trim()}`))
      this.pending.clear()
    })
  }

  /** Sends one request; rejects with the agent's error, or after `timeoutMs`. */
  call(op, args = {}, timeoutMs = 15_000) {
    const id = ++this.seq
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${op} in ${this.ns}: no answer from the agent in ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { op, resolve, reject, timer })
      this.rec.child.stdin.write(JSON.stringify({ ...args, id, op }) + '\n')
    })
  }

  async close() {
    this.rec.child.stdin.end()
    const t = setTimeout(() => killHard(this.rec), 1000)
    await this.rec.exited
    clearTimeout(t)
  }
}

// Seeds FAULT_USER (administrator, all permissions on /) into fresh data dirs, through the built
// broker itself on loopback in the root namespace, one process for every dir.
const SEED = `
import { pino } from 'pino'
import { startBroker } from ${JSON.stringify(path.join(ROOT, 'dist', 'transport', 'server.js'))}
import { makeUser } from ${JSON.stringify(path.join(ROOT, 'dist', 'core', 'users.js'))}
for (const dataDir of JSON.parse(process.env.SEED_DIRS)) {
  const rb = await startBroker({ amqpPort: 0, httpPort: -1, prometheusPort: -1, bind: '127.0.0.1', dataDir, logger: pino({ level: 'silent' }) })
  rb.broker.users.put(makeUser(${JSON.stringify(FAULT_USER)}, ${JSON.stringify(FAULT_PASS)}, ['administrator'], false))
  rb.broker.users.setPermission({ user: ${JSON.stringify(FAULT_USER)}, vhost: '/', configure: '.*', write: '.*', read: '.*' })
  await rb.close()
}
`

let topologySeq = 0

/**
 * Builds the topology, starts etcd and the nodes, and waits until every node serves and sees every
 * other. `stop()` tears everything down (call it in afterAll/finally: namespaces are deleted even
 * when a test failed, and on process exit as a last resort).
 */
export async function startNetnsCluster({ nodes = ['n1', 'n2'], clusterName = 'faults', logLevel = 'warn', startTimeoutMs = 30_000 } = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build; vitest's global setup does it)`)
  removeStale()
  const id = `${NS_PREFIX}${process.pid}-${++topologySeq}`
  const tmp = mkdtempSync(path.join(tmpdir(), 'warren-faults-'))
  const brNs = `${id}-br`
  const etcdNs = `${id}-etcd`
  const members = nodes.map((name, i) => ({
    name,
    index: i + 1,
    ns: `${id}-${name}`,
    address: `${PEERS_NET}.${10 + i + 1}`,
    etcdAddress: `${ETCD_NET}.${10 + i + 1}`,
    dataDir: path.join(tmp, name),
    proc: null,
    agent: null,
  }))
  const byName = new Map(members.map((m) => [m.name, m]))
  let etcdProc = null
  let etcdAgent = null
  const etcdDir = path.join(tmp, 'etcd')
  const etcdUrl = `http://${ETCD_ADDRESS}:2379`

  const cluster = {
    id,
    clusterName,
    etcdUrl,
    nodes: members,
    leaseTtl: LEASE_TTL_S,
    node: (name) => {
      const m = byName.get(name)
      if (m === undefined) throw new Error(`no node '${name}'`)
      return m
    },
    /** the agent in node `name`'s namespace */
    agent: (name) => cluster.node(name).agent,
    /** an agent in etcd's namespace (etcdKeys) */
    etcdAgent: () => etcdAgent,

    /** Cuts node `name` off: 'all' its links, 'peers' (other nodes and outside clients) or 'etcd' only. */
    cut: (name, which = 'all') => setLinks(cluster.node(name), which, 'down'),
    heal: (name, which = 'all') => setLinks(cluster.node(name), which, 'up'),
    pause: (name) => process.kill(cluster.node(name).proc.pid, 'SIGSTOP'),
    resume: (name) => process.kill(cluster.node(name).proc.pid, 'SIGCONT'),
    /** kill -9 of node `name`; resolves once it is gone */
    kill: (name) => killHard(cluster.node(name).proc),
    /** (Re)starts node `name` on its data dir; resolves once spawned (see waitServing) */
    start: (name) => startNode(cluster.node(name)),
    /** kill -9 of etcd, then etcd again on the same data dir after `downMs` */
    restartEtcd: async (downMs = 0) => {
      await killHard(etcdProc)
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
      await startEtcd()
    },

    /** Resolves once node `name` accepts an AMQP connection from its own namespace. */
    waitServing: (name, ms = 20_000) =>
      waitFor(async () => (await cluster.agent(name).call('tryConnect', { timeoutMs: 1000 }, 3000)).ok, ms, `${name} to serve: ${cluster.logs(name)}`),
    /** Member names that node `from` lists in /api/nodes. */
    members: async (from) => {
      const r = await cluster.agent(from).call('http', { path: '/api/nodes' }, 5000)
      if (r.status !== 200) throw new Error(`/api/nodes on ${from}: ${r.status} ${JSON.stringify(r.body)}`)
      return r.body.map((n) => n.name).sort()
    },
    /** Resolves once node `from` lists exactly `expected` (sorted names). */
    waitMembers: (from, expected, ms = 15_000) => {
      const want = [...expected].sort().join(',')
      return waitFor(async () => (await cluster.members(from)).join(',') === want, ms, `${from} to list [${want}]`)
    },
    /** The node's recent log output (for failure messages). */
    logs: (name) => cluster.node(name).proc?.out.slice(-2000) ?? '',
    stop,
  }

  function setLinks(m, which, state) {
    const ends = which === 'all' ? [`p${m.index}`, `e${m.index}`] : which === 'peers' ? [`p${m.index}`] : which === 'etcd' ? [`e${m.index}`] : null
    if (ends === null) throw new Error(`cut/heal: 'all', 'peers' or 'etcd', not '${which}'`)
    inNs(brNs, ends.map((e) => `ip link set ${e} ${state}`).join('\n'))
  }

  async function startEtcd() {
    const peer = 'http://127.0.0.1:2380'
    // prettier-ignore
    const args = ['netns', 'exec', etcdNs, ETCD_BIN, '--name', 'faults', '--data-dir', etcdDir,
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `faults=${peer}`, '--log-level', 'error']
    etcdProc = track(spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }), 'etcd')
    await waitFor(async () => {
      if (etcdProc.child.exitCode !== null) throw new Error(`etcd exited: ${etcdProc.out}`)
      return (await etcdAgent.call('http', { path: '/health', timeoutMs: 1000 }, 3000)).status === 200
    }, 15_000, 'etcd to answer')
  }

  function startNode(m) {
    if (m.proc !== null && m.proc.child.exitCode === null && m.proc.child.signalCode === null) throw new Error(`${m.name} is running`)
    // prettier-ignore
    const args = ['netns', 'exec', m.ns, process.execPath, CLI, '--cluster', `etcd://${ETCD_ADDRESS}:2379`, '--cluster-name', clusterName,
      '--node-name', m.name, '--bind', m.address, '--advertise-address', m.address, '--amqp-port', '5672', '--http-port', '15672',
      '--cluster-port', '25672', '--prometheus-port', '-1', '--amqps-port', '-1', '--https-port', '-1', '--data-dir', m.dataDir,
      '--log-level', logLevel]
    // `ip netns exec` execs the command: the child's pid is the node's (SIGSTOP/SIGKILL reach it)
    m.proc = track(spawn('ip', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), m.name)
  }

  async function stop() {
    await Promise.all([...members.map((m) => m.agent?.close()), etcdAgent?.close()])
    await Promise.all([...members.map((m) => killHard(m.proc)), killHard(etcdProc)])
    for (const ns of [...members.map((m) => m.ns), etcdNs, brNs]) {
      spawnSync('ip', ['netns', 'del', ns])
      liveNamespaces.delete(ns)
    }
    rmSync(tmp, { recursive: true, force: true, maxRetries: 5 })
    const left = listNs().filter((n) => n.startsWith(`${id}-`))
    if (left.length > 0) throw new Error(`namespaces left after teardown: ${left.join(', ')}`)
  }

  try {
    for (const ns of [brNs, etcdNs, ...members.map((m) => m.ns)]) {
      ip(['netns', 'add', ns])
      liveNamespaces.add(ns)
    }
    const br = ['ip link set lo up', 'ip link add br0 type bridge', 'ip link add br1 type bridge', 'ip link set br0 up', 'ip link set br1 up']
    br.push(`ip link add e0 type veth peer name eth1 netns ${etcdNs}`, 'ip link set e0 master br1 up')
    for (const m of members) {
      br.push(`ip link add p${m.index} type veth peer name eth0 netns ${m.ns}`, `ip link set p${m.index} master br0 up`)
      br.push(`ip link add e${m.index} type veth peer name eth1 netns ${m.ns}`, `ip link set e${m.index} master br1 up`)
    }
    inNs(brNs, br.join('\n'))
    inNs(etcdNs, `ip link set lo up\nip addr add ${ETCD_ADDRESS}/24 dev eth1\nip link set eth1 up`)
    for (const m of members) {
      inNs(m.ns, `ip link set lo up\nip addr add ${m.address}/24 dev eth0\nip link set eth0 up\nip addr add ${m.etcdAddress}/24 dev eth1\nip link set eth1 up`)
    }
    // seed the client user, start the agents and etcd, then the nodes
    const seed = spawnSync(process.execPath, ['--input-type=module', '-e', SEED], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, SEED_DIRS: JSON.stringify(members.map((m) => m.dataDir)) },
      timeout: 30_000,
    })
    if (seed.status !== 0) throw new Error(`seeding the data dirs failed: ${seed.stderr || seed.error}`)
    etcdAgent = new Agent(etcdNs, { AGENT_HTTP: etcdUrl, AGENT_ETCD: etcdUrl })
    for (const m of members) {
      m.agent = new Agent(m.ns, {
        AGENT_AMQP: `amqp://${FAULT_USER}:${FAULT_PASS}@${m.address}:5672/`,
        AGENT_HTTP: `http://${m.address}:15672`,
        AGENT_USER: FAULT_USER,
        AGENT_PASS: FAULT_PASS,
        AGENT_ETCD: etcdUrl,
      })
    }
    await startEtcd()
    for (const m of members) startNode(m)
    await Promise.all(members.map((m) => cluster.waitServing(m.name, startTimeoutMs)))
    await Promise.all(members.map((m) => cluster.waitMembers(m.name, nodes, startTimeoutMs)))
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
  return cluster
}
