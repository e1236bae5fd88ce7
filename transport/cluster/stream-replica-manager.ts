/**
 * Stream replication over the node links (issue 14), both sides:
 *   - follower: a member of a stream's replica set that does not lead it holds a StreamFollower
 *     (stream-replica-follower.ts) and asks the leader for the records from its next offset
 *     (SFOLLOW, with the last epoch it holds records of) whenever it starts, its link to the leader
 *     comes up, or the record names a new leader. It applies SREPL batches from the record's
 *     leader at the record's epoch only, and acks its durable next offset (SACK).
 *   - leader: the stream queue's StreamReplicaLeader (core/stream/stream-replica-leader.ts) has
 *     a cursor (a StreamReader) per follower that asked; each tick with appends, every cursor
 *     behind the log's end sends what follows it, at most MAX_BATCH records / MAX_BATCH_BYTES per
 *     frame, read from the tail cache or the segment files; a cursor far behind (a follower back
 *     from a restart) catches up in such batches, a few per tick while the link is writable. A
 *     follower whose log goes beyond where it agrees with the leader's (StreamEpochs.endOf) is told
 *     to cut it there first; one asking for offsets the leader's retention removed starts again at
 *     the leader's first offset.
 *   - failover: replica-election.ts elects the member with the highest durable offset
 *     (`durableOffset`); the stream queue the winner then opens takes its follower's log.
 */
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { ClusterState } from '../../core/cluster/cluster-state.js'
import type { PlacementListener, QueueHome } from '../../core/cluster/placement.js'
import { isStream } from '../../core/cluster/replica-placement.js'
import { StreamReader } from '../../core/stream/stream-reader.js'
import type { StreamReplicaLeader, StreamShipper } from '../../core/stream/stream-replica-leader.js'
import type { GroupOffsets } from '../../core/stream/group-offsets.js'
import { streamReplicaDir } from '../../core/stream/stream-replica-registry.js'
import type { Message } from '../../core/message.js'
import { In, messageLen, Out, strLen, T, writeMessage } from './link-codec.js'
import type { LinkSession } from './link.js'
import { StreamFollower, type StreamRecord } from './stream-replica-follower.js'
import path from 'node:path'

const MAX_BATCH = 2000
const MAX_BATCH_BYTES = 1024 * 1024
/** batches per cursor per flush while it is behind (catch-up), before yielding to other I/O */
const CATCH_UP_BATCHES = 4
/** how long a parked log waits for its stream's record to say what becomes of it */
const PARK_CHECKS = 300
const PARK_CHECK_MS = 100

const keyOf = (vhost: string, name: string): string => `${vhost}\u0000${name}`

/** A follower's place in a leader's log. */
interface Cursor {
  node: string
  reader: StreamReader
  /** the version of the leader's group offsets last sent (-1: none yet) */
  groups: number
}

export function decodeStreamBatch(i: In): { vhost: string; name: string; epoch: number; truncate: number; records: StreamRecord[]; groups: [string, number][] } {
  const vhost = i.str()
  const name = i.str()
  const epoch = i.f64()
  const truncate = i.f64()
  const n = i.u32()
  const records: StreamRecord[] = []
  for (let k = 0; k < n; k++) {
    const offset = i.f64()
    const ts = i.f64()
    const len = i.u32()
    if (i.pos + len > i.end) throw new Error('truncated link frame')
    const message = new In(i.buf, i.pos, i.pos + len).message()
    i.pos += len
    records.push({ offset, ts, message })
  }
  // the stream's consumer-group offsets, when they changed since the last batch
  const groups: [string, number][] = []
  if (i.pos < i.end) for (let g = i.u32(); g > 0; g--) groups.push([i.str(), i.f64()])
  return { vhost, name, epoch, truncate, records, groups }
}

