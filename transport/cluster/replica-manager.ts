/**
 * Quorum queue replication over the node links (issue 14, phase 1), both sides:
 *   - leader: the registry (core/cluster/replica-registry.ts) makes every durable quorum queue of
 *     a cluster node a ReplicatedStoreList (core/cluster/replica-list.ts) with a ReplicaLeader; the records of a tick
 *     leave as one REPL frame per queue, sent to each follower whose link is up (epoch in every
 *     batch). A follower whose link (re)connects gets the queue's whole state first (RESET then every
 *     ready and unacked message), then the stream. REPL_ACK frames from followers advance the
 *     leader's majority (what confirms wait for).
 *   - follower: REPL frames go to the queue's FollowerReplica (replica-follower.ts), created when
 *     the queue's record names this node among its members; one from a node that is not the
 *     record's leader, or with a lower epoch than the record's or than one seen, is refused (a
 *     higher epoch than the record's is taken: the new leader's record is on its way here).
 *   - failover: replica-election.ts elects a follower when a leader leaves; the queue the winner
 *     then declares from etcd's record is built from its follower replica (promote()).
 */
import path from 'node:path'
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { ClusterState, MemberListener } from '../../core/cluster/cluster-state.js'
import type { PlacementListener, QueueHome } from '../../core/cluster/placement.js'
import { R_ENQ, R_RESET, type ReplicaLeader, type ReplicaRecord, type ReplicaShipper } from '../../core/cluster/replica-leader.js'
import { ReplicatedStoreList } from '../../core/cluster/replica-list.js'
import { replicaKey } from '../../core/cluster/replica-registry.js'
import { In, messageLen, Out, strLen, T, writeMessage } from './link-codec.js'
import type { LinkSession } from './link.js'
import { ReplicaElection, type TakeOver } from './replica-election.js'
import { FollowerReplica } from './replica-follower.js'

const keyOf = replicaKey

/** the part of each record before its message */
const RECORD_FIXED = 1 + 8 + 8 + 8

/** Encodes one REPL frame of `records` for the queue of `leader`. */
export function encodeBatch(vhost: string, name: string, epoch: number, records: readonly ReplicaRecord[]): Buffer {
  let size = strLen(vhost) + strLen(name) + 8 + 4
  for (const r of records) size += RECORD_FIXED + (r.kind === R_ENQ ? 4 + messageLen(r.message!) : 0)
  const o = new Out(T.REPL, size).str(vhost).str(name).f64(epoch).u32(records.length)
  for (const r of records) {
    o.u8(r.kind).f64(r.seq).f64(r.ref).f64(r.n)
    if (r.kind === R_ENQ) writeMessage(o.u32(messageLen(r.message!)), r.message!)
  }
  return o.buf
}

export function decodeBatch(i: In): { vhost: string; name: string; epoch: number; records: ReplicaRecord[] } {
  const vhost = i.str()
  const name = i.str()
  const epoch = i.f64()
  const n = i.u32()
  const records: ReplicaRecord[] = []
  for (let k = 0; k < n; k++) {
    const kind = i.u8()
    const seq = i.f64()
    const ref = i.f64()
    const num = i.f64()
    let message = null
    if (kind === R_ENQ) {
      const len = i.u32()
      if (i.pos + len > i.end) throw new Error('truncated link frame')
      message = new In(i.buf, i.pos, i.pos + len).message()
      i.pos += len
    }
    records.push({ kind, seq, ref, message, n: num })
  }
  return { vhost, name, epoch, records }
}

export class ReplicaManager implements ReplicaShipper, PlacementListener, MemberListener {
  readonly election: ReplicaElection
  private readonly followers = new Map<string, FollowerReplica>()
  private readonly dirty = new Set<ReplicaLeader>()
  private flushScheduled = false
  /** the link sessions by peer (set by the LinkManager) */
  session: (node: string) => LinkSession | undefined = () => undefined
  /** REPL frames refused for a stale epoch or a sender that is not the leader (tests) */
  refused = 0

  constructor(
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
    takeOver: TakeOver,
  ) {
    this.election = new ReplicaElection(
      state,
      (node) => this.session(node),
      (vhost, name) => this.electable(vhost, name),
      takeOver,
      log,
    )
  }

  /**
   * Attaches to the registry of leaders (core/cluster/replica-registry.ts, installed into the
   * storage at boot) as its shipper and promoter, and the follower side to the placement.
   */
  start(): void {
    const reg = this.state.replicas
    reg.attach(this)
    reg.promote = (leader, open, make, touched) => {
      const k = keyOf(leader.vhost, leader.name)
      const f = this.followers.get(k)
      if (f === undefined) return null
      // this node was a follower and now leads (a failover): the queue starts from its replica
      this.followers.delete(k)
      const store = open()
      const redelivered = new Set<number>()
      for (const h of f.held()) {
        const ref = store.append(f.store.read(h.ref), f.store.recordTimestamp(h.ref))
        if (h.deliveryCount > 0) store.setDeliveryCount(ref, h.deliveryCount)
        if (h.redelivered) redelivered.add(ref)
      }
      void f.destroy()
      this.log.info({ vhost: leader.vhost, queue: leader.name, messages: store.readyCount, epoch: leader.epoch }, 'quorum queue leader here: built from the follower replica')
      // the other members get the new leader's state (their links are up already)
      setImmediate(() => {
        for (const m of leader.followers()) {
          const s = this.session(m)
          if (s !== undefined) this.snapshotTo(leader, s)
        }
      })
      return new ReplicatedStoreList(store, (m, ref, red, count) => make(m, ref, red || redelivered.has(ref), count), touched, leader)
    }
    this.state.placement.listen(this)
    this.state.memberListeners.push(this)
    for (const h of this.state.placement.all()) this.remoteQueueUp(h)
  }

