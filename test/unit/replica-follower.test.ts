/**
 * The follower side of quorum-queue replication (transport/cluster/replica-follower.ts): what it
 * acks to the leader, found by the quorum fault run (scripts/quorum-faults.mjs).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { R_ACK, R_RESET, type ReplicaRecord } from '../../core/cluster/replica-leader.js'
import { FollowerReplica } from '../../transport/cluster/replica-follower.js'

const rec = (kind: number, seq: number): ReplicaRecord => ({ kind, seq, ref: 1_000_000 + seq, message: null, n: 0 })

describe('FollowerReplica acks', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  /** waits (bounded) until `cond` holds: acks come once replica.meta and the store are fdatasync'd */
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  }

  it("a snapshot from a leader restarted at the same epoch restarts the count: it and what follows are acked at their own sequence", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warren-follower-'))
    dirs.push(dir)
    const f = new FollowerReplica(path.join(dir, 'r'), pino({ level: 'silent' }))
    const acks: number[] = []
    const ack = (seq: number): void => void acks.push(seq)
    // the leader's first life: records 1..50 (settles of nothing: no appends to wait for)
    f.apply(7, Array.from({ length: 50 }, (_, i) => rec(R_ACK, i + 1)), ack)
    await until(() => acks.length === 1)
    expect(acks).toEqual([50])
    // killed and restarted with its data, still named by the record (epoch 7): a snapshot whose
    // last chunk is numbered 3, then the stream after it
    f.apply(7, [rec(R_RESET, 0), rec(R_ACK, 3)], ack)
    f.apply(7, [rec(R_ACK, 4), rec(R_ACK, 5)], ack)
    // before the fix: nothing acked below 50, the leader's confirms waited for ever
    await until(() => f.ackedSeq === 5)
    expect(f.ackedSeq).toBe(5)
    expect(acks.slice(1).every((a) => a <= 5)).toBe(true)
    // a batch still waiting for the disk when a snapshot comes is not acked after it
    f.apply(8, [rec(R_ACK, 90)], ack)
    f.apply(8, [rec(R_RESET, 0), rec(R_ACK, 6)], ack)
    await until(() => f.ackedSeq === 6)
    expect(acks).not.toContain(90)
    await f.destroy()
  })

  it('a replica no leader has fed since it was made does not stand for leader (fed stays false until a batch is applied)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warren-follower-'))
    dirs.push(dir)
    const f = new FollowerReplica(path.join(dir, 'r'), pino({ level: 'silent' }))
    // made at its node's start, empty: it is not behind, it knows nothing
    expect(f.fed).toBe(false)
    f.apply(1, [rec(R_RESET, 0)], () => undefined)
    expect(f.fed).toBe(true)
    await f.destroy()
  })
})