export class StreamReplicaManager implements StreamShipper, PlacementListener {
  private readonly followers = new Map<string, StreamFollower>()
  private readonly cursors = new Map<StreamReplicaLeader, Map<string, Cursor>>()
  private dirty = new Set<StreamReplicaLeader>()
  private flushScheduled = false
  private readonly parkTimers = new Set<NodeJS.Timeout>()
  // one batch's records, reused
  private readonly bOffsets: number[] = []
  private readonly bTs: number[] = []
  private readonly bMsgs: Message[] = []
  private closed = false
  /** the link sessions by peer (set by the ReplicaManager) */
  session: (node: string) => LinkSession | undefined = () => undefined
  /** batches refused for a stale epoch or a sender that is not the leader (tests) */
  refused = 0

  constructor(
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
  ) {}

  private get reg() {
    return this.state.replicas.streams
  }

  start(): void {
    const reg = this.reg
    reg.attach(this)
    reg.takeFollower = (vhost, name) => {
      const k = keyOf(vhost, name)
      const f = this.followers.get(k)
      if (f === undefined) return null
      this.followers.delete(k)
      this.log.info({ vhost, queue: name, next: f.log.nextOffset, epoch: this.state.placement.home(vhost, name)?.epoch }, 'stream leader here: it serves its replica\'s log')
      return f.release()
    }
    reg.onParked = (vhost, name) => this.parked(vhost, name)
    this.state.placement.listen(this)
    for (const h of this.state.placement.all()) if (h.node !== this.state.nodeName) this.remoteQueueUp(h)
  }

  follower(vhost: string, name: string): StreamFollower | undefined {
    return this.followers.get(keyOf(vhost, name))
  }

  leader(vhost: string, name: string): StreamReplicaLeader | undefined {
    return this.reg.leaderOf(vhost, name)
  }

  /** This node's durable next offset of the stream's replica, or -1 when it follows none (the election's vote). */
  durableOffset(vhost: string, name: string): number {
    return this.followers.get(keyOf(vhost, name))?.durableNext ?? -1
  }

  // ---- leader -----------------------------------------------------------------------------------

  schedule(l: StreamReplicaLeader): void {
    this.dirty.add(l)
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    const dirty = this.dirty
    this.dirty = new Set()
    let behind = false
    for (const l of dirty) {
      l.scheduled = false
      const cs = this.cursors.get(l)
      if (l.closed) {
        this.cursors.delete(l)
        continue
      }
      l.tick()
      if (cs === undefined) continue
      l.noteEpoch()
      for (const c of cs.values()) {
        const s = this.session(c.node)
        if (s === undefined || !s.isUp) continue
        let n = 0
        while (n++ < CATCH_UP_BATCHES && s.writable && this.ship(l, c, s));
        if (c.reader.next < l.log.nextOffset || (l.groups !== null && c.groups !== l.groups.version)) {
          behind = true
          this.dirty.add(l)
        } else c.reader.release()
      }
    }
    // followers catching up: go on once other I/O had its turn (and the links drained)
    if (behind && !this.flushScheduled && !this.closed) {
      this.flushScheduled = true
      setTimeout(() => this.flush(), 1)
    }
  }

  /** Sends `c` one batch of what follows it; true when there is more. */
  private ship(l: StreamReplicaLeader, c: Cursor, s: LinkSession): boolean {
    const log = l.log
    const r = c.reader
    const groups = l.groups !== null && c.groups !== l.groups.version ? l.groups : null
    if (r.next >= log.nextOffset && groups === null) return false
    if (r.next < log.firstOffset) {
      // retention removed what the follower lacks: it starts again at the first offset kept
      this.cursors.get(l)?.delete(c.node)
      s.send(this.encode(l, log.firstOffset, 0))
      return false
    }
    const offsets = this.bOffsets
    const ts = this.bTs
    const msgs = this.bMsgs
    let n = 0
    let bytes = 0
    while (n < MAX_BATCH && bytes < MAX_BATCH_BYTES && r.next < log.nextOffset) {
      const m = r.read()
      if (m === undefined) break
      offsets[n] = r.next - 1
      ts[n] = r.lastTs
      msgs[n] = m
      bytes += messageLen(m)
      n++
    }
    if (n > 0 || groups !== null) s.send(this.encode(l, -1, n, groups))
    if (groups !== null) c.groups = groups.version
    msgs.length = 0
    return r.next < log.nextOffset
  }

