/**
 * Types of the fault-test harness (test/helpers/netns-cluster.mjs, plain ESM so that
 * scripts/cluster-faults.mjs runs it without a build step) and of its agents' requests.
 */

/** Why network namespaces cannot be made here (not root, no iproute2, no etcd), or undefined. */
export declare const netnsClusterUnavailable: string | undefined
export declare const PEERS_NET: string
export declare const ETCD_NET: string
export declare const ETCD_ADDRESS: string
export declare const FAULT_USER: string
export declare const FAULT_PASS: string
export declare const LEASE_TTL_S: number

export declare function waitFor<T>(check: () => T | Promise<T>, ms: number, what: string): Promise<Exclude<T, null | undefined | false>>

/** What netns-agent.mjs answers; every request may reject with the agent's error or a timeout. */
export interface AgentOps {
  ping: [{}, 'pong']
  /** opens an AMQP connection + confirm channel under the name `c` */
  open: [{ c: string; timeoutMs?: number; url?: string }, true]
  /** one connection attempt, closed at once */
  tryConnect: [{ timeoutMs?: number; url?: string }, { ok: boolean; error?: string }]
  closed: [{ c: string }, { closed: boolean; error: string | null }]
  declare: [{ c: string; queue: string; durable?: boolean }, number]
  publish: [{ c: string; queue: string; ids: Array<string | number>; persistent?: boolean }, number]
  get: [{ c: string; queue: string }, string | null]
  close: [{ c: string }, true]
  /** GET on the namespace's node's management API (etcd's agent: etcd's HTTP endpoint) */
  http: [{ path: string; timeoutMs?: number }, { status: number; body: any }]
  etcdKeys: [{ prefix: string }, string[]]
  /** long-lived clients (netns-agent-clients.mjs) */
  declareQuorum: [{ c: string; queue: string; size?: number }, true]
  pubStart: [{ name: string; queue: string; urls: string[]; prefix: string; window?: number; intervalMs?: number; timeoutMs?: number }, true]
  pubStatus: [{ name: string }, { acked: number; attempts: number; inflight: number }]
  pubStop: [{ name: string; ms?: number }, { attempts: Array<{ id: string; via: number; sentAt: number; answer: 'ack' | 'nack' | 'close' | null; at: number }>; reconnects: number; unfinished: number }]
  conStart: [{ name: string; queue: string; urls: string[]; prefetch?: number; timeoutMs?: number; ackDelayMs?: number }, true]
  conFast: [{ name: string }, true]
  conDeliveries: [{ name: string; from?: number }, Array<{ id: string; redelivered: boolean; count: number; via: number; gen: number; at: number }>]
  conStop: [{ name: string }, { deliveries: Array<{ id: string; redelivered: boolean; count: number; via: number; gen: number; at: number }>; consumes: number; cancels: number; reconnects: number }]
}

export interface Agent {
  readonly ns: string
  call<K extends keyof AgentOps>(op: K, args?: AgentOps[K][0], timeoutMs?: number): Promise<AgentOps[K][1]>
}

export interface ClusterMember {
  readonly name: string
  readonly index: number
  /** the namespace's name */
  readonly ns: string
  /** --bind and --advertise-address (peers network) */
  readonly address: string
  /** its address on the etcd network */
  readonly etcdAddress: string
  readonly dataDir: string
}

export type Link = 'all' | 'peers' | 'etcd'

export interface NetnsCluster {
  readonly id: string
  readonly clusterName: string
  readonly etcdUrl: string
  readonly nodes: readonly ClusterMember[]
  /** seconds of each node's etcd lease */
  readonly leaseTtl: number
  node(name: string): ClusterMember
  agent(name: string): Agent
  etcdAgent(): Agent
  cut(name: string, which?: Link): void
  heal(name: string, which?: Link): void
  pause(name: string): void
  resume(name: string): void
  kill(name: string): Promise<void>
  start(name: string): void
  restartEtcd(downMs?: number): Promise<void>
  waitServing(name: string, ms?: number): Promise<true>
  members(from: string): Promise<string[]>
  waitMembers(from: string, expected: readonly string[], ms?: number): Promise<true>
  logs(name: string): string
  stop(): Promise<void>
}

export interface NetnsClusterOptions {
  nodes?: string[]
  clusterName?: string
  logLevel?: string
  startTimeoutMs?: number
}

export declare function startNetnsCluster(options?: NetnsClusterOptions): Promise<NetnsCluster>
