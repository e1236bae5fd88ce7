/**
 * Replicated streams in a cluster (issue 14): three nodes in the test process, each with a data
 * dir of its own (kept across a restart), joined through a private etcd. A `x-queue-type: stream`
 * queue gets a replica set; its leader ships every record to the followers at the same offsets,
 * confirms wait for a majority, a follower takes over when the leader goes, and a returning member
 * keeps its log, catching up (or cutting) only what differs. Clients connect to the leader's node.
 */
import amqp from 'amqplib'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { StreamReader } from '../../core/stream/stream-reader.js'
import type { StreamLog } from '../../core/stream/stream-log.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { linked } from '../helpers/cluster.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'streams: replicated' : 'streams: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  let etcd: TestEtcd
  const names = ['n1', 'n2', 'n3']
  const nodes: TestBroker[] = []
  const dirs: string[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  const cluster = `streams${process.pid}`
  let seq = 0
  const uniq = (b: string): string => `${b}-${++seq}`

  const start = (i: number): Promise<TestBroker> =>
    startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: names[i], clusterPort: 0, clusterLeaseTtl: 2, dataDir: dirs[i] })
  const allLinked = async (): Promise<void> => {
    await linked(nodes[0], nodes[1])
    await linked(nodes[0], nodes[2])
    await linked(nodes[1], nodes[2])
  }

  beforeAll(async () => {
    etcd = await startEtcd()
    for (let i = 0; i < 3; i++) {
      dirs.push(mkdtempSync(join(tmpdir(), `warren-streams-${names[i]}-`)))
      nodes.push(await start(i))
    }
    await allLinked()
  }, 40_000)
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })
  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined)
    await etcd?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  const connect = async (b: TestBroker): Promise<amqp.ChannelModel> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    cleanups.push(() => c.close())
    return c
  }
  const confirmChannel = async (b: TestBroker): Promise<amqp.ConfirmChannel> => (await connect(b)).createConfirmChannel()
  const record = (b: TestBroker, q: string) => b.broker.cluster!.placement.home('/', q)
  const streams = (b: TestBroker) => b.clusterNode!.replicas.streams
  const node = (name: string): TestBroker => nodes[names.indexOf(name)]
  const declare = (ch: amqp.Channel, q: string, args: Record<string, unknown> = {}) =>
    ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', ...args } })
  /** bodies of the log's records from `from` on, with the offset header each carries */
  const bodies = (log: StreamLog, from = log.firstOffset): [number, string][] => {
    const r = new StreamReader(log, from)
    const out: [number, string][] = []
    for (let m = r.read(); m !== undefined; m = r.read()) out.push([r.next - 1, m.body.toString()])
    r.release()
    return out
  }
  /** consumes `want` messages of stream q on b from x-stream-offset `offset`: [offset header, body] */
  const consume = async (b: TestBroker, q: string, offset: unknown, want: number, group?: string): Promise<[number, string][]> => {
    const ch = await (await connect(b)).createChannel()
    await ch.prefetch(500)
    const got: [number, string][] = []
    await ch.consume(
      q,
      (m) => {
        if (m === null) return
        got.push([Number(m.properties.headers!['x-stream-offset']), m.content.toString()])
        ch.ack(m)
      },
      { arguments: group === undefined ? { 'x-stream-offset': offset } : { 'x-stream-consumer-name': group, ...(offset === undefined ? {} : { 'x-stream-offset': offset }) } },
    )
    await waitFor(() => got.length >= want, 6000, `${want} messages from ${String(offset)}`)
    return got
  }

  it('a stream gets every live member by default (x-initial-cluster-size limits it); the API shows leader, members, online', async () => {
    const s = uniq('s')
    const s2 = uniq('s2')
    const ch = await (await connect(nodes[1])).createChannel()
    await declare(ch, s)
    await declare(ch, s2, { 'x-initial-cluster-size': 2 })
    for (const n of nodes) {
      expect(record(n, s)).toMatchObject({ node: 'n2', leader: 'n2', epoch: 1 })
      expect([...record(n, s)!.members!].sort()).toEqual(names)
      expect(record(n, s2)!.members).toHaveLength(2)
      expect(record(n, s2)!.members![0]).toBe('n2')
    }
    for (const n of nodes) {
      const body = (await apiClient(n).get(`/api/queues/%2F/${s}`)).body
      expect(body).toMatchObject({ name: s, type: 'stream', leader: 'n2', epoch: 1 })
      expect([...body.members].sort()).toEqual(names)
      expect([...body.online].sort()).toEqual(names)
    }
  })

  it('a stream deleted on its leader: its log goes from every member', async () => {
    const s = uniq('gone')
    const ch = await confirmChannel(nodes[0])
    await declare(ch, s)
    for (let i = 0; i < 20; i++) ch.sendToQueue(s, Buffer.from(`g${i}`), { persistent: true })
    await ch.waitForConfirms()
    const dirOf = (i: number) => join(dirs[i], 'replicas', '%2F', s)
    await waitFor(() => streams(nodes[1]).follower('/', s)?.durableNext === 20 && streams(nodes[2]).follower('/', s)?.durableNext === 20, 5000, 'followers hold 20')
    expect([0, 1, 2].every((i) => existsSync(dirOf(i)))).toBe(true)
    await ch.deleteQueue(s)
    await waitFor(() => [0, 1, 2].every((i) => !existsSync(dirOf(i))), 5000, 'no member keeps the log')
    expect(streams(nodes[1]).follower('/', s)).toBeUndefined()
  })

  it('a member added through the replicas API gets the whole log and counts for confirms; a member deleted loses its log', async () => {
    const s = uniq('grow')
    const ch = await confirmChannel(nodes[0])
    await declare(ch, s, { 'x-initial-cluster-size': 2 })
    for (let i = 0; i < 40; i++) ch.sendToQueue(s, Buffer.from(`a${i}`), { persistent: true })
    await ch.waitForConfirms()
    const added = names.find((n) => !record(nodes[0], s)!.members!.includes(n))!
    const other = record(nodes[0], s)!.members!.find((n) => n !== 'n1')!
    const admin = apiClient(nodes[0]) // n1 leads and is never restarted here
    expect((await admin.post(`/api/queues/%2F/${s}/replicas`, { node: added })).status).toBe(204)
    expect((await admin.post(`/api/queues/%2F/${s}/replicas`, { node: added })).status).toBe(400)
    await waitFor(() => streams(node(added)).follower('/', s)?.durableNext === 40, 5000, `${added} to hold the backlog`)
    expect(bodies(streams(node(added)).follower('/', s)!.log)).toEqual([...Array(40).keys()].map((i): [number, string] => [i, `a${i}`]))
    // the leader's figures: every member caught up
    await waitFor(async () => {
      const r = (await apiClient(nodes[0]).get(`/api/queues/%2F/${s}/replicas`)).body
      return r.replicas.length === 3 && r.replicas.every((m: { lag: number; in_sync: boolean }) => m.lag === 0 && m.in_sync) ? r : null
    }, 5000, 'all three in sync')
    // with three members, one stopped follower still leaves a majority: confirms go on
    const i = names.indexOf(other)
    await nodes[i].stop()
    ch.sendToQueue(s, Buffer.from('after'), { persistent: true })
    await ch.waitForConfirms()
    nodes[i] = await start(i)
    await allLinked()
    // delete the added member: it drops its log
    expect((await admin.del(`/api/queues/%2F/${s}/replicas/${added}`)).status).toBe(204)
    await waitFor(() => streams(node(added)).follower('/', s) === undefined && !existsSync(join(dirs[names.indexOf(added)], 'replicas', '%2F', s)), 5000, `${added} to drop its log`)
    expect(record(nodes[0], s)!.members).toHaveLength(2)
  })

  it('the leader ships each record: every follower holds the same offsets and messages, durable', async () => {
    const s = uniq('ship')
    const ch = await confirmChannel(nodes[0])
    await declare(ch, s)
    const N = 300
    for (let i = 0; i < N; i++) ch.sendToQueue(s, Buffer.from(`m${i}`), { persistent: true })
    await ch.waitForConfirms()
    const f2 = streams(nodes[1]).follower('/', s)!
    const f3 = streams(nodes[2]).follower('/', s)!
    // a confirm waits for a majority: one follower at least holds all of them durable already
    expect(Math.max(f2.durableNext, f3.durableNext)).toBe(N)
    await waitFor(() => f2.durableNext === N && f3.durableNext === N, 5000, 'both followers durable')
    const want = [...Array(N).keys()].map((i): [number, string] => [i, `m${i}`])
    expect(bodies(f2.log)).toEqual(want)
    expect(bodies(f3.log)).toEqual(want)
    expect(streams(nodes[0]).leader('/', s)!.durableSeq).toBe(N)
    // the leader's API: each follower's lag in offsets, the members in sync
    await waitFor(async () => {
      const body = (await apiClient(nodes[0]).get(`/api/queues/%2F/${s}`)).body
      expect(body).toMatchObject({ type: 'stream', leader: 'n1', messages: N, replica_lag: { n2: 0, n3: 0 } })
      expect([...body.in_sync].sort()).toEqual(names)
      return true
    }, 5000, 'in sync')
  })

  it('confirms wait for a majority: two followers stopped, none within 1 s; one restarted keeps its log, catches up only the tail, and the confirm comes', async () => {
    const s = uniq('majority')
    const ch = await confirmChannel(nodes[0])
    await declare(ch, s)
    for (let i = 0; i < 50; i++) ch.sendToQueue(s, Buffer.from(`a${i}`), { persistent: true })
    await ch.waitForConfirms()
    await waitFor(() => streams(nodes[2]).follower('/', s)?.durableNext === 50, 5000, 'n3 holds 50')
    await nodes[2].stop()
    await nodes[1].stop()
    await waitFor(() => !nodes[0].broker.cluster!.members.has('n2') && !nodes[0].broker.cluster!.members.has('n3'), 5000, 'n2, n3 gone')
    let confirmed = false
    for (let i = 0; i < 10; i++) ch.sendToQueue(s, Buffer.from(`b${i}`), { persistent: true }, () => (confirmed = true))
    await new Promise((r) => setTimeout(r, 1000))
    expect(confirmed).toBe(false)
    // the leader's record keeps the in-sync set: only n1 now (only its members may be elected)
    await waitFor(() => record(nodes[0], s)?.inSync?.join() === 'n1', 5000, 'the in-sync set to shrink to n1')
    // n3 back with its data dir: its log still has the first 50, it is sent the other 10 only
    nodes[2] = await start(2)
    await linked(nodes[0], nodes[2])
    await waitFor(() => confirmed, 8000, 'confirm once n3 is back')
    await ch.waitForConfirms()
    const f3 = streams(nodes[2]).follower('/', s)!
    await waitFor(() => f3.durableNext === 60, 5000, 'n3 caught up')
    expect(f3.received).toBe(10)
    expect(bodies(f3.log).map(([o, b]) => `${o}:${b}`)).toEqual([...Array(60).keys()].map((i) => `${i}:${i < 50 ? `a${i}` : `b${i - 50}`}`))
    nodes[1] = await start(1)
    await allLinked()
    await waitFor(() => streams(nodes[1]).follower('/', s)?.durableNext === 60, 5000, 'n2 caught up')
    expect(streams(nodes[1]).follower('/', s)!.received).toBe(10)
    // caught up: both back in the in-sync set
    await waitFor(() => [...(record(nodes[0], s)?.inSync ?? [])].sort().join() === 'n1,n2,n3', 5000, 'all three in sync again')
  }, 40_000)

  it('leader stopped: a follower leads within lease TTL + 2 s and serves the same offsets; the old leader back cuts what was never confirmed and follows', async () => {
    const s = uniq('failover')
    const ch = await confirmChannel(nodes[0])
    await declare(ch, s)
    const N = 100
    for (let i = 0; i < N; i++) ch.sendToQueue(s, Buffer.from(`c${i}`), { persistent: true })
    await ch.waitForConfirms()
    const f2 = streams(nodes[1]).follower('/', s)!
    const f3 = streams(nodes[2]).follower('/', s)!
    await waitFor(() => f2.durableNext === N && f3.durableNext === N, 5000, 'followers hold 100')
    // a consumer group acks 0..39 on n1: its committed offset reaches the followers
    const gch = await (await connect(nodes[0])).createChannel()
    await gch.prefetch(40)
    let acked = 0
    await gch.consume(s, (m) => {
      if (m !== null && Number(m.properties.headers!['x-stream-offset']) < 40) {
        gch.ack(m)
        acked++
      }
    }, { arguments: { 'x-stream-consumer-name': 'billing', 'x-stream-offset': 'first' } })
    await waitFor(() => acked === 40, 5000, '40 acked')
    await waitFor(() => [f2, f3].every((f) => f.groups.committed.get('billing') === 39), 5000, 'group offset on the followers')
    await gch.close()
    const committed = 39
    // as if the followers were cut off: n1 appends 3 records no follower takes (never confirmed)
    f2.epoch = 99
    f3.epoch = 99
    const refused = streams(nodes[1]).refused + streams(nodes[2]).refused
    for (let i = 0; i < 3; i++) ch.sendToQueue(s, Buffer.from(`lost${i}`), { persistent: true })
    await waitFor(() => nodes[0].broker.vhost('/')!.queues.get(s)!.messageCount === N + 3, 5000, 'n1 appended 3')
    await waitFor(() => streams(nodes[1]).refused + streams(nodes[2]).refused > refused, 5000, 'batches refused')
    const t0 = Date.now()
    await nodes[0].stop()
    f2.epoch = 1
    f3.epoch = 1
    await waitFor(() => record(nodes[1], s)?.epoch === 2 && record(nodes[2], s)?.epoch === 2, 4000, 'a new leader in etcd (lease TTL 2 s + 2 s)')
    expect(Date.now() - t0).toBeLessThan(4000)
    // equal durable offsets: the smaller name wins
    expect(record(nodes[1], s)).toMatchObject({ node: 'n2', leader: 'n2', epoch: 2 })
    const leader = node('n2')
    await waitFor(() => leader.broker.vhost('/')!.queues.get(s)?.messageCount === N, 4000, 'n2 serves its log')
    const want = [...Array(N).keys()].map((i): [number, string] => [i, `c${i}`])
    expect(await consume(leader, s, 'first', N)).toEqual(want)
    expect(await consume(leader, s, 60, N - 60)).toEqual(want.slice(60))
    // the group resumes on the new leader right after its committed offset
    expect((await consume(leader, s, undefined, N - committed - 1, 'billing'))[0]).toEqual(want[committed + 1])
    // the new leader takes publishes at the following offsets, confirmed with n3
    const ch2 = await confirmChannel(leader)
    for (let i = 0; i < 5; i++) ch2.sendToQueue(s, Buffer.from(`d${i}`), { persistent: true })
    await ch2.waitForConfirms()
    expect((await consume(leader, s, N, 5)).map(([o, b]) => `${o}:${b}`)).toEqual([0, 1, 2, 3, 4].map((i) => `${N + i}:d${i}`))
    // n1 back with its data: 103 records, the last 3 unknown to the new leader: cut, then the tail
    nodes[0] = await start(0)
    await allLinked()
    await waitFor(() => streams(nodes[0]).follower('/', s)?.durableNext === N + 5, 8000, 'n1 follows n2')
    const f1 = streams(nodes[0]).follower('/', s)!
    expect(bodies(f1.log, N)).toEqual([0, 1, 2, 3, 4].map((i): [number, string] => [N + i, `d${i}`]))
    expect(bodies(f1.log).slice(0, N)).toEqual(want)
    expect(f1.received).toBe(5)
  }, 40_000)
})
