/**
 * Importing definitions without half-made results. Three steps:
 *  1. parse and check every entry (types, names, references to vhosts and users) → 400 naming it;
 *  2. dry run: declare the exchanges, queues and bindings in scratch VHosts that copy the current
 *     topology, through the same VHost methods as AMQP, so inequivalent redeclarations, bad
 *     arguments and unknown types are found before anything changes → 400;
 *  3. apply to the broker in RabbitMQ's order (vhosts, users, permissions, topic permissions,
 *     parameters (vhost limits, operator policies, …), global parameters, policies, exchanges,
 *     queues, bindings), so the policies apply to the queues and exchanges as they are declared. Each object is created whole or not at all.
 * Every step yields to the event loop every IMPORT_SLICE objects; nothing is applied before the
 * whole file has passed steps 1 and 2.
 */
import type { Logger } from 'pino'
import type { Broker, VHostMetadata } from '../../core/broker.js'
import { AmqpError } from '../../core/errors.js'
import type { ExchangeOptions } from '../../core/exchange.js'
import type { Policy } from '../../core/policies.js'
import type { QueueOptions } from '../../core/queue.js'
import { USER_LIMIT_KEYS, validateLimits, VHOST_LIMIT_KEYS } from '../../core/limits.js'
import type { Permission, TopicPermission, User } from '../../core/users.js'
import { VHost } from '../../core/vhost.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import { bool, objectBody, shortName, str, toFieldTable } from '../coerce.js'
import type { ApiRequest } from '../context.js'
import { badRequest, HttpError } from '../http-errors.js'
import { parameterValue } from './parameters.js'
import { policyInput, validationFailed } from './policies.js'
import { topicPermissionInput } from './topic-permissions.js'
import { permissionInput, userInput } from './users.js'
import { vhostInput } from './vhosts.js'

type Obj = Record<string, unknown>

interface Plan {
  vhosts: { name: string; meta: VHostMetadata }[]
  users: User[]
  permissions: Permission[]
  topicPermissions: TopicPermission[]
  userLimits: { user: string; value: Record<string, number> }[]
  parameters: { component: string; vhost: string; name: string; value: unknown }[]
  operatorPolicies: Policy[]
  globals: { name: string; value: unknown }[]
  policies: Policy[]
  exchanges: { vhost: string; name: string; type: string; options: ExchangeOptions }[]
  queues: { vhost: string; name: string; options: QueueOptions }[]
  bindings: { vhost: string; source: string; destination: string; kind: 'queue' | 'exchange'; routingKey: string; args: FieldTable }[]
}

/** Objects checked or declared between two yields to the event loop while an import runs. */
export const IMPORT_SLICE = 256

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Runs `step` on every item, yielding to the event loop (AMQP, other requests) every IMPORT_SLICE. */
async function inSlices<T>(items: Iterable<T>, step: (item: T) => void): Promise<void> {
  let n = 0
  for (const item of items) {
    if (++n % IMPORT_SLICE === 0) await yieldToLoop()
    step(item)
  }
}

/**
 * The entries under `key`: an array of objects, each passed to `parse` (errors name the entry),
 * yielding to the event loop every IMPORT_SLICE entries.
 */
async function entries<T>(o: Obj, key: string, parse: (item: Obj) => T): Promise<T[]> {
  const list = o[key]
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) throw badRequest(`${key} must be an array`)
  const out: T[] = []
  await inSlices(list as unknown[], (item) => {
    const i = out.length
    const what = `${key}[${i}]${item !== null && typeof item === 'object' && typeof (item as Obj).name === 'string' ? ` '${(item as Obj).name}'` : ''}`
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badRequest(`${what} must be an object`)
    try {
      out.push(parse(item as Obj))
    } catch (err) {
      if (err instanceof HttpError) throw badRequest(`${what}: ${err.reason}`)
      throw err
    }
  })
  return out
}