  /** One SREPL frame: the first `n` records of this batch's arrays, or a truncate instruction (n 0). */
  private encode(l: StreamReplicaLeader, truncate: number, n: number, groups: GroupOffsets | null = null): Buffer {
    let size = strLen(l.vhost) + strLen(l.name) + 8 + 8 + 4
    for (let k = 0; k < n; k++) size += 20 + messageLen(this.bMsgs[k])
    if (groups !== null) {
      size += 4
      for (const name of groups.committed.keys()) size += strLen(name) + 8
    }
    const o = new Out(T.SREPL, size).str(l.vhost).str(l.name).f64(l.epoch).f64(truncate).u32(n)
    for (let k = 0; k < n; k++) {
      const m = this.bMsgs[k]
      writeMessage(o.f64(this.bOffsets[k]).f64(this.bTs[k]).u32(messageLen(m)), m)
    }
    if (groups !== null) {
      o.u32(groups.committed.size)
      for (const [name, offset] of groups.committed) o.str(name).f64(offset)
    }
    return o.buf
  }

  /** SFOLLOW from `node`: its cursor starts at its next offset, or it is told where to cut its log. */
  private followFrom(node: string, vhost: string, name: string, epoch: number, next: number, lastEpoch: number, s: LinkSession): void {
    const l = this.reg.leaderOf(vhost, name)
    if (l === undefined || epoch !== l.epoch || !l.followers().includes(node)) {
      this.refused++
      return
    }
    l.noteEpoch()
    l.forget(node)
    let cs = this.cursors.get(l)
    if (cs === undefined) this.cursors.set(l, (cs = new Map()))
    cs.delete(node)
    const log = l.log
    const agree = Math.min(next, l.epochs.endOf(lastEpoch, log.nextOffset))
    if (agree < next || next < log.firstOffset) {
      // cut what the leader's log does not hold (or start again at its first offset), then ask again
      s.send(this.encode(l, next < log.firstOffset ? log.firstOffset : agree, 0))
      return
    }
    cs.set(node, { node, reader: new StreamReader(log, next), groups: -1 })
    this.schedule(l)
  }

  // ---- follower ---------------------------------------------------------------------------------

  /** Asks the stream's leader for the records after this replica's log. */
  private follow(h: QueueHome, f: StreamFollower, link?: LinkSession): void {
    if (f.truncating) return
    const s = link ?? this.session(h.node)
    // the session handed to linkUp is not marked up yet, but sends (as the quorum snapshot does)
    if (s === undefined || (link === undefined && !s.isUp)) return
    const epoch = h.epoch ?? 1
    s.send(new Out(T.SFOLLOW, strLen(h.vhost) + strLen(h.name) + 24).str(h.vhost).str(h.name).f64(epoch).f64(f.log.nextOffset).f64(f.epochs.last).buf)
    s.send(this.sack(h.vhost, h.name, epoch, f.durableNext))
  }

  private sack(vhost: string, name: string, epoch: number, next: number): Buffer {
    return new Out(T.SACK, strLen(vhost) + strLen(name) + 16).str(vhost).str(name).f64(epoch).f64(next).buf
  }

  remoteQueueUp(h: QueueHome, link?: LinkSession): void {
    if (!isStream(h.arguments)) return
    const self = this.state.nodeName
    const k = keyOf(h.vhost, h.name)
    const member = h.members?.includes(self) === true && h.node !== self
    let f = this.followers.get(k)
    if (!member) {
      if (f !== undefined) {
        this.followers.delete(k)
        void f.destroy()
      }
      void this.reg.unpark(h.vhost, h.name)?.destroy()
      return
    }
    if (f === undefined) {
      const storage = this.broker.storage
      if (storage === null) return
      const parked = this.reg.unpark(h.vhost, h.name) ?? null
      const dir = path.join(storage.dir, streamReplicaDir(h.vhost, h.name))
      f = new StreamFollower({ dir, log: this.log.child({ vhost: h.vhost, queue: h.name, replica: 'stream-follower' }), arguments: h.arguments, stats: storage.stats }, parked)
      this.followers.set(k, f)
    }
    if (f.leader !== h.node || f.recordEpoch !== (h.epoch ?? 1)) {
      f.leader = h.node
      f.recordEpoch = h.epoch ?? 1
      this.follow(h, f, link)
    }
  }

