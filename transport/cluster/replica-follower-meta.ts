/**
 * What a follower replica keeps beside its MessageStore so it survives its node's restart (issue
 * 14): `replica.meta` in the store's directory, an append-only file of fixed 17-byte entries
 * (u8 kind, f64 a, f64 b):
 *   1 MAP      a = the leader's ref, b = this store's ref (an enqueue)
 *   2 ACK      a = the leader's ref (settled)
 *   3 REQUEUE  a = the leader's ref, b = its delivery count
 *   4 RESET    every copy before it is gone (a snapshot follows)
 *   5 DELIVER  a = the leader's ref (delivered, not settled)
 *   6 SEQ      a = epoch, b = the replication sequence every entry before it covers
 * A batch's entries are written as it is applied and fdatasync'd side by side with the store's
 * appends; the follower acks the batch to its leader once both are, so what the leader counts
 * durable is on both disks' files. Replay keeps the last SEQ's epoch and sequence (the durable
 * sequence the follower tells its leader on start); the follower drops copies no entry names and
 * claims nothing when an entry names a copy its store lacks (a crash between the two fdatasyncs).
 * The file is rewritten from the live copies when it grows past COMPACT_BYTES. A torn last entry
 * (a crash mid-write) is ignored.
 */
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import path from 'node:path'

export const M_MAP = 1
export const M_ACK = 2
export const M_REQUEUE = 3
export const M_RESET = 4
export const M_DELIVER = 5
export const M_SEQ = 6

const ENTRY = 17
const COMPACT_BYTES = 8 * 1024 * 1024

/** A copy as the meta file remembers it. */
export interface MetaCopy {
  ref: number
  delivered: boolean
  redelivered: boolean
  deliveryCount: number
}

export interface MetaState {
  epoch: number
  seq: number
  /** the leader's ref → the copy */
  copies: Map<number, MetaCopy>
}

/** Entries of one batch, built while it is applied and written once its appends are durable. */
export class MetaBatch {
  buf = Buffer.allocUnsafe(ENTRY * 16)
  len = 0

  add(kind: number, a: number, b: number): void {
    if (this.len + ENTRY > this.buf.length) {
      const n = Buffer.allocUnsafe(this.buf.length * 2)
      this.buf.copy(n, 0, 0, this.len)
      this.buf = n
    }
    this.buf[this.len] = kind
    this.buf.writeDoubleLE(a, this.len + 1)
    this.buf.writeDoubleLE(b, this.len + 9)
    this.len += ENTRY
  }
}

export class FollowerMeta {
  private fd: number
  private size = 0
  private readonly file: string
  private syncing = false
  /** waiting for the fdatasync after the one in flight */
  private pending: (() => void)[] = []

  constructor(dir: string) {
    this.file = path.join(dir, 'replica.meta')
    this.fd = openSync(this.file, 'a')
  }

  /** Replays the file (an empty state when there is none). */
  load(): MetaState {
    const st: MetaState = { epoch: 0, seq: 0, copies: new Map() }
    let buf: Buffer
    try {
      buf = readFileSync(this.file)
    } catch {
      return st
    }
    const end = buf.length - (buf.length % ENTRY)
    this.size = buf.length
    for (let p = 0; p < end; p += ENTRY) {
      const kind = buf[p]
      const a = buf.readDoubleLE(p + 1)
      const b = buf.readDoubleLE(p + 9)
      switch (kind) {
        case M_MAP:
          if (!st.copies.has(a)) st.copies.set(a, { ref: b, delivered: false, redelivered: false, deliveryCount: 0 })
          break
        case M_ACK:
          st.copies.delete(a)
          break
        case M_REQUEUE: {
          const c = st.copies.get(a)
          if (c !== undefined) {
            c.delivered = false
            c.redelivered = true
            c.deliveryCount = b
          }
          break
        }
        case M_DELIVER: {
          const c = st.copies.get(a)
          if (c !== undefined) c.delivered = true
          break
        }
        case M_RESET:
          st.copies.clear()
          st.seq = 0
          break
        case M_SEQ:
          st.epoch = a
          st.seq = b
          break
      }
    }
    return st
  }

  /** Writes a batch's entries (into the page cache; sync() makes them durable). */
  write(b: MetaBatch): void {
    if (b.len === 0 || this.fd < 0) return
    writeSync(this.fd, b.buf, 0, b.len)
    this.size += b.len
  }

  /** Calls `done` once every entry written so far is fdatasync'd (one fdatasync at a time). */
  sync(done: () => void): void {
    if (this.fd < 0) return
    if (this.syncing) {
      this.pending.push(done)
      return
    }
    this.syncing = true
    this.run([done])
  }

  private run(ws: (() => void)[]): void {
    fdatasync(this.fd, () => {
      for (const w of ws) w()
      // closed meanwhile: nothing more is acked
      if (this.pending.length === 0 || this.fd < 0) {
        this.pending = []
        return void (this.syncing = false)
      }
      const next = this.pending
      this.pending = []
      this.run(next)
    })
  }

  /** true when the file should be rewritten from the live copies */
  get wantsCompaction(): boolean {
    return this.size > COMPACT_BYTES
  }

  /** Rewrites the file as the live copies plus one SEQ (a new file renamed over the old one). */
  compact(copies: Iterable<[number, MetaCopy]>, epoch: number, seq: number): void {
    const b = new MetaBatch()
    for (const [leaderRef, c] of copies) {
      b.add(M_MAP, leaderRef, c.ref)
      if (c.deliveryCount > 0 || c.redelivered) b.add(M_REQUEUE, leaderRef, c.deliveryCount)
      if (c.delivered) b.add(M_DELIVER, leaderRef, 0)
    }
    b.add(M_SEQ, epoch, seq)
    const tmp = `${this.file}.tmp`
    const fd = openSync(tmp, 'w')
    writeSync(fd, b.buf, 0, b.len)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.file)
    closeSync(this.fd)
    this.fd = openSync(this.file, 'a')
    this.size = b.len
  }

  close(): void {
    if (this.fd < 0) return
    closeSync(this.fd)
    this.fd = -1
  }
}
