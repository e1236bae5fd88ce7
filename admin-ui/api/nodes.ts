/**
 * GET /api/nodes[/{name}] (RabbitMQ rabbit_mgmt_wm_nodes, _node): this node, and in a cluster every
 * member registered in etcd (the others with what their member key says; their own figures need the
 * node-to-node link, a later phase of issue 13).
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

/** Another cluster member as /api/nodes shows it: RabbitMQ's identity fields, from its etcd member key. */
function memberJson(m: MemberInfo): Record<string, unknown> {
  return { name: m.name, type: 'disc', running: true, being_drained: false, uptime: Math.max(0, Date.now() - m.started), partitions: [], cluster_links: [] }
}

/** Every node this node knows: itself, then the other live members (a single node: itself). */
function nodesJson(broker: Broker): Record<string, unknown>[] {
  const out = [nodeJson(broker)]
  if (broker.cluster !== null) for (const m of broker.cluster.members.values()) if (m.name !== broker.nodeName) out.push(memberJson(m))
  return out
}

/** Adds the node routes (monitoring users and up). */
export function registerNodes(router: Router): void {
  router.get('/api/nodes', (req) => ok(nodesJson(req.ctx.broker)), { list: { sort: ['name'] }, access: 'monitoring' })
  router.get(
    '/api/nodes/:node',
    (req: ApiRequest) => {
      const node = nodesJson(req.ctx.broker).find((n) => n.name === req.params.node)
      if (node === undefined) throw objectNotFound()
      return ok(node)
    },
    { access: 'monitoring' },
  )
}
