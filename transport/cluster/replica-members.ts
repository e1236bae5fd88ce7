/**
 * Changes of a quorum queue's record in etcd other than a failover (issue 14), each one etcd
 * transaction comparing the record's mod revision with the one read (retried a few times when
 * another write came between):
 *   - the in-sync set, written by the leader (replica-sync.ts) when it changes;
 *   - add or remove a member (the management API's /api/queues/{vhost}/{queue}/replicas and
 *     `warren ctl add_member` / `delete_member`, RabbitMQ's `rabbitmq-queues add_member` /
 *     `delete_member`). A new member joins `members` only: its node creates a follower replica from
 *     the record, asks the leader for its state (a snapshot), and the leader adds it to `inSync` once
 *     it has caught up. A removed member's node deletes its replica's store when it sees the record.
 *     Removing the leader is refused (400): RabbitMQ (Raft) hands leadership to another member
 *     first; Warren has no leadership transfer of a live leader yet.
 */
import type { Etcd3 } from 'etcd3'
import type { ClusterState } from '../../core/cluster/cluster-state.js'
import type { QueueHome } from '../../core/cluster/placement.js'
import { ReplicaAdminError, type ReplicaAdmin } from '../../core/cluster/replica-status.js'
import { decodeHome, DefinitionKeys, encodeHome } from './definitions-keys.js'

const ATTEMPTS = 5

/** Writes a record changed by `change` (null: nothing to write) with a compare on its mod revision. */
async function updateRecord(etcd: Etcd3, key: string, change: (h: QueueHome | undefined) => QueueHome | null): Promise<boolean> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const kv = (await etcd.get(key).exec()).kvs[0]
    const next = change(kv === undefined ? undefined : decodeHome(kv.value.toString()))
    if (next === null || kv === undefined) return false
    const res = await etcd.if(key, 'Mod', '==', kv.mod_revision).then(etcd.put(key).value(encodeHome(next))).commit()
    if (res.succeeded) return true
  }
  return false
}

export type SetInSync = (vhost: string, name: string, self: string, epoch: number, inSync: string[]) => Promise<boolean>

/** The leader's write of `inSync`: only while the record still names it at its epoch. */
export function etcdSetInSync(etcd: Etcd3, clusterName: string): SetInSync {
  const keys = new DefinitionKeys(clusterName)
  return (vhost, name, self, epoch, inSync) =>
    updateRecord(etcd, keys.queue(vhost, name), (h) => {
      if (h === undefined || h.node !== self || (h.epoch ?? 1) !== epoch || h.members === undefined) return null
      const members = h.members
      return { ...h, inSync: inSync.filter((m) => members.includes(m)) }
    })
}

export class ReplicaMembers implements ReplicaAdmin {
  private readonly keys: DefinitionKeys

  constructor(
    private readonly etcd: Etcd3,
    clusterName: string,
    private readonly state: ClusterState,
  ) {
    this.keys = new DefinitionKeys(clusterName)
  }

  private check(vhost: string, name: string): QueueHome {
    const h = this.state.placement.home(vhost, name)
    if (h === undefined) throw new ReplicaAdminError(404, `no queue '${name}' in vhost '${vhost}'`)
    if (h.members === undefined) throw new ReplicaAdminError(400, `queue '${name}' in vhost '${vhost}' is not a quorum queue nor a stream`)
    return h
  }

  async addMember(vhost: string, name: string, node: string): Promise<void> {
    const h = this.check(vhost, name)
    if (!this.state.members.has(node)) throw new ReplicaAdminError(400, `node '${node}' is not a running member of the cluster`)
    if (h.members!.includes(node)) throw new ReplicaAdminError(400, `node '${node}' is already a member of queue '${name}' in vhost '${vhost}'`)
    const ok = await updateRecord(this.etcd, this.keys.queue(vhost, name), (cur) => {
      if (cur?.members === undefined || cur.members.includes(node)) return null
      return { ...cur, members: [...cur.members, node] }
    })
    if (!ok) throw new ReplicaAdminError(409, `queue '${name}' in vhost '${vhost}' changed meanwhile; try again`)
  }

  async deleteMember(vhost: string, name: string, node: string): Promise<void> {
    const h = this.check(vhost, name)
    if (!h.members!.includes(node)) throw new ReplicaAdminError(400, `node '${node}' is not a member of queue '${name}' in vhost '${vhost}'`)
    if (h.node === node) throw new ReplicaAdminError(400, `node '${node}' is the leader of queue '${name}' in vhost '${vhost}'; Warren cannot remove a live leader`)
    if (h.members!.length === 1) throw new ReplicaAdminError(400, `node '${node}' is the last member of queue '${name}' in vhost '${vhost}'`)
    const ok = await updateRecord(this.etcd, this.keys.queue(vhost, name), (cur) => {
      if (cur?.members === undefined || !cur.members.includes(node) || cur.node === node) return null
      return { ...cur, members: cur.members.filter((m) => m !== node), ...(cur.inSync === undefined ? {} : { inSync: cur.inSync.filter((m) => m !== node) }) }
    })
    if (!ok) throw new ReplicaAdminError(409, `queue '${name}' in vhost '${vhost}' changed meanwhile; try again`)
  }
}
