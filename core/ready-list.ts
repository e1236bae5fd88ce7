/**
 * The ready messages of a queue, in delivery order. A plain queue is one FIFO; a priority queue
 * (x-max-priority) keeps one FIFO per priority level and serves the highest non-empty level first.
 * Requeued messages go back in their original order (by sequence number), ahead of newer ones.
 */
import { Deque } from './deque.js'

export interface Sequenced {
  readonly seq: number
  readonly priority: number
}

export interface ReadyList<T extends Sequenced> extends Iterable<T> {
  readonly length: number
  push(item: T): void
  shift(): T | undefined
  peek(): T | undefined
  /** put back a requeued item by its sequence number */
  requeue(item: T): void
  clear(): void
  /** removes and returns the oldest item of the lowest priority (drop-head overflow) */
  shiftOldest(): T | undefined
}

export class FifoList<T extends Sequenced> implements ReadyList<T> {
  private readonly d = new Deque<T>(64)
  get length(): number {
    return this.d.length
  }
  push(item: T): void {
    this.d.push(item)
  }
  shift(): T | undefined {
    return this.d.shift()
  }
  peek(): T | undefined {
    return this.d.peek()
  }
  requeue(item: T): void {
    const seq = item.seq
    this.d.insertOrdered(item, (e) => e.seq < seq)
  }
  clear(): void {
    this.d.clear()
  }
  shiftOldest(): T | undefined {
    return this.d.shift()
  }
  [Symbol.iterator](): Iterator<T> {
    return this.d[Symbol.iterator]()
  }
}

export class PriorityList<T extends Sequenced> implements ReadyList<T> {
  private readonly levels: Deque<T>[]
  private size = 0

  /** maxPriority: 1-255 (x-max-priority); message priorities above it count as maxPriority */
  constructor(readonly maxPriority: number) {
    this.levels = []
    for (let i = 0; i <= maxPriority; i++) this.levels.push(new Deque<T>(16))
  }

  get length(): number {
    return this.size
  }

  private level(item: T): Deque<T> {
    return this.levels[Math.min(item.priority, this.maxPriority)]
  }

  push(item: T): void {
    this.level(item).push(item)
    this.size++
  }

  shift(): T | undefined {
    for (let p = this.maxPriority; p >= 0; p--) {
      const l = this.levels[p]
      if (l.length > 0) {
        this.size--
        return l.shift()
      }
    }
    return undefined
  }

  peek(): T | undefined {
    for (let p = this.maxPriority; p >= 0; p--) if (this.levels[p].length > 0) return this.levels[p].peek()
    return undefined
  }

  requeue(item: T): void {
    const seq = item.seq
    this.level(item).insertOrdered(item, (e) => e.seq < seq)
    this.size++
  }

  clear(): void {
    for (const l of this.levels) l.clear()
    this.size = 0
  }

  shiftOldest(): T | undefined {
    for (let p = 0; p <= this.maxPriority; p++) {
      const l = this.levels[p]
      if (l.length > 0) {
        this.size--
        return l.shift()
      }
    }
    return undefined
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let p = this.maxPriority; p >= 0; p--) yield* this.levels[p]
  }
}
