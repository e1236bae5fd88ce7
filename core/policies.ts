/**
 * Policies and operator policies as RabbitMQ stores them (runtime parameters of components
 * 'policy' and 'operator_policy'), with their validation (rabbit_policy, rabbit_policies). Which
 * one applies to an object is core/policy-match.ts; what it changes is core/queue-settings.ts;
 * the Broker re-applies them to a vhost's queues and exchanges whenever one is put or deleted.
 */
import { compilePolicyPattern, type NameMatcher } from './policy-match.js'
import type { FieldTable, FieldValue } from './wire/field-table.js'

/** One policy, as in RabbitMQ's definitions. */
export interface Policy {
  readonly vhost: string
  readonly name: string
  readonly pattern: string
  /** 'queues', 'exchanges', 'all' (RabbitMQ's apply-to), or a queue type's ('classic_queues' …) */
  readonly applyTo: string
  readonly definition: FieldTable
  readonly priority: number
  /** the compiled pattern */
  readonly matcher: NameMatcher
}

/** 'policy' or 'operator_policy' (RabbitMQ's runtime parameter components). */
export type PolicyKind = 'policy' | 'operator_policy'

/** apply-to values RabbitMQ accepts (3.10 and its queue types). */
export const APPLY_TO = ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams']

const isInt = (v: FieldValue | undefined): v is number => typeof v === 'number' && Number.isInteger(v)
const nonNeg = (v: FieldValue | undefined): boolean => isInt(v) && v >= 0
const isStr = (v: FieldValue | undefined): boolean => typeof v === 'string'
const oneOf = (...values: string[]) => (v: FieldValue | undefined): boolean => typeof v === 'string' && values.includes(v)

/** rabbit_policies:validate_policy0 (and the other modules' validators): key → check, error text. */
const KEYS: Record<string, [(v: FieldValue | undefined) => boolean, string]> = {
  'alternate-exchange': [isStr, 'is not a valid alternate exchange name'],
  'dead-letter-exchange': [isStr, 'is not a valid dead letter exchange name'],
  'dead-letter-routing-key': [isStr, 'is not a valid dead letter routing key'],
  'message-ttl': [nonNeg, 'is not a valid message TTL'],
  expires: [(v) => isInt(v) && v >= 1, 'is not a valid queue expiry'],
  'max-length': [nonNeg, 'is not a valid maximum length'],
  'max-length-bytes': [nonNeg, 'is not a valid maximum length in bytes'],
  'max-in-memory-length': [nonNeg, 'is not a valid maximum memory in bytes'],
  'max-in-memory-bytes': [nonNeg, 'is not a valid maximum memory in bytes'],
  'queue-mode': [oneOf('default', 'lazy'), 'is not a valid queue-mode value'],
  'queue-version': [(v) => v === 1 || v === 2, 'is not a valid queue version'],
  overflow: [oneOf('drop-head', 'reject-publish', 'reject-publish-dlx'), 'is not a valid overflow value'],
  'delivery-limit': [nonNeg, 'is not a valid delivery limit'],
  'dead-letter-strategy': [oneOf('at-most-once', 'at-least-once'), 'is not a valid dead letter strategy'],
  'max-age': [isStr, 'is not a valid max age'],
  'max-segment-size': [nonNeg, 'is not a valid segment size'],
  'stream-max-segment-size-bytes': [nonNeg, 'is not a valid segment size'],
  'queue-leader-locator': [oneOf('client-local', 'random', 'least-leaders', 'balanced'), 'is not a valid queue leader locator value'],
  'queue-master-locator': [oneOf('min-masters', 'client-local', 'random'), 'is not a valid queue master locator'],
  'initial-cluster-size': [nonNeg, 'is not a valid cluster size'],
  // classic mirroring (rabbit_mirror_queue_misc): stored and exported; a single node mirrors nothing
  'ha-mode': [oneOf('all', 'exactly', 'nodes'), 'is not a valid ha-mode value'],
  'ha-params': [() => true, ''],
  'ha-sync-mode': [oneOf('manual', 'automatic'), 'is not a valid ha-sync-mode value'],
  'ha-sync-batch-size': [(v) => isInt(v) && v > 0, 'is not a valid ha-sync-batch-size value'],
  'ha-promote-on-shutdown': [oneOf('when-synced', 'always'), 'is not a valid ha-promote-on-shutdown value'],
  'ha-promote-on-failure': [oneOf('when-synced', 'always'), 'is not a valid ha-promote-on-failure value'],
  // federation (stored: definitions exported from a broker with the plugin import unchanged)
  'federation-upstream': [isStr, 'is not a valid federation upstream'],
  'federation-upstream-set': [isStr, 'is not a valid federation upstream set'],
}