/** Step 1. `target` is the vhost of a per-vhost import (its entries carry no "vhost" key). */
async function parse(broker: Broker, o: Obj, target: string | undefined): Promise<Plan> {
  const version = String(o.rabbit_version ?? o.rabbitmq_version ?? '')
  // definitions from RabbitMQ before 3.6 have no hashing_algorithm: their hashes are MD5
  const defaultAlgorithm = /^3\.[0-5]\./.test(version) ? 'rabbit_password_hashing_md5' : undefined
  const full = target === undefined
  const vhosts = full ? await entries(o, 'vhosts', (e) => ({ name: str(e, 'name'), meta: vhostInput(str(e, 'name'), e) })) : []
  const known = new Set([...broker.vhosts.keys(), ...vhosts.map((v) => v.name)])
  const vhostOf = (e: Obj): string => {
    if (target !== undefined) return target
    const v = str(e, 'vhost')
    if (!known.has(v)) throw badRequest(`vhost '${v}' does not exist and is not in the definitions`)
    return v
  }
  const users = full ? await entries(o, 'users', (e) => userInput(str(e, 'name'), e, defaultAlgorithm)) : []
  const userNames = new Set([...broker.users.list().map((u) => u.name), ...users.map((u) => u.name)])
  const permissions = full
    ? await entries(o, 'permissions', (e) => {
        const user = str(e, 'user')
        if (!userNames.has(user)) throw badRequest(`user '${user}' does not exist and is not in the definitions`)
        return permissionInput(user, vhostOf(e), e)
      })
    : []
  const topicPermissions = full
    ? await entries(o, 'topic_permissions', (e) => {
        const user = str(e, 'user')
        if (!userNames.has(user)) throw badRequest(`user '${user}' does not exist and is not in the definitions`)
        return topicPermissionInput(user, vhostOf(e), e)
      })
    : []
  const userLimits = users.flatMap((u, i) => {
    const limits = ((o.users as Obj[])[i] as Obj).limits
    if (limits === undefined || limits === null || (typeof limits === 'object' && Object.keys(limits).length === 0)) return []
    const bad = validateLimits(limits, USER_LIMIT_KEYS)
    if (bad !== undefined) throw badRequest(`users[${i}] '${u.name}': ${bad}`)
    return [{ user: u.name, value: limits as Record<string, number> }]
  })
  const operatorPolicies: Policy[] = []
  const parameters = (await entries(o, 'parameters', (e) => {
    const p = { component: str(e, 'component'), vhost: vhostOf(e), name: shortName(str(e, 'name'), 'parameter name'), value: parameterValue(e) }
    if (p.component === 'operator_policy') {
      if (p.value === null || typeof p.value !== 'object') throw badRequest('an operator policy value must be an object')
      operatorPolicies.push(policyInput(p.vhost, p.name, p.value as Obj, 'operator_policy'))
      return undefined
    }
    if (p.component === 'policy') throw badRequest("policies go under 'policies'")
    if (p.component === 'vhost-limits') {
      const bad = validateLimits(p.value, VHOST_LIMIT_KEYS)
      if (bad !== undefined) throw validationFailed(bad)
    }
    return p
  })).filter((p) => p !== undefined)
  const globals = full ? await entries(o, 'global_parameters', (e) => ({ name: shortName(str(e, 'name'), 'parameter name'), value: parameterValue(e) })) : []
  const policies = await entries(o, 'policies', (e) => policyInput(vhostOf(e), str(e, 'name'), e))
  const exchanges = await entries(o, 'exchanges', (e) => ({
    vhost: vhostOf(e),
    name: nonEmptyName(str(e, 'name'), 'exchange name'),
    type: str(e, 'type'),
    options: {
      durable: bool(e, 'durable', true),
      autoDelete: bool(e, 'auto_delete', false),
      internal: bool(e, 'internal', false),
      arguments: toFieldTable(e.arguments, 'arguments'),
    },
  }))
  const queues = await entries(o, 'queues', (e) => ({
    vhost: vhostOf(e),
    name: nonEmptyName(str(e, 'name'), 'queue name'),
    options: {
      durable: bool(e, 'durable', true),
      autoDelete: bool(e, 'auto_delete', false),
      exclusiveOwner: null,
      arguments: toFieldTable(e.arguments, 'arguments'),
    },
  }))
  const bindings = await entries(o, 'bindings', (e) => {
    const kind = str(e, 'destination_type')
    if (kind !== 'queue' && kind !== 'exchange') throw badRequest(`destination_type must be 'queue' or 'exchange', got '${kind}'`)
    return {
      vhost: vhostOf(e),
      source: shortName(str(e, 'source'), 'source'),
      destination: shortName(str(e, 'destination'), 'destination'),
      kind: kind as 'queue' | 'exchange',
      routingKey: shortName(str(e, 'routing_key', ''), 'routing_key'),
      args: toFieldTable(e.arguments, 'arguments'),
    }
  })
  return { vhosts, users, permissions, topicPermissions, userLimits, parameters, operatorPolicies, globals, policies, exchanges, queues, bindings }
}

function nonEmptyName(name: string, what: string): string {
  if (name === '') throw badRequest(`${what} must not be empty`)
  return shortName(name, what)
}

/** Runs a core declaration; an AMQP error becomes a 400 naming the object. */
function attempt(what: string, step: () => void): void {
  try {
    step()
  } catch (err) {
    if (err instanceof AmqpError) throw badRequest(`${what}: ${err.detail}`)
    throw err
  }
}

