/**
 * Policies and operator policies (RabbitMQ rabbit_mgmt_wm_policies, _policy, _operator_policies,
 * _operator_policy). Stored and applied by the Broker (core/policies.ts): a put or delete changes
 * the matching queues and exchanges at once. As in RabbitMQ, a list shows the policies of the vhosts
 * the user has permissions in (administrators: all), and reading one policy or writing needs
 * administrator, or policymaker with permissions in the vhost; operator policies are for
 * administrators only. Invalid definitions get RabbitMQ's "Validation failed" texts.
 */
import { APPLY_TO, erlangTerm, makePolicy, validateDefinition, type Policy, type PolicyKind } from '../../core/policies.js'
import { policyVHost, policyVHosts } from '../auth.js'
import { int, objectBody, shortName, str, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'

/** A policy as RabbitMQ lists it. */
export function policyJson(p: Policy): Record<string, unknown> {
  return { vhost: p.vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: tableJson(p.definition), priority: p.priority }
}

/** rabbit_runtime_parameters' answer to an invalid value: "Validation failed\n\n<reason>\n". */
export const validationFailed = (reason: string): Error => badRequest(`Validation failed\n\n${reason}\n`)

/** A policy from a PUT body or a definitions entry, validated as rabbit_policy:validate does. */
export function policyInput(vhost: string, name: string, o: Record<string, unknown>, kind: PolicyKind = 'policy'): Policy {
  if (name === '') throw badRequest('policy name must not be empty')
  shortName(name, 'policy name')
  const pattern = str(o, 'pattern')
  const applyTo = str(o, 'apply-to', 'all')
  if (!APPLY_TO.includes(applyTo)) {
    throw validationFailed(`apply-to '${applyTo}' unrecognised; should be one of: 'queues', 'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'`)
  }
  if (o.definition === undefined) throw badRequest("missing key 'definition'")
  const definition = toFieldTable(o.definition, 'definition')
  const invalid = validateDefinition(definition, kind)
  if (invalid !== undefined) throw validationFailed(invalid)
  const priority = int(o, 'priority', -(2 ** 31), 2 ** 31 - 1, 0)
  try {
    return makePolicy({ vhost, name, pattern, applyTo, definition, priority })
  } catch (err) {
    throw validationFailed(`${erlangTerm(pattern)} is not a valid regex: ${err instanceof Error ? err.message : String(err)}`)
  }
}

const SORT = { list: { sort: ['vhost', 'name'] } }
const ADMIN = { access: 'administrator' as const }

/** Adds the policy and operator policy routes. */
export function registerPolicies(router: Router): void {
  const policies = (req: ApiRequest) => req.ctx.broker.policies
  // RabbitMQ rabbit_mgmt_wm_policies: is_authorized_vhost, then filter_vhost (the user's vhosts)
  router.get('/api/policies', (req) => {
    const vhosts = new Set(policyVHosts(req))
    return ok(policies(req).list().filter((p) => vhosts.has(p.vhost)).map(policyJson))
  }, SORT)
  router.get('/api/policies/:vhost', (req) => ok(policies(req).list(policyVHost(req, false).name).map(policyJson)), SORT)
  // rabbit_mgmt_wm_policy: is_authorized_policies for reading one policy as for changing it
  router.get('/api/policies/:vhost/:name', (req) => {
    const p = policies(req).get(policyVHost(req, true).name, req.params.name)
    if (p === undefined) throw objectNotFound()
    return ok(policyJson(p))
  })
  router.put('/api/policies/:vhost/:name', (req) => putPolicy(req, 'policy', policyVHost(req, true).name))
  router.delete('/api/policies/:vhost/:name', (req) => deletePolicy(req, 'policy', policyVHost(req, true).name))

  // rabbit_mgmt_wm_operator_policies / _operator_policy: is_authorized_admin
  const ops = (req: ApiRequest) => req.ctx.broker.operatorPolicies
  const vhostOf = (req: ApiRequest): string => {
    if (req.ctx.broker.vhost(req.params.vhost) === undefined) throw objectNotFound()
    return req.params.vhost
  }
  router.get('/api/operator-policies', (req) => ok(ops(req).list().map(policyJson)), { ...ADMIN, ...SORT })
  router.get('/api/operator-policies/:vhost', (req) => ok(ops(req).list(vhostOf(req)).map(policyJson)), { ...ADMIN, ...SORT })
  router.get('/api/operator-policies/:vhost/:name', (req) => {
    const p = ops(req).get(vhostOf(req), req.params.name)
    if (p === undefined) throw objectNotFound()
    return ok(policyJson(p))
  }, ADMIN)
  router.put('/api/operator-policies/:vhost/:name', (req) => putPolicy(req, 'operator_policy', vhostOf(req)), ADMIN)
  router.delete('/api/operator-policies/:vhost/:name', (req) => deletePolicy(req, 'operator_policy', vhostOf(req)), ADMIN)
}

function putPolicy(req: ApiRequest, kind: PolicyKind, vhost: string): ApiReply {
  const p = policyInput(vhost, req.params.name, objectBody(req.body), kind)
  const existed = req.ctx.broker.putPolicy(kind, p)
  req.ctx.log.info({ vhost, [kind]: p.name, pattern: p.pattern, applyTo: p.applyTo }, `${kind === 'policy' ? 'policy' : 'operator policy'} set`)
  return existed ? noContent() : created()
}

function deletePolicy(req: ApiRequest, kind: PolicyKind, vhost: string): ApiReply {
  if (!req.ctx.broker.deletePolicy(kind, vhost, req.params.name)) throw objectNotFound()
  return noContent()
}
