/**
 * Binding records of etcd's defs/ prefix by their ends (issue 13), so a queue or exchange that
 * appears or goes finds its bindings without scanning every record: the source exchange, the
 * destination queue, the destination exchange. Kept by DefinitionsStore with its cache.
 */
import type { BindingRecord } from './definitions-keys.js'

export type BindingEnd = 'source' | 'queue' | 'exchange'

const id = (vhost: string, end: BindingEnd, name: string): string => `${vhost}\u0000${end}\u0000${name}`

export class BindingIndex {
  private readonly byEnd = new Map<string, Set<string>>()

  add(key: string, r: BindingRecord): void {
    for (const e of this.endsOf(r)) {
      let set = this.byEnd.get(e)
      if (set === undefined) this.byEnd.set(e, (set = new Set()))
      set.add(key)
    }
  }

  remove(key: string, r: BindingRecord): void {
    for (const e of this.endsOf(r)) {
      const set = this.byEnd.get(e)
      if (set === undefined) continue
      set.delete(key)
      if (set.size === 0) this.byEnd.delete(e)
    }
  }

  /** Keys of the bindings with `name` at that end (a copy: safe to change the index meanwhile). */
  keys(vhost: string, end: BindingEnd, name: string): string[] {
    const set = this.byEnd.get(id(vhost, end, name))
    return set === undefined ? [] : [...set]
  }

  private endsOf(r: BindingRecord): string[] {
    return [id(r.vhost, 'source', r.source), id(r.vhost, r.destinationType, r.destination)]
  }
}
