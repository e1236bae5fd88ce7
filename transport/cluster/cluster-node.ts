/**
 * A Warren node joining a cluster (issue 13), loaded by transport/server.ts with a dynamic import
 * only when --cluster is given, so a single node never loads etcd code. Connects to etcd, opens
 * the cluster port, loads and watches the cluster's definitions (definitions-store.ts), then
 * registers the membership (transport/cluster/membership.ts): a member has applied the definitions.
 *
 * Once registered it reads (or creates) the cluster secret in etcd and starts the node links
 * (link-manager.ts) on the cluster port; until then a peer's socket is closed at once.
 */
import net from 'node:net'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import { ClusterState, type MemberInfo } from '../../core/cluster/cluster-state.js'
import type { BrokerConfig } from '../../core/config.js'
import { DefinitionsStore } from './definitions-store.js'
import { etcdClient } from './etcd-client.js'
import { clusterSecret } from './link-auth.js'
import { LinkManager } from './link-manager.js'
import { etcdTakeOver } from './replica-election.js'
import { ReplicaManager } from './replica-manager.js'
import { etcdSetInSync, ReplicaMembers } from './replica-members.js'
import { LEASE_TTL_S, Membership } from './membership.js'

/** ms to reach etcd and register at start before giving up (exit code 1 from the CLI). */
const JOIN_TIMEOUT_MS = 15_000

export interface ClusterNode {
  readonly state: ClusterState
  readonly clusterPort: number
  /** the node links (data plane) */
  readonly links: LinkManager
  /** quorum queue replication (replica-manager.ts) */
  readonly replicas: ReplicaManager
  /** Leaves the cluster (the member key goes at once) and closes the cluster port. */
  close(): Promise<void>
}

export interface ClusterPorts {
  amqpPort: number
  httpPort: number
}

/** --advertise-address, else the --bind address when it is a specific one, else the host name. */
export function advertiseAddress(config: BrokerConfig): string {
  if (config.advertiseAddress !== '') return config.advertiseAddress
  if (config.bind !== '' && config.bind !== '0.0.0.0' && config.bind !== '::') return config.bind
  return hostname()
}

export async function startClusterNode(broker: Broker, config: BrokerConfig, ports: ClusterPorts, log: Logger, leaseTtl?: number): Promise<ClusterNode> {
  const clog = log.child({ component: 'cluster', node: broker.nodeName })
  // fenced until registered (server.ts may have set it before the listeners opened)
  const state = broker.cluster ?? new ClusterState(config.clusterName, broker.nodeName, broker.connections, clog)
  broker.cluster = state
  let links: LinkManager | null = null
  const server = net.createServer((socket) => {
    if (links !== null) return links.accept(socket)
    socket.on('error', () => undefined)
    socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: config.clusterPort, host: config.bind === '' ? undefined : config.bind }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const clusterPort = (server.address() as net.AddressInfo).port
  const etcd = etcdClient(config.cluster)
  const self: MemberInfo = {
    name: broker.nodeName,
    address: advertiseAddress(config),
    clusterPort,
    amqpPort: ports.amqpPort,
    httpPort: ports.httpPort,
    started: broker.startedAt,
  }
  const membership = new Membership(etcd, state, self, clog, leaseTtl)
  // before the definitions: quorum queues created from etcd's records are replicated too
  const replicas = new ReplicaManager(broker, state, clog.child({ component: 'replica' }), etcdTakeOver(etcd, config.clusterName))
  replicas.setInSync = etcdSetInSync(etcd, config.clusterName)
  state.replicaAdmin = new ReplicaMembers(etcd, config.clusterName, state)
  replicas.start()
  const definitions = new DefinitionsStore(etcd, broker, state, clog, leaseTtl ?? LEASE_TTL_S)
  let timer: NodeJS.Timeout | undefined
  try {
    // the etcd client retries an unreachable endpoint on its own: bound the whole join
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS)
    })
    // definitions first: a node is a member (and waited for by declares) once it has applied them
    await Promise.race([definitions.start().then(() => membership.start()), timeout])
    const secret = await Promise.race([clusterSecret(etcd, config.clusterName), timeout])
    links = new LinkManager(broker, state, secret, clog.child({ component: 'link' }))
    const l = links
    replicas.session = (node) => l.session(node)
    links.replicas = replicas
    links.start()
  } catch (err) {
    void replicas.close()
    void definitions.close()
    void membership.close()
    server.close()
    etcd.close()
    clearTimeout(timer)
    throw new Error(`cannot join cluster '${config.clusterName}' through etcd ${config.cluster.join(',')}: ${(err as Error).message}`)
  }
  clearTimeout(timer)
  clog.info({ clusterName: config.clusterName, clusterPort, address: self.address }, `joined cluster '${config.clusterName}' as ${self.name}`)
  return {
    state,
    clusterPort,
    links: links!,
    replicas,
    async close() {
      links?.close()
      state.replicaAdmin = null
      await replicas.close()
      await definitions.close()
      await membership.close()
      etcd.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
