/**
 * The node link and queues served across nodes (issue 13, data plane): two nodes in the test process
 * joined through a private etcd; a queue declared on its home node with a real client and placed on
 * the other (test/helpers/cluster.ts placeRemoteQueue). Publishes, consumers, acks, confirms, gets,
 * requeues and cancellations cross the link as RabbitMQ clients expect.
 */
import amqp, { type ConsumeMessage } from 'amqplib'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { clusterPairSuite, links, placeRemoteQueue } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'node link: queues served across nodes' : 'node link: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  const s = clusterPairSuite('link')
  const { uniq, conn, homedQueue, homeQueue } = s

  it('publish on n1 to a queue homed on n2, consume on n1 with prefetch 10 and acks: every message once, in order; mandatory is routed', async () => {
    const q = uniq('p1c1')
    await homedQueue(s.n2, s.n1, q)
    const c = await conn(s.n1)
    const ch = await c.createChannel()
    let returned = 0
    ch.on('return', () => returned++)
    const N = 500
    for (let i = 0; i < N; i++) ch.publish('', q, Buffer.from(String(i)), { mandatory: true })
    await waitFor(() => homeQueue(s.n2, q).messageCount === N, 5000, 'messages at the home')
    await ch.prefetch(10)
    const got: number[] = []
    let maxUnacked = 0
    let unacked = 0
    const done = new Promise<void>((resolve) => {
      void ch.consume(q, (m) => {
        got.push(Number(m!.content.toString()))
        unacked++
        maxUnacked = Math.max(maxUnacked, unacked)
        // ack later, so the prefetch window is what bounds the deliveries
        setImmediate(() => {
          unacked--
          ch.ack(m!)
          if (got.length === N) resolve()
        })
      })
    })
    await done
    expect(got).toEqual([...Array(N).keys()])
    expect(returned).toBe(0)
    expect(maxUnacked).toBeLessThanOrEqual(10)
    await waitFor(() => homeQueue(s.n2, q).messageCount === 0 && homeQueue(s.n2, q).unackedCount === 0, 5000, 'all acked at the home')
  })

  it('consume on n2 (amqp-client) from a queue homed on n1', async () => {
    const q = uniq('c2h1')
    await homedQueue(s.n1, s.n2, q)
    const client = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${s.n2.amqpPort}`).connect()
    s.cleanups.push(() => client.close())
    const cch = await client.channel()
    await cch.prefetch(5)
    const got: string[] = []
    await cch.basicConsume(q, { noAck: false }, (msg) => {
      got.push(msg.bodyToString()!)
      void msg.ack()
    })
    const pub = await (await conn(s.n1)).createChannel()
    for (let i = 0; i < 50; i++) pub.sendToQueue(q, Buffer.from(`m${i}`))
    await waitFor(() => got.length === 50, 5000, '50 deliveries on n2')
    expect(got).toEqual([...Array(50).keys()].map((i) => `m${i}`))
    await waitFor(() => homeQueue(s.n1, q).unackedCount === 0 && homeQueue(s.n1, q).consumerCount === 1, 5000, 'acked at the home')
  })

  it('a no-ack consumer across nodes gets every message, past its credit window (1000)', async () => {
    const q = uniq('noack')
    await homedQueue(s.n2, s.n1, q)
    const N = 3000
    const pub = await (await conn(s.n2)).createChannel()
    for (let i = 0; i < N; i++) pub.sendToQueue(q, Buffer.from(String(i)))
    await waitFor(() => homeQueue(s.n2, q).messageCount === N)
    const got: number[] = []
    const ch = await (await conn(s.n1)).createChannel()
    await ch.consume(q, (m) => got.push(Number(m!.content.toString())), { noAck: true })
    await waitFor(() => got.length === N, 10_000, `${N} deliveries`)
    expect(got).toEqual([...Array(N).keys()])
    expect(homeQueue(s.n2, q).messageCount).toBe(0)
  })

  it('fanout to queues on both nodes: one link crossing per message and node', async () => {
    const x = uniq('fan')
    const local = [uniq('fl'), uniq('fl')]
    const remote = [uniq('fr'), uniq('fr'), uniq('fr')]
    const ch1 = await (await conn(s.n1)).createChannel()
    await ch1.assertExchange(x, 'fanout', { durable: false })
    for (const q of local) await ch1.assertQueue(q, { durable: false })
    for (const q of remote) await homedQueue(s.n2, s.n1, q)
    for (const q of [...local, ...remote]) await ch1.bindQueue(q, x, '')
    const before = links(s.n1).peer('n2').publishFrames
    const confirm = await (await conn(s.n1)).createConfirmChannel()
    for (let i = 0; i < 20; i++) confirm.publish(x, '', Buffer.from(`f${i}`))
    await confirm.waitForConfirms()
    for (const q of local) expect(homeQueue(s.n1, q).messageCount).toBe(20)
    for (const q of remote) expect(homeQueue(s.n2, q).messageCount).toBe(20)
    expect(links(s.n1).peer('n2').publishFrames - before).toBe(20)
  })

  it('confirms across nodes: a persistent message to a durable queue is confirmed after the home fsyncs it', async () => {
    const q = uniq('dur')
    await homedQueue(s.n2, s.n1, q, {}, true)
    const ch = await (await conn(s.n1)).createConfirmChannel()
    const home = homeQueue(s.n2, q)
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => ch.sendToQueue(q, Buffer.from(`d${i}`), { persistent: true }, (err) => (err ? reject(err) : resolve())))
      // nothing the home's store holds is still waiting for its fdatasync
      for (const st of home.store!.messageStores()) expect(st.durableSeq).toBeGreaterThanOrEqual(st.lastSeq)
      expect(home.messageCount).toBe(i + 1)
    }
  })

  it('a home queue that holds its publishers back holds back the publishers on the other node too (withheld acceptance)', async () => {
    const q = uniq('hflow')
    await homedQueue(s.n2, s.n1, q)
    // an active but slow consumer at the home: the queue grows past its flow threshold (8000)
    const cch = await (await conn(s.n2)).createChannel()
    await cch.prefetch(10)
    const timers: NodeJS.Timeout[] = []
    let acked = 0
    const { consumerTag } = await cch.consume(q, (m) =>
      timers.push(
        setTimeout(() => {
          acked++
          cch.ack(m!)
        }, 50),
      ),
    )
    const peer = links(s.n1).peer('n2')
    const before = peer.throttled
    const pub = await (await conn(s.n1)).createChannel()
    const N = 20_000
    for (let i = 0; i < N; i++) pub.sendToQueue(q, Buffer.from('h'))
    await waitFor(() => peer.throttled > before, 10_000, 'the publisher on n1 paused')
    // and it stays paused while the home queue is over its threshold with an active consumer
    // (without the home withholding acceptance, the link's window empties within milliseconds)
    await new Promise((r) => setTimeout(r, 500))
    expect(peer.congested).toBe(true)
    expect(acked + homeQueue(s.n2, q).messageCount + homeQueue(s.n2, q).unackedCount).toBeLessThan(N)
    // the consumer goes: the queue lets its publishers go, everything arrives
    await cch.cancel(consumerTag)
    for (const t of timers) clearTimeout(t)
    await waitFor(() => acked + homeQueue(s.n2, q).messageCount + homeQueue(s.n2, q).unackedCount === N, 15_000, 'every message at the home')
  }, 30_000)

  it('a remote queue at its length limit with reject-publish: the publisher on the other node gets basic.nack', async () => {
    const q = uniq('rej')
    const local = uniq('rejl')
    await homedQueue(s.n2, s.n1, q, { 'x-max-length': 1, 'x-overflow': 'reject-publish' })
    const ch = await (await conn(s.n1)).createConfirmChannel()
    await ch.assertQueue(local, { durable: false })
    await ch.bindQueue(local, 'amq.fanout', '')
    await ch.bindQueue(q, 'amq.fanout', '')
    const results = await Promise.all(
      [0, 1, 2].map((i) => new Promise<boolean>((resolve) => ch.publish('amq.fanout', '', Buffer.from(`r${i}`), {}, (err) => resolve(err === null || err === undefined)))),
    )
    // the first is taken everywhere; the others reach the local queue but the remote one refuses them
    expect(results).toEqual([true, false, false])
    expect(homeQueue(s.n2, q).messageCount).toBe(1)
    expect(homeQueue(s.n1, local).messageCount).toBe(3)
    await ch.unbindQueue(q, 'amq.fanout', '')
    await ch.unbindQueue(local, 'amq.fanout', '')
  })

  it('tx.commit-ok comes after the remote queue took the messages', async () => {
    const q = uniq('tx')
    await homedQueue(s.n2, s.n1, q)
    // amqplib has no tx API on its promise channel: amqp-client has
    const client = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${s.n1.amqpPort}`).connect()
    s.cleanups.push(() => client.close())
    const tch = await client.channel()
    await tch.txSelect()
    for (let i = 0; i < 5; i++) await tch.basicPublish('', q, `t${i}`)
    expect(homeQueue(s.n2, q).messageCount).toBe(0)
    // the home reads nothing from the link for now: commit-ok must wait for it
    const homeSide = links(s.n2).session('n1')!.socket
    homeSide.pause()
    let committed = false
    const commit = tch.txCommit().then(() => (committed = true))
    await new Promise((r) => setTimeout(r, 150))
    expect(committed).toBe(false)
    homeSide.resume()
    await commit
    expect(homeQueue(s.n2, q).messageCount).toBe(5)
  })

  it('nack with requeue across nodes: redelivered, with x-delivery-count (quorum queue)', async () => {
    const q = uniq('nack')
    await homedQueue(s.n2, s.n1, q, { 'x-queue-type': 'quorum' }, true)
    const ch = await (await conn(s.n1)).createChannel()
    ch.sendToQueue(q, Buffer.from('again'))
    const seen: ConsumeMessage[] = []
    await ch.consume(q, (m) => {
      seen.push(m!)
      if (seen.length === 1) ch.nack(m!, false, true)
      else ch.ack(m!)
    })
    await waitFor(() => seen.length === 2, 5000, 'redelivery')
    expect(seen[0].fields.redelivered).toBe(false)
    expect(seen[1].fields.redelivered).toBe(true)
    expect(seen[1].properties.headers?.['x-delivery-count']).toBe(1)
    expect(seen[1].content.toString()).toBe('again')
    // reject without requeue drops it at the home
    ch.sendToQueue(q, Buffer.from('drop'))
    await waitFor(() => seen.length === 3, 5000, 'third delivery')
    await waitFor(() => homeQueue(s.n2, q).messageCount === 0 && homeQueue(s.n2, q).unackedCount === 0, 5000, 'settled at the home')
  })

  it('basic.get from a queue homed on the other node (ack, no-ack, empty)', async () => {
    const q = uniq('get')
    await homedQueue(s.n2, s.n1, q)
    // the stand-in names its home in the management API
    expect((await apiClient(s.n1).get(`/api/queues/%2F/${q}`)).body).toMatchObject({ name: q, node: 'n2' })
    const pub = await (await conn(s.n2)).createChannel()
    for (let i = 0; i < 3; i++) pub.sendToQueue(q, Buffer.from(`g${i}`))
    await waitFor(() => homeQueue(s.n2, q).messageCount === 3)
    const ch = await (await conn(s.n1)).createChannel()
    const m1 = await ch.get(q)
    expect(m1 && m1.content.toString()).toBe('g0')
    expect(m1 && m1.fields.messageCount).toBe(2)
    expect(homeQueue(s.n2, q).unackedCount).toBe(1)
    ch.ack(m1 as amqp.GetMessage)
    const m2 = await ch.get(q, { noAck: true })
    expect(m2 && m2.content.toString()).toBe('g1')
    const m3 = await ch.get(q)
    expect(m3 && m3.content.toString()).toBe('g2')
    ch.nack(m3 as amqp.GetMessage, false, true)
    const m4 = await ch.get(q)
    expect(m4 && m4.fields.redelivered).toBe(true)
    ch.ack(m4 as amqp.GetMessage)
    expect(await ch.get(q)).toBe(false)
    await waitFor(() => homeQueue(s.n2, q).unackedCount === 0 && homeQueue(s.n2, q).messageCount === 0)
  })

  it('direct reply-to: an RPC client on n1 gets the reply of a server on n2 (the address names its node)', async () => {
    const q = uniq('rpc')
    await homedQueue(s.n2, s.n1, q)
    // the server, on n2, answers each request to its reply_to through the default exchange
    const server = await (await conn(s.n2)).createChannel()
    await server.consume(q, (m) => {
      if (m === null) return
      server.publish('', m.properties.replyTo as string, Buffer.from(`re:${m.content.toString()}`), { correlationId: m.properties.correlationId })
      server.ack(m)
    })
    // the client, on n1, consumes its pseudo-queue and publishes requests to the queue on n2
    const client = await (await conn(s.n1)).createChannel()
    const replies: { body: string; id: string }[] = []
    await client.consume('amq.rabbitmq.reply-to', (m) => m !== null && replies.push({ body: m.content.toString(), id: m.properties.correlationId as string }), { noAck: true })
    for (let i = 0; i < 5; i++) client.sendToQueue(q, Buffer.from(`req${i}`), { replyTo: 'amq.rabbitmq.reply-to', correlationId: `c${i}` })
    await waitFor(() => replies.length === 5, 5000, 'five replies across nodes')
    expect(replies).toEqual([0, 1, 2, 3, 4].map((i) => ({ body: `re:req${i}`, id: `c${i}` })))
  })

  it("GET /api/queues lists the other node's queues with ready, unacked and consumers from one request to that node", async () => {
    const qs = [uniq('list'), uniq('list'), uniq('list')]
    for (const q of qs) await homedQueue(s.n2, s.n1, q)
    const pub = await (await conn(s.n2)).createConfirmChannel()
    for (let i = 0; i < 5; i++) pub.sendToQueue(qs[1], Buffer.from(`l${i}`))
    await pub.waitForConfirms()
    const ch = await (await conn(s.n1)).createChannel()
    await ch.prefetch(2)
    const got: ConsumeMessage[] = []
    await ch.consume(qs[1], (m) => m !== null && got.push(m))
    await waitFor(() => got.length === 2 && homeQueue(s.n2, qs[1]).unackedCount === 2)
    const peer = links(s.n1).peer('n2')
    const listCounts = peer.listCounts.bind(peer)
    let requests = 0
    peer.listCounts = () => (requests++, listCounts())
    try {
      const listed = (await apiClient(s.n1).get('/api/queues/%2F')).body as Record<string, unknown>[]
      const row = listed.find((r) => r.name === qs[1])
      expect(row).toMatchObject({ node: 'n2', messages: 5, messages_ready: 3, messages_unacknowledged: 2, consumers: 1 })
      expect(listed.find((r) => r.name === qs[0])).toMatchObject({ node: 'n2', messages: 0, consumers: 0 })
      expect(requests).toBe(1)
    } finally {
      peer.listCounts = listCounts
    }
  })

  it("a consumer's connection closed on n1: its unacked messages are requeued at the home", async () => {
    const q = uniq('close')
    await homedQueue(s.n2, s.n1, q)
    const pub = await (await conn(s.n2)).createChannel()
    for (let i = 0; i < 20; i++) pub.sendToQueue(q, Buffer.from(`u${i}`))
    const c = await amqp.connect(s.n1.url)
    const ch = await c.createChannel()
    await ch.prefetch(5)
    let n = 0
    await ch.consume(q, () => n++)
    await waitFor(() => n === 5 && homeQueue(s.n2, q).unackedCount === 5, 5000, '5 unacked')
    await c.close()
    await waitFor(() => homeQueue(s.n2, q).messageCount === 20 && homeQueue(s.n2, q).unackedCount === 0 && homeQueue(s.n2, q).consumerCount === 0, 5000, 'requeued at the home')
    const m = await (await (await conn(s.n2)).createChannel()).get(q)
    expect(m && m.fields.redelivered).toBe(true)
  })

  it('an exclusive queue of another node: 405 RESOURCE_LOCKED here', async () => {
    const q = uniq('excl')
    const ch2 = await (await conn(s.n2)).createChannel()
    await ch2.assertQueue(q, { exclusive: true })
    placeRemoteQueue(s.n1, s.n2, q, { exclusive: true })
    const c = await conn(s.n1)
    const ch = await c.createChannel()
    const err = await new Promise<{ code: number }>((resolve) => {
      ch.once('error', resolve)
      ch.consume(q, () => undefined).catch(() => undefined)
    })
    expect(err.code).toBe(405)
  })

  it("basic.consume on a queue of another node fails with the home's error: 403 exclusive use", async () => {
    const q = uniq('xuse')
    await homedQueue(s.n2, s.n1, q)
    const ch2 = await (await conn(s.n2)).createChannel()
    await ch2.consume(q, () => undefined, { exclusive: true })
    const c = await conn(s.n1)
    const ch = await c.createChannel()
    const err = await new Promise<{ code: number; message: string; classId: number; methodId: number }>((resolve) => {
      ch.once('error', resolve)
      ch.consume(q, () => undefined).catch(() => undefined)
    })
    expect(err.code).toBe(403)
    expect(err.message).toContain(`ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`)
    expect([err.classId, err.methodId]).toEqual([60, 20])
    expect(homeQueue(s.n2, q).consumerCount).toBe(1)
  })

  it('a congested link pauses the publisher (bounded link buffer), then everything arrives', async () => {
    const q = uniq('flow')
    await homedQueue(s.n2, s.n1, q)
    const homeSide = links(s.n2).session('n1')!.socket
    const link = links(s.n1).session('n2')!.socket
    homeSide.pause()
    const peer = links(s.n1).peer('n2')
    const pausedBefore = peer.throttled
    const ch = await (await conn(s.n1)).createChannel()
    const body = Buffer.alloc(512 * 1024, 7)
    const N = 64 // 32 MiB
    for (let i = 0; i < N; i++) ch.sendToQueue(q, body)
    let maxBuffered = 0
    // the publisher's bytes reach s.n1 and stop there while the link is congested (4 MiB waiting
    // in its socket, or, first here, 4 MiB not accepted by the home: link-peer.ts PUBLISH_WINDOW_BYTES)
    await waitFor(() => {
      maxBuffered = Math.max(maxBuffered, link.writableLength)
      return peer.congested && peer.throttled > pausedBefore
    }, 5000, 'the link to fill')
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 5))
      maxBuffered = Math.max(maxBuffered, link.writableLength)
    }
    expect(maxBuffered).toBeLessThan(8 * 1024 * 1024)
    homeSide.resume()
    await waitFor(() => homeQueue(s.n2, q).messageCount === N, 10_000, 'all messages at the home')
  }, 20_000)

  it('the queue deleted at its home: consumers on the other node get basic.cancel', async () => {
    const q = uniq('del')
    await homedQueue(s.n2, s.n1, q)
    const ch = await (await conn(s.n1)).createChannel()
    let cancelled = false
    await ch.consume(q, (m) => {
      if (m === null) cancelled = true
    })
    await waitFor(() => homeQueue(s.n2, q).consumerCount === 1)
    await (await (await conn(s.n2)).createChannel()).deleteQueue(q)
    await waitFor(() => cancelled, 5000, 'basic.cancel on n1')
    // the channel lives on
    await ch.checkExchange('amq.direct')
  })

  it('RemoteQueueOps: counts, purge and delete at the home, with its errors', async () => {
    const q = uniq('ops')
    await homedQueue(s.n2, s.n1, q)
    const ops = s.n1.broker.cluster!.remoteOps!
    const home = s.n1.broker.cluster!.placement.home('/', q)!
    const pub = await (await conn(s.n2)).createChannel()
    for (let i = 0; i < 4; i++) pub.sendToQueue(q, Buffer.from('x'))
    await waitFor(() => homeQueue(s.n2, q).messageCount === 4)
    const sub = await (await conn(s.n2)).createChannel()
    await sub.consume(q, () => undefined, { noAck: false })
    await waitFor(() => homeQueue(s.n2, q).unackedCount === 4)
    expect(await ops.counts(home)).toEqual({ messageCount: 0, consumerCount: 1 })
    await expect(ops.delete(home, true, false)).rejects.toMatchObject({ code: 406, message: `PRECONDITION_FAILED - queue '${q}' in vhost '/' in use` })
    await sub.close()
    await waitFor(() => homeQueue(s.n2, q).messageCount === 4)
    expect(await ops.purge(home)).toBe(4)
    pub.sendToQueue(q, Buffer.from('y'))
    await waitFor(() => homeQueue(s.n2, q).messageCount === 1)
    await expect(ops.delete(home, false, true)).rejects.toMatchObject({ code: 406, message: `PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty` })
    expect(await ops.delete(home, false, false)).toBe(1)
    expect(s.n2.broker.vhost('/')!.queues.has(q)).toBe(false)
    await expect(ops.counts(home)).rejects.toMatchObject({ code: 404 })
  })

  it('dead-lettering from a queue on n2 into a queue homed on n1', async () => {
    const target = uniq('dlt')
    await homedQueue(s.n1, s.n2, target)
    const q = uniq('dls')
    const ch2 = await (await conn(s.n2)).createChannel()
    await ch2.assertQueue(q, { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': target } })
    ch2.sendToQueue(q, Buffer.from('dead'))
    const m = await waitFor(() => ch2.get(q), 5000, 'the message')
    ch2.nack(m as amqp.GetMessage, false, false)
    await waitFor(() => homeQueue(s.n1, target).messageCount === 1, 5000, 'dead-lettered on n1')
    const got = await (await (await conn(s.n1)).createChannel()).get(target)
    expect(got && got.properties.headers?.['x-death']?.[0]).toMatchObject({ queue: q, reason: 'rejected' })
  })
})
