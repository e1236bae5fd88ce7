/**
 * The cluster as this node sees it (issue 13): its own name, the members registered in etcd, and
 * whether it is fenced. Only a cached view: etcd is the source of truth and
 * transport/cluster/membership.ts keeps this in step with it. No etcd code here (core imports no
 * npm package); a single node has no ClusterState at all (Broker.cluster is null).
 */
import type { Logger } from 'pino'
import type { ConnectionInfo } from '../connections.js'
import { Placement, type RemoteQueueOps } from './placement.js'

/** What a node publishes about itself under /warren/<cluster>/nodes/<name> (JSON). */
export interface MemberInfo {
  name: string
  /** address the other nodes reach it at (--advertise-address) */
  address: string
  clusterPort: number
  amqpPort: number
  /** -1 when the management API is off */
  httpPort: number
  /** ms since the epoch when the node started */
  started: number
}

/** Hears of members coming and going (the node links, transport/cluster/link-manager.ts). */
export interface MemberListener {
  memberUp(m: MemberInfo): void
  memberDown(name: string): void
  /** this node lost its lease: it must stop serving other nodes too */
  fenced?(): void
  /** this node holds a lease again */
  unfenced?(): void
}

/** Close reason for the clients of a node that lost its etcd lease. */
export const FENCED_REASON = 'node lost its cluster membership (etcd lease)'

export class ClusterState {
  /** members by name, this node included once it is registered */
  readonly members = new Map<string, MemberInfo>()
  /**
   * True while this node holds no valid lease: it must not serve (its queues could be claimed by
   * others), so client connections are closed and new ones refused until it has re-registered.
   */
  fenced = true
  /** where each queue of the cluster lives (core/cluster/placement.ts) */
  readonly placement: Placement
  /** set by the node link once it runs: operations on queues homed on other nodes */
  remoteOps: RemoteQueueOps | null = null
  /** told of every member put (new or changed) and removal */
  readonly memberListeners: MemberListener[] = []

  constructor(
    readonly clusterName: string,
    readonly nodeName: string,
    private readonly connections: Set<ConnectionInfo>,
    private readonly log: Logger,
  ) {
    this.placement = new Placement(nodeName)
  }

  /** Lease lost (or this node's key gone): stop serving at once. */
  fence(why: string): void {
    if (this.fenced) return
    this.fenced = true
    this.log.warn({ why }, 'cluster membership lost: fenced, client connections closed until re-registered')
    for (const c of [...this.connections]) c.forceClose(FENCED_REASON)
    for (const l of this.memberListeners) l.fenced?.()
  }

  /** Registered again under a live lease: serve again. */
  unfence(): void {
    if (!this.fenced) return
    this.fenced = false
    this.log.info('cluster membership held: serving')
    for (const l of this.memberListeners) l.unfenced?.()
  }

  memberUp(m: MemberInfo): void {
    const known = this.members.has(m.name)
    this.members.set(m.name, m)
    if (!known) this.log.info({ member: m.name, address: m.address, clusterPort: m.clusterPort }, 'cluster member up')
    for (const l of this.memberListeners) l.memberUp(m)
  }

  memberDown(name: string): void {
    if (!this.members.delete(name)) return
    this.log.info({ member: name }, 'cluster member down')
    for (const l of this.memberListeners) l.memberDown(name)
  }
}
