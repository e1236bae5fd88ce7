/**
 * "Visible on every node before the reply" (issue 13): each node writes the revision of etcd's
 * defs/ prefix it has applied to /warren/<cluster>/applied/<node>, on a lease of its own (so the
 * key goes with the node), and watches the others'. wait(rev) resolves once every live member
 * (ClusterState.members, this node included) has applied `rev`, or after BARRIER_MS: a member that
 * slow is logged and not waited for any longer; a dead one leaves the members when its membership
 * lease expires (≤ its TTL), which the waiters see by polling.
 */
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3'
import type { Logger } from 'pino'
import type { ClusterState } from '../../core/cluster/cluster-state.js'

/** Longest wait for the other members to apply a write before a reply goes anyway (logged). */
export const BARRIER_MS = 5000

interface Waiter {
  rev: bigint
  deadline: number
  resolve: () => void
}

export class AppliedBarrier {
  /** defs/ revision this node has applied */
  private rev = 0n
  private written = 0n
  private writing = false
  private readonly by = new Map<string, bigint>()
  private waiters: Waiter[] = []
  private ticker: NodeJS.Timeout | null = null
  private watcher: Watcher | null = null
  private lease: Lease | null = null
  private closed = false

  constructor(
    private readonly etcd: Etcd3,
    private readonly state: ClusterState,
    /** /warren/<cluster>/applied/ */
    private readonly prefix: string,
    private readonly ttl: number,
    private readonly log: Logger,
  ) {}

  /** Grants the lease, loads the others' revisions and watches them. */
  async start(): Promise<void> {
    await this.grantLease()
    const all = await this.etcd.getAll().prefix(this.prefix).exec()
    for (const kv of all.kvs) this.onKey(kv, true)
    this.watcher = await this.etcd.watch().prefix(this.prefix).startRevision((BigInt(all.header.revision) + 1n).toString()).create()
    this.watcher.on('put', (kv) => this.onKey(kv, true))
    this.watcher.on('delete', (kv) => this.onKey(kv, false))
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.ticker !== null) clearInterval(this.ticker)
    for (const w of this.waiters) w.resolve()
    this.waiters = []
    await this.watcher?.cancel().catch(() => undefined)
    await this.lease?.revoke().catch(() => undefined)
  }

  /** This node has applied `rev`: written to etcd (coalesced), waiters checked. */
  applied(rev: bigint): Promise<void> {
    if (rev > this.rev) this.rev = rev
    this.check()
    return this.write()
  }

  /** Resolves once every live member has applied `rev` (or after BARRIER_MS). */
  wait(rev: bigint): Promise<void> {
    if (rev === 0n || this.closed || this.lagging(rev).length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.waiters.push({ rev, resolve, deadline: Date.now() + BARRIER_MS })
      // membership changes (a dead member's lease expiring) are seen by polling
      this.ticker ??= setInterval(() => this.check(), 50).unref()
    })
  }

  private async grantLease(): Promise<void> {
    const lease = this.etcd.lease(this.ttl)
    lease.on('lost', () => {
      if (this.closed || this.lease !== lease) return
      this.lease = null
      this.written = 0n
      void this.grantLease()
        .then(() => this.write())
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'cannot grant the applied-revision lease'))
    })
    await lease.grant()
    this.lease = lease
  }

  private onKey(kv: IKeyValue, put: boolean): void {
    const node = decodeURIComponent(kv.key.toString().slice(this.prefix.length))
    if (put) this.by.set(node, BigInt(kv.value.toString()))
    else this.by.delete(node)
    this.check()
  }

  private async write(): Promise<void> {
    const lease = this.lease
    if (this.writing || lease === null || this.rev <= this.written) return
    this.writing = true
    const rev = this.rev
    try {
      await lease.put(this.prefix + encodeURIComponent(this.state.nodeName)).value(rev.toString()).exec()
      this.written = rev
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot write the applied revision')
      await new Promise((r) => setTimeout(r, 500).unref())
    } finally {
      this.writing = false
    }
    if (!this.closed && this.rev > this.written) void this.write()
  }

  private lagging(rev: bigint): string[] {
    const out: string[] = []
    for (const m of this.state.members.keys()) {
      const r = m === this.state.nodeName ? this.rev : (this.by.get(m) ?? 0n)
      if (r < rev) out.push(m)
    }
    return out
  }

  private check(): void {
    if (this.waiters.length === 0) return
    const now = Date.now()
    this.waiters = this.waiters.filter((w) => {
      const lag = this.lagging(w.rev)
      if (lag.length > 0 && now < w.deadline) return true
      if (lag.length > 0) this.log.warn({ revision: w.rev.toString(), lagging: lag }, `members did not apply a definition change within ${BARRIER_MS} ms; answering anyway`)
      w.resolve()
      return false
    })
    if (this.waiters.length === 0 && this.ticker !== null) {
      clearInterval(this.ticker)
      this.ticker = null
    }
  }
}
