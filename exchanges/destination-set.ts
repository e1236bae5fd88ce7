/**
 * A reference-counted set of destinations with a dense array for allocation-free iteration.
 *
 * One destination can be bound several times under the same key with different arguments (RabbitMQ:
 * a binding is identified by source, destination, key *and* arguments). Each such binding counts
 * once; the destination stays routable until its last binding is removed.
 */
import type { Destination, RouteTarget } from '../core/exchange.js'

interface Slot {
  /** bindings currently leading to the destination */
  count: number
  /** position in `list` */
  index: number
}

export class DestinationSet {
  private readonly slots = new Map<Destination, Slot>()
  /** the distinct destinations, unordered; removal swaps the last one into the hole */
  private readonly list: Destination[] = []

  /** Number of distinct destinations. */
  get size(): number {
    return this.list.length
  }

  /** The distinct destinations. Read-only view: do not mutate, it changes with add/remove. */
  get destinations(): readonly Destination[] {
    return this.list
  }

  /** Bindings counted for `destination` (0 when absent). */
  count(destination: Destination): number {
    return this.slots.get(destination)?.count ?? 0
  }

  /** Counts one more binding to `destination`; true when the destination is new. */
  add(destination: Destination): boolean {
    const slot = this.slots.get(destination)
    if (slot !== undefined) {
      slot.count++
      return false
    }
    this.slots.set(destination, { count: 1, index: this.list.length })
    this.list.push(destination)
    return true
  }

  /** Drops one binding to `destination`; true when that was its last one and it is gone. */
  remove(destination: Destination): boolean {
    const slot = this.slots.get(destination)
    if (slot === undefined) return false
    if (--slot.count > 0) return false
    this.slots.delete(destination)
    const last = this.list.pop()!
    if (last !== destination) {
      this.list[slot.index] = last
      this.slots.get(last)!.index = slot.index
    }
    return true
  }

  /** Adds every destination to `out`. */
  addAllTo(out: RouteTarget): void {
    const list = this.list
    for (let i = 0; i < list.length; i++) out.add(list[i])
  }
}
