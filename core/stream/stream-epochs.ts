/**
 * The leader epochs of a replicated stream's log (issue 14), as Kafka's leader-epoch checkpoint:
 * (epoch, first offset written under it) pairs, oldest first, in `epochs.json` beside the log's
 * segments. A follower that comes back tells the leader its next offset and the last epoch it
 * holds records of; the leader answers where its own log left that epoch (`endOf`), and the
 * follower drops what it holds beyond that point: records an old leader had that a majority never
 * confirmed, and that the new leader's log does not hold. Written only when an epoch starts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export class StreamEpochs {
  /** [epoch, start offset] pairs, epochs increasing */
  readonly list: [number, number][] = []
  private readonly file: string

  constructor(dir: string) {
    this.file = path.join(dir, 'epochs.json')
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as unknown
      if (Array.isArray(v)) for (const e of v) if (Array.isArray(e) && typeof e[0] === 'number' && typeof e[1] === 'number') this.list.push([e[0], e[1]])
    } catch {
      // no file yet (a new log)
    }
  }

  /** the last epoch this log holds records of (0: none known) */
  get last(): number {
    return this.list.length === 0 ? 0 : this.list[this.list.length - 1][0]
  }

  /** Records that `epoch` starts at `offset` (a no-op for an epoch not above the last). */
  begin(epoch: number, offset: number): void {
    if (epoch <= this.last) return
    this.list.push([epoch, offset])
    this.save()
  }

  /**
   * Where this log stops agreeing with a log whose last epoch is `epoch`: the start of the first
   * later epoch here, or `next` (this log's end) when there is none.
   */
  endOf(epoch: number, next: number): number {
    for (const [e, start] of this.list) if (e > epoch) return start
    return next
  }

  /** The log was cut at `offset`: epochs starting at or after it are gone. */
  truncate(offset: number): void {
    const n = this.list.length
    while (this.list.length > 0 && this.list[this.list.length - 1][1] >= offset) this.list.pop()
    if (this.list.length !== n) this.save()
  }

  private save(): void {
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(this.list))
    renameSync(tmp, this.file)
  }
}
