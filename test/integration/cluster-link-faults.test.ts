/**
 * The node link when things go wrong (issue 13): a cut link comes back, a fenced node ends its
 * links, the cluster port refuses a peer without the secret, a home node that stops leaves RabbitMQ's
 * errors for its queues and nothing else stops. Two nodes in the test process, a private etcd.
 */
import type amqp from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { clusterPairSuite, linked, links, startNode } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'node link faults' : 'node link faults: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  const s = clusterPairSuite('link')
  const { uniq, conn, homedQueue, homeQueue } = s

  it('the link cut: consumers hear basic.cancel, the link comes back and serves again', async () => {
    const q = uniq('cut')
    await homedQueue(s.n2, s.n1, q)
    const ch = await (await conn(s.n1)).createChannel()
    let cancelled = false
    await ch.consume(q, (m) => {
      if (m === null) cancelled = true
    })
    await waitFor(() => homeQueue(s.n2, q).consumerCount === 1)
    const old = links(s.n1).session('n2')!
    old.socket.destroy()
    await waitFor(() => cancelled, 5000, 'basic.cancel')
    await waitFor(() => homeQueue(s.n2, q).consumerCount === 0, 5000, 'the remote consumer gone at the home')
    await linked(s.n1, s.n2)
    expect(links(s.n1).session('n2')).not.toBe(old)
    const got: string[] = []
    await ch.consume(q, (m) => {
      got.push(m!.content.toString())
      ch.ack(m!)
    })
    ch.sendToQueue(q, Buffer.from('after'))
    await waitFor(() => got.length === 1, 5000, 'delivery after reconnect')
  })

  it('a fenced node (lease lost) ends its links: its queues are down for the others until it is registered again', async () => {
    const q = uniq('fence')
    await homedQueue(s.n2, s.n1, q)
    const ch = await (await conn(s.n1)).createChannel()
    let cancelled = false
    await ch.consume(q, (m) => {
      if (m === null) cancelled = true
    })
    // what Membership does when the lease is lost, then when it holds a new one
    s.n2.broker.cluster!.fence('test')
    await waitFor(() => cancelled && !links(s.n1).peer('n2').up, 5000, 'link down and basic.cancel')
    expect(homeQueue(s.n2, q).consumerCount).toBe(0)
    s.n2.broker.cluster!.unfence()
    await linked(s.n1, s.n2)
  })

  it('the cluster port refuses a peer without the cluster secret', async () => {
    const net = await import('node:net')
    const sock = net.connect({ host: '127.0.0.1', port: s.n2.clusterPort })
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()))
    sock.on('error', () => undefined)
    await new Promise((r) => sock.once('connect', r))
    const hello = JSON.stringify({ cluster: s.cluster, from: 'n0', to: 'n2', nonce: 'x' })
    const f = Buffer.alloc(5 + hello.length)
    f.writeUInt32BE(1 + hello.length, 0)
    f[4] = 1
    f.write(hello, 5)
    sock.write(f)
    let challenge = ''
    sock.on('data', (d) => (challenge += d.subarray(5).toString()))
    await waitFor(() => challenge.includes('proof'), 3000, 'challenge')
    // a guessed proof: the link is closed, no frame after it is read
    const resp = JSON.stringify({ proof: 'AAAA' })
    const r = Buffer.alloc(5 + resp.length)
    r.writeUInt32BE(1 + resp.length, 0)
    r[4] = 3
    r.write(resp, 5)
    sock.write(r)
    await closed
    expect(links(s.n2).peer('n0').up).toBe(false)
  })

  it("a home node that stops: consumers of its queues elsewhere get basic.cancel, RabbitMQ's 404 for them, publishes nacked; the rest serves on", async () => {
    const other = `${s.cluster}-down`
    const a = await startNode(s.etcd, other, 'a1')
    const b = await startNode(s.etcd, other, 'b1')
    s.cleanups.push(() => a.stop())
    s.cleanups.push(() => b.stop())
    await linked(a, b)
    const q = uniq('dq')
    await homedQueue(b, a, q, {}, true)
    const c = await conn(a)
    const ch = await c.createChannel()
    let cancelled = false
    await ch.consume(q, (m) => {
      if (m === null) cancelled = true
    })
    await waitFor(() => homeQueue(b, q).consumerCount === 1)
    await b.stop()
    await waitFor(() => cancelled, 5000, 'basic.cancel')
    const text = `NOT_FOUND - home node 'b1' of durable queue '${q}' in vhost '/' is down or inaccessible`
    const expect404 = async (fn: (x: amqp.Channel) => Promise<unknown>, classId: number, methodId: number): Promise<void> => {
      const x = await c.createChannel()
      const err = await new Promise<{ code: number; message: string; classId: number; methodId: number }>((resolve) => {
        x.once('error', resolve)
        fn(x).catch(() => undefined)
      })
      expect(err.code).toBe(404)
      expect(err.message).toContain(text)
      expect([err.classId, err.methodId]).toEqual([classId, methodId])
    }
    await expect404((x) => x.consume(q, () => undefined), 60, 20)
    await expect404((x) => x.get(q), 60, 70)
    await expect404((x) => x.checkQueue(q), 50, 10)
    // a publish routed to it is routed (no basic.return) but not taken: basic.nack
    const confirm = await c.createConfirmChannel()
    let returned = false
    confirm.on('return', () => (returned = true))
    const nacked = await new Promise<boolean>((resolve) => confirm.sendToQueue(q, Buffer.from('lost'), { mandatory: true }, (err) => resolve(err !== null && err !== undefined)))
    expect(nacked).toBe(true)
    expect(returned).toBe(false)
    // the node itself serves on
    const local = uniq('alive')
    await confirm.assertQueue(local)
    confirm.sendToQueue(local, Buffer.from('ok'))
    await confirm.waitForConfirms()
    expect(homeQueue(a, local).messageCount).toBe(1)
  }, 30_000)
})
