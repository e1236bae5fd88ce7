#!/usr/bin/env node
// Idle and oversized unauthenticated clients against a real broker (issue 10, holes 3 and 4).
// Warren runs in a child process with its default limits (handshake timeout 10 s, total cap 90% of
// the open-file limit, 1000 per address). Two attacker processes (each has its own fd limit)
// open ATTACK_COUNT idle TCP sockets from ATTACK_ADDRS loopback addresses (127.0.0.2, … so the
// per-address cap does not hit the legitimate client on 127.0.0.1). Then: how many sockets the
// broker holds, its fds, how fast a legitimate amqplib client connects and /api/overview answers,
// and after the handshake timeout the same again. Then WS_ATTACKERS WebSocket clients each announce
// a 100 MB message before authenticating and stream it; the broker's RSS is sampled meanwhile.
//
//   npm run build && node bench/idle-attack.mjs
//   ATTACK_COUNT=20000 ATTACK_ADDRS=20 node bench/idle-attack.mjs   (spread over 20 addresses)
//   WARREN_CLI=/path/to/other/dist/transport/cli.js node bench/idle-attack.mjs  (another build)
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { startBroker as startWarren } from './broker.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const COUNT = Number(process.env.ATTACK_COUNT ?? 20_000)
const ADDRS = Number(process.env.ATTACK_ADDRS ?? 1)
const WS_ATTACKERS = Number(process.env.WS_ATTACKERS ?? 8)
const CLI = process.env.WARREN_CLI ?? join(root, 'dist/transport/cli.js')

// ---- attacker child: opens sockets from the given addresses and keeps them idle -------------
if (process.argv[2] === 'attacker') {
  const [, , , port, count, ...addrs] = process.argv
  const sockets = []
  let closed = 0
  let failed = 0
  const open = (i) =>
    new Promise((resolve) => {
      const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: addrs[i % addrs.length] })
      s.once('connect', () => resolve())
      s.once('error', () => {
        failed++
        resolve()
      })
      s.once('close', () => closed++)
      sockets.push(s)
    })
  const n = Number(count)
  for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => open(i + k)))
  process.send({ opened: n, failed })
  process.on('message', (m) => {
    if (m === 'stats') process.send({ held: sockets.length - closed, closed, failed })
    if (m === 'exit') {
      for (const s of sockets) s.destroy()
      process.exit(0)
    }
  })
} else {
  await main()
}

function brokerFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

function startBroker() {
  return startWarren({ name: 'attack', cli: CLI })
}

async function legitimate(b) {
  const t0 = Date.now()
  let connectMs = NaN
  try {
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${b.port}`, { timeout: 5000 })
    connectMs = Date.now() - t0
    await conn.close()
  } catch (err) {
    connectMs = `failed: ${err.message}`
  }
  const t1 = Date.now()
  let httpMs
  try {
    const res = await fetch(`http://127.0.0.1:${b.httpPort}/api/overview`, {
      headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') },
      signal: AbortSignal.timeout(5000),
    })
    await res.text()
    httpMs = res.ok ? Date.now() - t1 : `HTTP ${res.status}`
  } catch (err) {
    httpMs = `failed: ${err.message}`
  }
  return { connectMs, httpMs }
}

function ask(child) {
  return new Promise((resolve) => {
    child.once('message', resolve)
    child.send('stats')
  })
}

async function wsAttack(b) {
  const chunk = Buffer.alloc(1024 * 1024)
  let peak = rssMiB(b.pid)
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(b.pid))), 50)
  const before = rssMiB(b.pid)
  const t0 = Date.now()
  const results = await Promise.all(
    Array.from({ length: WS_ATTACKERS }, async () => {
      const s = net.connect({ port: b.httpPort, host: '127.0.0.1' })
      s.on('error', () => {})
      await new Promise((r) => s.once('connect', r))
      s.write(`GET /ws/amqp HTTP/1.1\r\nHost: 127.0.0.1:${b.httpPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      await new Promise((r) => s.once('data', r))
      let closed = false
      s.once('close', () => (closed = true))
      const hdr = Buffer.alloc(14)
      hdr[0] = 0x82
      hdr[1] = 0x80 | 127
      hdr.writeBigUInt64BE(100_000_000n, 2)
      s.write(hdr)
      let sent = 0
      while (!closed && sent < 100_000_000 && Date.now() - t0 < 30_000) {
        sent += chunk.length
        if (!s.write(chunk)) await drainOrClose(s)
      }
      const closedAfterMs = Date.now() - t0
      s.destroy()
      return { sentMiB: Math.round(sent / 1048576), closed, closedAfterMs }
    }),
  )
  await new Promise((r) => setTimeout(r, 500))
  clearInterval(sampler)
  return { rssBeforeMiB: before, rssPeakMiB: peak, rssAfterMiB: rssMiB(b.pid), attackers: results }
}

async function main() {
  const b = await startBroker()
  const addrs = Array.from({ length: ADDRS }, (_, i) => (ADDRS === 1 ? '127.0.0.2' : `127.0.1.${i + 1}`))
  console.log(`broker pid ${b.pid}, ${COUNT} idle attackers from ${addrs.length} address(es), fds at start ${brokerFds(b.pid)}, RSS ${rssMiB(b.pid)} MiB`)
  if (COUNT > 0) await idleAttack(b, addrs)
  if (WS_ATTACKERS > 0) console.log(JSON.stringify({ phase: `${WS_ATTACKERS} pre-auth WebSocket clients sending 100 MB messages`, ...(await wsAttack(b)) }))
  await b.stop()
}

async function idleAttack(b, addrs) {
  const half = Math.ceil(COUNT / 2)
  const t0 = Date.now()
  const kids = [half, COUNT - half].map((n) => fork(fileURLToPath(import.meta.url), ['attacker', String(b.port), String(n), ...addrs]))
  await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))))
  const openedIn = Date.now() - t0
  const stats = await Promise.all(kids.map(ask))
  const held = stats.reduce((a, s) => a + s.held, 0)
  const legit = await legitimate(b)
  console.log(
    JSON.stringify({ phase: 'attack', openedInMs: openedIn, heldByBroker: held, closedByBroker: stats.reduce((a, s) => a + s.closed, 0), connectFailed: stats.reduce((a, s) => a + s.failed, 0), brokerFds: brokerFds(b.pid), rssMiB: rssMiB(b.pid), legit }),
  )
  await new Promise((r) => setTimeout(r, 11_000)) // the default handshake timeout is 10 s
  const after = await Promise.all(kids.map(ask))
  console.log(JSON.stringify({ phase: 'after 11 s', heldByBroker: after.reduce((a, s) => a + s.held, 0), brokerFds: brokerFds(b.pid), legit: await legitimate(b) }))
  for (const k of kids) k.send('exit')
  console.log(JSON.stringify({ phase: 'warn log lines during the attack', count: b.warnLines.length, lines: b.warnLines.map((l) => JSON.parse(l).msg) }))
}

/** Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind. */
function drainOrClose(s) {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done)
      s.off('close', done)
      resolve()
    }
    s.once('drain', done)
    s.once('close', done)
  })
}
