/**
 * Quorum queue replication over the node links (issue 14, phase 1), both sides:
 *   - leader: the registry (core/cluster/replica-registry.ts) makes every durable quorum queue of
 *     a cluster node a ReplicatedStoreList (core/cluster/replica-list.ts) with a ReplicaLeader; the records of a tick
 *     leave as one REPL frame per queue, sent to each follower whose link is up (epoch in every
 *     batch). A follower whose link (re)connects gets the queue's whole state first (RESET then every
 *     ready and unacked message), then the stream. REPL_ACK frames from followers advance the
 *     leader's majority (what confirms wait for).
 *   - follower: REPL frames go to the queue's FollowerReplica (replica-follower.ts; kept across restarts), created when
 *     the queue's record names this node among its members; one from a node that is not the
 *     record's leader, or with a lower epoch than the record's or than one seen, is refused (a
 *     higher epoch than the record's is taken: the new leader's record is on its way here).
 *   - failover: replica-election.ts elects a follower when a leader leaves; the queue the winner
 *     then declares from etcd's record is built from its follower replica (promote()).
 *   - catch-up and the in-sync set (replica-sync.ts): a follower sends REPL_SYNC (its epoch and
 *     durable sequence) when its link to the leader is up or its replica is new, again every
 *     SYNC_RETRY_MS until answered; the leader answers with the records it lacks or a snapshot, then
 *     ships to it. Every CHECK_MS the leader works out the in-sync set (written to etcd when it
 *     changes) and the figures (REPL_STATUS to every node).
 */
import path from 'node:path'
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { ClusterState, MemberListener } from '../../core/cluster/cluster-state.js'
import type { PlacementListener, QueueHome } from '../../core/cluster/placement.js'
import { R_ENQ, type ReplicaLeader, type ReplicaRecord, type ReplicaShipper } from '../../core/cluster/replica-leader.js'
import { ReplicatedStoreList } from '../../core/cluster/replica-list.js'
import { replicaKey } from '../../core/cluster/replica-registry.js'
import { In, messageLen, Out, strLen, T, writeMessage } from './link-codec.js'
import type { LinkSession } from './link.js'
import { ReplicaElection, VOTE_WAIT_MS, type TakeOver } from './replica-election.js'
import { FollowerReplica } from './replica-follower.js'
import { isStream } from '../../core/cluster/replica-placement.js'
import { StreamReplicaManager } from './stream-replica-manager.js'
import type { SetInSync } from './replica-members.js'
import { CHECK_MS, LeaderSync, WRITE_MIN_MS, type SyncAnswer } from './replica-sync.js'

/** a queue's in-sync writes: one at a time, at most once per WRITE_MIN_MS (LeaderSync has these too) */
interface InSyncWrites {
  writing: boolean
  lastWrite: number
}

/** a stream follower this many offsets behind (or more) is out of the stream's in-sync set */
const STREAM_IN_SYNC_LAG = 10_000
/** a follower whose REPL_SYNC was not answered asks again after this long */
const SYNC_RETRY_MS = 1000

