/**
 * Fault tests of cluster membership and fencing (issue 13), on nodes in separate network
 * namespaces (test/helpers/netns-cluster.mjs): a node cut off by its veth fences itself within the
 * lease TTL + 2 s and the others see it leave (cut from etcd only, too); a node paused past its
 * lease serves nothing before it has registered again; an etcd restart disturbs clients for at
 * most about the TTL; a killed node leaves and comes back. Needs root; skipped with the reason
 * otherwise. About 35 s.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { netnsClusterUnavailable, startNetnsCluster, waitFor, type NetnsCluster } from '../helpers/netns-cluster.mjs'

const FENCED = /320 \(CONNECTION-FORCED\).*node lost its cluster membership/
const NODES = ['n1', 'n2']

describe.skipIf(netnsClusterUnavailable !== undefined)(
  netnsClusterUnavailable === undefined ? 'cluster faults (network namespaces)' : `cluster faults: skipped, ${netnsClusterUnavailable}`,
  () => {
    let c: NetnsCluster
    let ttlMs = 0

    beforeAll(async () => {
      c = await startNetnsCluster({ nodes: NODES })
      ttlMs = c.leaseTtl * 1000
    }, 45_000)
    afterAll(async () => {
      await c?.stop()
    }, 20_000)
    // whatever a test did, the next one starts from a whole cluster
    afterEach(async () => {
      for (const n of NODES) {
        c.heal(n)
        try {
          c.resume(n)
        } catch {}
      }
      await Promise.all(NODES.map((n) => c.waitServing(n, 15_000)))
      await Promise.all(NODES.map((n) => c.waitMembers(n, NODES, 15_000)))
    }, 35_000)

    const key = (n: string): string => `/warren/${c.clusterName}/nodes/${n}`
    const etcdKeys = (): Promise<string[]> => c.etcdAgent().call('etcdKeys', { prefix: `/warren/${c.clusterName}/nodes/` })

    it('a node cut off by its veth closes its clients with 320 within the lease TTL + 2 s, refuses new ones, leaves; back once the link is restored', async () => {
      const n1 = c.agent('n1')
      await n1.call('open', { c: 'iso' })
      await n1.call('declare', { c: 'iso', queue: 'iso-q' })
      const cutAt = Date.now()
      c.cut('n1')
      const closed = await waitFor(async () => {
        const s = await n1.call('closed', { c: 'iso' })
        return s.closed ? s : null
      }, ttlMs + 2000, 'the isolated node to close its client')
      expect(closed.error).toMatch(FENCED)
      expect(Date.now() - cutAt).toBeLessThanOrEqual(ttlMs + 2000)
      expect((await n1.call('tryConnect', { timeoutMs: 1000 })).ok).toBe(false)
      // the others drop it when its lease expires in etcd
      await c.waitMembers('n2', ['n2'], ttlMs + 3000 - (Date.now() - cutAt))
      expect(await etcdKeys()).toEqual([key('n2')])
      // still cut: still fenced
      expect((await n1.call('tryConnect', { timeoutMs: 1000 })).ok).toBe(false)
      c.heal('n1')
      await c.waitServing('n1', 10_000)
      await c.waitMembers('n2', NODES, 5000)
      expect(await etcdKeys()).toEqual([key('n1'), key('n2')])
    }, 30_000)

    // (cut from its peers only, a node keeps serving: scripts/cluster-faults.mjs checks that, it takes a TTL of waiting)
    it('a node cut off from etcd only (its peers still reachable) fences all the same, and serves again once etcd is reachable', async () => {
      const n2 = c.agent('n2')
      await n2.call('open', { c: 'etcd-cut' })
      const cutAt = Date.now()
      c.cut('n2', 'etcd')
      const closed = await waitFor(async () => {
        const s = await n2.call('closed', { c: 'etcd-cut' })
        return s.closed ? s : null
      }, ttlMs + 2000, 'n2 to fence')
      expect(closed.error).toMatch(FENCED)
      expect(Date.now() - cutAt).toBeLessThanOrEqual(ttlMs + 2000)
      await c.waitMembers('n1', ['n1'], ttlMs + 3000 - (Date.now() - cutAt))
      c.heal('n2', 'etcd')
      await c.waitServing('n2', 10_000)
      await c.waitMembers('n1', NODES, 5000)
      // and it stays serving: the delete of its old key (expired during the cut), which its watch
      // delivers only after it has registered again, is not about the key it holds now (it fenced
      // again 0.4 s after serving when it took that delete for a loss)
      await n2.call('open', { c: 'after-heal' })
      await new Promise((r) => setTimeout(r, ttlMs + 1000))
      const after = await n2.call('closed', { c: 'after-heal' })
      expect(after.closed ? after.error : 'open').toBe('open')
      await n2.call('close', { c: 'after-heal' })
    }, 40_000)

    it('a node paused (SIGSTOP) past its lease answers nothing sent during the pause once resumed: fenced (320) until it has registered again', async () => {
      const n1 = c.agent('n1')
      await n1.call('open', { c: 'paused' })
      c.pause('n1')
      // sent while the node is stopped: sits in its socket until SIGCONT
      const declared = n1.call('declare', { c: 'paused', queue: 'declared-while-paused' }, 30_000).then(
        (v) => ({ answered: true, v }),
        (err: Error) => ({ answered: false, v: err.message }),
      )
      // the lease has expired in etcd (no blind sleep: the key goes when it does)
      await waitFor(async () => !(await etcdKeys()).includes(key('n1')), ttlMs + 5000, "n1's key to expire in etcd")
      await c.waitMembers('n2', ['n2'], 5000)
      c.resume('n1')
      const r = await declared
      expect(r.answered, `declare-ok after resume: the node served on an expired lease (${r.v})`).toBe(false)
      const s = await n1.call('closed', { c: 'paused' })
      expect(s.closed).toBe(true)
      expect(s.error).toMatch(FENCED)
      await c.waitServing('n1', 10_000)
      await c.waitMembers('n2', NODES, 5000)
      // the queue declared during the pause was never created
      await n1.call('open', { c: 'after' })
      await expect(n1.call('declare', { c: 'after', queue: 'declared-while-paused', durable: true })).resolves.toBe(0)
      await n1.call('close', { c: 'after' })
    }, 30_000)

    it('etcd restarted (kill -9): nodes keep or regain their membership, clients disturbed at most about the lease TTL', async () => {
      for (const n of NODES) await c.agent(n).call('open', { c: 'etcd' })
      const t0 = Date.now()
      await c.restartEtcd()
      // every node serves and lists both within TTL + 2 s of etcd being back
      await Promise.all(NODES.map((n) => c.waitServing(n, ttlMs + 2000)))
      await Promise.all(NODES.map((n) => c.waitMembers(n, NODES, ttlMs + 2000)))
      expect(await etcdKeys()).toEqual(NODES.map(key))
      // a client that was closed was closed by fencing, never otherwise
      for (const n of NODES) {
        const s = await c.agent(n).call('closed', { c: 'etcd' })
        if (s.closed) expect(s.error).toMatch(FENCED)
        await c.agent(n).call('close', { c: 'etcd' })
      }
      expect(Date.now() - t0).toBeLessThan(ttlMs + 15_000)
    }, 30_000)

    it('etcd down for 1.5 s, then back: no node fences (keepalives go on fresh streams, answered at once)', async () => {
      // etcd3's own keepalive stream stalled after such a restart and was replaced only after a TTL
      // without answers: every node fenced itself although etcd answered again (seen 2 of 2 times)
      for (const n of NODES) await c.agent(n).call('open', { c: 'brief' })
      await c.restartEtcd(1500)
      await new Promise((r) => setTimeout(r, ttlMs + 2000))
      for (const n of NODES) {
        const st = await c.agent(n).call('closed', { c: 'brief' })
        expect(st.closed ? `${n}: ${st.error}` : 'open').toBe('open')
        await c.agent(n).call('close', { c: 'brief' })
      }
    }, 30_000)

    it('kill -9 of a node: the others drop it when its lease expires; restarted, it registers and serves again', async () => {
      const killedAt = Date.now()
      await c.kill('n2')
      // etcd expires the lease (it checks every 500 ms); on this shared 2-core machine its revoke
      // has been seen to come later than TTL + 3 s under load, so the bound leaves room for that
      await c.waitMembers('n1', ['n1'], ttlMs + 6000)
      expect(Date.now() - killedAt).toBeLessThanOrEqual(ttlMs + 6000)
      c.start('n2')
      await c.waitServing('n2', 20_000)
      await c.waitMembers('n1', NODES, 5000)
    }, 35_000)
  },
)
