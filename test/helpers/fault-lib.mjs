/**
 * What the randomized fault runs share (scripts/cluster-faults.mjs, scripts/quorum-faults.mjs and its CI form): a
 * seeded PRNG so a failing run replays with its --seed, percentiles, and the "cluster is whole"
 * and "node fenced its client" waits on the harness of test/helpers/netns-cluster.mjs.
 */
import { waitFor } from './netns-cluster.mjs'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const FENCED = /320 \(CONNECTION-FORCED\).*node lost its cluster membership/

/** A seeded PRNG (mulberry32): `random()` in [0, 1), `pick(list)`. */
export function seeded(seedValue) {
  let seed = Number(seedValue) >>> 0
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { random, pick: (list) => list[Math.floor(random() * list.length)] }
}

export const percentile = (xs, p) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}

/** Resolves once every node of `nodes` serves, lists every member, and etcd holds one key per node. */
export async function whole(c, nodes, ms) {
  const want = nodes.join(',')
  const prefix = `/warren/${c.clusterName}/nodes/`
  await waitFor(async () => {
    const ok = await Promise.all(nodes.map(async (n) => (await c.agent(n).call('tryConnect', { timeoutMs: 1000 }, 3000)).ok))
    if (!ok.every(Boolean)) return false
    const lists = await Promise.all(nodes.map((n) => c.members(n)))
    if (!lists.every((l) => l.join(',') === want)) return false
    const keys = await c.etcdAgent().call('etcdKeys', { prefix })
    return keys.map((k) => k.slice(prefix.length)).join(',') === want
  }, ms, 'the cluster to be whole')
}

/** Whether node `n`'s connection `conn` (an agent connection name) was closed by fencing within `ms`. */
export async function fencedWithin(c, n, conn, ms) {
  try {
    const s = await waitFor(async () => {
      const st = await c.agent(n).call('closed', { c: conn })
      return st.closed ? st : null
    }, ms, `${n} to fence`)
    return FENCED.test(s.error)
  } catch {
    return false
  }
}

/** Whether etcd still holds node `n`'s member key. */
export async function hasMemberKey(c, n) {
  const prefix = `/warren/${c.clusterName}/nodes/`
  return (await c.etcdAgent().call('etcdKeys', { prefix })).includes(prefix + n)
}
