/**
 * A definitions write that etcd refuses (issue 13): the change was already made on the node that
 * asked, so without a resync that node would keep a binding (or an exchange) no other node has.
 * After the failed write the node reads etcd's definitions again and undoes what etcd lacks; the
 * client got its error, and both nodes agree again. etcd runs with a small request limit
 * (--max-request-bytes) so that one write fails deterministically while every other succeeds.
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { linked, startNode } from '../helpers/cluster.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'cluster definitions resync after a failed write' : 'cluster definitions resync: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  let n1: TestBroker
  let n2: TestBroker
  const cluster = `resync${process.pid}`
  beforeAll(async () => {
    etcd = await startEtcd(undefined, ['--max-request-bytes', String(64 * 1024)])
    n1 = await startNode(etcd, cluster, 'n1')
    n2 = await startNode(etcd, cluster, 'n2')
    await linked(n1, n2)
  }, 30_000)
  afterAll(async () => {
    await n1?.stop()
    await n2?.stop()
    await etcd?.stop()
  })

  const bindingsOf = async (b: TestBroker, x: string): Promise<string[]> =>
    ((await apiClient(b).get(`/api/exchanges/%2F/${x}/bindings/source`)).body as { routing_key: string }[]).map((r) => r.routing_key).sort()

  it('a binding etcd refused is undone on the node that made it; the nodes agree and serve on', async () => {
    const c = await amqp.connect(n1.url)
    const ch = await c.createChannel()
    await ch.assertExchange('rs.x', 'direct')
    await ch.assertQueue('rs.q')
    await ch.bindQueue('rs.q', 'rs.x', 'small')
    await c.close()
    await waitFor(async () => (await bindingsOf(n2, 'rs.x')).length === 1)
    // a binding whose record is over etcd's request limit: made on n1, refused by etcd
    const big = { pad: 'x'.repeat(80 * 1024) }
    const res = await apiClient(n1).post('/api/bindings/%2F/e/rs.x/q/rs.q', { routing_key: 'big', arguments: big })
    expect(res.status).toBe(503)
    expect(res.body).toMatchObject({ error: 'service_unavailable' })
    // n1 reads etcd again and drops it: both nodes have only the binding etcd holds
    await waitFor(async () => (await bindingsOf(n1, 'rs.x')).join() === 'small', 10_000, 'n1 to drop the refused binding')
    expect(await bindingsOf(n2, 'rs.x')).toEqual(['small'])
    // and n1 keeps applying others' changes (its watch goes on after the resync)
    const c2 = await amqp.connect(n2.url)
    const ch2 = await c2.createChannel()
    await ch2.bindQueue('rs.q', 'rs.x', 'later')
    await c2.close()
    await waitFor(async () => (await bindingsOf(n1, 'rs.x')).join() === 'later,small', 10_000, 'n1 to apply a later binding')
  })
})
