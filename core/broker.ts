/**
 * The broker model: vhosts, users, exchange types and live connections. No sockets here; the
 * transport's server (transport/server.ts) builds a Broker and feeds it connections.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { ResourceAlarm } from './alarms.js'
import type { ClusterState } from './cluster/cluster-state.js'
import type { BrokerConfig } from './config.js'
import type { ConnectionInfo } from './connections.js'
import { DirectReplyTo } from './direct-reply-to.js'
import { ExchangeTypeRegistry } from './exchange.js'
import { RuntimeParameters } from './parameters.js'
import { makePolicy, PolicyStore, type Policy, type PolicyKind } from './policies.js'
import { decodeArguments, encodeArguments } from './store/definitions.js'
import type { Storage } from './storage.js'
import { Tracer } from './trace.js'
import { UserStore } from './users.js'
import { MessageSizeHistogram } from './message-sizes.js'
import { VHost } from './vhost.js'

/** An open listener (protocol, address, port). */
export interface Listener {
  /** 'amqp', 'amqp/ssl', 'http', 'http/web-amqp', 'http/prometheus' (RabbitMQ's protocol names) */
  protocol: string
  ip: string
  port: number
}

/** What RabbitMQ keeps about a vhost besides its contents (shown and exported by the management API). */
export interface VHostMetadata {
  description: string
  tags: string[]
  /** RabbitMQ 3.10 default_queue_type, or undefined */
  defaultQueueType?: string
  /**
   * The firehose is on (core/trace.ts). In memory only, as RabbitMQ keeps it (rabbit_trace: application
   * env): never stored, so tracing is off after a restart. Undefined in an update: leave it as it is
   * (rabbit_vhost:put_vhost).
   */
  tracing?: boolean
}

/** The broker: vhosts, users, policies, live connections and listeners. */
export class Broker {
  readonly vhosts = new Map<string, VHost>()
  readonly users = new UserStore()
  readonly connections = new Set<ConnectionInfo>()
  /** policies and operator policies (core/policies.ts), applied to the queues and exchanges they match */
  readonly policies = new PolicyStore()
  readonly operatorPolicies = new PolicyStore()
  /** runtime parameters of any component, vhost limits among them, and global parameters */
  readonly parameters = new RuntimeParameters()
  readonly vhostMetadata = new Map<string, VHostMetadata>()
  /** open listeners, as the management API reports them (RabbitMQ's /api/overview listeners) */
  readonly listeners: Listener[] = []
  readonly startedAt = Date.now()
  /** node name as RabbitMQ shows it (rabbit@host) */
  readonly nodeName: string
  clusterName = `warren@${hostname()}`
  /** global message counters, sampled for rates */
  /** unroutable: dropped (not mandatory); returned: mandatory and sent back with basic.return */
  /** receivedConfirm: published on a channel in confirm or tx mode (RabbitMQ messages_received_confirm) */
  readonly stats = { publish: 0, receivedConfirm: 0, confirm: 0, unroutable: 0, returned: 0, deliver: 0, ack: 0 }
  /** body sizes of published messages (RabbitMQ rabbitmq_message_size_bytes) */
  readonly messageSizes = new MessageSizeHistogram()
  private nextConnectionId = 1
  /** durable state (null: nothing is written, e.g. unit tests) */
  storage: Storage | null = null
  /** resource alarms in effect (core/alarms.ts): while any is, publishing connections are blocked */
  readonly alarms = new Set<ResourceAlarm>()
  /** some resource alarm is on: the one field a publish checks */
  publishBlocked = false
  /** resident memory and its high watermark at the last check (core/memory-monitor.ts; 0 before it) */
  memUsed = 0
  memLimit = 0
  /** direct reply-to consumers of every vhost: RabbitMQ finds an address's channel whatever the vhost */
  readonly replyTo = new DirectReplyTo()
  /** open file descriptors near the limit: new connections are refused (core/fd-monitor.ts) */
  fdAlarmOn = false
  /** open file descriptors and their limit at the last check (0 before the first) */
  fdUsed = 0
  fdTotal = 0
  /** connections refused by the fd alarm */
  fdRefused = 0
  /** the cluster view when started with --cluster (transport/cluster/), else null: a single node */
  cluster: ClusterState | null = null

