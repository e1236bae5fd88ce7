/**
 * Long-lived clients of the fault-test agent (test/helpers/netns-agent.mjs), for the quorum-queue
 * fault run (scripts/quorum-faults.mjs): a publisher with confirms and a consumer with manual acks
 * that outlive faults. Each connects to the first of its URLs that answers (its own node first),
 * and when its connection closes (its node died or fenced) connects again through the next one.
 *
 *   - publisher: persistent messages whose body is `<prefix>.<seq>` (a per-publisher sequence),
 *     at most `window` unconfirmed; a nack, or a channel closed before the confirm, makes the id
 *     go out again (a new attempt) after the ones already queued. Every attempt records when it was
 *     sent and how it was answered (ack, nack, close) and when: what the run checks "confirm or nack
 *     within TTL + 2 s, never silence" against.
 *   - consumer: manual acks, prefetch `prefetch`, each ack `ackDelayMs` after its delivery (a
 *     backlog of ready messages builds up for a fault to meet); every delivery is recorded (id, redelivered flag,
 *     x-delivery-count, the URL it came through, which consume it was). basic.cancel from a leader
 *     that went (consumer_cancel_notify) or a closed channel makes it consume again, through the
 *     same connection when it is still open.
 */
import amqp from 'amqplib'

const clients = new Map()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Connects to the first URL of `urls` (rotated from `from`) that answers within `timeoutMs`. */
async function connectAny(urls, from, timeoutMs) {
  let last
  for (let k = 0; k < urls.length; k++) {
    const i = (from + k) % urls.length
    try {
      const conn = await amqp.connect(urls[i], { timeout: timeoutMs })
      conn.on('error', () => undefined)
      return { conn, index: i }
    } catch (err) {
      last = err
    }
  }
  throw last ?? new Error('no URL')
}

/** A connection to one of `urls` (trying from `from` on), or null after a short wait when none answers. */
async function connectOrWait(urls, from, timeoutMs) {
  try {
    return await connectAny(urls, from, timeoutMs)
  } catch {
    await sleep(100)
    return null
  }
}

/** Starts publisher `name` on `queue`: { urls, prefix, window, intervalMs }. */
function pubStart({ name, queue, urls, prefix, window = 20, intervalMs = 10, timeoutMs = 1500 }) {
  const p = { queue, urls, prefix, window, stopping: false, seq: 0, retry: [], inflight: 0, attempts: [], ids: new Map(), reconnects: 0, done: null }
  clients.set(name, p)
  p.done = runPublisher(p, intervalMs, timeoutMs)
  return true
}

async function runPublisher(p, intervalMs, timeoutMs) {
  let from = 0
  while (!p.stopping || p.retry.length > 0 || p.inflight > 0) {
    const c = await connectOrWait(p.urls, from, timeoutMs)
    if (c === null) {
      from++
      continue
    }
    const conn = c.conn
    from = c.index
    let closed = false
    conn.on('close', () => (closed = true))
    try {
      const ch = await conn.createConfirmChannel()
      ch.on('error', () => undefined)
      ch.on('close', () => (closed = true))
      while (!closed) {
        if (p.stopping && p.retry.length === 0 && p.inflight === 0) break
        if (p.inflight >= p.window || (p.stopping && p.retry.length === 0)) {
          await sleep(5)
          continue
        }
        const id = p.retry.length > 0 ? p.retry.shift() : `${p.prefix}.${++p.seq}`
        const a = { id, via: from, sentAt: Date.now(), answer: null, at: 0 }
        p.attempts.push(a)
        p.ids.set(id, (p.ids.get(id) ?? 0) + 1)
        p.inflight++
        ch.publish('', p.queue, Buffer.from(id), { persistent: true }, (err) => {
          p.inflight--
          a.at = Date.now()
          a.answer = err == null ? 'ack' : /nack/.test(err.message) ? 'nack' : 'close'
          if (a.answer !== 'ack') p.retry.push(id)
        })
        await sleep(intervalMs)
      }
    } catch {}
    if (!closed) {
      await conn.close().catch(() => undefined)
      if (p.stopping && p.retry.length === 0 && p.inflight === 0) break
    }
    p.reconnects++
    from++
    await sleep(50)
  }
}

