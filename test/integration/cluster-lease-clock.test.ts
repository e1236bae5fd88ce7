/**
 * Fencing by the node's own clock (issue 13): a cluster node whose lease has run out by its clock
 * (no keepalive answered within the TTL, or a process resumed after a pause) must not answer client
 * input that arrives before any timer of it has run: the check is on each chunk of input, so the
 * client gets 320 instead of declare-ok. The node then registers again and serves.
 */
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { methodFrame, RawAmqp } from '../helpers/raw-amqp.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'cluster lease timed by the node' : 'cluster lease timed by the node: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  let node: TestBroker

  beforeAll(async () => {
    etcd = await startEtcd()
    node = await startTestBroker({ cluster: [etcd.endpoint], clusterName: `lease-${process.pid}`, nodeName: 'n1', clusterPort: 0, clusterLeaseTtl: 2 })
  }, 20_000)
  afterAll(async () => {
    await node?.stop()
    await etcd?.stop()
  })

  it('input that arrives after the lease ran out by the clock is not served: 320, then the node registers again', async () => {
    const cluster = node.broker.cluster!
    expect(cluster.holdsLease()).toBe(true)
    const raw = await RawAmqp.open(node.amqpPort)
    // queue.declare goes to the kernel now; the lease "runs out" in the same tick, before any
    // broker timer can run: only the check on the input itself can keep declare-ok from being sent
    raw.write(methodFrame(1, 50, 10, [0, 'after-the-lease', false, false, false, false, false, {}]))
    cluster.leaseValidUntil = 0
    const close = await raw.expectMethod(10, 50) // connection.close, not queue.declare-ok
    expect(close.args.replyCode).toBe(320)
    expect(close.args.replyText).toMatch(/^CONNECTION_FORCED - node lost its cluster membership/)
    expect(node.broker.vhost('/')!.queues.has('after-the-lease')).toBe(false)
    raw.destroy()
    // the old lease was revoked: the node registers again at once and serves
    await waitFor(() => cluster.holdsLease(), 8000, 'n1 to register again')
    const c2 = await amqp.connect(node.url)
    await c2.close()
  }, 20_000)
})
