/**
 * Routing across cluster nodes (issue 13): every exchange type (direct, topic, headers, fanout,
 * and an exchange-to-exchange binding) declared on one node routes publishes made on either node
 * to queues living on both; an auto-delete queue consumed from another node goes, everywhere, when
 * its last consumer cancels; pika on one node publishes with confirms to, and consumes from, a
 * queue living on the other. Two nodes in the test process joined through a private etcd.
 */
import { execFile, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Channel } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { clusterPairSuite, placeRemoteQueue } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'

const PIKA_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pika', 'cluster.py')
const python = [process.env.WARREN_PYTHON, 'python3', '/usr/bin/python3'].find(
  (p) => p !== undefined && spawnSync(p, ['-c', 'import pika'], { timeout: 10_000 }).status === 0,
)

/** Every body in `q` (read with basic.get on `ch`), in order. */
async function drain(ch: Channel, q: string): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const m = await ch.get(q, { noAck: true })
    if (m === false) return out
    out.push(m.content.toString())
  }
}

describe.skipIf(!hasEtcd)(hasEtcd ? 'routing across cluster nodes' : 'routing across cluster nodes: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  const s = clusterPairSuite('route')
  const { uniq, conn, homeQueue } = s

  it('direct, topic, headers, fanout and exchange-to-exchange bindings route from either node to queues on both', async () => {
    const [c1, c2] = [await (await conn(s.n1)).createConfirmChannel(), await (await conn(s.n2)).createConfirmChannel()]
    const qa = uniq('qa') // lives on n1
    const qb = uniq('qb') // lives on n2
    await c1.assertQueue(qa)
    await c2.assertQueue(qb)
    placeRemoteQueue(s.n2, s.n1, qa)
    placeRemoteQueue(s.n1, s.n2, qb)
    const x = uniq('x')
    await c1.assertExchange(`${x}.d`, 'direct')
    await c1.assertExchange(`${x}.t`, 'topic')
    await c1.assertExchange(`${x}.h`, 'headers')
    await c1.assertExchange(`${x}.f`, 'fanout')
    // bindings made on either node, to queues on either node
    await c2.bindQueue(qa, `${x}.d`, 'red')
    await c1.bindQueue(qb, `${x}.d`, 'blue')
    await c1.bindQueue(qa, `${x}.t`, 'stock.*.nyse')
    await c2.bindQueue(qb, `${x}.t`, 'stock.#')
    await c2.bindQueue(qa, `${x}.h`, '', { 'x-match': 'all', kind: 'a', size: 1 })
    await c1.bindQueue(qb, `${x}.h`, '', { 'x-match': 'any', kind: 'b', size: 2 })
    await c2.bindExchange(`${x}.t`, `${x}.f`, '')
    await c1.bindQueue(qb, `${x}.f`, '')
    const sends: [Channel, string, string, string, Record<string, unknown>?][] = [
      [c1, `${x}.d`, 'red', 'd1'],
      [c2, `${x}.d`, 'blue', 'd2'],
      [c2, `${x}.d`, 'green', 'd3'],
      [c2, `${x}.t`, 'stock.ibm.nyse', 't1'],
      [c1, `${x}.t`, 'stock.ibm.lse', 't2'],
      [c1, `${x}.t`, 'bond.x', 't3'],
      [c1, `${x}.h`, '', 'h1', { kind: 'a', size: 1 }],
      [c2, `${x}.h`, '', 'h2', { kind: 'a', size: 2 }],
      [c2, `${x}.h`, '', 'h3', { kind: 'c', size: 3 }],
      [c2, `${x}.f`, 'stock.a.nyse', 'f1'],
    ]
    for (const [ch, ex, rk, body, headers] of sends) ch.publish(ex, rk, Buffer.from(body), { headers })
    await Promise.all([c1.waitForConfirms(), c2.waitForConfirms()])
    // qa: d1, t1, h1 (all), f1 (fanout → topic, stock.*.nyse); qb: d2, t1, t2, h2 (any: size 2) and f1,
    // which reaches it both by its fanout binding and through the topic exchange: one copy per queue
    await waitFor(() => homeQueue(s.n1, qa).messageCount === 4 && homeQueue(s.n2, qb).messageCount === 5, 5000, 'messages at the homes')
    expect((await drain(c1, qa)).sort()).toEqual(['d1', 'f1', 'h1', 't1'])
    expect((await drain(c1, qb)).sort()).toEqual(['d2', 'f1', 'h2', 't1', 't2'])
  })

  it('an auto-delete queue consumed from the other node goes everywhere when its last consumer cancels', async () => {
    const q = uniq('auto')
    const c2 = await (await conn(s.n2)).createChannel()
    await c2.assertQueue(q, { autoDelete: true })
    placeRemoteQueue(s.n1, s.n2, q, { autoDelete: true })
    const c1 = await (await conn(s.n1)).createChannel()
    const got: string[] = []
    const { consumerTag } = await c1.consume(q, (m) => m && got.push(m.content.toString()), { noAck: true })
    c2.sendToQueue(q, Buffer.from('one'))
    await waitFor(() => got.length === 1, 5000, 'the delivery on n1')
    await c1.cancel(consumerTag)
    await waitFor(
      () => s.n2.broker.vhost('/')!.queues.get(q) === undefined && s.n1.broker.cluster!.placement.home('/', q) === undefined && s.n1.broker.vhost('/')!.queues.get(q) === undefined,
      5000,
      'the auto-delete queue gone at its home and on n1',
    )
    expect(got).toEqual(['one'])
  })

  it.skipIf(python === undefined)('pika on n1: confirms and consumes from a queue living on n2', async () => {
    const q = uniq('pika')
    const c2 = await (await conn(s.n2)).createChannel()
    await c2.assertQueue(q, { durable: true })
    placeRemoteQueue(s.n1, s.n2, q, { durable: true })
    const N = 50
    const out = await new Promise<string>((resolve, reject) =>
      execFile(python!, [PIKA_SCRIPT, String(s.n1.amqpPort), q, String(N)], { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    )
    const r = JSON.parse(out.trim().split('\n').pop()!) as { passive_count: number; confirmed: number; got: number[] }
    expect(r.passive_count).toBe(0)
    expect(r.confirmed).toBe(N)
    expect(r.got).toEqual([...Array(N).keys()])
    await waitFor(() => homeQueue(s.n2, q).messageCount === 0 && homeQueue(s.n2, q).unackedCount === 0, 5000, 'all acked at the home')
  })
})
