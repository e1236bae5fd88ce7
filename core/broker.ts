/**
 * The broker model: vhosts, users, exchange types and live connections. No sockets here; the
 * transport's server (transport/server.ts) builds a Broker and feeds it connections.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { BrokerConfig } from './config.js'
import type { ConnectionInfo } from './connections.js'
import { ExchangeTypeRegistry } from './exchange.js'
import { UserStore } from './users.js'
import { VHost } from './vhost.js'

export interface Listener {
  /** 'amqp', 'amqp/ssl', 'http', 'http/web-amqp', 'http/prometheus' (RabbitMQ's protocol names) */
  protocol: string
  ip: string
  port: number
}

export class Broker {
  readonly vhosts = new Map<string, VHost>()
  readonly users = new UserStore()
  readonly connections = new Set<ConnectionInfo>()
  /** open listeners, as the management API reports them (RabbitMQ's /api/overview listeners) */
  readonly listeners: Listener[] = []
  readonly startedAt = Date.now()
  /** node name as RabbitMQ shows it (rabbit@host) */
  readonly nodeName = `warren@${hostname()}`
  clusterName = `warren@${hostname()}`
  /** global message counters, sampled for rates */
  readonly stats = { publish: 0, confirm: 0, unroutable: 0, deliver: 0, ack: 0 }
  private nextConnectionId = 1

  constructor(
    readonly config: BrokerConfig,
    readonly exchangeTypes: ExchangeTypeRegistry,
    readonly log: Logger,
  ) {
    this.addVHost('/')
  }

  addVHost(name: string): VHost {
    let v = this.vhosts.get(name)
    if (v === undefined) {
      v = new VHost(name, this.exchangeTypes, this.log.child({ vhost: name }))
      this.vhosts.set(name, v)
    }
    return v
  }

  vhost(name: string): VHost | undefined {
    return this.vhosts.get(name)
  }

  connectionId(): number {
    return this.nextConnectionId++
  }
}