  constructor(
    readonly config: BrokerConfig,
    readonly exchangeTypes: ExchangeTypeRegistry,
    readonly log: Logger,
  ) {
    // a cluster member is known by its --node-name (or warren@host); a single node keeps warren@host
    this.nodeName = config.cluster.length > 0 && config.nodeName !== '' ? config.nodeName : `warren@${hostname()}`
    if (config.cluster.length > 0) this.clusterName = config.clusterName
    this.addVHost('/', { description: 'Default virtual host', tags: [] })
  }

  /**
   * Creates a vhost (or returns the existing one); `metadata` replaces the stored metadata when given
   * (but a `tracing` it leaves undefined keeps the current setting).
   */
  addVHost(name: string, metadata?: VHostMetadata): VHost {
    let v = this.vhosts.get(name)
    if (v === undefined) {
      v = new VHost(name, this.exchangeTypes, this.log.child({ vhost: name }))
      v.storage = this.storage
      v.replyTo = this.replyTo
      v.policySource = { policies: this.policies, operatorPolicies: this.operatorPolicies }
      v.parameters = this.parameters
      v.definitions = this.cluster?.definitions ?? null
      this.vhosts.set(name, v)
      if (metadata === undefined) this.vhostMetadata.set(name, { description: '', tags: [] })
    }
    if (metadata !== undefined) {
      const tracing = metadata.tracing ?? this.vhostMetadata.get(name)?.tracing
      this.vhostMetadata.set(name, tracing === undefined ? metadata : { ...metadata, tracing })
    }
    this.applyTracing(v)
    this.storage?.vhostAdded(name, this.vhostMetadata.get(name))
    return v
  }

  /** Starts or stops the vhost's firehose as its metadata says (rabbit_trace:start/stop). */
  private applyTracing(v: VHost): void {
    const on = this.vhostMetadata.get(v.name)?.tracing === true
    if (on === (v.tracer !== null)) return
    v.tracer = on ? new Tracer(v, this.nodeName) : null
    this.log.info({ vhost: v.name }, on ? 'tracing enabled' : 'tracing disabled')
  }

  /**
   * Deletes a vhost as RabbitMQ does: its connections are closed with 320, its queues (and their
   * messages) and exchanges go, and so do the permissions and policies that name it.
   */
  deleteVHost(name: string): boolean {
    const v = this.vhosts.get(name)
    if (v === undefined) return false
    this.vhosts.delete(name)
    for (const c of [...this.connections]) if (c.vhostName === name) c.forceClose(`vhost '${name}' is deleted`)
    for (const q of [...v.queues.values()]) v.removeQueue(q)
    // exchanges that hold something (delayed messages) let it go with the vhost
    for (const x of v.exchanges.values()) {
      if (x.router.dispose === undefined) continue
      x.router.dispose()
      this.storage?.exchangeRemoved(v, x)
    }
    this.vhostMetadata.delete(name)
    this.users.deleteVHostPermissions(name)
    this.policies.deleteVHost(name)
    this.operatorPolicies.deleteVHost(name)
    this.parameters.deleteVHost(name)
    this.storage?.vhostRemoved(name)
    this.log.info({ vhost: name }, 'vhost deleted')
    return true
  }

  /**
   * Deletes a user with its permissions and, as RabbitMQ does (rabbit_connection_tracking_handler
   * on user_deleted), closes its open connections with 320 "user '<name>' is deleted".
   */
  deleteUser(name: string): boolean {
    if (!this.users.delete(name)) return false
    for (const c of [...this.connections]) if (c.userName === name) c.forceClose(`user '${name}' is deleted`)
    this.log.info({ user: name }, 'user deleted')
    return true
  }

  /**
   * Makes vhosts, users and permissions durable in `storage` and replays what it holds (boot).
   * Called once, before the listeners open.
   */
  attachStorage(storage: Storage): void {
    this.storage = storage
    for (const v of this.vhosts.values()) v.storage = storage
    storage.recover(this)
    this.users.onChange = () => storage.usersChanged(this)
  }

  /** free disk space is under the limit (RabbitMQ's disk alarm) */
  get diskAlarmOn(): boolean {
    return this.alarms.has('disk')
  }

