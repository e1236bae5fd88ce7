/**
 * The in-RAM index of a delayed-message exchange: a binary min-heap of (due time, ref, size) in
 * three parallel typed arrays, 20 bytes per pending message and no object per message. `ref` is a
 * segment-log location (messages on disk) or a slot number (messages kept in RAM). Ties on the due
 * time go by ref, so messages due at the same millisecond leave in the order they were stored.
 */

const INITIAL = 1024

export class DelayHeap {
  private due = new Float64Array(INITIAL)
  private refs = new Float64Array(INITIAL)
  private sizes = new Uint32Array(INITIAL)
  private n = 0
  /** ref and size of the entry the last pop() returned */
  poppedRef = -1
  poppedSize = 0

  get length(): number {
    return this.n
  }

  /** Due time of the earliest entry, or Infinity when empty. */
  get nextDue(): number {
    return this.n === 0 ? Infinity : this.due[0]
  }

  push(due: number, ref: number, size: number): void {
    if (this.n === this.due.length) this.grow()
    let i = this.n++
    const d = this.due
    const r = this.refs
    const s = this.sizes
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1
      if (d[p] < due || (d[p] === due && r[p] <= ref)) break
      d[i] = d[p]
      r[i] = r[p]
      s[i] = s[p]
      i = p
    }
    d[i] = due
    r[i] = ref
    s[i] = size
  }

  /** Removes the earliest entry into poppedRef/poppedSize; returns its due time (Infinity: empty). */
  pop(): number {
    if (this.n === 0) return Infinity
    const d = this.due
    const r = this.refs
    const s = this.sizes
    const top = d[0]
    this.poppedRef = r[0]
    this.poppedSize = s[0]
    const last = --this.n
    if (last > 0) {
      const due = d[last]
      const ref = r[last]
      const size = s[last]
      let i = 0
      for (;;) {
        let c = 2 * i + 1
        if (c >= last) break
        if (c + 1 < last && (d[c + 1] < d[c] || (d[c + 1] === d[c] && r[c + 1] < r[c]))) c++
        if (due < d[c] || (due === d[c] && ref <= r[c])) break
        d[i] = d[c]
        r[i] = r[c]
        s[i] = s[c]
        i = c
      }
      d[i] = due
      r[i] = ref
      s[i] = size
    }
    if (this.due.length > INITIAL && this.n < this.due.length >> 2) this.resize(this.due.length >> 1)
    return top
  }

  /** Forgets every entry. */
  clear(): void {
    this.n = 0
    this.resize(INITIAL)
  }

  /** Bytes held by the typed arrays. */
  get capacityBytes(): number {
    return this.due.length * 20
  }

  private grow(): void {
    this.resize(this.due.length * 2)
  }

  private resize(cap: number): void {
    const d = new Float64Array(cap)
    const r = new Float64Array(cap)
    const s = new Uint32Array(cap)
    d.set(this.due.subarray(0, this.n))
    r.set(this.refs.subarray(0, this.n))
    s.set(this.sizes.subarray(0, this.n))
    this.due = d
    this.refs = r
    this.sizes = s
  }
}
