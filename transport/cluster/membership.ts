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

/** Keepalives sent per lease TTL (etcd's Go client sends 3; one more leaves room for a lost one). */
const KEEPALIVES_PER_TTL = 4

/** Another live node holds our member key. */
class NameTaken extends Error {}

export class Membership {
  private lease: Lease | null = null
  private watcher: Watcher | null = null
  private closed = false
  private registering: Promise<void> | null = null
  private leaseTimer: NodeJS.Timeout | null = null
  private keepAliveTimer: NodeJS.Timeout | null = null
  /** the etcd revision at which our member key was last written (deletes before it are stale) */
  private registeredRevision = 0n
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
      if (name === this.self.name) {
        // a delete from before our current registration (our old lease's expiry or revoke, seen
        // late by the watch) is not about the key we hold now
        if (BigInt(kv.mod_revision) < this.registeredRevision) return
        this.lost('member key deleted')
      } else this.state.memberDown(name)
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
    // keepalives are our own (keepAlive below): etcd3's keepalive stream can stall silently after an
    // etcd restart and is only replaced after a TTL without answers, by when this node has fenced
    const lease = this.etcd.lease(this.ttl, { autoKeepAlive: false })
    lease.on('lost', (err) => {
      if (this.lease === lease) this.lost(`lease lost: ${err.message}`)
    })
    const id = await lease.grant()
    const value = JSON.stringify(this.self)
    // a transaction: our key must not exist (another process holding the name) unless it is our own stale one
    let res = await this.etcd.if(this.key, 'Create', '==', 0).then(this.etcd.put(this.key).value(value).lease(id)).commit()
    if (!res.succeeded) {
      // this very process's registration under a lease it lost (same name and start time): take it over
      res = await this.etcd.if(this.key, 'Value', '==', value).then(this.etcd.put(this.key).value(value).lease(id)).commit()
    }
    if (!res.succeeded) {
      await lease.revoke().catch(() => undefined)
      throw new NameTaken(`node name '${this.self.name}' is already registered in cluster '${this.state.clusterName}' by a live node`)
    }
    this.lease = lease
    this.registeredRevision = BigInt(res.header.revision)
    this.state.leaseValidUntil = grantSent + this.ttl * 1000
    this.keepAliveTimer ??= setInterval(() => this.keepAlive(), (this.ttl * 1000) / KEEPALIVES_PER_TTL)
    this.keepAliveTimer.unref()
    this.state.memberUp(this.self)
    this.state.unfence()
    this.log.info({ key: this.key, lease: id, ttl: this.ttl }, 'registered in the cluster')
  }

  /**
   * One keepalive of the current lease on a stream of its own, answered within half the TTL or
   * given up: the lease holds until the send time of the last answered one plus the TTL etcd
   * answered (ClusterState.holdsLease fences past that). A lease etcd no longer knows is lost.
   */
  private keepAlive(): void {
    const lease = this.lease
    if (lease === null || this.closed) return
    const sent = performance.now()
    lease.keepaliveOnce({ deadline: new Date(Date.now() + (this.ttl * 1000) / 2) }).then(
      (res) => {
        if (this.lease === lease) this.state.leaseValidUntil = Math.max(this.state.leaseValidUntil, sent + Number(res.TTL) * 1000)
      },
      () => undefined, // unanswered: the next one tries again; the lease clock fences if none is answered in time
    )
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
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer)
    this.state.onLeaseLapsed = null
    await this.watcher?.cancel().catch(() => undefined)
    const lease = this.lease
    this.lease = null
    await lease?.revoke().catch(() => undefined)
  }
}
