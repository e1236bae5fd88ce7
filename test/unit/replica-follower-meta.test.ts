/**
 * FollowerMeta (transport/cluster/replica-follower-meta.ts): a follower replica's copies, epoch and
 * durable sequence replayed from replica.meta; a torn last entry is ignored; compaction keeps the state.
 */
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FollowerMeta, M_ACK, M_DELIVER, M_MAP, M_REQUEUE, M_RESET, M_SEQ, MetaBatch } from '../../transport/cluster/replica-follower-meta.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'warren-meta-'))
  dirs.push(d)
  return d
}
const synced = (m: FollowerMeta): Promise<void> => new Promise((r) => m.sync(r))

describe('FollowerMeta', () => {
  it('replays maps, acks, requeues, deliveries, resets and the last sequence; a torn entry is ignored', async () => {
    const d = dir()
    const m = new FollowerMeta(d)
    const b = new MetaBatch()
    b.add(M_MAP, 100, 1)
    b.add(M_MAP, 101, 2)
    b.add(M_SEQ, 1, 10)
    m.write(b)
    const b2 = new MetaBatch()
    b2.add(M_RESET, 0, 0)
    b2.add(M_MAP, 200, 3)
    b2.add(M_MAP, 201, 4)
    b2.add(M_MAP, 202, 5)
    b2.add(M_ACK, 201, 0)
    b2.add(M_REQUEUE, 202, 2)
    b2.add(M_DELIVER, 200, 0)
    b2.add(M_SEQ, 2, 20)
    m.write(b2)
    await synced(m)
    m.close()
    appendFileSync(join(d, 'replica.meta'), Buffer.from([M_SEQ, 1, 2, 3]))
    const st = new FollowerMeta(d).load()
    expect(st.epoch).toBe(2)
    expect(st.seq).toBe(20)
    expect([...st.copies]).toEqual([
      [200, { ref: 3, delivered: true, redelivered: false, deliveryCount: 0 }],
      [202, { ref: 5, delivered: false, redelivered: true, deliveryCount: 2 }],
    ])
  })

  it('compaction rewrites the live copies and the sequence', async () => {
    const d = dir()
    const m = new FollowerMeta(d)
    const b = new MetaBatch()
    for (let i = 0; i < 1000; i++) b.add(M_MAP, i, i)
    for (let i = 0; i < 998; i++) b.add(M_ACK, i, 0)
    b.add(M_SEQ, 4, 5000)
    m.write(b)
    const st = m.load()
    const before = statSync(join(d, 'replica.meta')).size
    m.compact(st.copies, st.epoch, st.seq)
    expect(statSync(join(d, 'replica.meta')).size).toBeLessThan(before / 100)
    const after = new FollowerMeta(d).load()
    expect(after).toEqual(st)
    // appends after a compaction go to the new file
    const b2 = new MetaBatch()
    b2.add(M_SEQ, 4, 5001)
    m.write(b2)
    await synced(m)
    expect(new FollowerMeta(d).load().seq).toBe(5001)
    m.close()
  })
})
