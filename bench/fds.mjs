#!/usr/bin/env node
// Open file descriptors under the priority-queue attack (issue 10 hole 6): Warren in a child
// process, FD_QUEUES (default 85) durable queues with x-max-priority 255, one persistent message
// per priority level (0..255) in each, published with confirms. Prints the broker's open fds
// (entries of /proc/<pid>/fd) before and after, and after the restart that recovers them all.
//
//   npm run build && node bench/fds.mjs
//   FD_QUEUES=20 node bench/fds.mjs
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'

const root = fileURLToPath(new URL('..', import.meta.url))
const QUEUES = Number(process.env.FD_QUEUES ?? 85)
const LEVELS = 256

function start(dataDir) {
  const child = spawn(
    process.execPath,
    [join(root, 'dist/transport/cli.js'), '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', '--data-dir', dataDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  child.stdout.resume()
  return child
}

async function port(child) {
  // the listening line is at info: read the port from /proc/<pid>/net instead of the log
  for (let i = 0; i < 200; i++) {
    try {
      const c = await amqp.connect(`amqp://guest:guest@127.0.0.1:${await listenPort(child.pid)}`)
      return c
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error('broker did not start')
}

async function listenPort(pid) {
  const { readFileSync, readlinkSync } = await import('node:fs')
  const inodes = new Set()
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${f}`))
      if (m) inodes.add(m[1])
    } catch {}
  }
  for (const file of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/)
      if (c[3] === '0A' && inodes.has(c[9])) return parseInt(c[1].split(':').pop(), 16)
    }
  }
  throw new Error('no listener yet')
}

const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length

const dataDir = mkdtempSync(join(tmpdir(), 'warren-fdbench-'))
let child = start(dataDir)
let conn = await port(child)
const before = fds(child.pid)
let failed = null
conn.on('error', () => {})
try {
  const ch = await conn.createConfirmChannel()
  for (let q = 0; q < QUEUES; q++) {
    await ch.assertQueue(`prio-${q}`, { durable: true, arguments: { 'x-max-priority': 255 } })
    for (let p = 0; p < LEVELS; p++) ch.sendToQueue(`prio-${q}`, Buffer.from(`m${p}`), { persistent: true, priority: p })
    await ch.waitForConfirms()
  }
} catch (err) {
  failed = err.message
}
const after = fds(child.pid)
if (failed !== null) {
  console.log(JSON.stringify({ queues: QUEUES, levels: LEVELS, fdsIdle: before, fdsAtFailure: after, failed }))
  child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
  process.exit(1)
}
await conn.close().catch(() => {})
child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
child = start(dataDir)
conn = await port(child)
const ch2 = await conn.createChannel()
let recovered = 0
for (let q = 0; q < QUEUES; q++) recovered += (await ch2.checkQueue(`prio-${q}`)).messageCount
const restarted = fds(child.pid)
await conn.close()
child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
rmSync(dataDir, { recursive: true, force: true })
console.log(JSON.stringify({ queues: QUEUES, levels: LEVELS, messages: QUEUES * LEVELS, fdsIdle: before, fdsAfterPublish: after, fdsAfterRestart: restarted, recovered }))
