/**
 * Runtime parameters and global parameters (RabbitMQ rabbit_mgmt_wm_parameters, _parameter,
 * _global_parameters, _global_parameter). Any component is stored (shovel and federation
 * definitions round-trip; nothing runs them). As in RabbitMQ, vhost parameters need
 * administrator or policymaker with permissions in the vhost; global ones need administrator.
 * The broker's `internal_cluster_id` is always listed among the global parameters.
 */
import type { Broker } from '../../core/broker.js'
import type { Parameter } from '../../core/parameters.js'
import { policyVHost, policyVHosts } from '../auth.js'
import { objectBody, shortName } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { tableJson } from '../format.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { clusterId } from '../version.js'

/** A parameter as RabbitMQ lists it (and exports it in definitions). */
export function parameterJson(p: Parameter): Record<string, unknown> {
  return { value: p.value, vhost: p.vhost, component: p.component, name: p.name }
}

/**
 * Every runtime parameter but policies, as rabbit_runtime_parameters:list gives them (so vhost
 * limits and operator policies are among them), optionally of one component and vhost.
 */
export function allParameters(broker: Broker, component?: string, vhost?: string): Parameter[] {
  const ops =
    component === undefined || component === 'operator_policy'
      ? broker.operatorPolicies.list(vhost).map((p) => ({
          component: 'operator_policy',
          vhost: p.vhost,
          name: p.name,
          value: { pattern: p.pattern, definition: tableJson(p.definition), priority: p.priority, 'apply-to': p.applyTo },
        }))
      : []
  return [...broker.parameters.list(component, vhost), ...ops]
}

/** The `value` of a PUT body or definitions entry (any JSON, but present). */
export function parameterValue(o: Record<string, unknown>): unknown {
  if (o.value === undefined) throw badRequest("missing key 'value'")
  return o.value
}

/** Components that have their own endpoints and validation (policies, limits). */
const RESERVED = new Set(['policy', 'operator_policy', 'vhost-limits'])

const SORT = { list: { sort: ['vhost', 'component', 'name'] } }
const ADMIN = { access: 'administrator' as const }

/** Every global parameter, the cluster id first (as RabbitMQ lists it). */
export function globalParameters(req: ApiRequest): { name: string; value: unknown }[] {
  const { broker } = req.ctx
  return [{ name: 'internal_cluster_id', value: clusterId(broker) }, ...broker.parameters.listGlobal().filter((g) => g.name !== 'internal_cluster_id')]
}

/** Adds the parameter and global parameter routes. */
export function registerParameters(router: Router): void {
  const visible = (req: ApiRequest, component?: string): Parameter[] => {
    const vhosts = new Set(policyVHosts(req))
    return allParameters(req.ctx.broker, component).filter((p) => vhosts.has(p.vhost))
  }
  router.get('/api/parameters', (req) => ok(visible(req).map(parameterJson)), SORT)
  router.get('/api/parameters/:component', (req) => ok(visible(req, req.params.component).map(parameterJson)), SORT)
  router.get('/api/parameters/:component/:vhost', (req) => {
    const v = policyVHost(req, false)
    return ok(allParameters(req.ctx.broker, req.params.component, v.name).map(parameterJson))
  }, SORT)
  router.get('/api/parameters/:component/:vhost/:name', (req) => {
    const v = policyVHost(req, true).name
    const p = allParameters(req.ctx.broker, req.params.component, v).find((x) => x.name === req.params.name)
    if (p === undefined) throw objectNotFound()
    return ok(parameterJson(p))
  })
  router.put('/api/parameters/:component/:vhost/:name', (req) => {
    const v = policyVHost(req, true)
    const { component, name } = req.params
    if (RESERVED.has(component)) throw badRequest(`component ${component} has its own endpoint`)
    shortName(name, 'parameter name')
    const existed = req.ctx.broker.putParameter(component, v.name, name, parameterValue(objectBody(req.body)))
    return existed ? noContent() : created()
  })
  router.delete('/api/parameters/:component/:vhost/:name', (req) => {
    if (!req.ctx.broker.deleteParameter(req.params.component, policyVHost(req, true).name, req.params.name)) throw objectNotFound()
    return noContent()
  })

  router.get('/api/global-parameters', (req) => ok(globalParameters(req)), { list: { sort: ['name'] } })
  router.get('/api/global-parameters/:name', (req) => {
    const g = globalParameters(req).find((p) => p.name === req.params.name)
    if (g === undefined) throw objectNotFound()
    return ok(g)
  }, ADMIN)
  router.put('/api/global-parameters/:name', (req) => {
    const { name } = req.params
    if (name === 'internal_cluster_id') throw badRequest('internal_cluster_id cannot be changed')
    shortName(name, 'parameter name')
    const existed = req.ctx.broker.putGlobalParameter(name, parameterValue(objectBody(req.body)))
    return existed ? noContent() : created()
  }, ADMIN)
  router.delete('/api/global-parameters/:name', (req) => {
    if (!req.ctx.broker.deleteGlobalParameter(req.params.name)) throw objectNotFound()
    return noContent()
  }, ADMIN)
  const none = (): ApiReply => ok([])
  router.get('/api/feature-flags', none, { list: { sort: ['name'] } })
}
