/**
 * A ring-buffer double-ended queue. push/shift/unshift are O(1) amortised with no per-item
 * allocation, unlike Array#shift which is O(n) on large arrays.
 */
export class Deque<T> {
  private items: (T | undefined)[]
  private head = 0
  private size = 0

  constructor(capacity = 16) {
    let c = 16
    while (c < capacity) c *= 2
    this.items = new Array(c)
  }

  get length(): number {
    return this.size
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) & (this.items.length - 1)] = item
    this.size++
  }

  unshift(item: T): void {
    if (this.size === this.items.length) this.grow()
    this.head = (this.head - 1) & (this.items.length - 1)
    this.items[this.head] = item
    this.size++
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.size--
    return item
  }

  pop(): T | undefined {
    if (this.size === 0) return undefined
    const i = (this.head + this.size - 1) & (this.items.length - 1)
    const item = this.items[i]
    this.items[i] = undefined
    this.size--
    return item
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head]
  }

  /** Item at logical index i (0 = head). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.size) return undefined
    return this.items[(this.head + i) & (this.items.length - 1)]
  }

  /**
   * Inserts before the first item for which `before(item)` is false, scanning from the head:
   * used to put requeued messages back in their original order ahead of newer ones. O(k) in the
   * position, which for requeues is near the head.
   */
  insertOrdered(item: T, isBefore: (existing: T) => boolean): void {
    let k = 0
    while (k < this.size && isBefore(this.at(k) as T)) k++
    if (k === 0) return this.unshift(item)
    if (k === this.size) return this.push(item)
    this.unshift(item) // makes room at the front, then shift the first k items one place down
    const mask = this.items.length - 1
    for (let i = 0; i < k; i++) {
      this.items[(this.head + i) & mask] = this.items[(this.head + i + 1) & mask]
    }
    this.items[(this.head + k) & mask] = item
  }

  clear(): void {
    this.items = new Array(16)
    this.head = 0
    this.size = 0
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) yield this.items[(this.head + i) & (this.items.length - 1)] as T
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2)
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)]
    this.items = next
    this.head = 0
  }
}
