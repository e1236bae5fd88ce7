/**
 * Failover of a quorum queue's or a replicated stream's leader through etcd (issue 14; a stream votes
 * its durable next offset, stream-replica-manager.ts). When the leader leaves the
 * membership (its lease expired or its key went: ClusterState.memberDown), each follower of its
 * queues sends the other surviving members a VOTE (its highest durable sequence number, the
 * record's epoch) over the node link and collects theirs. Once every surviving member has answered
 * (or after VOTE_WAIT_MS), the follower with the highest sequence number (ties: the smallest name)
 * makes itself leader by ONE etcd transaction on the queue record: compare its mod revision with
 * the one it read (which still names the dead leader at the same epoch) and the dead leader's
 * member key absent, then put node = leader = itself, epoch + 1. Every node's placement follows
 * the record from its watch (stand-ins re-point); the new leader's queue is built from its follower
 * replica (replica-manager.ts). No consensus of our own: etcd's transaction decides, a loser just
 * sees the record change. When the record has not changed RETRY_MS later (the chosen one died
 * too), the survivors vote again. Only a member of the record's `inSync` set may win, and only once
 * a majority of the members have voted (hasMajority).
 *
 *   VOTE  str vhost, str queue, f64 epoch, f64 seq   (link frame type 52)
 */
import type { Etcd3 } from 'etcd3'
import type { Logger } from 'pino'
import type { ClusterState } from '../../core/cluster/cluster-state.js'
import type { QueueHome } from '../../core/cluster/placement.js'
import { isStream } from '../../core/cluster/replica-placement.js'
import { decodeHome, DefinitionKeys, encodeHome } from './definitions-keys.js'
import { Out, strLen, T, type In } from './link-codec.js'
import type { LinkSession } from './link.js'

export const VOTE_WAIT_MS = 500
export const RETRY_MS = 3000

/** What the election needs from etcd: the CAS on the queue record (etcdTakeOver). */
export type TakeOver = (next: QueueHome, dead: string) => Promise<boolean>

/**
 * The take-over transaction: the record still names `dead` at the epoch before `next`'s (compare on
 * its mod revision) and `dead` holds no member key; then the record becomes `next`.
 */
export function etcdTakeOver(etcd: Etcd3, clusterName: string): TakeOver {
  const keys = new DefinitionKeys(clusterName)
  return async (next, dead) => {
    const key = keys.queue(next.vhost, next.name)
    const kv = (await etcd.get(key).exec()).kvs[0]
    if (kv === undefined) return false
    const cur = decodeHome(kv.value.toString())
    if (cur.node !== dead || (cur.epoch ?? 1) !== (next.epoch ?? 1) - 1) return false
    const rec = encodeHome({ ...cur, node: next.node, leader: next.node, epoch: next.epoch })
    const res = await etcd
      .if(key, 'Mod', '==', kv.mod_revision)
      .and(`/warren/${clusterName}/nodes/${dead}`, 'Create', '==', 0)
      .then(etcd.put(key).value(rec))
      .commit()
    return res.succeeded
  }
}

interface Election {
  vhost: string
  name: string
  epoch: number
  dead: string
  votes: Map<string, number>
  timer: NodeJS.Timeout | null
  deciding: boolean
  /** this node has voted */
  started: boolean
}

/** Whether the live voters are a majority of the record's members. */
export function hasMajority(h: QueueHome, voters: Iterable<string>, live: (m: string) => boolean): boolean {
  const members = h.members ?? []
  let n = 0
  for (const m of voters) if (members.includes(m) && live(m)) n++
  return n >= Math.floor(members.length / 2) + 1
}

export class ReplicaElection {
  private readonly elections = new Map<string, Election>()
  /** elections this node won (tests) */
  won = 0

  constructor(
    private readonly state: ClusterState,
    private readonly session: (node: string) => LinkSession | undefined,
    /** this node's highest durable sequence of the queue's replica, or -1 when it holds none */
    private readonly durableSeq: (vhost: string, name: string) => number,
    private readonly takeOver: TakeOver,
    private readonly log: Logger,
  ) {}

  /** `dead` left the membership: elections for the queues it led that this node follows. */
  memberDown(dead: string): void {
    for (const h of this.state.placement.all()) {
      if (h.node === dead && h.members?.includes(this.state.nodeName) === true) this.start(h)
    }
  }

  /** The election of `h`'s current epoch (created empty when new). */
  private election(h: QueueHome): Election {
    const k = `${h.vhost}\u0000${h.name}`
    const epoch = h.epoch ?? 1
    let e = this.elections.get(k)
    if (e === undefined || e.epoch !== epoch || e.dead !== h.node) {
      if (e?.timer) clearTimeout(e.timer)
      e = { vhost: h.vhost, name: h.name, epoch, dead: h.node, votes: new Map(), timer: null, deciding: false, started: false }
      this.elections.set(k, e)
    }
    return e
  }