type Declarer = (vhost: string) => VHost

/** Declares the plan's exchanges, queues and bindings with `vhostOf`, in slices. */
async function declareTopology(plan: Plan, vhostOf: Declarer, onError: (err: HttpError) => void): Promise<void> {
  const run = (what: string, step: () => void): void => {
    try {
      attempt(what, step)
    } catch (err) {
      if (!(err instanceof HttpError)) throw err
      onError(err)
    }
  }
  await inSlices(plan.exchanges, (x) =>
    run(`exchange '${x.name}' in vhost '${x.vhost}'`, () => vhostOf(x.vhost).declareExchange(x.name, x.type, x.options, false)),
  )
  await inSlices(plan.queues, (q) => run(`queue '${q.name}' in vhost '${q.vhost}'`, () => vhostOf(q.vhost).declareQueue(q.name, q.options, false, null)))
  await inSlices(plan.bindings, (b) =>
    run(`binding from '${b.source}' to ${b.kind} '${b.destination}' in vhost '${b.vhost}'`, () => {
      const v = vhostOf(b.vhost)
      if (b.kind === 'exchange') return v.bindExchange(b.destination, b.source, b.routingKey, b.args)
      const owner = v.queues.get(b.destination)?.options.exclusiveOwner ?? null
      v.bindQueue(b.destination, b.source, b.routingKey, b.args, owner)
    }),
  )
}

/** Step 2: the plan against copies of the affected vhosts; throws the first problem. */
async function dryRun(broker: Broker, plan: Plan, log: Logger): Promise<void> {
  const silent = log.child({ dryRun: true }, { level: 'silent' })
  const scratch = new Map<string, VHost>()
  try {
    for (const name of new Set([...plan.exchanges, ...plan.queues, ...plan.bindings].map((o) => o.vhost))) {
      const s = new VHost(name, broker.exchangeTypes, silent)
      scratch.set(name, s)
      const real = broker.vhost(name)
      if (real === undefined) continue
      await inSlices([...real.exchanges.values()], (x) => {
        if (x.name !== '' && !x.name.startsWith('amq.')) s.declareExchange(x.name, x.type, x.options, false)
      })
      // server-named queues (amq.gen-…) cannot be declared by name, and definitions never hold them
      await inSlices([...real.queues.values()], (q) => {
        if (!q.name.startsWith('amq.')) s.declareQueue(q.name, q.options, false, q.options.exclusiveOwner)
      })
    }
    await declareTopology(
      plan,
      (name) => scratch.get(name) as VHost,
      (err) => {
        throw err
      },
    )
  } finally {
    for (const s of scratch.values()) await inSlices([...s.queues.values()], (q) => s.removeQueue(q))
  }
}

/**
 * POST /api/definitions[/{vhost}]: validates everything, then applies it. The dry run and the apply
 * step run in slices of IMPORT_SLICE objects with the event loop served in between, so a large
 * import does not stall AMQP clients (a 14 MB one used to block them for 14 s).
 */
export async function importDefinitions(req: ApiRequest, target: string | undefined): Promise<void> {
  const { broker, log } = req.ctx
  // the body was parsed in the tick that received it: let the loop breathe before validating
  await yieldToLoop()
  const plan = await parse(broker, objectBody(req.body), target)
  await dryRun(broker, plan, log)
  await inSlices(plan.vhosts, (v) => broker.addVHost(v.name, v.meta))
  // one change (one definitions record) for all users and permissions, not one per user
  broker.users.putAll(plan.users, plan.permissions)
  for (const p of plan.topicPermissions) broker.users.setTopicPermission(p)
  for (const l of plan.userLimits) broker.users.setLimits(l.user, l.value)
  await inSlices(plan.parameters, (p) => broker.putParameter(p.component, p.vhost, p.name, p.value))
  // the cluster id is the broker's own (RabbitMQ keeps its own too)
  for (const g of plan.globals) if (g.name !== 'internal_cluster_id') broker.putGlobalParameter(g.name, g.value)
  await inSlices(plan.operatorPolicies, (p) => broker.putPolicy('operator_policy', p))
  await inSlices(plan.policies, (p) => broker.putPolicy('policy', p))
  const failures: string[] = []
  await declareTopology(
    plan,
    (name) => broker.addVHost(name),
    (err) => failures.push(err.reason),
  )
  const counts = { vhosts: plan.vhosts.length, users: plan.users.length, exchanges: plan.exchanges.length, queues: plan.queues.length, bindings: plan.bindings.length }
  log.info({ ...counts, by: req.user.name, failures: failures.length }, 'definitions imported')
  if (failures.length > 0) throw badRequest(failures.join('; '))
}
