/**
 * Applies etcd's definition records to this node's core model (issue 13): one record at a time from
 * the watch, or the whole prefix at start (reconcile: etcd's view wins over the local definitions
 * log, which is only a cache). Runs with the DefinitionsStore's echo suppressed, so nothing applied
 * here is written back to etcd. A record core refuses (it cannot happen with records written by
 * Warren nodes) is logged and skipped: a node never stops on one bad record.
 */
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { Placement, QueueHome } from '../../core/cluster/placement.js'
import { makePolicy } from '../../core/policies.js'
import { decodeArguments } from '../../core/store/definitions.js'
import type { Permission, TopicPermission, User } from '../../core/users.js'
import type { BindingEnd, BindingIndex } from './binding-index.js'
import {
  bindingRecord,
  decodeHome,
  exchangeRecord,
  SECTION_KINDS,
  sectionSnapshot,
  type BindingRecord,
  type DefinitionKeys,
  type ExchangeRecord,
} from './definitions-keys.js'

interface ParameterRecord {
  vhost: string
  component: string
  name: string
  value: unknown
}

export class DefinitionsApplier {
  constructor(
    private readonly broker: Broker,
    private readonly keys: DefinitionKeys,
    /** etcd's defs prefix as last seen: key → value */
    private readonly cache: Map<string, string>,
    private readonly index: BindingIndex,
    private readonly placement: Placement,
    private readonly self: string,
    private readonly log: Logger,
    /** claims of this node in flight: their queue is created by the claim, not here */
    private readonly claimed: (vhost: string, name: string) => boolean,
  ) {}

