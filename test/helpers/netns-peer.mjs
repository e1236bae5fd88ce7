/**
 * Runs inside a private network namespace made by test/helpers/netns.ts (never on its own): starts a
 * Warren broker from dist/ bound to all interfaces, connects to it from the namespace's own
 * non-loopback address (NETNS_PEER_IP) over AMQP or WebSocket, and prints one JSON line of results
 * on stdout for the vitest test to assert. No traffic leaves the namespace.
 *
 * Usage: node netns-peer.mjs amqp|ws
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import amqp from 'amqplib'
import { WebSocket } from 'ws'
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client'
import { startBroker } from '../../dist/transport/server.js'
import { makeUser } from '../../dist/core/users.js'

const mode = process.argv[2]
const peer = process.env.NETNS_PEER_IP
if ((mode !== 'amqp' && mode !== 'ws') || !peer) {
  process.stderr.write('usage: NETNS_PEER_IP=addr node netns-peer.mjs amqp|ws\n')
  process.exit(2)
}
// Node 20 has no global WebSocket; AMQPWebSocketClient uses the global one
globalThis.WebSocket ??= WebSocket

/** Polls `check` every 10 ms up to `ms`; returns whether it became true. */
async function waitFor(check, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}

/** Resolves to `{ ok: true, value }` or `{ ok: false, message }`. */
const settle = (p) => p.then((value) => ({ ok: true, value }), (e) => ({ ok: false, message: String(e?.message ?? e) }))

/** The broker's side of its only connection: who it thinks the client is. */
function onlyConnection(broker) {
  const all = [...broker.connections]
  return all.length === 1 ? { user: all[0].userName, peerHost: all[0].peerHost } : { count: all.length }
}

async function viaAmqp(rb, user, pass, host) {
  const r = await settle(amqp.connect(`amqp://${user}:${pass}@${host}:${rb.amqpPort}`))
  if (!r.ok) return r
  r.value.on('error', () => undefined)
  await waitFor(() => rb.broker.connections.size === 1)
  const seen = onlyConnection(rb.broker)
  await r.value.close()
  return { ok: true, ...seen }
}

async function viaWs(rb, user, pass, host) {
  const c = new AMQPWebSocketClient({ url: `ws://${host}:${rb.httpPort}/ws/amqp`, username: user, password: pass })
  const r = await settle(c.connect())
  if (!r.ok) return r
  await waitFor(() => rb.broker.connections.size === 1)
  const seen = onlyConnection(rb.broker)
  await c.close()
  return { ok: true, ...seen }
}

const dataDir = mkdtempSync(join(tmpdir(), 'warren-netns-'))
const rb = await startBroker({
  amqpPort: 0,
  httpPort: 0,
  prometheusPort: -1,
  bind: '', // all interfaces: the namespace has only lo and the test interface
  dataDir,
  logger: pino({ level: 'silent' }),
})
const out = { mode, peer }
try {
  const connect = mode === 'amqp' ? viaAmqp : viaWs
  out.guestRemote = await connect(rb, 'guest', 'guest', peer)
  out.connectionsGone = await waitFor(() => rb.broker.connections.size === 0)
  rb.broker.users.put(makeUser('remote', 'secret', [], false))
  rb.broker.users.setPermission({ user: 'remote', vhost: '/', configure: '.*', write: '.*', read: '.*' })
  out.otherRemote = await connect(rb, 'remote', 'secret', peer)
  await waitFor(() => rb.broker.connections.size === 0)
  out.guestLoopback = await connect(rb, 'guest', 'guest', '127.0.0.1')
} finally {
  await rb.close()
  rmSync(dataDir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(out)}\n`)
