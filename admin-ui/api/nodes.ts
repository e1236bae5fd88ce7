/**
 * GET /api/nodes[/{name}] (RabbitMQ rabbit_mgmt_wm_nodes, _node): this node, and in a cluster every
 * member registered in etcd. A member's own figures (memory, disk, fds, alarms, listeners) come
 * from its management API (GET /api/nodes/<its name> at its advertised address and HTTP port,
 * with the caller's credentials: users are cluster-wide), asked in parallel with a short timeout;
 * a member that does not answer is shown with what its etcd member key says.
 */
import { availableParallelism } from 'node:os'
import type { Broker } from '../../core/broker.js'
import type { MemberInfo } from '../../core/cluster/cluster-state.js'
import { ok, type ApiRequest } from '../context.js'
import { objectNotFound } from '../http-errors.js'
import type { Router } from '../router.js'
import { diskFree, maxFds, openFds } from '../system.js'
import { WARREN_VERSION } from '../version.js'
import { exchangeTypes, listenersJson } from './overview.js'

/** This node as /api/nodes shows it. */
export function nodeJson(broker: Broker): Record<string, unknown> {
  const disk = diskFree(broker.config.dataDir)
  const fdTotal = maxFds()
  return {
    name: broker.nodeName,
    type: 'disc',
    running: true,
    being_drained: false,
    uptime: Date.now() - broker.startedAt,
    fd_used: openFds(),
    fd_total: fdTotal,
    sockets_used: broker.connections.size,
    sockets_total: Math.floor(fdTotal * 0.9),
    proc_used: 0,
    proc_total: 0,
    // resident memory at the memory alarm's last check (at most a second old), so mem_alarm agrees with it
    mem_used: broker.memUsed,
    mem_limit: broker.memLimit,
    mem_alarm: broker.memAlarmOn,
    mem_calculation_strategy: 'rss',
    disk_free: disk,
    disk_free_limit: broker.config.diskFreeLimit,
    disk_free_alarm: broker.diskAlarmOn,
    run_queue: 0,
    processors: availableParallelism(),
    rates_mode: 'basic',
    os_pid: String(process.pid),
    partitions: [],
    net_ticktime: 60,
    exchange_types: exchangeTypes(broker),
    auth_mechanisms: [
      { name: 'PLAIN', description: 'SASL PLAIN authentication mechanism', enabled: true },
      { name: 'AMQPLAIN', description: 'QPid AMQPLAIN mechanism', enabled: true },
    ],
    listeners: listenersJson(broker),
    applications: [{ name: 'warren', description: 'Warren AMQP 0-9-1 broker', version: WARREN_VERSION }],
  }
}

/** ms a member's management API has to answer for its figures */
const MEMBER_TIMEOUT_MS = 1500

/** Another cluster member as /api/nodes shows it: RabbitMQ's identity fields, from its etcd member key. */
function memberJson(m: MemberInfo): Record<string, unknown> {
  return { name: m.name, type: 'disc', running: true, being_drained: false, uptime: Math.max(0, Date.now() - m.started), partitions: [], cluster_links: [] }
}

/** A member with its own figures, asked of its management API; its member key's fields when it does not answer. */
async function memberFigures(m: MemberInfo, req: ApiRequest): Promise<Record<string, unknown>> {
  if (m.httpPort <= 0) return memberJson(m)
  const host = m.address.includes(':') ? `[${m.address}]` : m.address
  try {
    const res = await fetch(`http://${host}:${m.httpPort}/api/nodes/${encodeURIComponent(m.name)}`, {
      headers: req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization },
      signal: AbortSignal.timeout(MEMBER_TIMEOUT_MS),
    })
    if (!res.ok) return memberJson(m)
    const body = (await res.json()) as Record<string, unknown>
    return body.name === m.name ? body : memberJson(m)
  } catch {
    return memberJson(m)
  }
}

/** Every node this node knows: itself, then the other live members (a single node: itself). */
async function nodesJson(req: ApiRequest): Promise<Record<string, unknown>[]> {
  const broker = req.ctx.broker
  const others = broker.cluster === null ? [] : [...broker.cluster.members.values()].filter((m) => m.name !== broker.nodeName)
  return [nodeJson(broker), ...(await Promise.all(others.map((m) => memberFigures(m, req))))]
}

/** Adds the node routes (monitoring users and up). */
export function registerNodes(router: Router): void {
  router.get('/api/nodes', async (req) => ok(await nodesJson(req)), { list: { sort: ['name'] }, access: 'monitoring' })
  router.get(
    '/api/nodes/:node',
    async (req: ApiRequest) => {
      const broker = req.ctx.broker
      // this node's own figures are answered here, never asked of the others (no loops between nodes)
      if (req.params.node === broker.nodeName) return ok(nodeJson(broker))
      const m = broker.cluster?.members.get(req.params.node)
      if (m === undefined) throw objectNotFound()
      return ok(await memberFigures(m, req))
    },
    { access: 'monitoring' },
  )
}
