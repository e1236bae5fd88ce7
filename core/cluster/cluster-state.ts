/**
 * The cluster as this node sees it (issue 13): its own name, the members registered in etcd, and
 * whether it is fenced. Only a cached view: etcd is the source of truth and
 * transport/cluster/membership.ts keeps this in step with it. No etcd code here (core imports no
 * npm package); a single node has no ClusterState at all (Broker.cluster is null).
 */
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { ConnectionInfo } from '../connections.js'
import type { ClusterDefinitions } from './definitions.js'
import { Placement, type RemoteQueueOps } from './placement.js'
import { ReplicaRegistry } from './replica-registry.js'
import { ReplicaStatusBoard, type ReplicaAdmin } from './replica-status.js'

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
  /**
   * performance.now() ms up to which this node's lease surely still lives in etcd: the send time
   * of the last keepalive etcd answered (or of the grant) + the TTL. Set by the membership.
   */
  leaseValidUntil = 0
  /** called when the lease runs out by this node's own clock (the membership fences and re-registers) */
  onLeaseLapsed: (() => void) | null = null
  /** where each queue of the cluster lives (core/cluster/placement.ts) */
  readonly placement: Placement
  /** set by the node link once it runs: operations on queues homed on other nodes */
  remoteOps: RemoteQueueOps | null = null
  /** set by transport/cluster/definitions-store.ts once it has loaded etcd's definitions */
  definitions: ClusterDefinitions | null = null
  /** quorum queue leaders of this node (core/cluster/replica-registry.ts) */
  readonly replicas: ReplicaRegistry
  /** each quorum queue's replica figures as its leader last sent them (core/cluster/replica-status.ts) */
  readonly replicaStatus = new ReplicaStatusBoard()
  /** set by the node link side: adds and removes members of quorum queues (the management API) */
  replicaAdmin: ReplicaAdmin | null = null
  /** told of every member put (new or changed) and removal */
  readonly memberListeners: MemberListener[] = []

  constructor(
    readonly clusterName: string,
    readonly nodeName: string,
    private readonly connections: Set<ConnectionInfo>,
    private readonly log: Logger,
  ) {
    this.placement = new Placement(nodeName)
    this.replicas = new ReplicaRegistry(this)
  }

  /**
   * Whether this node may serve: not fenced, and its lease not run out by its own clock. Checked
   * on each chunk of client input and each accept, not only by timers: a process resumed after a
   * pause (SIGSTOP, a VM freeze) handles the input that waited before any timer runs, and must
   * not answer it on a lease etcd has already expired (someone else may own its queues by then).
   */
  holdsLease(): boolean {
    if (!this.fenced && performance.now() > this.leaseValidUntil) {
      if (this.onLeaseLapsed !== null) this.onLeaseLapsed()
      else this.fence('lease ran out')
    }
    return !this.fenced
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
