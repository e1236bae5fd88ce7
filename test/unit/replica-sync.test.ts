/**
 * LeaderSync (transport/cluster/replica-sync.ts): a REPL_SYNC is answered from the leader's log
 * tail when it covers the follower's sequence at the leader's epoch (only the records after it),
 * else by a snapshot in bounded chunks (RESET first, sequence 0 on every chunk but the last).
 */
import { describe, expect, it } from 'vitest'
import { R_ENQ, R_RESET, ReplicaLeader, type ReplicaRecord } from '../../core/cluster/replica-leader.js'
import { Message } from '../../core/message.js'
import { EMPTY_PROPERTIES } from '../../core/wire/properties.js'
import { CHUNK_BYTES, LeaderSync } from '../../transport/cluster/replica-sync.js'
import type { LinkSession } from '../../transport/cluster/link.js'

const home = { vhost: '/', name: 'q', node: 'n1', durable: true, autoDelete: false, exclusive: false, arguments: {}, members: ['n1', 'n2', 'n3'], leader: 'n1', epoch: 3 }
const session = {} as LinkSession
const message = (size: number): Message => {
  const data = Buffer.concat([EMPTY_PROPERTIES, Buffer.alloc(size, 120)])
  return new Message('', 'q', data, EMPTY_PROPERTIES.length, 2, 0, -1, -1, Date.now())
}

function leader(): ReplicaLeader {
  const l = new ReplicaLeader('/', 'q', 'n1', () => home, { schedule: () => undefined })
  return l
}

describe('LeaderSync', () => {
  it('answers from the tail with only the records after the follower’s sequence', () => {
    const l = leader()
    const sync = new LeaderSync(l)
    const base = l.lastSeq
    for (let i = 0; i < 10; i++) l.add(R_ENQ, i, message(10), 0)
    sync.shipped(l.pending.splice(0))
    const sent: ReplicaRecord[][] = []
    const a = sync.sync('n2', session, 3, base + 6, (r) => sent.push(r))
    expect(a).toEqual({ kind: 'tail', records: 4, chunks: 1 })
    expect(sent[0].map((r) => r.seq)).toEqual([7, 8, 9, 10].map((n) => base + n))
    expect(sync.shipsTo('n2', session)).toBe(true)
    expect(sync.shipsTo('n3', session)).toBe(false)
    // caught up exactly: an empty batch still answers
    expect(sync.sync('n3', session, 3, base + 10, () => undefined)).toEqual({ kind: 'tail', records: 0, chunks: 1 })
  })

  it('another epoch, or a sequence the tail no longer holds: a snapshot', () => {
    const l = leader()
    l.snapshot = () => []
    const sync = new LeaderSync(l)
    const base = l.lastSeq
    l.add(R_ENQ, 1, message(10), 0)
    sync.shipped(l.pending.splice(0))
    expect(sync.sync('n2', session, 2, base + 1, () => undefined).kind).toBe('snapshot')
    expect(sync.sync('n2', session, 3, base - 5, () => undefined).kind).toBe('snapshot')
    expect(sync.sync('n2', session, 3, base + 2, () => undefined).kind).toBe('snapshot')
  })

  it('keeps only what some follower has not acked: records every follower holds are dropped', () => {
    const l = leader()
    l.snapshot = () => []
    const sync = new LeaderSync(l)
    const base = l.lastSeq
    for (let i = 0; i < 10; i++) l.add(R_ENQ, i, message(10), 0)
    l.followerAcked('n2', base + 8)
    l.followerAcked('n3', base + 4)
    sync.shipped(l.pending.splice(0))
    // n3 (acked up to 4) can still catch up from the tail
    expect(sync.sync('n3', session, 3, base + 4, () => undefined)).toEqual({ kind: 'tail', records: 6, chunks: 1 })
    l.followerAcked('n3', base + 9)
    l.add(R_ENQ, 10, message(10), 0)
    sync.shipped(l.pending.splice(0))
    // both hold 8 now: what is before it is gone from the tail
    expect(sync.sync('n2', session, 3, base + 8, () => undefined).kind).toBe('tail')
    expect(sync.sync('n2', session, 3, base + 7, () => undefined).kind).toBe('snapshot')
  })

  it('a big snapshot goes in chunks of at most CHUNK_BYTES; only the last carries the sequence', () => {
    const l = leader()
    const records: ReplicaRecord[] = []
    for (let i = 0; i < 40; i++) records.push({ kind: R_ENQ, seq: 0, ref: i, message: message(100 * 1024), n: 0 })
    l.snapshot = () => records
    const sync = new LeaderSync(l)
    const sent: ReplicaRecord[][] = []
    const a = sync.sync('n2', session, 0, 0, (r) => sent.push(r))
    expect(a.kind).toBe('snapshot')
    expect(a.records).toBe(41)
    expect(sent.length).toBeGreaterThanOrEqual(4)
    expect(a.chunks).toBe(sent.length)
    expect(sent[0][0].kind).toBe(R_RESET)
    for (const chunk of sent) {
      const bytes = chunk.reduce((n, r) => n + (r.message?.data.length ?? 0), 0)
      expect(bytes).toBeLessThanOrEqual(CHUNK_BYTES + 100 * 1024 + 64)
    }
    for (const chunk of sent.slice(0, -1)) for (const r of chunk) expect(r.seq).toBe(0)
    for (const r of sent[sent.length - 1]) expect(r.seq).toBe(l.lastSeq)
    expect(sent.flat().filter((r) => r.kind === R_ENQ)).toHaveLength(40)
  })
})
