/**
 * A binary min-heap of items by expiry time, for messages with their own expiration property: they
 * can expire before messages ahead of them, so the head of the queue is not enough (a message must
 * not wait behind a non-expired head). Entries are removed lazily: whoever pops checks the item's
 * state.
 */
export interface Expiring {
  readonly expiresAt: number
  /** order of arrival, when known: ties (same millisecond) come out in it */
  readonly seq?: number
}

/** Whether `x` expires before `y` (ties by arrival order). */
function before(x: Expiring, y: Expiring): boolean {
  return x.expiresAt < y.expiresAt || (x.expiresAt === y.expiresAt && (x.seq ?? 0) < (y.seq ?? 0))
}

export class ExpiryHeap<T extends Expiring> {
  private readonly items: T[] = []

  get length(): number {
    return this.items.length
  }

  peek(): T | undefined {
    return this.items[0]
  }

  push(item: T): void {
    const a = this.items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(item, a[p])) break
      a[i] = a[p]
      i = p
    }
    a[i] = item
  }

  pop(): T | undefined {
    const a = this.items
    if (a.length === 0) return undefined
    const top = a[0]
    const last = a.pop()!
    if (a.length > 0) {
      let i = 0
      const n = a.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(a[r], a[l]) ? r : l
        if (!before(a[c], last)) break
        a[i] = a[c]
        i = c
      }
      a[i] = last
    }
    return top
  }

  clear(): void {
    this.items.length = 0
  }

  /** Keeps only the items `keep` accepts (stale entries dropped in bulk) and restores heap order; O(n). */
  retain(keep: (item: T) => boolean): void {
    const a = this.items
    let n = 0
    for (let i = 0; i < a.length; i++) if (keep(a[i])) a[n++] = a[i]
    a.length = n
    for (let i = (n >> 1) - 1; i >= 0; i--) {
      const item = a[i]
      let j = i
      for (;;) {
        const l = 2 * j + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(a[r], a[l]) ? r : l
        if (!before(a[c], item)) break
        a[j] = a[c]
        j = c
      }
      a[j] = item
    }
  }
}

/**
 * The same min-heap for messages that live in a message store: an entry is only (expiry time,
 * store ref) in two typed arrays, 16 bytes, no object and no body per message, so a deep queue of
 * messages with their own expiration is not held in memory. Whoever pops asks the store whether
 * the ref is still ready (entries are removed lazily, as above).
 */
export class RefExpiryHeap {
  private at = new Float64Array(16)
  private refs = new Float64Array(16)
  private n = 0

  get length(): number {
    return this.n
  }

  /** Expiry time of the earliest entry, or 0 when empty. */
  get topAt(): number {
    return this.n === 0 ? 0 : this.at[0]
  }
  /** Ref of the earliest entry, or -1 when empty. */
  get topRef(): number {
    return this.n === 0 ? -1 : this.refs[0]
  }

  push(expiresAt: number, ref: number): void {
    if (this.n === this.at.length) {
      const at = new Float64Array(this.n * 2)
      at.set(this.at)
      const refs = new Float64Array(this.n * 2)
      refs.set(this.refs)
      this.at = at
      this.refs = refs
    }
    const a = this.at
    const r = this.refs
    let i = this.n++
    while (i > 0) {
      const p = (i - 1) >> 1
      // ties (same millisecond) in ref order, which is queue order
      if (a[p] < expiresAt || (a[p] === expiresAt && r[p] < ref)) break
      a[i] = a[p]
      r[i] = r[p]
      i = p
    }
    a[i] = expiresAt
    r[i] = ref
  }

  /** Removes the earliest entry (read it first with topAt/topRef). */
  pop(): void {
    if (this.n === 0) return
    const last = --this.n
    if (last > 0) this.siftDown(0, this.at[last], this.refs[last], last)
    if (this.n === 0 && this.at.length > 1024) this.clear()
  }

  private siftDown(i: number, at: number, ref: number, n: number): void {
    const a = this.at
    const r = this.refs
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const rr = l + 1
      const c = rr < n && (a[rr] < a[l] || (a[rr] === a[l] && r[rr] < r[l])) ? rr : l
      if (a[c] > at || (a[c] === at && r[c] > ref)) break
      a[i] = a[c]
      r[i] = r[c]
      i = c
    }
    a[i] = at
    r[i] = ref
  }

  clear(): void {
    this.n = 0
    this.at = new Float64Array(16)
    this.refs = new Float64Array(16)
  }

  /** Keeps only the entries whose ref `keep` accepts and restores heap order; O(n). */
  retain(keep: (ref: number) => boolean): void {
    let n = 0
    for (let i = 0; i < this.n; i++) {
      if (!keep(this.refs[i])) continue
      this.at[n] = this.at[i]
      this.refs[n] = this.refs[i]
      n++
    }
    this.n = n
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, this.at[i], this.refs[i], n)
  }
}
