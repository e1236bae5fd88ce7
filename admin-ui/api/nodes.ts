/** GET /api/nodes[/{name}] (RabbitMQ rabbit_mgmt_wm_nodes, _node): this single node. */
import { availableParallelism } from 'node:os'
import type { Broker } from '../../core/broker.js'
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

/** Adds the node routes (monitoring users and up). */
export function registerNodes(router: Router): void {
  router.get('/api/nodes', (req) => ok([nodeJson(req.ctx.broker)]), { list: { sort: ['name'] }, access: 'monitoring' })
  router.get(
    '/api/nodes/:node',
    (req: ApiRequest) => {
      if (req.params.node !== req.ctx.broker.nodeName) throw objectNotFound()
      return ok(nodeJson(req.ctx.broker))
    },
    { access: 'monitoring' },
  )
}
