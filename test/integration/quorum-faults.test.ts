/**
 * The CI form of the quorum fault run (issue 14; scripts/quorum-faults.mjs is the long one): three
 * nodes in network namespaces (test/helpers/netns-cluster.mjs), a 3-member quorum queue, a
 * publisher with confirms and a consumer with manual acks on nodes other than the target, and one
 * round each of kill -9 of the leader, SIGSTOP of the leader past its lease, the leader cut off,
 * a follower cut off, every node restarted with the leader back only after its lease expired
 * (test/helpers/quorum-fault-run.mjs). After each: nothing confirmed lost, no
 * id delivered twice without the redelivered flag, publish order kept, the queue available again
 * within the lease TTL + 2 s, every publish confirmed or nacked within the lease TTL + 2 s. Needs
 * root; skipped with the reason otherwise. About 55 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { netnsClusterUnavailable, startNetnsCluster, type NetnsCluster } from '../helpers/netns-cluster.mjs'
import { QuorumFaultRun } from '../helpers/quorum-fault-run.mjs'

describe.skipIf(netnsClusterUnavailable !== undefined)(
  netnsClusterUnavailable === undefined ? 'quorum queue faults (network namespaces)' : `quorum queue faults: skipped, ${netnsClusterUnavailable}`,
  () => {
    let c: NetnsCluster
    let run: QuorumFaultRun

    beforeAll(async () => {
      c = await startNetnsCluster({ nodes: ['n1', 'n2', 'n3'] })
      run = new QuorumFaultRun(c, { seed: 14 })
      await run.setup()
    }, 45_000)
    afterAll(async () => {
      await c?.stop()
    }, 20_000)

    let r = 0
    for (const kind of ['kill9-leader', 'sigstop-leader', 'cut-leader', 'cut-follower', 'restart-all-leader-late']) {
      it(`${kind}: nothing confirmed lost, no double-leader delivery, order kept, available and every publish answered within TTL + 2 s`, async () => {
        const { line, violations } = await run.round(++r, kind)
        expect(violations, line).toEqual([])
      }, 40_000)
    }
  },
)