/** rabbit_policies: the keys an operator policy may set. */
const OPERATOR_KEYS = new Set(['expires', 'message-ttl', 'max-length', 'max-length-bytes', 'max-in-memory-length', 'max-in-memory-bytes', 'delivery-limit'])

/** Erlang's ~p of a JSON value, as RabbitMQ's validation messages print it. */
export function erlangTerm(v: FieldValue | undefined): string {
  if (typeof v === 'string') return `<<"${v.replace(/["\\]/g, (c) => `\\${c}`)}">>`
  if (typeof v === 'boolean') return String(v)
  if (typeof v === 'number' || typeof v === 'bigint') return String(v)
  if (v === null || v === undefined) return 'null'
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`
  if (typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return `#{${Object.entries(v as FieldTable).map(([k, x]) => `${erlangTerm(k)} => ${erlangTerm(x)}`).join(',')}}`
  }
  return String(v)
}

/**
 * Checks a policy definition as rabbit_policy:validation does; returns RabbitMQ's message (without
 * the "Validation failed" frame) or undefined when it is valid.
 */
export function validateDefinition(def: FieldTable, kind: PolicyKind): string | undefined {
  const keys = Object.keys(def)
  if (keys.length === 0) return 'no policy provided'
  const unknown: string[] = []
  for (const k of keys) {
    const rule = KEYS[k]
    if (rule === undefined || (kind === 'operator_policy' && !OPERATOR_KEYS.has(k))) {
      unknown.push(`{${erlangTerm(k)},${erlangTerm(def[k])}}`)
      continue
    }
    if (!rule[0](def[k])) return `${erlangTerm(def[k])} ${rule[1]}`
  }
  if (unknown.length > 0) return `[${unknown.join(',')}] are not recognised policy settings`
  return undefined
}

/** Builds a policy (compiling its pattern: throws an Error with RE2's reason when it does not compile). */
export function makePolicy(p: Omit<Policy, 'matcher'>): Policy {
  return { ...p, matcher: compilePolicyPattern(p.pattern) }
}

/** The stored policies of one kind, by vhost and name. */
export class PolicyStore {
  private readonly byVHost = new Map<string, Map<string, Policy>>()

  get(vhost: string, name: string): Policy | undefined {
    return this.byVHost.get(vhost)?.get(name)
  }

  put(p: Policy): void {
    let m = this.byVHost.get(p.vhost)
    if (m === undefined) this.byVHost.set(p.vhost, (m = new Map()))
    m.set(p.name, p)
  }

  delete(vhost: string, name: string): boolean {
    return this.byVHost.get(vhost)?.delete(name) ?? false
  }

  /** The policies of one vhost (for matching). */
  inVHost(vhost: string): Iterable<Policy> {
    return this.byVHost.get(vhost)?.values() ?? []
  }

  /** Every policy, or those of one vhost. */
  list(vhost?: string): Policy[] {
    if (vhost !== undefined) return [...this.inVHost(vhost)]
    const all: Policy[] = []
    for (const m of this.byVHost.values()) all.push(...m.values())
    return all
  }

  /** Removes the policies of a vhost being deleted. */
  deleteVHost(vhost: string): void {
    this.byVHost.delete(vhost)
  }
}

/**
 * The definition that applies when both a policy and an operator policy match
 * (rabbit_policy:merge_operator_definitions): the union, and for keys both set the lower value
 * (rabbit_policies:merge_policy_value, min for every operator policy key).
 */
export function mergeDefinitions(policy: Policy | null, op: Policy | null): FieldTable {
  if (op === null) return policy?.definition ?? {}
  if (policy === null) return op.definition
  const out: FieldTable = { ...policy.definition }
  for (const [k, v] of Object.entries(op.definition)) {
    const mine = out[k]
    out[k] = typeof mine === 'number' && typeof v === 'number' ? Math.min(mine, v) : mine === undefined ? v : mine
  }
  return out
}