/** Stops publisher `name` once every id is confirmed (or `ms` passed): its attempts. */
async function pubStop({ name, ms = 15_000 }) {
  const p = clients.get(name)
  p.stopping = true
  await Promise.race([p.done, sleep(ms)])
  clients.delete(name)
  return { attempts: p.attempts, reconnects: p.reconnects, unfinished: p.retry.length + p.inflight }
}

/** What publisher `name` has had confirmed so far (count), without stopping it. */
function pubStatus({ name }) {
  const p = clients.get(name)
  let acked = 0
  for (const a of p.attempts) if (a.answer === 'ack') acked++
  return { acked, attempts: p.attempts.length, inflight: p.inflight }
}

/** Starts consumer `name` on `queue`: { urls, prefetch }. */
function conStart({ name, queue, urls, prefetch = 50, timeoutMs = 1500, ackDelayMs = 0 }) {
  const k = { queue, urls, prefetch, ackDelayMs, stopping: false, deliveries: [], consumes: 0, cancels: 0, reconnects: 0, done: null }
  clients.set(name, k)
  k.done = runConsumer(k, timeoutMs)
  return true
}

async function runConsumer(k, timeoutMs) {
  let from = 0
  while (!k.stopping) {
    const c = await connectOrWait(k.urls, from, timeoutMs)
    if (c === null) {
      from++
      continue
    }
    const conn = c.conn
    from = c.index
    let closed = false
    conn.on('close', () => (closed = true))
    try {
      while (!closed && !k.stopping) {
        const ch = await conn.createChannel()
        ch.on('error', () => undefined)
        let chClosed = false
        let cancelled = false
        ch.on('close', () => (chClosed = true))
        await ch.prefetch(k.prefetch)
        const gen = ++k.consumes
        const via = from
        await ch.consume(
          k.queue,
          (m) => {
            if (m === null) {
              cancelled = true
              k.cancels++
              return
            }
            const count = m.properties.headers?.['x-delivery-count']
            k.deliveries.push({ id: m.content.toString(), redelivered: m.fields.redelivered, count: count ?? 0, via, gen, at: Date.now() })
            // a slow consumer leaves a backlog of ready messages in the queue for the fault to meet
            if (k.ackDelayMs > 0) setTimeout(() => ack(ch, m), k.ackDelayMs)
            else ack(ch, m)
          },
          { noAck: false },
        )
        while (!closed && !chClosed && !cancelled && !k.stopping) await sleep(20)
        if (!chClosed) await ch.close().catch(() => undefined)
        if (!closed && !k.stopping) await sleep(50)
      }
    } catch {
      await sleep(100)
    }
    if (!closed) await conn.close().catch(() => undefined)
    if (k.stopping) break
    k.reconnects++
    from++
  }
}

/** Consumer `name` acks at once from now on (its next consume takes the whole prefetch). */
function conFast({ name }) {
  clients.get(name).ackDelayMs = 0
  return true
}

/** Acks `m` unless its channel has closed meanwhile (amqplib throws then: the agent would die). */
function ack(ch, m) {
  try {
    ch.ack(m)
  } catch {}
}

/** Deliveries consumer `name` recorded since `from` (an index), without stopping it. */
function conDeliveries({ name, from = 0 }) {
  const k = clients.get(name)
  return k.deliveries.slice(from)
}

/** Stops consumer `name`: its deliveries and how often it consumed, was cancelled, reconnected. */
async function conStop({ name }) {
  const k = clients.get(name)
  k.stopping = true
  await Promise.race([k.done, sleep(5000)])
  clients.delete(name)
  return { deliveries: k.deliveries, consumes: k.consumes, cancels: k.cancels, reconnects: k.reconnects }
}

/** Declares a durable quorum queue of `size` members on connection `c` of the agent. */
async function declareQuorum({ c, queue, size = 3 }, conn) {
  const ch = await conn(c).conn.createChannel()
  await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': size } })
  await ch.close()
  return true
}

export const clientOps = { declareQuorum, pubStart, pubStop, pubStatus, conStart, conFast, conDeliveries, conStop }

/** Closes every client (the agent is ending). */
export function stopClients() {
  for (const c of clients.values()) c.stopping = true
}
