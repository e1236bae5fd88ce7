/**
 * A quorum queue leader's view of its followers (issue 14): catch-up and the in-sync set.
 *   - The log tail: the records the leader has shipped and not every follower has acked durable
 *     (a follower away keeps them), newest last, bounded (TAIL_RECORDS records and TAIL_BYTES of
 *     message data). A follower that (re)connects or restarts sends REPL_SYNC with
 *     its epoch and durable sequence; when it is at the leader's epoch and the tail still holds every
 *     record after its sequence, the leader sends just those (in chunks of at most CHUNK_BYTES),
 *     else a snapshot of the queue's state in chunks (RESET first; every chunk but the last carries
 *     sequence 0, so a follower that stops half way does not claim the snapshot). Until its
 *     REPL_SYNC is answered on the current link, a follower is sent nothing (no gaps).
 *   - In sync: a follower is caught up when its link is up, it has acked what the leader had when it
 *     synced, and its lag is 0 or at most MAX_LAG records with an ack in the last LAG_WINDOW_MS. It
 *     joins the in-sync set once caught up and leaves it when it has not been for LAG_WINDOW_MS
 *     (Kafka's replica.lag.time.max.ms; from the leader's start for a follower not synced yet).
 *     The leader checks every CHECK_MS and writes the record's `inSync` to etcd (compare on the
 *     record's mod revision) when the set changes, at most once per WRITE_MIN_MS; never per message.
 *   - Figures (each member's durable sequence, lag, in sync) go to every node at most once a second
 *     when they changed (REPL_STATUS), for the management API of any node.
 */
import type { ReplicaLeader, ReplicaRecord } from '../../core/cluster/replica-leader.js'
import { R_ENQ, R_RESET } from '../../core/cluster/replica-leader.js'
import type { MemberFigures, ReplicaFigures } from '../../core/cluster/replica-status.js'
import type { LinkSession } from './link.js'

export const TAIL_RECORDS = 100_000
export const TAIL_BYTES = 16 * 1024 * 1024
export const CHUNK_BYTES = 1024 * 1024
export const CHUNK_RECORDS = 20_000
export const MAX_LAG = 10_000
export const LAG_WINDOW_MS = 2000
export const CHECK_MS = 500
export const WRITE_MIN_MS = 1000
export const STATUS_MIN_MS = 1000

interface FollowerView {
  /** the link session its REPL_SYNC was answered on */
  session: LinkSession
  /** the leader's last sequence when it synced: in sync only once acked */
  syncSeq: number
  /** last ack seen by the check, and when it moved */
  acked: number
  progressAt: number
}

/** How a sync was answered (tests count catch-up records). */
export interface SyncAnswer {
  kind: 'tail' | 'snapshot'
  records: number
  chunks: number
}

export class LeaderSync {
  private tail: ReplicaRecord[] = []
  private head = 0
  private tailBytes = 0
  /** the tail holds every record after this sequence, up to flushedSeq */
  private coverFrom: number
  private flushedSeq: number
  readonly views = new Map<string, FollowerView>()
  /** the in-sync set last written (or being written) to etcd, joined */
  written = ''
  writing = false
  lastWrite = 0
  private statusSent = ''
  private statusAt = 0
  /** when each follower was last caught up */
  private readonly okAt = new Map<string, number>()
  private readonly createdAt = Date.now()

  constructor(readonly leader: ReplicaLeader) {
    this.coverFrom = this.flushedSeq = leader.lastSeq
  }

  /** May records go to `node` over `s`? (its REPL_SYNC was answered on this session) */
  shipsTo(node: string, s: LinkSession): boolean {
    return this.views.get(node)?.session === s
  }

