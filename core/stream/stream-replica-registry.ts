/**
 * The replicated streams of a cluster node (issue 14), installed into the storage at boot
 * (ReplicaRegistry.install, before the storage recovers its queues). In a cluster every stream's
 * log lives at `<data dir>/replicas/<vhost>/<stream>` on each member of its replica set, whether
 * the member leads or follows, so a log changes hands without being copied:
 *   - a stream queue opened here (declared, recovered, or built after a failover made this node its
 *     leader) takes the open log of this node's follower replica when there is one (`adopt`), and
 *     gets a StreamReplicaLeader that ships its appends and counts the followers' acks;
 *   - a stream queue that leaves this node's vhost (deleted, or led by another node now) leaves its
 *     log open here (`removed` parks it); the node link side then either follows the new leader
 *     with it (truncated to where the logs agree) or deletes it once the stream's record is gone.
 * The node link side (transport/cluster/stream-replica-manager.ts) attaches as the shipper and
 * supplies the follower logs. No etcd or socket code here.
 */
import path from 'node:path'
import type { ClusterState } from '../cluster/cluster-state.js'
import type { StreamLog } from './stream-log.js'
import { StreamReplicaLeader, type StreamReplicaHooks, type StreamShipper } from './stream-replica-leader.js'

const keyOf = (vhost: string, name: string): string => `${vhost}\u0000${name}`

/** The directory of a stream's log on a cluster node, relative to the data dir. */
export const streamReplicaDir = (vhost: string, name: string): string => path.join('replicas', encodeURIComponent(vhost), encodeURIComponent(name))

export class StreamReplicas implements StreamReplicaHooks, StreamShipper {
  readonly leaders = new Map<string, StreamReplicaLeader>()
  /** logs of streams that left this node's vhost, until the link side adopts or deletes them */
  readonly parked = new Map<string, StreamLog>()
  private shipper: StreamShipper | null = null
  /** the open log of this node's follower replica, handed over to a new leader queue (link side) */
  takeFollower: ((vhost: string, name: string) => StreamLog | null) | null = null
  /** told when a log is parked (link side) */
  onParked: ((vhost: string, name: string) => void) | null = null

  constructor(private readonly state: ClusterState) {}

  dir(q: { vhost: { name: string }; name: string; arguments: Record<string, unknown> }): string | null {
    return q.arguments['x-queue-type'] === 'stream' ? streamReplicaDir(q.vhost.name, q.name) : null
  }

  adopt(vhost: string, name: string): StreamLog | null {
    const k = keyOf(vhost, name)
    const parked = this.parked.get(k)
    if (parked !== undefined) {
      this.parked.delete(k)
      return parked
    }
    return this.takeFollower?.(vhost, name) ?? null
  }

  leader(vhost: string, name: string, log: StreamLog): StreamReplicaLeader {
    const placement = this.state.placement
    const l = new StreamReplicaLeader(vhost, name, this.state.nodeName, log, () => placement.home(vhost, name), this)
    this.leaders.set(keyOf(vhost, name), l)
    return l
  }

  removed(vhost: string, name: string, log: StreamLog): boolean {
    const k = keyOf(vhost, name)
    const l = this.leaders.get(k)
    if (l !== undefined && l.log === log) {
      this.leaders.delete(k)
      l.close(new Error('stream no longer led by this node'))
    }
    this.parked.set(k, log)
    this.onParked?.(vhost, name)
    return true
  }

  /** Takes a parked log (to follow with it, or to delete it). */
  unpark(vhost: string, name: string): StreamLog | undefined {
    const k = keyOf(vhost, name)
    const log = this.parked.get(k)
    this.parked.delete(k)
    return log
  }

  /** The live leader of a stream of this node. */
  leaderOf(vhost: string, name: string): StreamReplicaLeader | undefined {
    const l = this.leaders.get(keyOf(vhost, name))
    return l === undefined || l.closed ? undefined : l
  }

  schedule(l: StreamReplicaLeader): void {
    // before the node links run there is no one to ship to (followers ask from their offset)
    if (this.shipper !== null) this.shipper.schedule(l)
    else {
      l.scheduled = false
      l.tick()
    }
  }

  attach(shipper: StreamShipper | null): void {
    this.shipper = shipper
  }
}
