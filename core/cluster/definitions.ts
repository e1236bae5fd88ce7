/**
 * Cluster-wide definitions (issue 13): the contract between core (VHost, the management API) and
 * the etcd-backed implementation in transport/cluster/definitions-store.ts. etcd is the source of
 * truth; every node applies its records from a watch. Core calls the observer hooks when an
 * exchange, queue or binding comes or goes locally (whatever the cause: AMQP, the management API,
 * auto-delete, an exclusive owner gone, x-expires), and the implementation writes them to etcd;
 * changes it applies from etcd itself are not echoed back. A single node has none of this
 * (Broker.cluster is null, VHost.definitions null): one null check per declare, nothing per message.
 */
import type { Binding, Exchange, ExchangeOptions } from '../exchange.js'
import type { Queue } from '../queue.js'
import type { VHost } from '../vhost.js'
import type { QueueHome } from './placement.js'

/** Local topology changes, written to etcd by the cluster (suppressed while applying etcd's). */
export interface DefinitionsObserver {
  exchangeAdded(v: VHost, x: Exchange): void
  exchangeRemoved(v: VHost, x: Exchange): void
  queueAdded(v: VHost, q: Queue): void
  queueRemoved(v: VHost, q: Queue): void
  bindingAdded(v: VHost, b: Binding): void
  bindingRemoved(v: VHost, b: Binding): void
}

/** A binding whose destination queue lives on another node (written to etcd without a local object). */
export interface RemoteBinding {
  vhost: string
  source: string
  queue: string
  routingKey: string
  arguments: import('../wire/field-table.js').FieldTable
}

/** What the AMQP paths and the management API ask of the cluster's definitions. */
export interface ClusterDefinitions extends DefinitionsObserver {
  /** changes of this node are being written or awaited: a reply must wait for settled() */
  readonly busy: boolean
  /**
   * Resolves once every definition change this node has made so far (vhosts, users, permissions,
   * policies and parameters are compared with etcd's view first) is in etcd and applied by every
   * live member (bounded wait, see definitions-store.ts).
   */
  settled(): Promise<void>
  /** As settled() for exchanges, queues and bindings only (what AMQP methods change). */
  visible(): Promise<void>
  /**
   * Claims a new queue in etcd (a transaction on the record's absence). When this node wins and is
   * the home, `createLocal` runs at once (before other nodes can reach the queue through the link).
   * Resolves, once visible on every live member, to the record that holds: ours, or the winner's.
   */
  claimQueue(home: QueueHome, createLocal: (() => void) | null): Promise<QueueHome>
  /**
   * Claims a new exchange in etcd as claimQueue does a queue; `createLocal` (which validates as
   * exchange.declare does, and may throw: the claim is undone) runs when this node wins. Resolves
   * to false when another declare had it first (then redeclare against the winner, applied here).
   */
  claimExchange(vhost: string, name: string, type: string, options: ExchangeOptions, createLocal: () => void): Promise<boolean>
  /** A claim of vhost/name by this node still in flight (its declare waits for it), else undefined. */
  claiming(vhost: string, name: string): Promise<unknown> | undefined
  /** Deletes a queue record homed elsewhere (and its bindings) from etcd; resolves once visible. */
  deleteRemoteQueue(vhost: string, name: string): Promise<void>
  /** Writes (or deletes) a binding to a queue homed on another node; resolves once visible. */
  bindRemote(b: RemoteBinding, bind: boolean): Promise<void>
  /** bindings to remote queues as etcd holds them (listings until the link puts stand-ins in place) */
  remoteBindings(vhost: string): RemoteBinding[]
}
