/**
 * Policies and runtime parameters (RabbitMQ rabbit_mgmt_wm_policies, _policy, _parameters,
 * _global_parameters). Warren stores policies so tools and definitions round-trip, but does not
 * apply them yet; parameters other than the cluster id are empty. As in RabbitMQ, a list shows the
 * policies of the vhosts the user has permissions in (administrators: all), and reading one policy
 * or writing needs administrator, or policymaker with permissions in the vhost.
 */
import type { Policy } from '../../core/policies.js'
import { policyVHost, policyVHosts } from '../auth.js'
import { int, objectBody, shortName, str, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { clusterId } from '../version.js'

const APPLY_TO = ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams']

/** A policy as RabbitMQ lists it. */
export function policyJson(p: Policy): Record<string, unknown> {
  return { vhost: p.vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: tableJson(p.definition), priority: p.priority }
}

/** A policy from a PUT body or a definitions entry. */
export function policyInput(vhost: string, name: string, o: Record<string, unknown>): Policy {
  if (name === '') throw badRequest('policy name must not be empty')
  shortName(name, 'policy name')
  const pattern = str(o, 'pattern')
  try {
    new RegExp(pattern)
  } catch {
    throw badRequest(`pattern is not a valid regular expression: '${pattern}'`)
  }
  const applyTo = str(o, 'apply-to', 'all')
  if (!APPLY_TO.includes(applyTo)) throw badRequest(`apply-to must be one of ${APPLY_TO.join(', ')}`)
  if (o.definition === undefined) throw badRequest("missing key 'definition'")
  return { vhost, name, pattern, applyTo, definition: toFieldTable(o.definition, 'definition'), priority: int(o, 'priority', -(2 ** 31), 2 ** 31 - 1, 0) }
}

function putPolicy(req: ApiRequest): ApiReply {
  const v = policyVHost(req, true)
  const p = policyInput(v.name, req.params.name, objectBody(req.body))
  const { policies } = req.ctx.broker
  const existed = policies.get(v.name, p.name) !== undefined
  policies.put(p)
  req.ctx.log.warn({ vhost: v.name, policy: p.name }, 'policy stored; Warren does not apply policies yet')
  return existed ? noContent() : created()
}

const SORT = { list: { sort: ['vhost', 'name'] } }

/** Adds the policy and parameter routes. */
export function registerPolicies(router: Router): void {
  // RabbitMQ rabbit_mgmt_wm_policies: is_authorized_vhost, then filter_vhost (the user's vhosts)
  router.get('/api/policies', (req) => {
    const vhosts = new Set(policyVHosts(req))
    return ok(req.ctx.broker.policies.list().filter((p) => vhosts.has(p.vhost)).map(policyJson))
  }, SORT)
  router.get('/api/policies/:vhost', (req) => ok(req.ctx.broker.policies.list(policyVHost(req, false).name).map(policyJson)), SORT)
  // rabbit_mgmt_wm_policy: is_authorized_policies for reading one policy as for changing it
  router.get('/api/policies/:vhost/:name', (req) => {
    const p = req.ctx.broker.policies.get(policyVHost(req, true).name, req.params.name)
    if (p === undefined) throw objectNotFound()
    return ok(policyJson(p))
  })
  router.put('/api/policies/:vhost/:name', putPolicy)
  router.delete('/api/policies/:vhost/:name', (req) => {
    if (!req.ctx.broker.policies.delete(policyVHost(req, true).name, req.params.name)) throw objectNotFound()
    return noContent()
  })
  const none = (): ApiReply => ok([])
  for (const path of ['/api/operator-policies', '/api/operator-policies/:vhost', '/api/parameters', '/api/parameters/:component', '/api/parameters/:component/:vhost', '/api/vhost-limits', '/api/vhost-limits/:vhost', '/api/feature-flags']) {
    router.get(path, none, SORT)
  }
  router.get('/api/global-parameters', (req) => ok([{ name: 'internal_cluster_id', value: clusterId(req.ctx.broker) }]), SORT)
}