  /** memory use is above the high watermark (RabbitMQ's memory alarm) */
  get memAlarmOn(): boolean {
    return this.alarms.has('memory')
  }

  // ---- policies and parameters ----------------------------------------------------------------

  private policyStore(kind: PolicyKind): PolicyStore {
    return kind === 'policy' ? this.policies : this.operatorPolicies
  }

  /**
   * Stores a policy (or operator policy), records it durably and applies it at once to the
   * queues and exchanges of its vhost (rabbit_policy:update_matched_objects). Returns true when
   * it replaced one of the same name.
   */
  putPolicy(kind: PolicyKind, p: Policy): boolean {
    const store = this.policyStore(kind)
    const existed = store.get(p.vhost, p.name) !== undefined
    store.put(p)
    const value = { pattern: p.pattern, 'apply-to': p.applyTo, definition: encodeArguments(p.definition), priority: p.priority }
    this.storage?.parameterChanged(p.vhost, kind, p.name, value)
    this.vhosts.get(p.vhost)?.reapplyPolicies()
    return existed
  }

  /** Deletes a policy; the objects it applied to fall back to the next match at once. */
  deletePolicy(kind: PolicyKind, vhost: string, name: string): boolean {
    if (!this.policyStore(kind).delete(vhost, name)) return false
    this.storage?.parameterChanged(vhost, kind, name, undefined)
    this.vhosts.get(vhost)?.reapplyPolicies()
    return true
  }

  /** Stores a runtime parameter of any other component (vhost-limits included). */
  putParameter(component: string, vhost: string, name: string, value: unknown): boolean {
    const existed = this.parameters.put({ component, vhost, name, value })
    this.storage?.parameterChanged(vhost, component, name, value)
    return existed
  }

  deleteParameter(component: string, vhost: string, name: string): boolean {
    if (!this.parameters.delete(component, vhost, name)) return false
    this.storage?.parameterChanged(vhost, component, name, undefined)
    return true
  }

  putGlobalParameter(name: string, value: unknown): boolean {
    const existed = this.parameters.putGlobal(name, value)
    this.storage?.globalParameterChanged(name, value)
    return existed
  }

  deleteGlobalParameter(name: string): boolean {
    if (!this.parameters.deleteGlobal(name)) return false
    this.storage?.globalParameterChanged(name, undefined)
    return true
  }

  /** A parameter read back from storage at boot (core/storage.ts). */
  restoreParameter(vhost: string, component: string, name: string, value: unknown): void {
    if (component !== 'policy' && component !== 'operator_policy') {
      this.parameters.put({ component, vhost, name, value })
      return
    }
    const v = value as { pattern: string; 'apply-to': string; definition: string; priority: number }
    const p = makePolicy({ vhost, name, pattern: v.pattern, applyTo: v['apply-to'], definition: decodeArguments(v.definition), priority: v.priority })
    this.policyStore(component).put(p)
  }

  /** DiskAlarmListener: blocks (or unblocks) every publishing connection. */
  diskAlarm(on: boolean): void {
    this.resourceAlarm('disk', on)
  }

  /** MemoryAlarmListener: records the reading; blocks (or unblocks) publishing connections when the alarm changes. */
  memoryAlarm(on: boolean, used: number, limit: number): void {
    this.memUsed = used
    this.memLimit = limit
    this.resourceAlarm('memory', on)
  }

  /** Sets or clears one resource alarm and tells every connection when the set changed. */
  resourceAlarm(resource: ResourceAlarm, on: boolean): void {
    if (on === this.alarms.has(resource)) return
    if (on) this.alarms.add(resource)
    else this.alarms.delete(resource)
    this.publishBlocked = this.alarms.size > 0
    for (const c of this.connections) c.resourceAlarm?.()
  }

  /** FdAlarmListener: the listeners refuse new connections while it is on. */
  fdAlarm(on: boolean, used: number, total: number): void {
    this.fdAlarmOn = on
    this.fdUsed = used
    this.fdTotal = total
  }

  vhost(name: string): VHost | undefined {
    return this.vhosts.get(name)
  }

  connectionId(): number {
    return this.nextConnectionId++
  }
}
