/**
 * The in-memory index of a store's ready messages: per message its location (f64), body size
 * (u32) and flags (u8) in typed-array blocks, 13 bytes each, no object per message. This is what
 * lets a queue of ten million messages live in about 130 MB plus whatever the OS caches: the
 * bodies stay in the segment files (RabbitMQ's queue index and LavinMQ's segment position list
 * serve the same purpose).
 *
 * FIFO by location (append order). Blocks grow with the queue (16 entries up to 32768), so a small
 * queue costs a few hundred bytes and a deep one wastes at most one block.
 */

/** Entry flag: the message was delivered before (comes back with redelivered=true). */
export const FLAG_REDELIVERED = 1
/** Entry flag: a persistent message (delivery-mode 2), counted for the management API. */
export const FLAG_PERSISTENT = 2

const MIN_BLOCK = 16
const MAX_BLOCK = 32768

class Block {
  readonly locs: Float64Array
  readonly sizes: Uint32Array
  readonly flags: Uint8Array
  start = 0
  end = 0
  constructor(readonly cap: number) {
    this.locs = new Float64Array(cap)
    this.sizes = new Uint32Array(cap)
    this.flags = new Uint8Array(cap)
  }
}

/** One index entry, as yielded by {@link RefIndex.entries} (tests, listings; not the hot path). */
export interface RefEntry {
  ref: number
  size: number
  flags: number
}

/** The ready index: a FIFO of (ref, size, flags) in typed-array blocks. */
export class RefIndex {
  /** entries */
  length = 0
  /** sum of the entries' sizes */
  bytes = 0
  /** entries flagged FLAG_PERSISTENT */
  persistent = 0
  /** size and flags of the entry the last shift() returned */
  shiftedSize = 0
  shiftedFlags = 0
  private blocks: Block[] = []
  // slot() results, to avoid returning a tuple
  private sb: Block | null = null
  private si = 0

  /** Appends at the tail; `ref` must be larger than every ref in the index. */
  push(ref: number, size: number, flags: number): void {
    let b = this.blocks.length === 0 ? null : this.blocks[this.blocks.length - 1]
    if (b === null || b.end === b.cap) {
      let cap = MIN_BLOCK
      while (cap < MAX_BLOCK && cap * 8 < this.length) cap *= 2
      b = new Block(cap)
      this.blocks.push(b)
    }
    const i = b.end++
    b.locs[i] = ref
    b.sizes[i] = size
    b.flags[i] = flags
    this.length++
    this.bytes += size
    if ((flags & FLAG_PERSISTENT) !== 0) this.persistent++
  }

  /** Removes the head; returns its ref (size and flags in shiftedSize/shiftedFlags), or -1. */
  shift(): number {
    if (this.length === 0) return -1
    const b = this.blocks[0]
    const i = b.start++
    const ref = b.locs[i]
    this.shiftedSize = b.sizes[i]
    this.shiftedFlags = b.flags[i]
    this.length--
    this.bytes -= this.shiftedSize
    if ((this.shiftedFlags & FLAG_PERSISTENT) !== 0) this.persistent--
    if (b.start === b.end) {
      if (this.blocks.length > 1) this.blocks.shift()
      else if (b.cap === MIN_BLOCK) b.start = b.end = 0
      else this.blocks.length = 0 // drained: give a big block back
    }
    return ref
  }

  /** Ref of the head, or -1. */
  peek(): number {
    if (this.length === 0) return -1
    const b = this.blocks[0]
    return b.locs[b.start]
  }

  /** Whether `ref` is in the index (entries are in ref order): O(blocks + log block size). */
  has(ref: number): boolean {
    for (const b of this.blocks) {
      if (b.start === b.end) continue
      if (ref < b.locs[b.start]) return false
      let lo = b.start
      let hi = b.end - 1
      if (ref > b.locs[hi]) continue
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const v = b.locs[mid]
        if (v === ref) return true
        if (v < ref) lo = mid + 1
        else hi = mid - 1
      }
      return false
    }
    return false
  }

  /** Ref at position `pos` (0 = head), or -1. O(blocks). */
  refAt(pos: number): number {
    if (pos < 0 || pos >= this.length) return -1
    this.slot(pos)
    return this.sb!.locs[this.si]
  }

  /**
   * Inserts in ref order (a requeued message goes back ahead of newer ones, RabbitMQ keeps
   * the original order). Returns its position. O(k) in the position, which for requeues is near
   * the head: a delivered message is older than every message still ready after it.
   */
  insert(ref: number, size: number, flags: number): number {
    let k = 0
    while (k < this.length && this.refAt(k) < ref) k++
    if (k === this.length) {
      this.push(ref, size, flags)
      return k
    }
    let b: Block | null = this.blocks[0]
    if (b.start === 0) {
      b = new Block(MIN_BLOCK)
      b.start = b.end = MIN_BLOCK
      this.blocks.unshift(b)
    }
    b.start--
    this.length++
    this.bytes += size
    if ((flags & FLAG_PERSISTENT) !== 0) this.persistent++
    for (let p = 0; p < k; p++) {
      this.slot(p + 1)
      const from = this.sb!
      const fi = this.si
      this.slot(p)
      this.sb!.locs[this.si] = from.locs[fi]
      this.sb!.sizes[this.si] = from.sizes[fi]
      this.sb!.flags[this.si] = from.flags[fi]
    }
    this.slot(k)
    b = this.sb!
    b.locs[this.si] = ref
    b.sizes[this.si] = size
    b.flags[this.si] = flags
    return k
  }

  private slot(pos: number): void {
    for (const b of this.blocks) {
      const n = b.end - b.start
      if (pos < n) {
        this.sb = b
        this.si = b.start + pos
        return
      }
      pos -= n
    }
    throw new RangeError('index position out of range')
  }

  /** Removes every entry. */
  clear(): void {
    this.blocks = []
    this.length = 0
    this.bytes = 0
    this.persistent = 0
  }

  /** Bytes of typed-array storage held (for memory reporting). */
  get capacityBytes(): number {
    let n = 0
    for (const b of this.blocks) n += b.cap * 13
    return n
  }

  /**
   * Every entry from position `from` (0 = head) on. Allocates an object per entry: for tests and
   * listings only; whole blocks before `from` are skipped without a visit.
   */
  *entries(from = 0): IterableIterator<RefEntry> {
    let skip = from
    for (const b of this.blocks) {
      const n = b.end - b.start
      if (skip >= n) {
        skip -= n
        continue
      }
      for (let i = b.start + skip; i < b.end; i++) yield { ref: b.locs[i], size: b.sizes[i], flags: b.flags[i] }
      skip = 0
    }
  }
}