  /** A put from the watch (the cache already holds the new value). */
  put(key: string, value: string): void {
    try {
      this.putRecord(this.keys.kindOf(key), value)
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'cannot apply a cluster definition')
    }
  }

  /** A delete from the watch; `old` is the value the cache held. */
  delete(key: string, old: string): void {
    try {
      this.deleteRecord(this.keys.kindOf(key), old)
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'cannot remove a cluster definition')
    }
  }

  private putRecord(kind: string, value: string): void {
    const b = this.broker
    switch (kind) {
      case 'vhosts': {
        const r = JSON.parse(value) as { name: string; description: string; tags: string[]; defaultQueueType?: string }
        b.addVHost(r.name, { description: r.description, tags: r.tags, defaultQueueType: r.defaultQueueType })
        // bindings and queues of a vhost that arrive before it (start order) are applied now
        this.applyPendingIn(r.name)
        return
      }
      case 'users': {
        const { limits, ...u } = JSON.parse(value) as User & { limits?: Record<string, number> }
        b.users.put(u)
        b.users.setLimits(u.name, limits ?? {})
        return
      }
      case 'permissions':
        return b.users.setPermission(JSON.parse(value) as Permission)
      case 'topic-permissions':
        return b.users.setTopicPermission(JSON.parse(value) as TopicPermission)
      case 'parameters': {
        const p = JSON.parse(value) as ParameterRecord
        if (p.component === 'policy' || p.component === 'operator_policy') {
          const v = p.value as { pattern: string; 'apply-to': string; definition: string; priority: number }
          const def = { vhost: p.vhost, name: p.name, pattern: v.pattern, applyTo: v['apply-to'], definition: decodeArguments(v.definition), priority: v.priority }
          b.putPolicy(p.component, makePolicy(def))
        } else b.putParameter(p.component, p.vhost, p.name, p.value)
        return
      }
      case 'global-parameters': {
        const g = JSON.parse(value) as { name: string; value: unknown }
        b.putGlobalParameter(g.name, g.value)
        return
      }
      case 'exchanges':
        return this.putExchange(JSON.parse(value) as ExchangeRecord)
      case 'queues':
        return this.putQueue(decodeHome(value))
      case 'bindings':
        return this.bind(JSON.parse(value) as BindingRecord, true)
    }
  }

  private deleteRecord(kind: string, old: string): void {
    const b = this.broker
    switch (kind) {
      case 'vhosts':
        b.deleteVHost((JSON.parse(old) as { name: string }).name)
        return
      case 'users':
        b.deleteUser((JSON.parse(old) as User).name)
        return
      case 'permissions': {
        const p = JSON.parse(old) as Permission
        b.users.deletePermission(p.user, p.vhost)
        return
      }
      case 'topic-permissions': {
        const p = JSON.parse(old) as TopicPermission
        b.users.deleteTopicPermissions(p.user, p.vhost, p.exchange)
        return
      }
      case 'parameters': {
        const p = JSON.parse(old) as ParameterRecord
        if (p.component === 'policy' || p.component === 'operator_policy') b.deletePolicy(p.component, p.vhost, p.name)
        else b.deleteParameter(p.component, p.vhost, p.name)
        return
      }
      case 'global-parameters':
        b.deleteGlobalParameter((JSON.parse(old) as { name: string }).name)
        return
      case 'exchanges': {
        const r = JSON.parse(old) as ExchangeRecord
        this.broker.vhost(r.vhost)?.deleteExchange(r.name, false)
        return
      }
      case 'queues':
        return this.deleteQueue(decodeHome(old))
      case 'bindings':
        return this.bind(JSON.parse(old) as BindingRecord, false)
    }
  }

  private putExchange(r: ExchangeRecord): void {
    const v = this.broker.vhost(r.vhost)
    if (v === undefined) return
    const x = v.exchanges.get(r.name)
    if (x !== undefined) {
      if (JSON.stringify(exchangeRecord(v, x)) === JSON.stringify(r)) return
      v.deleteExchange(r.name, false) // changed under us (another node won): take etcd's
    }
    v.declareExchange(r.name, r.type, { durable: r.durable, autoDelete: r.autoDelete, internal: r.internal, arguments: decodeArguments(r.arguments) }, false)
    this.applyBindingsOf(v.name, 'source', r.name)
    this.applyBindingsOf(v.name, 'exchange', r.name)
  }

  private putQueue(h: QueueHome): void {
    const v = this.broker.vhost(h.vhost)
    const before = this.placement.home(h.vhost, h.name)
    if (h.node !== this.self && v !== undefined && (before === undefined || before.node === this.self)) {
      // a local queue of that name lost to another node (or a stale cache entry): etcd's record wins
      const local = v.queues.get(h.name)
      if (local !== undefined) v.removeQueue(local)
    }
    // set before the bindings: the node link's listener puts a stand-in in the vhost for a remote queue
    this.placement.set(h)
    if (v === undefined) return
    if (h.node === this.self && !v.queues.has(h.name) && !h.exclusive && !this.claimed(h.vhost, h.name)) {
      v.declareQueue(h.name, { durable: h.durable, autoDelete: h.autoDelete, exclusiveOwner: null, arguments: h.arguments }, false, null)
    }
    this.applyBindingsOf(v.name, 'queue', h.name)
  }

  private deleteQueue(h: QueueHome): void {
    const before = this.placement.home(h.vhost, h.name)
    this.placement.delete(h.vhost, h.name)
    const v = this.broker.vhost(h.vhost)
    const local = v?.queues.get(h.name)
    if (v !== undefined && local !== undefined && (before === undefined || before.node === this.self)) v.removeQueue(local)
  }

  /** Binds (or unbinds) when both ends are present on this node; otherwise the record waits in the cache. */
  private bind(r: BindingRecord, bind: boolean): void {
    const v = this.broker.vhost(r.vhost)
    if (v === undefined || !v.exchanges.has(r.source)) return
    const args = decodeArguments(r.arguments)
    if (r.destinationType === 'exchange') {
      if (!v.exchanges.has(r.destination)) return
      if (bind) v.bindExchange(r.destination, r.source, r.routingKey, args)
      else v.unbindExchange(r.destination, r.source, r.routingKey, args)
      return
    }
    const q = v.queues.get(r.destination)
    if (q === undefined) return
    // the owner itself passes the exclusive check: the binding was made by the owner at the home
    if (bind) v.bindQueue(r.destination, r.source, r.routingKey, args, q.options.exclusiveOwner)
    else v.unbindQueue(r.destination, r.source, r.routingKey, args, q.options.exclusiveOwner)
  }

  /** Applies the bindings waiting for a queue or exchange that just appeared. */
  private applyBindingsOf(vhost: string, end: BindingEnd, name: string): void {
    for (const k of this.index.keys(vhost, end, name)) {
      const value = this.cache.get(k)
      if (value !== undefined) this.put(k, value)
    }
  }

  private applyPendingIn(vhost: string): void {
    for (const kind of ['exchanges', 'queues', 'bindings']) {
      const prefix = `${this.keys.defs}${kind}/${encodeURIComponent(vhost)}/`
      for (const [k, value] of this.cache) if (k.startsWith(prefix)) this.put(k, value)
    }
  }

  /**
   * Makes the local model equal to the cache (etcd's whole prefix, at start): what etcd holds is
   * created or replaced, what it does not hold is removed (built-in exchanges and the vhosts'
   * implicit parts aside).
   */
  reconcile(): void {
    const kinds = ['vhosts', 'users', 'permissions', 'topic-permissions', 'parameters', 'global-parameters', 'exchanges', 'queues', 'bindings']
    for (const kind of kinds) {
      for (const [k, value] of this.cache) if (this.keys.kindOf(k) === kind) this.put(k, value)
    }
    // sections: anything local that etcd does not hold goes (reverse order: permissions before users)
    const local = [...sectionSnapshot(this.broker, this.keys)].reverse()
    for (const [k, value] of local) if (!this.cache.has(k) && SECTION_KINDS.has(this.keys.kindOf(k))) this.delete(k, value)
    for (const v of this.broker.vhosts.values()) {
      for (const b of [...v.bindings()]) {
        const r = bindingRecord(v, b)
        if (!this.cache.has(this.keys.binding(r))) this.bind(r, false)
      }
      for (const q of [...v.queues.values()]) {
        // a queue etcd does not know; one homed elsewhere was removed by putQueue (what is left is the link's stand-in)
        if (this.placement.home(v.name, q.name) === undefined) v.removeQueue(q)
      }
      for (const x of [...v.exchanges.values()]) {
        if (x.name === '' || x.name.startsWith('amq.')) continue
        if (!this.cache.has(this.keys.exchange(v.name, x.name))) v.deleteExchange(x.name, false)
      }
    }
  }
}
