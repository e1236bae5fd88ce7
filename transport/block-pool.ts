/**
 * A pool of large message blocks. A fresh block of a megabyte costs more than its copy: glibc hands
 * blocks that large to the system on free (munmap), so every new one is fresh memory that faults
 * in page by page, and V8 counts each new backing store towards its next garbage collection. The
 * content assembler takes the block of a large body from here; a block comes back only when its
 * message is certainly gone (transport/pooled-deliveries.ts): routed to exactly one queue,
 * delivered once, acknowledged, and its bytes written by the socket. Every other block is simply
 * left to the garbage collector, as before.
 *
 * Blocks are kept in size classes of a sixteenth of a power of two (a 1 MiB body with its
 * properties takes a block of 1 MiB + 64 KiB), and the idle blocks are bounded in bytes.
 */

/** Blocks below this size are allocated as before (Node's own slab serves small ones). */
export const MIN_POOLED = 64 * 1024
/** Larger blocks are never pooled. */
const MAX_POOLED = 16 * 1024 * 1024
/** Idle blocks kept at most, in bytes. */
const IDLE_BYTES = 64 * 1024 * 1024
/** The idle blocks are let go when no block was taken for this long (a burst is over). */
const IDLE_MS = 30_000

/** Capacity of the size class that holds size bytes (16 classes per power of two). */
export function blockClass(size: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(size)) - 4)
  return Math.ceil(size / step) * step
}

export class BlockPool {
  /** capacity → idle blocks */
  private readonly idle = new Map<number, ArrayBuffer[]>()
  private idleBytes = 0
  /** blocks handed out by take() and not given back: give() accepts only these, once */
  private readonly out = new WeakSet<ArrayBuffer>()
  private taken = false
  private timer: NodeJS.Timeout | null = null
  /** takes served from idle blocks / by a new block (tests and figures) */
  hits = 0
  misses = 0

  /** A block of exactly size bytes (its contents are whatever was there). */
  take(size: number): Buffer {
    if (size < MIN_POOLED || size > MAX_POOLED) return Buffer.allocUnsafe(size)
    const cap = blockClass(size)
    const list = this.idle.get(cap)
    let ab: ArrayBuffer
    if (list !== undefined && list.length > 0) {
      ab = list.pop()!
      this.idleBytes -= cap
      this.hits++
    } else {
      ab = Buffer.allocUnsafeSlow(cap).buffer as ArrayBuffer
      this.misses++
    }
    this.out.add(ab)
    this.taken = true
    return Buffer.from(ab, 0, size)
  }

  /** Whether buf lies in a block handed out by take() and not given back. */
  owns(buf: Buffer): boolean {
    return buf.length >= MIN_POOLED && this.out.has(buf.buffer as ArrayBuffer)
  }

  /** The block under buf will not be given back: it is left to the garbage collector. */
  disown(buf: Buffer): void {
    if (buf.length >= MIN_POOLED) this.out.delete(buf.buffer as ArrayBuffer)
  }

  /**
   * The block under buf is free for reuse: nothing reads or writes it any more. A block that was not
   * handed out by take(), or was given back already, is ignored.
   */
  give(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer
    if (!this.out.delete(ab)) return
    const cap = ab.byteLength
    if (this.idleBytes + cap > IDLE_BYTES) return
    let list = this.idle.get(cap)
    if (list === undefined) this.idle.set(cap, (list = []))
    list.push(ab)
    this.idleBytes += cap
    if (this.timer === null) {
      this.timer = setInterval(this.trimBound, IDLE_MS)
      this.timer.unref()
    }
  }

  /** Idle bytes held (tests and figures). */
  get idleSize(): number {
    return this.idleBytes
  }

  private readonly trimBound = (): void => {
    if (this.taken) {
      this.taken = false
      return
    }
    this.idle.clear()
    this.idleBytes = 0
    clearInterval(this.timer!)
    this.timer = null
  }
}

/** The process's pool: blocks are plain memory, shared by every broker in the process. */
export const blockPool = new BlockPool()