  /** The leader of a queue of this node (tests, the management API). */
  leader(vhost: string, name: string): ReplicaLeader | undefined {
    return this.state.replicas.leader(vhost, name)
  }

  /** The durable sequence this node stands for leader with, or -1: no replica, or one no leader fed. */
  private electable(vhost: string, name: string): number {
    const f = this.followers.get(keyOf(vhost, name))
    return f === undefined || !f.fed ? -1 : f.ackedSeq
  }

  follower(vhost: string, name: string): FollowerReplica | undefined {
    return this.followers.get(keyOf(vhost, name))
  }

  // ---- leader -----------------------------------------------------------------------------------

  schedule(leader: ReplicaLeader): void {
    this.dirty.add(leader)
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    for (const l of this.dirty) {
      l.scheduled = false
      const records = l.pending
      l.pending = []
      if (l.closed || records.length === 0) continue
      let buf: Buffer | null = null
      for (const f of l.followers()) {
        const s = this.session(f)
        if (s === undefined) continue
        s.send((buf ??= encodeBatch(l.vhost, l.name, l.epoch, records)))
      }
    }
    this.dirty.clear()
  }

  /** A link to `node` is up: the queues it follows from here get a snapshot, then the stream. */
  linkUp(node: string, s: LinkSession): void {
    const leaders = this.state.replicas.leaders
    for (const [k, l] of leaders) {
      if (l.closed) {
        leaders.delete(k)
        continue
      }
      if (l.followers().includes(node)) this.snapshotTo(l, s)
    }
  }

  /** Sends a follower the queue's whole state (RESET, then every message); the stream follows. */
  private snapshotTo(l: ReplicaLeader, s: LinkSession): void {
    if (l.closed || l.snapshot === null || s.peer === null) return
    l.forget(s.peer)
    // pending records go out after the snapshot (a follower ignores what it already holds)
    const records = [{ kind: R_RESET, seq: 0, ref: 0, message: null, n: 0 }, ...l.snapshot()]
    const seq = l.lastSeq
    for (const r of records) r.seq = seq
    s.send(encodeBatch(l.vhost, l.name, l.epoch, records))
  }

  // ---- members (failover) -------------------------------------------------------------------------

  memberUp(): void {}

  memberDown(name: string): void {
    this.election.memberDown(name)
  }

  // ---- frames -----------------------------------------------------------------------------------

  /** A frame of the link to `node`: true when it was a replication frame. */
  frame(node: string, type: number, i: In, s: LinkSession): boolean {
    if (type === T.REPL) {
      const b = decodeBatch(i)
      const h = this.state.placement.home(b.vhost, b.name)
      const f = this.followers.get(keyOf(b.vhost, b.name))
      const epoch = h?.epoch ?? 1
      if (h === undefined || f === undefined || b.epoch < f.epoch || b.epoch < epoch || (b.epoch === epoch && h.node !== node)) {
        this.refused++
        this.log.warn({ vhost: b.vhost, queue: b.name, from: node, epoch: b.epoch }, 'replication batch refused (not the leader, stale epoch or not a member here)')
        return true
      }
      f.apply(b.epoch, b.records, (seq) => s.send(new Out(T.REPL_ACK, strLen(b.vhost) + strLen(b.name) + 16).str(b.vhost).str(b.name).f64(b.epoch).f64(seq).buf))
      return true
    }
    if (type === T.VOTE) {
      this.election.frame(node, i)
      return true
    }
    if (type === T.REPL_ACK) {
      const vhost = i.str()
      const name = i.str()
      const epoch = i.f64()
      const seq = i.f64()
      const l = this.leader(vhost, name)
      if (l !== undefined && epoch === l.epoch) l.followerAcked(node, seq)
      return true
    }
    return false
  }

  // ---- follower replicas (placement) -------------------------------------------------------------

  remoteQueueUp(home: QueueHome): void {
    const self = this.state.nodeName
    const k = keyOf(home.vhost, home.name)
    const member = home.members?.includes(self) === true && home.node !== self
    const f = this.followers.get(k)
    if (member && f === undefined) {
      const storage = this.broker.storage
      if (storage === null) return
      const dir = path.join(storage.dir, 'replicas', encodeURIComponent(home.vhost), encodeURIComponent(home.name))
      this.followers.set(k, new FollowerReplica(dir, this.log.child({ vhost: home.vhost, queue: home.name, replica: 'follower' })))
    } else if (!member && f !== undefined) {
      this.followers.delete(k)
      void f.destroy()
    }
  }

  remoteQueueGone(vhost: string, name: string): void {
    const k = keyOf(vhost, name)
    const f = this.followers.get(k)
    // the record names this node now: the replica becomes the queue (storage hook above)
    if (f === undefined || this.state.placement.home(vhost, name)?.node === this.state.nodeName) return
    this.followers.delete(k)
    void f.destroy()
  }

  async close(): Promise<void> {
    this.election.close()
    const reg = this.state.replicas
    reg.attach(null)
    reg.promote = null
    await Promise.all([...this.followers.values()].map((f) => f.close()))
    this.followers.clear()
  }
}
