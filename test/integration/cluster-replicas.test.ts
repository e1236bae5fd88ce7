/**
 * Quorum queue replicas beyond phase 1 (issue 14): a follower's store survives its node's restart
 * and catches up from the leader's log; the in-sync set in etcd decides who may be elected; the
 * replicas API (/api/queues/{vhost}/{queue}/replicas) adds and removes members. Three nodes in the
 * test process with data directories kept across their restarts, and a private etcd.
 */
import amqp from 'amqplib'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { linked } from '../helpers/cluster.js'
import { hasEtcd, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { apiClient } from '../helpers/http.js'
import { runCtl } from '../../admin-ui/ctl/main.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'quorum queues: follower restart, in-sync set, replicas API' : 'quorum replicas: skipped, no /usr/bin/etcd', () => {
  let etcd: TestEtcd
  const names = ['n1', 'n2', 'n3']
  const dirs: string[] = []
  const nodes: TestBroker[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  const cluster = `replicas${process.pid}`
  let seq = 0
  const uniq = (b: string): string => `${b}-${++seq}`

  const start = (i: number): Promise<TestBroker> =>
    startTestBroker({ cluster: [etcd.endpoint], clusterName: cluster, nodeName: names[i], clusterPort: 0, clusterLeaseTtl: 2, dataDir: dirs[i] })
  const restart = async (i: number): Promise<TestBroker> => {
    nodes[i] = await start(i)
    for (let j = 0; j < nodes.length; j++) if (j !== i && nodes[j].clusterNode !== null && !stopped.has(j)) await linked(nodes[i], nodes[j])
    stopped.delete(i)
    return nodes[i]
  }
  const stopped = new Set<number>()
  const stop = async (i: number): Promise<void> => {
    stopped.add(i)
    await nodes[i].stop()
    for (let j = 0; j < nodes.length; j++) if (!stopped.has(j)) await waitFor(() => !nodes[j].broker.cluster!.members.has(names[i]), 5000, `${names[i]} gone`)
  }

  beforeAll(async () => {
    etcd = await startEtcd()
    for (let i = 0; i < 3; i++) dirs.push(mkdtempSync(join(tmpdir(), `warren-replicas-${names[i]}-`)))
    for (let i = 0; i < 3; i++) nodes.push(await start(i))
    await linked(nodes[0], nodes[1])
    await linked(nodes[0], nodes[2])
    await linked(nodes[1], nodes[2])
  }, 40_000)
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
    // every node runs again for the next test
    for (const i of [...stopped]) await restart(i)
  }, 30_000)
  afterAll(async () => {
    for (let i = 0; i < nodes.length; i++) if (!stopped.has(i)) await nodes[i].stop()
    await etcd?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  const confirmChannel = async (b: TestBroker): Promise<amqp.ConfirmChannel> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    cleanups.push(() => c.close())
    return c.createConfirmChannel()
  }
  const record = (b: TestBroker, q: string) => b.broker.cluster!.placement.home('/', q)!
  const replicas = (b: TestBroker) => b.clusterNode!.replicas
  const sorted = (a: string[] | undefined) => [...(a ?? [])].sort()
  const publish = async (ch: amqp.ConfirmChannel, q: string, from: number, n: number): Promise<void> => {
    for (let i = from; i < from + n; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true })
    await ch.waitForConfirms()
  }
  /** every follower of `q` led by `leader` has acked the leader's last record durable */
  const settled = (leader: TestBroker, q: string, followers: TestBroker[]) =>
    waitFor(() => followers.every((f) => replicas(f).follower('/', q)?.ackedSeq === replicas(leader).leader('/', q)!.lastSeq), 5000, 'followers caught up')
  const consumeAll = async (b: TestBroker, q: string, n: number): Promise<number[]> => {
    const c = await amqp.connect(b.url)
    c.on('error', () => undefined)
    cleanups.push(() => c.close())
    const ch = await c.createChannel()
    const got = new Set<number>()
    await ch.consume(q, (m) => {
      if (m === null) return
      got.add(Number(m.content.toString()))
      ch.ack(m)
    })
    await waitFor(() => got.size >= n, 8000, `${n} messages consumed`)
    return [...got].sort((a, b) => a - b)
  }

  it('a follower restarted keeps its store, gets only the records it lacks from the leader, rejoins the in-sync set and serves every confirmed message once the leader dies', async () => {
    const q = uniq('durable-follower')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    await publish(ch, q, 0, 100)
    await settled(nodes[0], q, [nodes[1], nodes[2]])
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === 'n1,n2,n3', 5000, 'every member in sync in etcd')

    await stop(1)
    // the leader takes n2 out of the in-sync set in etcd; its API shows it offline
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === 'n1,n3', 5000, 'n2 out of sync')
    const down = (await apiClient(nodes[2]).get(`/api/queues/%2F/${q}/replicas`)).body
    expect(down).toMatchObject({ leader: 'n1', epoch: 1, in_sync: ['n1', 'n3'] })
    expect(down.replicas.find((r: { node: string }) => r.node === 'n2')).toMatchObject({ online: false, in_sync: false })
    await publish(ch, q, 100, 50)

    const before = replicas(nodes[0]).syncAnswers.length
    nodes[1] = await start(1)
    const f2 = replicas(nodes[1]).follower('/', q)!
    // recovered from its disk, before anything from the leader
    expect(f2.recovered).toBe(100)
    expect(f2.recoveredSeq).toBeGreaterThan(0)
    await linked(nodes[1], nodes[0])
    await linked(nodes[1], nodes[2])
    stopped.delete(1)
    await waitFor(() => f2.messageCount === 150, 5000, 'n2 caught up')
    const answers = replicas(nodes[0]).syncAnswers.slice(before).filter((a) => a.node === 'n2' && a.name === q)
    // only the 50 records it missed, not a snapshot of 150 messages
    expect(answers).toEqual([expect.objectContaining({ kind: 'tail', records: 50 })])
    await waitFor(() => sorted(record(nodes[2], q).inSync).join() === 'n1,n2,n3', 5000, 'n2 back in sync')
    await waitFor(async () => {
      const r = (await apiClient(nodes[1]).get(`/api/queues/%2F/${q}/replicas`)).body.replicas.find((x: { node: string }) => x.node === 'n2')
      return r.in_sync === true && r.lag === 0 && r.online === true
    }, 5000, 'n2 in sync, lag 0 in the API of n2')
    // the queue JSON of a node that is not the leader has in_sync and the lags too
    const qj = (await apiClient(nodes[2]).get(`/api/queues/%2F/${q}`)).body
    expect(sorted(qj.in_sync)).toEqual(['n1', 'n2', 'n3'])
    expect(qj.replica_lag).toEqual({ n2: 0, n3: 0 })

    // the leader dies: n2 (in sync, ties with n3, the smaller name) leads and serves all 150
    await settled(nodes[0], q, [nodes[1], nodes[2]])
    await stop(0)
    await waitFor(() => record(nodes[1], q).epoch === 2, 5000, 'a new leader')
    expect(record(nodes[1], q).node).toBe('n2')
    expect(await consumeAll(nodes[2], q, 150)).toEqual([...Array(150).keys()])
  }, 60_000)

  it('a member out of the in-sync set is not elected even with the longest log', async () => {
    const q = uniq('out-of-sync')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    expect(record(nodes[0], q).node).toBe('n1')
    await publish(ch, q, 0, 20)
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === 'n1,n2,n3', 5000, 'all in sync')
    await stop(1)
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === 'n1,n3', 5000, 'n2 out of sync')
    // the set in etcd stays [n1, n3] from now on (the leader writes no more), n2 comes back with
    // every record: a tie with n3 that n2 would win by name
    replicas(nodes[0]).setInSync = null
    await restart(1)
    await settled(nodes[0], q, [nodes[1], nodes[2]])
    await stop(0)
    await waitFor(() => record(nodes[1], q).epoch === 2, 5000, 'a new leader')
    expect(record(nodes[1], q).node).toBe('n3')
    expect(await consumeAll(nodes[1], q, 20)).toEqual([...Array(20).keys()])
  }, 60_000)

  it('every member stopped and the old leader not back: the two others elect the one with the longest durable log, which serves every confirmed message', async () => {
    const q = uniq('all-restart')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    await publish(ch, q, 0, 20)
    await settled(nodes[0], q, [nodes[1], nodes[2]])
    // n2 goes first: the next 20 are confirmed by n1 and n3 only (n2 would win a tie by name)
    await stop(1)
    await publish(ch, q, 20, 20)
    await settled(nodes[0], q, [nodes[2]])
    await Promise.all([stop(0), stop(2)])
    await restart(1)
    nodes[2] = await start(2)
    stopped.delete(2)
    await linked(nodes[1], nodes[2])
    await waitFor(() => record(nodes[1], q).epoch === 2, 10_000, 'a leader elected among n2 and n3')
    expect(record(nodes[1], q).node).toBe('n3')
    expect(await consumeAll(nodes[1], q, 40)).toEqual([...Array(40).keys()])
  }, 60_000)

  it('the replicas API: errors, add a member (it gets the backlog, joins the in-sync set and can be elected), remove one (its store goes)', async () => {
    const q = uniq('grow')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 } })
    await publish(ch, q, 0, 30)
    const members = record(nodes[0], q).members!
    expect(members).toHaveLength(2)
    const other = members[1]
    const added = names.find((n) => !members.includes(n))!
    const api = apiClient(nodes[2])

    // errors, as JSON
    const classic = uniq('classic')
    await ch.assertQueue(classic, { durable: true })
    expect((await api.post(`/api/queues/%2F/nope/replicas`, { node: 'n3' })).status).toBe(404)
    expect((await api.get(`/api/queues/%2F/nope/replicas`)).status).toBe(404)
    const notQuorum = await api.post(`/api/queues/%2F/${classic}/replicas`, { node: 'n3' })
    expect(notQuorum.status).toBe(400)
    expect(notQuorum.body).toMatchObject({ error: 'bad_request' })
    expect((await api.post(`/api/queues/%2F/${q}/replicas`, { node: 'n9' })).body.reason).toMatch(/not a running member/)
    expect((await api.post(`/api/queues/%2F/${q}/replicas`, { node: other })).body.reason).toMatch(/already a member/)
    expect((await api.post(`/api/queues/%2F/${q}/replicas`, {})).status).toBe(400)
    expect((await api.del(`/api/queues/%2F/${q}/replicas/n1`)).body.reason).toMatch(/leader/)
    // a user without the administrator tag: 401 not_authorised, as for the other administrator endpoints
    expect((await api.put('/api/users/mon', { password: 'mon', tags: 'monitoring' })).status).toBeLessThan(300)
    cleanups.push(() => api.del('/api/users/mon'))
    const refused = await apiClient(nodes[2], 'mon', 'mon').post(`/api/queues/%2F/${q}/replicas`, { node: added })
    expect(refused.status).toBe(401)
    expect(refused.body).toMatchObject({ error: 'not_authorised' })
    expect((await apiClient(nodes[2], 'mon', 'mon').del(`/api/queues/%2F/${q}/replicas/${other}`)).status).toBe(401)

    const res = await api.post(`/api/queues/%2F/${q}/replicas`, { node: added })
    expect(res.status).toBe(204)
    const ai = names.indexOf(added)
    await waitFor(() => replicas(nodes[ai]).follower('/', q)?.messageCount === 30, 5000, 'the added member has the backlog')
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === 'n1,n2,n3', 5000, 'the added member in sync')
    const body = (await api.get(`/api/queues/%2F/${q}/replicas`)).body
    expect(body.members).toEqual([...members, added])

    // the other follower out of the in-sync set (stopped, the set then frozen, back): the added member is elected
    const oi = names.indexOf(other)
    await stop(oi)
    await waitFor(() => sorted(record(nodes[0], q).inSync).join() === sorted(['n1', added]).join(), 5000, 'other out of sync')
    replicas(nodes[0]).setInSync = null
    await restart(oi)
    await stop(0)
    await waitFor(() => record(nodes[ai], q).epoch === 2, 5000, 'a new leader')
    expect(record(nodes[ai], q).node).toBe(added)
    expect(await consumeAll(nodes[oi], q, 30)).toEqual([...Array(30).keys()])

    // remove the other member: its replica and its store are gone
    const dir = replicas(nodes[oi]).follower('/', q)!.dir
    expect(existsSync(dir)).toBe(true)
    expect((await apiClient(nodes[ai]).del(`/api/queues/%2F/${q}/replicas/${other}`)).status).toBe(204)
    await waitFor(() => replicas(nodes[oi]).follower('/', q) === undefined, 5000, 'replica dropped')
    await waitFor(() => !existsSync(dir), 5000, 'store deleted')
    expect(record(nodes[ai], q).members).not.toContain(other)
  }, 60_000)

  it('warren ctl add_member, list_members, delete_member', async () => {
    const ctl = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = ''
      let err = ''
      const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), readStdin: async () => '' }
      const code = await runCtl(args, { WARREN_URL: `http://127.0.0.1:${nodes[1].httpPort}` }, io)
      return { code, out, err }
    }
    const q = uniq('ctl')
    const ch = await confirmChannel(nodes[0])
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 } })
    await publish(ch, q, 0, 5)
    const members = record(nodes[0], q).members!
    const added = names.find((n) => !members.includes(n))!
    expect(await ctl('add_member', q, added)).toEqual({ code: 0, out: `added member '${added}' to queue '${q}' in vhost '/'\n`, err: '' })
    const ai = names.indexOf(added)
    await waitFor(() => replicas(nodes[ai]).follower('/', q)?.messageCount === 5, 5000, 'the added member has the backlog')
    await waitFor(() => record(nodes[1], q).inSync?.includes(added) === true, 5000, 'in sync')
    await waitFor(async () => (await ctl('list_members', q)).out.split('\n').filter((l) => /^n\d\s+false\s+true\s+true\s+\d+\s+0\s*$/.test(l)).length === 2, 5000, 'list_members: two followers online, in sync, lag 0')
    const leader = await ctl('delete_member', q, 'n1')
    expect(leader.code).not.toBe(0)
    expect(leader.err).toMatch(/leader/)
    expect((await ctl('delete_member', q, added)).code).toBe(0)
    await waitFor(() => replicas(nodes[ai]).follower('/', q) === undefined, 5000, 'replica dropped')
  }, 30_000)
})