const keyOf = replicaKey
const splitKey = (k: string): [string, string] => k.split('\u0000', 2) as [string, string]

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
  /** replicated streams (stream-replica-manager.ts): link frames SREPL/SACK/SFOLLOW, same election */
  readonly streams: StreamReplicaManager
  private readonly followers = new Map<string, FollowerReplica>()
  private readonly dirty = new Set<ReplicaLeader>()
  private flushScheduled = false
  /** the link sessions by peer (set by the LinkManager) */
  session: (node: string) => LinkSession | undefined = () => undefined
  /** REPL frames refused for a stale epoch or a sender that is not the leader (tests) */
  refused = 0
  private readonly syncs = new Map<ReplicaLeader, LeaderSync>()
  /** follower side: the session its last REPL_SYNC was answered on, and when one was last sent */
  private readonly followerSynced = new Map<string, LinkSession>()
  private readonly syncSentAt = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null
  /** the leader's write of a record's in-sync set (replica-members.ts; null: not written) */
  setInSync: SetInSync | null = null
  /** the last REPL_SYNC answers of this node as leader (tests count catch-up records) */
  readonly syncAnswers: (SyncAnswer & { node: string; vhost: string; name: string })[] = []

  constructor(
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
    takeOver: TakeOver,
  ) {
    this.streams = new StreamReplicaManager(broker, state, log)
    this.streams.session = (node) => this.session(node)
    this.election = new ReplicaElection(
      state,
      (node) => this.session(node),
      // a quorum follower's durable sequence (-1: it may not stand), a stream follower's durable next offset
      (vhost, name) => (this.followers.has(keyOf(vhost, name)) ? this.electable(vhost, name) : this.streams.durableOffset(vhost, name)),
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
      // the new leader's sequence numbers go on above what its replica holds
      if (leader.lastSeq <= f.appliedSeq) leader.lastSeq = leader.durableSeq = f.appliedSeq + 1
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
    this.streams.start()
    this.timer = setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  private syncOf(l: ReplicaLeader): LeaderSync {
    let s = this.syncs.get(l)
    if (s === undefined) this.syncs.set(l, (s = new LeaderSync(l)))
    return s
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
      const sync = this.syncOf(l)
      let buf: Buffer | null = null
      for (const f of l.followers()) {
        const s = this.session(f)
        // a follower gets the stream once its REPL_SYNC was answered on this link
        if (s === undefined || !sync.shipsTo(f, s)) continue
        s.send((buf ??= encodeBatch(l.vhost, l.name, l.epoch, records)))
      }
      sync.shipped(records)
    }
    this.dirty.clear()
  }

  /**
   * A link to `node` is up: the queues this node follows there ask for what they lack (the queues
   * it follows from here wait for its REPL_SYNC).
   */
  linkUp(node: string, s: LinkSession): void {
    this.streams.linkUp(node, s)
    const leaders = this.state.replicas.leaders
    for (const [k, l] of leaders) if (l.closed) leaders.delete(k)
    for (const [k, f] of this.followers) {
      const h = this.state.placement.home(...splitKey(k))
      if (h?.node === node) this.sendSync(h, f, s)
    }
  }

  /** Follower side: tells the leader this replica's epoch and durable sequence. */
  private sendSync(h: QueueHome, f: FollowerReplica, s: LinkSession): void {
    this.syncSentAt.set(keyOf(h.vhost, h.name), Date.now())
    s.send(new Out(T.REPL_SYNC, strLen(h.vhost) + strLen(h.name) + 16).str(h.vhost).str(h.name).f64(f.epoch).f64(f.ackedSeq).buf)
  }

  /** Sends a follower the queue's whole state (RESET, then every message, in chunks); the stream follows. */
  private snapshotTo(l: ReplicaLeader, s: LinkSession): void {
    if (l.closed || l.snapshot === null || s.peer === null) return
    this.answerSync(l, s.peer, s, 0, 0)
  }

  /** Leader side: a follower's REPL_SYNC (or a snapshot this leader decided to send). */
  private answerSync(l: ReplicaLeader, node: string, s: LinkSession, epoch: number, seq: number): void {
    const a = this.syncOf(l).sync(node, s, epoch, seq, (records) => s.send(encodeBatch(l.vhost, l.name, l.epoch, records)))
    this.syncAnswers.push({ ...a, node, vhost: l.vhost, name: l.name })
    if (this.syncAnswers.length > 100) this.syncAnswers.shift()
    this.log.debug({ vhost: l.vhost, queue: l.name, follower: node, epoch, seq, ...a }, 'follower synced')
  }

  // ---- in-sync set and figures (every CHECK_MS) -----------------------------------------------------

  private check(): void {
    const now = Date.now()
    const up = (node: string, s: LinkSession): boolean => this.state.members.has(node) && this.session(node) === s
    for (const l of this.state.replicas.leaders.values()) if (!l.closed && l.snapshot !== null) this.syncOf(l)
    for (const [l, sync] of this.syncs) {
      if (l.closed || this.state.replicas.leader(l.vhost, l.name) !== l) {
        this.syncs.delete(l)
        continue
      }
      const h = l.home
      if (h === undefined || h.node !== this.state.nodeName) continue
      const { inSync, figures } = sync.check(up, h.inSync, now)
      this.state.replicaStatus.set(l.vhost, l.name, figures)
      const json = sync.statusToSend(figures, now)
      if (json !== null) {
        const frame = new Out(T.REPL_STATUS, strLen(l.vhost) + strLen(l.name) + strLen(json)).str(l.vhost).str(l.name).str(json).buf
        for (const m of this.state.members.keys()) if (m !== this.state.nodeName) this.session(m)?.send(frame)
      }
      this.writeInSync(sync, l, l.epoch, inSync, h.inSync ?? [], now, 'quorum queue')
    }
    this.checkStreams(now)
    // followers whose REPL_SYNC was not answered on the current link ask again
    for (const [k, f] of this.followers) {
      const h = this.state.placement.home(...splitKey(k))
      if (h === undefined) continue
      const s = this.session(h.node)
      if (s === undefined || this.followerSynced.get(k) === s || now - (this.syncSentAt.get(k) ?? 0) < SYNC_RETRY_MS) continue
      this.sendSync(h, f, s)
    }
  }

  /** the in-sync writes of each stream led here */
  private readonly streamSyncWrites = new Map<string, InSyncWrites>()

  /**
   * Writes a queue's in-sync set to its record when it differs from the recorded one, one write at
   * a time and at most once per WRITE_MIN_MS (quorum queues and streams alike).
   */
  private writeInSync(w: InSyncWrites, l: { vhost: string; name: string; self: string }, epoch: number, inSync: string[], recorded: string[], now: number, what: string): void {
    if (this.setInSync === null || inSync.join(',') === recorded.join(',') || w.writing || now - w.lastWrite < WRITE_MIN_MS) return
    w.writing = true
    w.lastWrite = now
    this.setInSync(l.vhost, l.name, l.self, epoch, inSync).then(
      (ok) => this.log.info({ vhost: l.vhost, queue: l.name, inSync, written: ok }, `${what} in-sync set changed`),
      (err: Error) => this.log.warn({ vhost: l.vhost, queue: l.name, err: err.message }, 'in-sync set not written'),
    ).finally(() => (w.writing = false))
  }

  /**
   * The in-sync set of each stream led here, kept in its record as for quorum queues (only its
   * members may win an election): the leader and the followers whose link is up and that hold
   * every offset but at most STREAM_IN_SYNC_LAG durable. Written only when it changes.
   */
  private checkStreams(now: number): void {
    if (this.setInSync === null) return
    const leaders = this.state.replicas.streams.leaders
    for (const k of this.streamSyncWrites.keys()) if (!leaders.has(k)) this.streamSyncWrites.delete(k)
    for (const l of leaders.values()) {
      if (l.closed) continue
      const h = this.state.placement.home(l.vhost, l.name)
      if (h === undefined || h.node !== this.state.nodeName || h.members === undefined) continue
      const next = l.log.nextOffset
      const inSync = h.members.filter((m) => {
        if (m === h.node) return true
        const acked = l.acked.get(m)
        return acked !== undefined && next - acked <= STREAM_IN_SYNC_LAG && this.state.members.has(m) && this.session(m) !== undefined
      })
      const k = keyOf(l.vhost, l.name)
      let w = this.streamSyncWrites.get(k)
      if (w === undefined) this.streamSyncWrites.set(k, (w = { writing: false, lastWrite: 0 }))
      this.writeInSync(w, l, h.epoch ?? 1, inSync, h.inSync ?? h.members, now, 'stream')
    }
  }

  // ---- members (failover) -------------------------------------------------------------------------

  memberUp(): void {}

  memberDown(name: string): void {
    this.election.memberDown(name)
  }

  // ---- frames -----------------------------------------------------------------------------------

  /** A frame of the link to `node`: true when it was a replication frame. */
  frame(node: string, type: number, i: In, s: LinkSession): boolean {
    if (type >= T.SREPL && type <= T.SFOLLOW) return this.streams.frame(node, type, i, s)
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
      this.followerSynced.set(keyOf(b.vhost, b.name), s)
      f.apply(b.epoch, b.records, (seq) => s.send(new Out(T.REPL_ACK, strLen(b.vhost) + strLen(b.name) + 16).str(b.vhost).str(b.name).f64(b.epoch).f64(seq).buf))
      return true
    }
    if (type === T.REPL_SYNC) {
      const vhost = i.str()
      const name = i.str()
      const epoch = i.f64()
      const seq = i.f64()
      const l = this.leader(vhost, name)
      if (l !== undefined && l.followers().includes(node) && l.snapshot !== null) this.answerSync(l, node, s, epoch, seq)
      return true
    }
    if (type === T.REPL_STATUS) {
      const vhost = i.str()
      const name = i.str()
      const json = i.str()
      try {
        this.state.replicaStatus.set(vhost, name, JSON.parse(json))
      } catch {
        this.log.warn({ from: node, vhost, queue: name }, 'bad replica figures ignored')
      }
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
    // streams have their own followers (stream-replica-manager.ts)
    if (isStream(home.arguments)) return
    const self = this.state.nodeName
    const k = keyOf(home.vhost, home.name)
    const member = home.members?.includes(self) === true && home.node !== self
    const f = this.followers.get(k)
    if (member && f === undefined) {
      const storage = this.broker.storage
      if (storage === null) return
      const dir = path.join(storage.dir, 'replicas', encodeURIComponent(home.vhost), encodeURIComponent(home.name))
      const nf = new FollowerReplica(dir, this.log.child({ vhost: home.vhost, queue: home.name, replica: 'follower' }))
      this.followers.set(k, nf)
      const s = this.session(home.node)
      if (s !== undefined) this.sendSync(home, nf, s)
      // its leader is not a member (every member restarted, the leader not yet or not at all): elect
      else if (!this.state.members.has(home.node)) setTimeout(() => this.leaderAbsent(home.vhost, home.name), VOTE_WAIT_MS).unref()
    } else if (!member && f !== undefined) {
      this.dropFollower(k, f)
    }
  }

  remoteQueueGone(vhost: string, name: string): void {
    const k = keyOf(vhost, name)
    const f = this.followers.get(k)
    // the record names this node now: the replica becomes the queue (storage hook above)
    if (f === undefined || this.state.placement.home(vhost, name)?.node === this.state.nodeName) return
    this.dropFollower(k, f)
  }

  /** This node is no longer a member: its replica's store is deleted. */
  private dropFollower(k: string, f: FollowerReplica): void {
    this.followers.delete(k)
    this.followerSynced.delete(k)
    this.syncSentAt.delete(k)
    void f.destroy()
  }

  /** A followed queue's leader is still not a member: the survivors elect one. */
  private leaderAbsent(vhost: string, name: string): void {
    const h = this.state.placement.home(vhost, name)
    if (h !== undefined && !this.state.members.has(h.node) && this.followers.has(keyOf(vhost, name))) this.election.memberDown(h.node)
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.election.close()
    await this.streams.close()
    const reg = this.state.replicas
    reg.attach(null)
    reg.promote = null
    await Promise.all([...this.followers.values()].map((f) => f.close()))
    this.followers.clear()
  }
}
