#!/usr/bin/env node
/**
 * Randomized fault run aimed at a replicated quorum queue's leader (issue 14), on the harness of
 * the fault tests (test/helpers/netns-cluster.mjs; the rounds and checks are
 * test/helpers/quorum-fault-run.mjs). Needs root, iproute2, etcd-server and a build.
 *
 *   node scripts/quorum-faults.mjs [--rounds 100] [--seed 42] [--faults kill9-leader,sigstop-leader,...]
 *
 * Faults: kill9-leader (kill -9, restarted after 0-1 s), sigstop-leader (until its lease expired,
 * + 0-1 s, then SIGCONT), cut-leader / cut-follower (every link, until its lease expired + 0-1 s),
 * restart-etcd (kill -9, back after 0-2 s), restart-all (every node kill -9, then restarted, the
 * leader last: every other time only once its lease has expired), restart-all-leader-late (the
 * leader always only once its lease has expired).
 * Prints one line per round, then the totals (rounds, faults of each kind, confirmed, lost,
 * duplicates, double-leader deliveries, order violations, recovery p50/max per kind, the longest
 * wait of a publish for its confirm or nack) and the violations. Exit code 1 on any violation.
 */
import { parseArgs } from 'node:util'
import { netnsClusterUnavailable, startNetnsCluster } from '../test/helpers/netns-cluster.mjs'
import { QUORUM_FAULTS, QuorumFaultRun } from '../test/helpers/quorum-fault-run.mjs'
import { seeded } from '../test/helpers/fault-lib.mjs'

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '100' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    faults: { type: 'string', default: QUORUM_FAULTS.join(',') },
    'log-level': { type: 'string', default: 'warn' },
  },
})
if (netnsClusterUnavailable !== undefined) {
  process.stderr.write(`quorum-faults: cannot run: ${netnsClusterUnavailable}\n`)
  process.exit(2)
}
const kinds = opt.faults.split(',')
for (const k of kinds) if (!QUORUM_FAULTS.includes(k)) throw new Error(`unknown fault '${k}' (${QUORUM_FAULTS.join(', ')})`)
const { pick } = seeded(Number(opt.seed) ^ 0x5bd1e995)

const NODES = ['n1', 'n2', 'n3']
const started = Date.now()
const c = await startNetnsCluster({ nodes: NODES, logLevel: opt['log-level'] })
const run = new QuorumFaultRun(c, { seed: Number(opt.seed), log: (l) => process.stdout.write(l + '\n') })
try {
  await run.setup()
  for (let r = 1; r <= Number(opt.rounds); r++) {
    const { violations } = await run.round(r, pick(kinds))
    // what the nodes said, to tell why
    if (violations.length > 0 && opt['log-level'] !== 'warn') for (const n of NODES) process.stdout.write(`---- last log lines of ${n}:\n${c.logs(n)}\n`)
  }
} catch (err) {
  for (const n of NODES) process.stderr.write(`---- last log lines of ${n}:\n${c.logs(n)}\n`)
  process.stderr.write(`stopped: ${err.stack}\n`)
  run.stats.violations.push(`run stopped: ${err.message}`)
} finally {
  await c.stop()
}
process.stdout.write(`\nseed ${opt.seed}, ${NODES.length} nodes, lease TTL ${c.leaseTtl} s, ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
process.stdout.write(run.summary() + '\n')
process.exit(run.stats.violations.length > 0 || run.stats.lost > 0 ? 1 : 0)
