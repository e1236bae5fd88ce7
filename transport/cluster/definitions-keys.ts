/**
 * The etcd key layout of cluster-wide definitions (issue 13), and the records' JSON. Every name is
 * percent-encoded (encodeURIComponent: '/' → %2F) so a name holding '/' cannot reach into another
 * key; keys are only compared and scanned by prefix, never parsed: a record's value carries every
 * field, names included.
 *
 *   /warren/<cluster>/defs/vhosts/<vhost>                      {name, description, tags, defaultQueueType?}
 *   /warren/<cluster>/defs/users/<user>                        {name, passwordHash, hashingAlgorithm, tags, loopbackOnly, limits?}
 *   /warren/<cluster>/defs/permissions/<vhost>/<user>          {user, vhost, configure, write, read}
 *   /warren/<cluster>/defs/topic-permissions/<vhost>/<user>/<exchange>   {user, vhost, exchange, write, read}
 *   /warren/<cluster>/defs/parameters/<vhost>/<component>/<name>         {vhost, component, name, value}
 *       (policies and operator policies are components 'policy' and 'operator_policy', as in RabbitMQ)
 *   /warren/<cluster>/defs/global-parameters/<name>            {name, value}
 *   /warren/<cluster>/defs/exchanges/<vhost>/<name>            {vhost, name, type, durable, autoDelete, internal, arguments}
 *   /warren/<cluster>/defs/queues/<vhost>/<name>               QueueHome {vhost, name, node, durable, autoDelete, exclusive, arguments}
 *   /warren/<cluster>/defs/bindings/<vhost>/<source>/<q|e>/<destination>/<routing key>/<arguments>
 *                                                              {vhost, source, destinationType, destination, routingKey, arguments}
 *   /warren/<cluster>/defs-seeded                              set once by the node that seeded an empty cluster
 *   /warren/<cluster>/applied/<node>                           revision of defs/ the node has applied (on its lease)
 *
 * `arguments` is the AMQP field table encoded as in the local definitions log (base64 of the wire
 * table, '' when empty), so types survive (a long stays a long, a byte array stays bytes).
 */
import type { Broker } from '../../core/broker.js'
import type { Binding, Exchange } from '../../core/exchange.js'
import type { QueueHome } from '../../core/cluster/placement.js'
import type { Queue } from '../../core/queue.js'
import { decodeArguments, encodeArguments } from '../../core/store/definitions.js'
import type { VHost } from '../../core/vhost.js'

const e = encodeURIComponent

export class DefinitionKeys {
  readonly root: string
  readonly defs: string
  readonly applied: string
  readonly seeded: string

  constructor(cluster: string) {
    this.root = `/warren/${e(cluster)}/`
    this.defs = this.root + 'defs/'
    this.applied = this.root + 'applied/'
    this.seeded = this.root + 'defs-seeded'
  }

  vhost = (name: string): string => `${this.defs}vhosts/${e(name)}`
  user = (name: string): string => `${this.defs}users/${e(name)}`
  permission = (vhost: string, user: string): string => `${this.defs}permissions/${e(vhost)}/${e(user)}`
  topicPermission = (vhost: string, user: string, x: string): string => `${this.defs}topic-permissions/${e(vhost)}/${e(user)}/${e(x)}`
  parameter = (vhost: string, component: string, name: string): string => `${this.defs}parameters/${e(vhost)}/${e(component)}/${e(name)}`
  global = (name: string): string => `${this.defs}global-parameters/${e(name)}`
  exchange = (vhost: string, name: string): string => `${this.defs}exchanges/${e(vhost)}/${e(name)}`
  queue = (vhost: string, name: string): string => `${this.defs}queues/${e(vhost)}/${e(name)}`
  binding = (r: BindingRecord): string =>
    `${this.defs}bindings/${e(r.vhost)}/${e(r.source)}/${r.destinationType === 'queue' ? 'q' : 'e'}/${e(r.destination)}/${e(r.routingKey)}/${e(r.arguments)}`

  /** the kind of a defs key: 'vhosts', 'users', 'queues', … */
  kindOf(key: string): string {
    const rest = key.slice(this.defs.length)
    return rest.slice(0, rest.indexOf('/'))
  }
}

export interface ExchangeRecord {
  vhost: string
  name: string
  type: string
  durable: boolean
  autoDelete: boolean
  internal: boolean
  arguments: string
}

