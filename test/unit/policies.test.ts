/**
 * Policy matching, validation and precedence (core/policy-match.ts, core/policies.ts,
 * core/queue-settings.ts) against RabbitMQ 3.10's rules, without a broker.
 */
import { describe, expect, it } from 'vitest'
import { makePolicy, mergeDefinitions, validateDefinition, type Policy } from '../../core/policies.js'
import { appliesTo, matchPolicy } from '../../core/policy-match.js'
import { queueSettings } from '../../core/queue-settings.js'
import type { FieldTable } from '../../core/wire/field-table.js'

const pol = (name: string, pattern: string, definition: FieldTable, priority = 0, applyTo = 'all'): Policy =>
  makePolicy({ vhost: '/', name, pattern, applyTo, definition, priority })

describe('matching', () => {
  it('apply-to by kind and queue type', () => {
    const q = { kind: 'queue' as const, name: 'q', queueType: 'quorum' }
    const x = { kind: 'exchange' as const, name: 'x' }
    expect([appliesTo('all', q), appliesTo('queues', q), appliesTo('quorum_queues', q), appliesTo('classic_queues', q), appliesTo('exchanges', q)]).toEqual([true, true, true, false, false])
    expect([appliesTo('all', x), appliesTo('exchanges', x), appliesTo('queues', x)]).toEqual([true, true, false])
  })

  it('unanchored, case-sensitive patterns; the highest priority wins; equal priorities: the first name', () => {
    const ps = [pol('b', 'orders', { 'max-length': 1 }, 1), pol('a', '^ord', { 'max-length': 2 }, 1), pol('c', 'ORDERS', { 'max-length': 3 }, 9)]
    expect(matchPolicy(ps, { kind: 'queue', name: 'my-orders' })?.name).toBe('b')
    expect(matchPolicy(ps, { kind: 'queue', name: 'orders' })?.name).toBe('a')
    expect(matchPolicy(ps, { kind: 'queue', name: 'none' })).toBeUndefined()
  })

  it('a pattern RE2 refuses (backreference) does not compile', () => {
    expect(() => pol('bad', '(a)\\1', { 'max-length': 1 })).toThrow()
  })
})

describe('validation texts', () => {
  it('as rabbit_policies', () => {
    expect(validateDefinition({ 'max-length': 1, 'ha-mode': 'all', 'queue-mode': 'lazy' }, 'policy')).toBeUndefined()
    expect(validateDefinition({ expires: 0 }, 'policy')).toBe('0 is not a valid queue expiry')
    expect(validateDefinition({ 'dead-letter-exchange': 1 }, 'policy')).toBe('1 is not a valid dead letter exchange name')
    expect(validateDefinition({ 'single-active-consumer': true }, 'policy')).toBe('[{<<"single-active-consumer">>,true}] are not recognised policy settings')
    expect(validateDefinition({ overflow: 'drop-head' }, 'operator_policy')).toBe('[{<<"overflow">>,<<"drop-head">>}] are not recognised policy settings')
  })
})

describe('precedence', () => {
  it('operator policy: union of keys, the lower value where both set one', () => {
    const p = pol('p', '.*', { 'max-length': 10, 'message-ttl': 5, 'dead-letter-exchange': 'd' })
    const op = pol('op', '.*', { 'max-length': 3, 'message-ttl': 50, expires: 1000 })
    expect(mergeDefinitions(p, op)).toEqual({ 'max-length': 3, 'message-ttl': 5, 'dead-letter-exchange': 'd', expires: 1000 })
    expect(mergeDefinitions(null, null)).toEqual({})
  })

  it('arguments vs policy: min for limits and TTLs, the argument for dead-lettering and (classic) overflow, the policy for quorum overflow', () => {
    const policy = { 'max-length': 5, 'max-length-bytes': 100, 'message-ttl': 10, expires: 2000, 'delivery-limit': 3, 'dead-letter-exchange': 'pd', 'dead-letter-routing-key': 'pk', overflow: 'reject-publish' }
    const args = { 'x-max-length': 50, 'x-max-length-bytes': 10, 'x-message-ttl': 100, 'x-expires': 1000, 'x-delivery-limit': 1, 'x-dead-letter-exchange': 'ad', 'x-overflow': 'drop-head' }
    expect(queueSettings(args, policy)).toMatchObject({ maxLength: 5, maxLengthBytes: 10, messageTtl: 10, expires: 1000, deliveryLimit: 1, deadLetterExchange: 'ad', deadLetterRoutingKey: 'pk', overflow: 'drop-head' })
    expect(queueSettings({ ...args, 'x-queue-type': 'quorum' }, policy).overflow).toBe('reject-publish')
    expect(queueSettings({}, { 'max-priority': 5 } as FieldTable).maxPriority).toBe(0)
  })
})