  private start(h: QueueHome): void {
    const e = this.election(h)
    if (e.started) return
    const mine = this.durableSeq(h.vhost, h.name)
    if (mine < 0) return
    e.started = true
    e.votes.set(this.state.nodeName, mine)
    const vote = new Out(T.VOTE, strLen(h.vhost) + strLen(h.name) + 16).str(h.vhost).str(h.name).f64(e.epoch).f64(mine).buf
    for (const m of this.voters(h)) if (m !== this.state.nodeName) this.session(m)?.send(vote)
    e.timer = setTimeout(() => this.decide(e), VOTE_WAIT_MS)
    this.maybeDecide(e)
  }

  /** the surviving members of the replica set: live, not the dead leader */
  private voters(h: QueueHome): string[] {
    return (h.members ?? []).filter((m) => m !== h.node && this.state.members.has(m))
  }

  /** A VOTE frame from `node`. */
  frame(node: string, i: In): void {
    const vhost = i.str()
    const name = i.str()
    const epoch = i.f64()
    const seq = i.f64()
    const h = this.state.placement.home(vhost, name)
    if (h === undefined || (h.epoch ?? 1) !== epoch || h.members?.includes(this.state.nodeName) !== true) return
    const e = this.election(h)
    e.votes.set(node, seq)
    // a vote may come before this node saw the leader leave: it votes too once it does
    if (this.state.members.has(h.node)) return
    this.start(h)
    if (e.started) this.maybeDecide(e)
  }

  private maybeDecide(e: Election): void {
    const h = this.state.placement.home(e.vhost, e.name)
    if (h === undefined) return
    if (e.started && this.voters(h).every((m) => e.votes.has(m))) this.decide(e)
  }

  private decide(e: Election): void {
    if (e.timer !== null) clearTimeout(e.timer)
    e.timer = null
    const k = `${e.vhost}\u0000${e.name}`
    if (this.elections.get(k) !== e || e.deciding || !e.started) return
    const h = this.state.placement.home(e.vhost, e.name)
    // the record moved on (another member won) or the leader is back: nothing to do
    if (h === undefined || (h.epoch ?? 1) !== e.epoch || h.node !== e.dead || this.state.members.has(e.dead)) {
      this.elections.delete(k)
      return
    }
    let best = ''
    let bestSeq = -1
    // only a member of the record's in-sync set may win (absent: every member), once a majority of
    // the replica set has voted (issue 14: a lagging or lone survivor must not take over)
    const eligible = h.inSync
    if (!hasMajority(h, e.votes.keys(), (m) => this.state.members.has(m) || m === this.state.nodeName)) return this.retryLater(e)
    for (const [m, s] of e.votes) {
      if (!this.state.members.has(m) && m !== this.state.nodeName) continue
      if (eligible !== undefined && !eligible.includes(m)) continue
      if (s > bestSeq || (s === bestSeq && m < best)) {
        best = m
        bestSeq = s
      }
    }
    if (best === this.state.nodeName) {
      e.deciding = true
      const next: QueueHome = { ...h, node: best, leader: best, epoch: e.epoch + 1 }
      const what = isStream(h.arguments) ? 'stream' : 'quorum queue'
      this.takeOver(next, e.dead).then(
        (won) => {
          if (won) this.won++
          this.log.info({ vhost: e.vhost, queue: e.name, epoch: next.epoch, won, seq: bestSeq }, won ? `${what} leader taken over` : `${what} take-over lost`)
        },
        (err: Error) => this.log.warn({ vhost: e.vhost, queue: e.name, err: err.message }, `${what} take-over failed`),
      ).finally(() => {
        e.deciding = false
        this.retryLater(e)
      })
    } else this.retryLater(e)
  }

  /** The chosen member may die before it writes: vote again if the record has not moved. */
  private retryLater(e: Election): void {
    const k = `${e.vhost}\u0000${e.name}`
    e.timer = setTimeout(() => {
      if (this.elections.get(k) !== e) return
      this.elections.delete(k)
      const h = this.state.placement.home(e.vhost, e.name)
      if (h !== undefined && h.node === e.dead && (h.epoch ?? 1) === e.epoch && !this.state.members.has(e.dead)) this.start(h)
    }, RETRY_MS)
    e.timer.unref()
  }

  close(): void {
    for (const e of this.elections.values()) if (e.timer !== null) clearTimeout(e.timer)
    this.elections.clear()
  }
}
