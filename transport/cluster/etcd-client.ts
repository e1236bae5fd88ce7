/**
 * The etcd client of a cluster node. etcd3's default fault handling puts a circuit breaker on each
 * etcd endpoint that, after 3 failed calls, refuses every call for 5 s: as long as a node's lease
 * (5 s). After a short etcd outage (a restart, a leader change) the node's keepalives were then
 * refused past its lease although etcd was back, and the node fenced itself for nothing. Here the
 * breaker still moves calls away from a failing endpoint of a multi-endpoint etcd, but tries it
 * again after BREAKER_RETRY_MS.
 */
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel'
import { Etcd3, isRecoverableError } from 'etcd3'

/** ms a failing etcd endpoint is left alone before it is tried again */
export const BREAKER_RETRY_MS = 250

export function etcdClient(hosts: string[]): Etcd3 {
  return new Etcd3({
    hosts,
    dialTimeout: 3000,
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: BREAKER_RETRY_MS, breaker: new ConsecutiveBreaker(3) }),
    },
  })
}