export interface BindingRecord {
  vhost: string
  source: string
  destinationType: 'queue' | 'exchange'
  destination: string
  routingKey: string
  arguments: string
}

/** QueueHome as stored: arguments encoded. */
export type QueueRecord = Omit<QueueHome, 'arguments'> & { arguments: string }

export const exchangeRecord = (v: VHost, x: Exchange): ExchangeRecord => ({
  vhost: v.name,
  name: x.name,
  type: x.type,
  durable: x.durable,
  autoDelete: x.autoDelete,
  internal: x.internal,
  arguments: encodeArguments(x.arguments),
})

export const bindingRecord = (v: VHost, b: Binding): BindingRecord => ({
  vhost: v.name,
  source: b.source.name,
  destinationType: b.destination.kind === 'queue' ? 'queue' : 'exchange',
  destination: b.destination.name,
  routingKey: b.routingKey,
  arguments: encodeArguments(b.arguments),
})

export const queueHome = (v: VHost, q: Queue, node: string): QueueHome => ({
  vhost: v.name,
  name: q.name,
  node,
  durable: q.durable,
  autoDelete: q.autoDelete,
  exclusive: q.exclusive,
  arguments: q.arguments,
})

export const encodeHome = (h: QueueHome): string => JSON.stringify({ ...h, arguments: encodeArguments(h.arguments) })

export function decodeHome(value: string): QueueHome {
  const r = JSON.parse(value) as QueueRecord
  return { ...r, arguments: decodeArguments(r.arguments) }
}

/**
 * The definitions core keeps outside exchanges, queues and bindings (vhosts, users, permissions,
 * topic permissions, parameters, policies, global parameters) as etcd would hold them: compared
 * with etcd's view after every management change, the differences written (definitions-store.ts).
 */
export function sectionSnapshot(broker: Broker, keys: DefinitionKeys): Map<string, string> {
  const out = new Map<string, string>()
  const put = (k: string, v: unknown): void => void out.set(k, JSON.stringify(v))
  for (const name of broker.vhosts.keys()) {
    const m = broker.vhostMetadata.get(name)
    put(keys.vhost(name), { name, description: m?.description ?? '', tags: m?.tags ?? [], defaultQueueType: m?.defaultQueueType })
  }
  const limits = new Map(broker.users.allLimits().map((l) => [l.user, l.value]))
  for (const u of broker.users.list()) put(keys.user(u.name), { ...u, limits: limits.get(u.name) })
  for (const p of broker.users.permissions()) put(keys.permission(p.vhost, p.user), p)
  for (const p of broker.users.topicPermissions()) put(keys.topicPermission(p.vhost, p.user, p.exchange), p)
  for (const [component, store] of [['policy', broker.policies], ['operator_policy', broker.operatorPolicies]] as const) {
    for (const p of store.list()) {
      const value = { pattern: p.pattern, 'apply-to': p.applyTo, definition: encodeArguments(p.definition), priority: p.priority }
      put(keys.parameter(p.vhost, component, p.name), { vhost: p.vhost, component, name: p.name, value })
    }
  }
  for (const p of broker.parameters.list()) put(keys.parameter(p.vhost, p.component, p.name), { vhost: p.vhost, component: p.component, name: p.name, value: p.value })
  for (const g of broker.parameters.listGlobal()) put(keys.global(g.name), { name: g.name, value: g.value })
  return out
}

/** The kinds sectionSnapshot covers. */
export const SECTION_KINDS = new Set(['vhosts', 'users', 'permissions', 'topic-permissions', 'parameters', 'global-parameters'])

/** Exchanges (built-ins left out), queues homed here and bindings of the local vhosts, for seeding an empty cluster. */
export function topologySnapshot(broker: Broker, keys: DefinitionKeys, self: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const v of broker.vhosts.values()) {
    for (const x of v.exchanges.values()) {
      if (x.name !== '' && !x.name.startsWith('amq.')) out.set(keys.exchange(v.name, x.name), JSON.stringify(exchangeRecord(v, x)))
    }
    for (const q of v.queues.values()) out.set(keys.queue(v.name, q.name), encodeHome(queueHome(v, q, self)))
    for (const b of v.bindings()) {
      const r = bindingRecord(v, b)
      out.set(keys.binding(r), JSON.stringify(r))
    }
  }
  return out
}
