/**
 * The object kinds `warren ctl` knows, each with its management API paths and default columns: the
 * one table to extend when the API grows. A kind here gets `list KIND` for free; with `one` it can
 * be the target of generic set/clear commands (commands.ts: `policyCommands` for policy-shaped
 * kinds; access-commands.ts for limits, topic permissions and parameters, whose paths differ).
 */
import { seg } from './client.js'

export interface ObjectKind {
  /** path listing the objects of every vhost the user may see (or the global objects) */
  all: string
  /** path listing one vhost's objects; absent for kinds that are not per vhost */
  inVHost?: (vhost: string) => string
  /** path of one object, for commands that create, change or delete one */
  one?: (vhost: string, name: string) => string
  /** default table columns (dotted paths into the API's JSON) */
  columns: readonly string[]
}

export const KINDS: Readonly<Record<string, ObjectKind>> = {
  queues: {
    all: '/api/queues',
    inVHost: (v) => `/api/queues/${seg(v)}`,
    one: (v, n) => `/api/queues/${seg(v)}/${seg(n)}`,
    columns: ['vhost', 'name', 'type', 'durable', 'state', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers'],
  },
  exchanges: {
    all: '/api/exchanges',
    inVHost: (v) => `/api/exchanges/${seg(v)}`,
    one: (v, n) => `/api/exchanges/${seg(v)}/${seg(n)}`,
    columns: ['vhost', 'name', 'type', 'durable', 'auto_delete', 'internal'],
  },
  bindings: {
    all: '/api/bindings',
    inVHost: (v) => `/api/bindings/${seg(v)}`,
    columns: ['vhost', 'source', 'destination', 'destination_type', 'routing_key', 'arguments'],
  },
  connections: {
    all: '/api/connections',
    inVHost: (v) => `/api/vhosts/${seg(v)}/connections`,
    one: (_v, n) => `/api/connections/${seg(n)}`,
    columns: ['name', 'user', 'vhost', 'protocol', 'state', 'channels', 'peer_host', 'peer_port'],
  },
  consumers: {
    all: '/api/consumers',
    inVHost: (v) => `/api/consumers/${seg(v)}`,
    columns: ['queue.vhost', 'queue.name', 'consumer_tag', 'channel_details.name', 'ack_required', 'prefetch_count', 'active'],
  },
  users: {
    all: '/api/users',
    one: (_v, n) => `/api/users/${seg(n)}`,
    columns: ['name', 'tags'],
  },
  vhosts: {
    all: '/api/vhosts',
    one: (_v, n) => `/api/vhosts/${seg(n)}`,
    columns: ['name', 'description', 'messages', 'tracing'],
  },
  policies: {
    all: '/api/policies',
    inVHost: (v) => `/api/policies/${seg(v)}`,
    one: (v, n) => `/api/policies/${seg(v)}/${seg(n)}`,
    columns: ['vhost', 'name', 'pattern', 'apply-to', 'priority', 'definition'],
  },
  'operator-policies': {
    all: '/api/operator-policies',
    inVHost: (v) => `/api/operator-policies/${seg(v)}`,
    one: (v, n) => `/api/operator-policies/${seg(v)}/${seg(n)}`,
    columns: ['vhost', 'name', 'pattern', 'apply-to', 'priority', 'definition'],
  },
  'vhost-limits': {
    all: '/api/vhost-limits',
    inVHost: (v) => `/api/vhost-limits/${seg(v)}`,
    one: (v, n) => `/api/vhost-limits/${seg(v)}/${seg(n)}`,
    columns: ['vhost', 'value'],
  },
  'user-limits': {
    all: '/api/user-limits',
    columns: ['user', 'value'],
  },
  'topic-permissions': {
    all: '/api/topic-permissions',
    inVHost: (v) => `/api/vhosts/${seg(v)}/topic-permissions`,
    columns: ['user', 'vhost', 'exchange', 'write', 'read'],
  },
  parameters: {
    all: '/api/parameters',
    columns: ['vhost', 'component', 'name', 'value'],
  },
  permissions: {
    all: '/api/permissions',
    inVHost: (v) => `/api/vhosts/${seg(v)}/permissions`,
    one: (v, n) => `/api/permissions/${seg(v)}/${seg(n)}`,
    columns: ['user', 'vhost', 'configure', 'write', 'read'],
  },
}

/** The kind's path of one object; throws when the kind has none (a programming error in the tables). */
export function onePath(kind: string, vhost: string, name: string): string {
  const k = KINDS[kind]
  if (k?.one === undefined) throw new Error(`object kind '${kind}' has no path for one object`)
  return k.one(vhost, name)
}