  remoteQueueGone(vhost: string, name: string): void {
    // the record names this node now: the stream queue it opens takes the follower's log (takeFollower)
    if (this.state.placement.home(vhost, name)?.node === this.state.nodeName) return
    const k = keyOf(vhost, name)
    const f = this.followers.get(k)
    if (f !== undefined) {
      this.followers.delete(k)
      void f.destroy()
    }
    void this.reg.unpark(vhost, name)?.destroy()
  }

  /**
   * A stream left this node's vhost with its log: it follows the new leader with it (placement's
   * remoteQueueUp, right after) or, once its record is gone (deleted), the log is deleted.
   */
  private parked(vhost: string, name: string): void {
    let checks = 0
    const check = (): void => {
      if (this.closed || !this.reg.parked.has(keyOf(vhost, name))) return
      const h = this.state.placement.home(vhost, name)
      if (h === undefined) return void this.reg.unpark(vhost, name)?.destroy()
      if (h.node !== this.state.nodeName) return this.remoteQueueUp(h)
      // still named here (its deletion is on its way from etcd): look again
      if (++checks > PARK_CHECKS) return void this.reg.unpark(vhost, name)?.close()
      const t = setTimeout(() => {
        this.parkTimers.delete(t)
        check()
      }, PARK_CHECK_MS)
      this.parkTimers.add(t)
    }
    setImmediate(check)
  }

  // ---- links and frames -------------------------------------------------------------------------

  /** A link to `node` is up: cursors of its old link are gone; this node's followers of its streams ask again. */
  linkUp(node: string, s: LinkSession): void {
    for (const cs of this.cursors.values()) cs.delete(node)
    for (const f of this.followers.values()) f.leader = f.leader === node ? '' : f.leader
    for (const h of this.state.placement.all()) if (h.node === node) this.remoteQueueUp(h, s)
  }

  /** A frame of the link to `node`: true when it was a stream replication frame. */
  frame(node: string, type: number, i: In, s: LinkSession): boolean {
    if (type === T.SREPL) {
      const b = decodeStreamBatch(i)
      const h = this.state.placement.home(b.vhost, b.name)
      const f = this.followers.get(keyOf(b.vhost, b.name))
      if (h === undefined || f === undefined || h.node !== node || b.epoch !== (h.epoch ?? 1) || b.epoch < f.epoch) {
        this.refused++
        this.log.warn({ vhost: b.vhost, queue: b.name, from: node, epoch: b.epoch }, 'stream replication batch refused (not the leader, stale epoch or not a member here)')
        return true
      }
      f.apply(
        b.epoch,
        b.truncate,
        b.records,
        b.groups,
        (next) => s.send(this.sack(b.vhost, b.name, b.epoch, next)),
        () => this.follow(this.state.placement.home(b.vhost, b.name) ?? h, f),
      )
      return true
    }
    if (type === T.SACK) {
      const vhost = i.str()
      const name = i.str()
      const epoch = i.f64()
      const next = i.f64()
      const l = this.reg.leaderOf(vhost, name)
      if (l !== undefined && epoch === l.epoch) l.followerAcked(node, next)
      return true
    }
    if (type === T.SFOLLOW) {
      const vhost = i.str()
      const name = i.str()
      const epoch = i.f64()
      const next = i.f64()
      const lastEpoch = i.f64()
      this.followFrom(node, vhost, name, epoch, next, lastEpoch, s)
      return true
    }
    return false
  }

  async close(): Promise<void> {
    this.closed = true
    for (const t of this.parkTimers) clearTimeout(t)
    this.parkTimers.clear()
    const reg = this.reg
    reg.attach(null)
    reg.takeFollower = null
    reg.onParked = null
    const logs = [...this.followers.values()].map((f) => f.close())
    for (const k of [...reg.parked.keys()]) {
      const [vhost, name] = k.split('\u0000')
      const log = reg.unpark(vhost, name)
      if (log !== undefined) logs.push(log.close())
    }
    this.followers.clear()
    await Promise.all(logs)
  }
}
