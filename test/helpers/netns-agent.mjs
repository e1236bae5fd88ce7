/**
 * The client side of the fault-test harness (test/helpers/netns-cluster.mjs): a process started
 * inside one network namespace (a Warren node's, or etcd's) that runs real clients there (amqplib,
 * fetch, etcd3) on behalf of the test process, which stays in the root namespace. It speaks JSON
 * lines over stdio: a request `{"id":1,"op":"open","c":"a"}` gets `{"id":1,"ok":true,"value":…}`
 * or `{"id":1,"ok":false,"error":"…"}`. Requests run concurrently: a declare sent to a stopped node
 * stays pending until the node answers (or closes), while other requests go on.
 *
 * Environment: AGENT_AMQP (amqp://user:pass@addr:port/ of the namespace's node), AGENT_HTTP
 * (http://addr:port of its management API), AGENT_USER/AGENT_PASS (HTTP basic auth), AGENT_ETCD
 * (http://addr:port). Never started on its own.
 */
import { createInterface } from 'node:readline'
import amqp from 'amqplib'
import { clientOps, stopClients } from './netns-agent-clients.mjs'

const AMQP_URL = process.env.AGENT_AMQP ?? ''
const HTTP_URL = process.env.AGENT_HTTP ?? ''
const AUTH = 'Basic ' + Buffer.from(`${process.env.AGENT_USER ?? 'guest'}:${process.env.AGENT_PASS ?? 'guest'}`).toString('base64')

/** Open AMQP connections by the test's name for them: { conn, ch, closed, error }. */
const conns = new Map()
let etcd = null

const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n')

/** Rejects after `ms` (a stopped node never answers; the socket alone would wait for minutes). */
function within(ms, p, what) {
  let timer
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

function conn(name) {
  const c = conns.get(name)
  if (c === undefined) throw new Error(`no connection '${name}'`)
  if (c.closed) throw new Error(`connection '${name}' is closed: ${c.error}`)
  return c
}

async function open({ c, timeoutMs = 5000, url = AMQP_URL }) {
  const connection = await within(timeoutMs, amqp.connect(url, { timeout: timeoutMs }), 'connect')
  const entry = { conn: connection, ch: null, closed: false, error: null }
  connection.on('error', () => undefined)
  connection.on('close', (err) => {
    entry.closed = true
    entry.error = err ? String(err.message ?? err) : 'closed by the client'
  })
  entry.ch = await within(timeoutMs, connection.createConfirmChannel(), 'channel')
  entry.ch.on('error', () => undefined)
  if (c !== undefined) conns.set(c, entry)
  return entry
}

const ops = {
  ping: () => 'pong',
  // long-lived publisher and consumer that outlive faults (netns-agent-clients.mjs)
  ...clientOps,
  declareQuorum: (req) => clientOps.declareQuorum(req, conn),

  /** Opens an AMQP connection with a confirm channel, kept under the name `c`. */
  open: async (req) => {
    await open(req)
    return true
  },

  /** One connection attempt, closed at once: { ok, error }. */
  tryConnect: async ({ timeoutMs = 3000, url }) => {
    try {
      const e = await open({ timeoutMs, url })
      await e.conn.close().catch(() => undefined)
      return { ok: true }
    } catch (err) {
      return { ok: false, error: String(err.message ?? err) }
    }
  },

  /** Whether connection `c` is closed, and the broker's close reason (e.g. "Connection closed: 320 (CONNECTION-FORCED) …"). */
  closed: ({ c }) => {
    const e = conns.get(c)
    if (e === undefined) throw new Error(`no connection '${c}'`)
    return { closed: e.closed, error: e.error }
  },

  declare: async ({ c, queue, durable = false }) => (await conn(c).ch.assertQueue(queue, { durable })).messageCount,

  /** Publishes `ids` (each body is the id) to `queue` and waits for every confirm; returns the count. */
  publish: async ({ c, queue, ids, persistent = false }) => {
    const { ch } = conn(c)
    for (const id of ids) ch.sendToQueue(queue, Buffer.from(String(id)), { persistent })
    await ch.waitForConfirms()
    return ids.length
  },

  /** basic.get with ack: the body as a string, or null when the queue is empty. */
  get: async ({ c, queue }) => {
    const { ch } = conn(c)
    const m = await ch.get(queue, { noAck: true })
    return m === false ? null : m.content.toString()
  },

  close: async ({ c }) => {
    const e = conns.get(c)
    conns.delete(c)
    if (e !== undefined && !e.closed) await e.conn.close().catch(() => undefined)
    return true
  },

  /** GET on the namespace's node's management API: { status, body }. */
  http: async ({ path, timeoutMs = 3000 }) => {
    const r = await fetch(HTTP_URL + path, { headers: { authorization: AUTH }, signal: AbortSignal.timeout(timeoutMs) })
    const text = await r.text()
    let body = text
    try {
      body = JSON.parse(text)
    } catch {}
    return { status: r.status, body }
  },

  /** Keys under `prefix` in etcd (AGENT_ETCD). */
  etcdKeys: async ({ prefix }) => {
    if (etcd === null) {
      const { Etcd3 } = await import('etcd3')
      etcd = new Etcd3({ hosts: process.env.AGENT_ETCD, dialTimeout: 2000 })
    }
    return (await within(3000, etcd.getAll().prefix(prefix).keys(), 'etcd get')).sort()
  },
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch {
    return
  }
  const op = ops[req.op]
  Promise.resolve()
    .then(() => {
      if (op === undefined) throw new Error(`unknown op '${req.op}'`)
      return op(req)
    })
    .then(
      (value) => send({ id: req.id, ok: true, value }),
      (err) => send({ id: req.id, ok: false, error: String(err?.message ?? err) }),
    )
})
// the harness ends the agent by closing stdin (or killing it)
process.stdin.on('end', () => {
  stopClients()
  for (const e of conns.values()) if (!e.closed) e.conn.close().catch(() => undefined)
  etcd?.close()
  setTimeout(() => process.exit(0), 200).unref()
})
