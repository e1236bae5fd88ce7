/**
 * Cluster membership through etcd (issue 13): a lease with keepalive, this node's key
 * /warren/<cluster>/nodes/<name> → MemberInfo JSON attached to it, and a watch of every member key
 * feeding the ClusterState. A lost lease (keepalive refused, or our key deleted) fences the node at
 * once; it then grants a new lease and registers again, and only then serves again.
 */
import { performance } from 'node:perf_hooks'
import { Etcd3, type Lease, type Watcher } from 'etcd3'
import type { Logger } from 'pino'
import type { ClusterState, MemberInfo } from '../../core/cluster/cluster-state.js'

/** Seconds an etcd lease lives without keepalive: how long a dead node keeps its key. */
export const LEASE_TTL_S = 5

/** ms between checks of the lease against this node's clock (ClusterState.holdsLease) when no client input comes. */
const LEASE_CHECK_MS = 100

/** Another live node holds our member key. */
class NameTaken extends Error {}

export class Membership {
  private lease: Lease | null = null
  private watcher: Watcher | null = null
  private closed = false
  private registering: Promise<void> | null = null
  private leaseTimer: NodeJS.Timeout | null = null
  private readonly prefix: string
  readonly key: string

  constructor(
    private readonly etcd: Etcd3,
    private readonly state: ClusterState,
    private readonly self: MemberInfo,
    private readonly log: Logger,
    private readonly ttl = LEASE_TTL_S,
  ) {
    this.prefix = `/warren/${state.clusterName}/nodes/`
    this.key = this.prefix + self.name
  }

  /** Registers this node, loads the members and watches them from that revision on. */
  async start(): Promise<void> {
    // the etcd client reports a lease lost to an unreachable etcd only after 2 × TTL without
    // keepalive, and etcd expires it after 1 × TTL: this node fences itself by its own clock first
    this.state.onLeaseLapsed = () => this.lost('no keepalive answered by etcd within the lease TTL')
    this.leaseTimer = setInterval(() => this.state.holdsLease(), LEASE_CHECK_MS)
    this.leaseTimer.unref()
    // a node restarted right after a crash finds its old key until that lease expires (≤ ttl)
    const deadline = Date.now() + (this.ttl + 2) * 1000
    for (;;) {
      try {
        await this.register()
        break
      } catch (err) {
        if (!(err instanceof NameTaken) || Date.now() > deadline) throw err
        await new Promise((r) => setTimeout(r, 250))
      }
    }
    const all = await this.etcd.getAll().prefix(this.prefix).exec()
    for (const kv of all.kvs) this.put(kv.key.toString(), kv.value.toString())
    const rev = BigInt(all.header.revision) + 1n
    this.watcher = await this.etcd.watch().prefix(this.prefix).startRevision(rev.toString()).create()
    this.watcher.on('put', (kv) => this.put(kv.key.toString(), kv.value.toString()))
    this.watcher.on('delete', (kv) => {
      const name = kv.key.toString().slice(this.prefix.length)
      if (name === this.self.name) this.lost('member key deleted')
      else this.state.memberDown(name)
    })
    this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'etcd watch error'))
  }

  private put(key: string, value: string): void {
    let m: MemberInfo
    try {
      m = JSON.parse(value) as MemberInfo
    } catch {
      this.log.warn({ key }, 'ignoring a member key that is not JSON')
      return
    }
    if (typeof m.name === 'string' && key === this.prefix + m.name) this.state.memberUp(m)
  }

  /** Grants a lease and writes our key with it; refuses to start when another live node has our name. */
  private async register(): Promise<void> {
    // etcd starts the TTL when it receives the grant (or a keepalive): counting from our send time
    // keeps our view of the lease's end before etcd's
    const grantSent = performance.now()
    const lease = this.etcd.lease(this.ttl)
    lease.on('lost', (err) => {
      if (this.lease === lease) this.lost(`lease lost: ${err.message}`)
    })
    // send times of the keepalives not answered yet, on the current stream (answers come in order)
    const sent: number[] = []
    lease.on('keepaliveEstablished', () => (sent.length = 0))
    lease.on('keepaliveFired', () => sent.push(performance.now()))
    lease.on('keepaliveSucceeded', (res: { TTL: string }) => {
      const at = sent.shift()
      if (this.lease === lease && at !== undefined) this.state.leaseValidUntil = Math.max(this.state.leaseValidUntil, at + Number(res.TTL) * 1000)
    })
    const id = await lease.grant()
    // a transaction: our key must not exist (another process holding the name) unless it is our own stale one
    const res = await this.etcd
      .if(this.key, 'Create', '==', 0)
      .then(this.etcd.put(this.key).value(JSON.stringify(this.self)).lease(id))
      .commit()
    if (!res.succeeded) {
      await lease.revoke().catch(() => undefined)
      throw new NameTaken(`node name '${this.self.name}' is already registered in cluster '${this.state.clusterName}' by a live node`)
    }
    this.lease = lease
    this.state.leaseValidUntil = grantSent + this.ttl * 1000
    this.state.memberUp(this.self)
    this.state.unfence()
    this.log.info({ key: this.key, lease: id, ttl: this.ttl }, 'registered in the cluster')
  }

  /** Fences, then registers again (retrying until it works or the node closes). */
  private lost(why: string): void {
    if (this.closed) return
    this.state.fence(why)
    const old = this.lease
    this.lease = null
    // revoked rather than left to expire: our stale key goes at once when etcd is reachable, so we
    // can register again without waiting out the TTL (bounded: etcd may be the thing that is gone)
    old?.revoke({ deadline: new Date(Date.now() + this.ttl * 1000) }).catch(() => undefined)
    if (this.registering !== null) return
    this.registering = (async () => {
      for (let delay = 200; !this.closed; delay = Math.min(delay * 2, 2000)) {
        try {
          await this.register()
          break
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'cluster re-registration failed; retrying')
          await new Promise((r) => setTimeout(r, delay).unref())
        }
      }
      this.registering = null
    })()
  }

  /** Leaves the cluster: revokes the lease (our key goes at once) and stops watching. */
  async close(): Promise<void> {
    this.closed = true
    if (this.leaseTimer !== null) clearInterval(this.leaseTimer)
    this.state.onLeaseLapsed = null
    await this.watcher?.cancel().catch(() => undefined)
    const lease = this.lease
    this.lease = null
    await lease?.revoke().catch(() => undefined)
  }
}
