/**
 * A binary min-heap of items by expiry time, for messages with their own expiration property: they
 * can expire before messages ahead of them, so the head of the queue is not enough (a message must
 * not wait behind a non-expired head). Entries are removed lazily: whoever pops checks the item's
 * state.
 */
export interface Expiring {
  readonly expiresAt: number
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
      if (a[p].expiresAt <= item.expiresAt) break
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
        const c = r < n && a[r].expiresAt < a[l].expiresAt ? r : l
        if (a[c].expiresAt >= last.expiresAt) break
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
        const c = r < n && a[r].expiresAt < a[l].expiresAt ? r : l
        if (a[c].expiresAt >= item.expiresAt) break
        a[j] = a[c]
        j = c
      }
      a[j] = item
    }
  }
}
