/**
 * What the management API shows per consumer group of a stream (GET /api/queues/{vhost}/{stream},
 * `consumer_groups`): committed offset, lag behind the tail in messages and bytes, members and the
 * active one. Read on request only.
 */
import type { ConsumerGroup } from './consumer-group.js'
import type { StreamMember, GroupInfo } from './stream-member.js'
import { StreamReader } from './stream-reader.js'
import type { StreamQueue } from './stream-queue.js'

/** Every group of `q` with a committed offset or a live member. `ends` caches committed positions. */
export function groupInfos(q: StreamQueue, groups: ReadonlyMap<string, ConsumerGroup<StreamMember>>, ends: Map<string, number>): GroupInfo[] {
  const log = q.streamLog
  const names = new Set([...q.offsets.committed.keys(), ...groups.keys()])
  const out: GroupInfo[] = []
  for (const name of [...names].sort()) {
    const committed = q.offsets.committed.get(name)
    const g = groups.get(name)
    const from = committed === undefined ? log.firstOffset : Math.max(committed + 1, log.firstOffset)
    out.push({
      name,
      committed_offset: committed ?? null,
      lag_messages: Math.max(0, log.nextOffset - from),
      lag_bytes: lagBytes(q, ends, name, committed),
      consumers: g?.members.length ?? 0,
      active_consumer: g?.active?.consumer.tag ?? null,
    })
  }
  return out
}

function lagBytes(q: StreamQueue, ends: Map<string, number>, name: string, committed: number | undefined): number {
  const log = q.streamLog
  const first = log.segments[0]
  const all = first === undefined ? 0 : log.tailPos - first.startPos
  if (committed === undefined || committed < log.firstOffset) return all
  if (committed + 1 >= log.nextOffset) return 0
  let end = ends.get(name) ?? -1
  if (end < 0) {
    // not known this run: read the committed record once to learn where it ends
    const r = new StreamReader(log, committed)
    if (r.read() === undefined) return all
    end = r.lastEnd
    r.release()
    ends.set(name, end)
  }
  return Math.max(0, log.tailPos - end)
}
