/**
 * Where a new queue lives (issue 13): RabbitMQ's queue leader locator. `client-local` (the default)
 * puts it on the node the declaring client is connected to; `balanced` on the live member with the
 * fewest queues (ties: this node, then by name). The `queue-leader-locator` policy key wins over the
 * `x-queue-leader-locator` argument, as in RabbitMQ (rabbit_queue_location: the policy value is
 * taken when both are set); the legacy values `random` and `least-leaders` mean `balanced`.
 */
import type { Queue } from '../queue.js'
import type { VHost } from '../vhost.js'
import type { FieldTable } from '../wire/field-table.js'
import type { ClusterState } from './cluster-state.js'

export function leaderLocator(v: VHost, name: string, args: FieldTable): string {
  // matchPolicies reads only kind, name and arguments
  const [policy] = v.matchPolicies({ kind: 'queue', name, arguments: args } as unknown as Queue)
  const fromPolicy = policy?.definition['queue-leader-locator']
  const loc = typeof fromPolicy === 'string' ? fromPolicy : args['x-queue-leader-locator']
  return loc === 'balanced' || loc === 'least-leaders' || loc === 'random' ? 'balanced' : 'client-local'
}

/** The node a new queue of `v` named `name` is homed on. */
export function chooseHome(state: ClusterState, v: VHost, name: string, args: FieldTable): string {
  const self = state.nodeName
  if (leaderLocator(v, name, args) !== 'balanced') return self
  const counts = new Map<string, number>()
  for (const m of state.members.keys()) counts.set(m, 0)
  counts.set(self, counts.get(self) ?? 0)
  for (const h of state.placement.all()) {
    const n = counts.get(h.node)
    if (n !== undefined) counts.set(h.node, n + 1)
  }
  let best = self
  let least = counts.get(self)!
  for (const [m, n] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (n < least) {
      best = m
      least = n
    }
  }
  return best
}