  /** A tick's records were shipped: keep them for catch-up. */
  shipped(records: readonly ReplicaRecord[]): void {
    for (let i = 0; i < records.length; i++) {
      const r = records[i]
      this.tail.push(r)
      if (r.kind === R_ENQ) this.tailBytes += r.message!.data.length
    }
    if (records.length > 0) this.flushedSeq = records[records.length - 1].seq
    // what every follower holds durable is not needed for its catch-up (Raft compacts up to the
    // lowest match index): with every follower acking, the tail keeps only a tick or two
    let floor = Infinity
    for (const f of this.leader.followers()) floor = Math.min(floor, this.leader.acked.get(f) ?? -Infinity)
    while (this.head < this.tail.length && (this.tail[this.head].seq <= floor || this.tail.length - this.head > TAIL_RECORDS || this.tailBytes > TAIL_BYTES)) {
      const r = this.tail[this.head++]
      if (r.kind === R_ENQ) this.tailBytes -= r.message!.data.length
      this.coverFrom = r.seq
    }
    if (this.head > 4096 && this.head * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.head)
      this.head = 0
    }
  }

  /**
   * A follower's REPL_SYNC (its epoch and durable sequence): sends it what it lacks through
   * `send` (REPL frames), and ships to it from now on.
   */
  sync(node: string, s: LinkSession, epoch: number, seq: number, send: (records: ReplicaRecord[]) => void): SyncAnswer {
    const l = this.leader
    let answer: SyncAnswer
    if (epoch === l.epoch && seq >= this.coverFrom && seq <= this.flushedSeq) {
      const out: ReplicaRecord[] = []
      for (let i = this.head; i < this.tail.length; i++) if (this.tail[i].seq > seq) out.push(this.tail[i])
      const chunks = this.sendChunks(out, send, false)
      if (seq > 0) l.followerAcked(node, seq)
      answer = { kind: 'tail', records: out.length, chunks }
    } else {
      l.forget(node)
      const records = [{ kind: R_RESET, seq: 0, ref: 0, message: null, n: 0 }, ...(l.snapshot?.() ?? [])]
      answer = { kind: 'snapshot', records: records.length, chunks: this.sendChunks(records, send, true) }
    }
    this.views.set(node, { session: s, syncSeq: l.lastSeq, acked: -1, progressAt: Date.now() })
    return answer
  }

  /** Sends records in bounded chunks; a snapshot's chunks carry sequence 0 but the last one. */
  private sendChunks(records: ReplicaRecord[], send: (records: ReplicaRecord[]) => void, snapshot: boolean): number {
    const last = this.leader.lastSeq
    let chunks = 0
    let start = 0
    let bytes = 0
    const cut = (end: number, final: boolean): void => {
      const part = records.slice(start, end)
      if (snapshot) {
        const seq = final ? last : 0
        for (let i = 0; i < part.length; i++) part[i] = { ...part[i], seq }
      }
      send(part)
      chunks++
      start = end
      bytes = 0
    }
    for (let i = 0; i + 1 < records.length; i++) {
      const r = records[i]
      if (r.kind === R_ENQ) bytes += r.message!.data.length + 64
      if (i + 1 - start >= CHUNK_RECORDS || bytes >= CHUNK_BYTES) cut(i + 1, false)
    }
    // the last chunk (empty when there is nothing to send: it still answers the sync)
    cut(records.length, true)
    return chunks
  }

  /**
   * The in-sync members now (the leader first, then the followers in the record's order) and the
   * figures; `up(node)` says whether the node is live with the session its view was synced on.
   */
  check(up: (node: string, s: LinkSession) => boolean, recorded: string[] | undefined, now: number): { inSync: string[]; figures: ReplicaFigures } {
    const l = this.leader
    const members: Record<string, MemberFigures> = { [l.self]: { seq: l.lastSeq, lag: 0, inSync: true } }
    const inSync = [l.self]
    for (const f of l.followers()) {
      const v = this.views.get(f)
      const acked = l.acked.get(f) ?? -1
      if (v !== undefined && acked !== v.acked) {
        v.acked = acked
        v.progressAt = now
      }
      const lag = acked < 0 ? -1 : Math.max(0, l.lastSeq - acked)
      const caughtUp = v !== undefined && up(f, v.session) && acked >= v.syncSeq && (lag === 0 || (lag <= MAX_LAG && now - v.progressAt < LAG_WINDOW_MS))
      if (caughtUp) this.okAt.set(f, now)
      const ok = caughtUp || ((recorded === undefined || recorded.includes(f)) && now - (this.okAt.get(f) ?? this.createdAt) < LAG_WINDOW_MS)
      if (ok) inSync.push(f)
      members[f] = { seq: acked, lag, inSync: ok }
    }
    return { inSync, figures: { leader: l.self, epoch: l.epoch, lastSeq: l.lastSeq, members, at: now } }
  }

  /** The figures as JSON when they should be sent to the other nodes now (changed, rate limited). */
  statusToSend(figures: ReplicaFigures, now: number): string | null {
    const key = JSON.stringify(figures.members)
    if (key === this.statusSent || now - this.statusAt < STATUS_MIN_MS) return null
    this.statusSent = key
    this.statusAt = now
    return JSON.stringify(figures)
  }
}
