/**
 * Cluster-wide definitions in etcd (issue 13; key layout in definitions-keys.ts). etcd is the source
 * of truth: every node loads the defs/ prefix at start (reconciling its local definitions log, a
 * cache, to it), then applies every change from a watch (definitions-apply.ts) and fills the
 * Placement with each queue record.
 *
 * Writes: local changes reach us through the DefinitionsObserver hooks (AMQP, the management API,
 * auto-delete, exclusive owners gone, x-expires) and are batched into one etcd transaction per
 * tick, committed in order. New queues and exchanges declared over AMQP are claimed first (a
 * transaction on the record's absence, so two nodes declaring one queue at once get one record and
 * one home; the loser's declare is checked against the winner's record). Vhosts, users,
 * permissions, policies and parameters change only through the management API: after each of its
 * writes (settled()) they are compared with etcd's view and the differences written.
 *
 * "Visible on every node before declare-ok": every reply waits on the AppliedBarrier
 * (applied-barrier.ts) for the revision of its write.
 */
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3'
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { ClusterState } from '../../core/cluster/cluster-state.js'
import type { ClusterDefinitions, RemoteBinding } from '../../core/cluster/definitions.js'
import type { QueueHome } from '../../core/cluster/placement.js'
import { withReplicas } from '../../core/cluster/replica-placement.js'
import type { Binding, Exchange, ExchangeOptions } from '../../core/exchange.js'
import type { Queue } from '../../core/queue.js'
import { decodeArguments, encodeArguments } from '../../core/store/definitions.js'
import type { VHost } from '../../core/vhost.js'
import { AppliedBarrier } from './applied-barrier.js'
import { BindingIndex, type BindingEnd } from './binding-index.js'
import { DefinitionsApplier } from './definitions-apply.js'
import {
  bindingRecord,
  decodeHome,
  DefinitionKeys,
  encodeHome,
  exchangeRecord,
  queueHome,
  SECTION_KINDS,
  sectionSnapshot,
  topologySnapshot,
  type BindingRecord,
  type ExchangeRecord,
} from './definitions-keys.js'

/** etcd's default limit of operations in one transaction is 128. */
const TXN_OPS = 100

interface Op {
  key: string
  /** null: delete */
  value: string | null
}

export class DefinitionsStore implements ClusterDefinitions {
  readonly keys: DefinitionKeys
  /** etcd's defs/ prefix as this node has applied it */
  private readonly cache = new Map<string, string>()
  private readonly index = new BindingIndex()
  private readonly applier: DefinitionsApplier
  /** >0 while applying etcd's records (or creating a claimed queue): hooks write nothing */
  private suppress = 0
  private ops: Op[] = []
  private flushScheduled = false
  private commitTail: Promise<unknown> = Promise.resolve()
  private last: Promise<void> | null = null
  private inflight = 0
  private readonly claims = new Map<string, Promise<unknown>>()
  /** defs/ revision this node has applied */
  private appliedRev = 0n
  private readonly barrier: AppliedBarrier
  private watcher: Watcher | null = null
  /** a resync after a failed write is running (or waiting to retry) */
  private resyncing = false
  private closed = false

  constructor(
    private readonly etcd: Etcd3,
    private readonly broker: Broker,
    private readonly state: ClusterState,
    private readonly log: Logger,
    private readonly ttl: number,
  ) {
    this.keys = new DefinitionKeys(state.clusterName)
    this.barrier = new AppliedBarrier(etcd, state, this.keys.applied, ttl, log)
    const claimed = (vhost: string, name: string): boolean => this.claims.has(`${vhost}\u0000${name}`)
    this.applier = new DefinitionsApplier(broker, this.keys, this.cache, this.index, state.placement, state.nodeName, log, claimed)
  }

  private get self(): string {
    return this.state.nodeName
  }

  get busy(): boolean {
    return this.ops.length > 0 || this.inflight > 0
  }

  // ---- start and stop ------------------------------------------------------------------------

  /**
   * Loads etcd's definitions (seeding an empty cluster from this node's), makes the local model
   * equal to them, drops this node's transient and exclusive queues (they did not survive its
   * restart) and watches from the loaded revision on. Runs before the node registers as a member.
   */
  async start(): Promise<void> {
    await this.barrier.start()
    let all = await this.etcd.getAll().prefix(this.keys.defs).exec()
    if (all.kvs.length === 0 && (await this.seed())) all = await this.etcd.getAll().prefix(this.keys.defs).exec()
    for (const kv of all.kvs) this.cacheSet(kv.key.toString(), kv.value.toString())
    const rev = BigInt(all.header.revision)
    this.suppressed(() => this.applier.reconcile())
    this.appliedRev = rev
    await this.watchFrom(rev)
    this.state.definitions = this
    for (const v of this.broker.vhosts.values()) v.definitions = this
    // RabbitMQ: a node's non-durable (and exclusive) queues do not survive it
    for (const [k, value] of this.cache) {
      if (this.keys.kindOf(k) !== 'queues') continue
      const h = decodeHome(value)
      if (h.node === this.self && (!h.durable || h.exclusive)) this.deleteQueueRecord(h.vhost, h.name)
    }
    await this.barrier.applied(rev)
    if (this.ops.length > 0) await this.flush()
    this.log.info({ revision: rev.toString(), records: this.cache.size }, 'cluster definitions loaded from etcd')
  }

  private async watchFrom(rev: bigint): Promise<void> {
    const w = await this.etcd.watch().prefix(this.keys.defs).startRevision((rev + 1n).toString()).create()
    w.on('data', (res) => this.onWatch(res))
    w.on('error', (err) => this.log.warn({ err: err.message }, 'etcd definitions watch error'))
    this.watcher = w
  }

  /**
   * After a failed write, etcd may lack a change this node has already made locally (a binding, an
   * exchange or queue deleted here), so this node would differ from the others. Reads the whole
   * prefix again and makes the local model equal to it (etcd wins, as at start), then watches on
   * from that revision. Retried with a growing delay until etcd answers; later writes go after it.
   */
  private resync(): void {
    if (this.resyncing || this.closed) return
    this.resyncing = true
    const run = async (): Promise<void> => {
      for (let delay = 250; !this.closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.reload()
          return
        } catch (err) {
          this.log.warn({ err: (err as Error).message, retryMs: delay }, 'cannot resync cluster definitions from etcd')
          await new Promise((r) => setTimeout(r, delay).unref())
        }
      }
    }
    const done = this.commitTail.then(run).finally(() => (this.resyncing = false))
    this.commitTail = done.catch(() => undefined)
  }

  private async reload(): Promise<void> {
    const old = this.watcher
    this.watcher = null
    await old?.cancel().catch(() => undefined)
    try {
      const all = await this.etcd.getAll().prefix(this.keys.defs).exec()
      const next = new Map<string, string>(all.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]))
      const rev = BigInt(all.header.revision)
      let changed = 0
      this.suppressed(() => {
        for (const [k, value] of [...this.cache]) {
          if (next.has(k)) continue
          this.cacheDelete(k)
          this.applier.delete(k, value)
          changed++
        }
        for (const [k, value] of next) {
          if (this.cache.get(k) === value) continue
          this.cacheSet(k, value)
          this.applier.put(k, value)
          changed++
        }
        // what this node has and etcd never got (the failed write) goes
        this.applier.reconcile()
      })
      // the watch was cancelled before the read: everything it applied is at or before `rev`
      this.appliedRev = rev
      void this.barrier.applied(rev)
      this.log.info({ revision: rev.toString(), changed }, 'cluster definitions resynced from etcd after a failed write')
    } finally {
      if (!this.closed) await this.watchFrom(this.appliedRev)
    }
  }

  /** An empty cluster takes this node's definitions (once: the defs-seeded key is created with them). */
  private async seed(): Promise<boolean> {
    const all = [...sectionSnapshot(this.broker, this.keys), ...topologySnapshot(this.broker, this.keys, this.self)]
    const puts = all.map(([key, value]) => this.etcd.put(key).value(value))
    const first = await this.etcd
      .if(this.keys.seeded, 'Create', '==', 0)
      .then(this.etcd.put(this.keys.seeded).value(this.self), ...puts.slice(0, TXN_OPS))
      .commit()
    if (!first.succeeded) return true
    for (let i = TXN_OPS; i < puts.length; i += TXN_OPS) await this.txn(all.slice(i, i + TXN_OPS).map(([key, value]) => ({ key, value })))
    this.log.info({ records: all.length }, 'seeded an empty cluster with this node\'s definitions')
    return true
  }

  async close(): Promise<void> {
    this.closed = true
    await this.watcher?.cancel().catch(() => undefined)
    await this.commitTail.catch(() => undefined)
    await this.barrier.close()
  }

  // ---- applying etcd's changes ---------------------------------------------------------------

  private cacheSet(key: string, value: string): void {
    if (this.keys.kindOf(key) === 'bindings') {
      const old = this.cache.get(key)
      if (old !== undefined) this.index.remove(key, JSON.parse(old) as BindingRecord)
      this.index.add(key, JSON.parse(value) as BindingRecord)
    }
    this.cache.set(key, value)
  }

  private cacheDelete(key: string): void {
    const old = this.cache.get(key)
    if (old === undefined) return
    if (this.keys.kindOf(key) === 'bindings') this.index.remove(key, JSON.parse(old) as BindingRecord)
    this.cache.delete(key)
  }

  private suppressed<T>(f: () => T): T {
    this.suppress++
    try {
      return f()
    } finally {
      this.suppress--
    }
  }

  private onWatch(res: IWatchResponse): void {
    let rev = this.appliedRev
    this.suppressed(() => {
      for (const ev of res.events) {
        const key = ev.kv.key.toString()
        if (ev.type === 'Put') {
          const value = ev.kv.value.toString()
          this.cacheSet(key, value)
          this.applier.put(key, value)
        } else {
          const old = this.cache.get(key)
          this.cacheDelete(key)
          if (old !== undefined) this.applier.delete(key, old)
        }
        const r = BigInt(ev.kv.mod_revision)
        if (r > rev) rev = r
      }
    })
    this.appliedRev = rev
    void this.barrier.applied(rev)
  }

  // ---- writing -------------------------------------------------------------------------------

  private write(key: string, value: string | null): void {
    this.ops.push({ key, value })
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      if (this.ops.length > 0) void this.flush().catch(() => undefined)
    })
  }

  /** Commits the pending ops (after any earlier commit) and waits until they are visible everywhere. */
  private flush(): Promise<void> {
    const ops = this.ops
    this.ops = []
    this.inflight++
    const committed = this.commitTail.then(() => this.txn(ops))
    this.commitTail = committed.catch(() => undefined)
    const done = committed.then((rev) => this.barrier.wait(rev))
    const last = done.finally(() => {
      this.inflight--
      if (this.last === last) this.last = null
    })
    last.catch((err: unknown) => {
      this.log.error({ err: (err as Error).message }, 'cannot write cluster definitions to etcd')
      this.resync()
    })
    this.last = last
    return last
  }

  /** One or more transactions of unconditional puts and deletes; the revision to wait for (0n: nothing changed). */
  private async txn(all: Op[]): Promise<bigint> {
    // etcd refuses a transaction that touches one key twice (a queue's bindings go with it and one by one)
    const byKey = new Map<string, Op>()
    for (const o of all) {
      byKey.delete(o.key)
      byKey.set(o.key, o)
    }
    const ops = [...byKey.values()]
    let rev = 0n
    for (let i = 0; i < ops.length; i += TXN_OPS) {
      const chunk = ops.slice(i, i + TXN_OPS)
      const res = await this.etcd.kv.txn({
        compare: [],
        success: chunk.map((o) =>
          o.value === null ? { request_delete_range: { key: Buffer.from(o.key) } } : { request_put: { key: Buffer.from(o.key), value: Buffer.from(o.value) } },
        ),
        failure: [],
      })
      const changed = chunk.some((o, j) => o.value !== null || Number(res.responses[j]?.response_delete_range?.deleted ?? 0) > 0)
      if (changed) rev = BigInt(res.header.revision)
    }
    return rev
  }

  settled(): Promise<void> {
    this.syncSections()
    return this.visible()
  }

  visible(): Promise<void> {
    if (this.ops.length > 0) return this.flush()
    return this.last ?? Promise.resolve()
  }

  /** Writes the differences between the local vhosts/users/permissions/parameters and etcd's. */
  private syncSections(): void {
    const local = sectionSnapshot(this.broker, this.keys)
    for (const [k, v] of local) if (this.cache.get(k) !== v) this.ops.push({ key: k, value: v })
    for (const [k, old] of this.cache) {
      const kind = this.keys.kindOf(k)
      if (!SECTION_KINDS.has(kind) || local.has(k)) continue
      this.ops.push({ key: k, value: null })
      if (kind === 'vhosts') this.deleteVHostRecords((JSON.parse(old) as { name: string }).name)
    }
  }

  /** A deleted vhost takes every record in it along. */
  private deleteVHostRecords(vhost: string): void {
    const v = encodeURIComponent(vhost)
    const prefixes = ['exchanges', 'queues', 'bindings', 'permissions', 'topic-permissions', 'parameters'].map((k) => `${this.keys.defs}${k}/${v}/`)
    for (const k of this.cache.keys()) if (prefixes.some((p) => k.startsWith(p))) this.ops.push({ key: k, value: null })
  }

  /** The queue's record and every binding to it. */
  private deleteQueueRecord(vhost: string, name: string): void {
    this.write(this.keys.queue(vhost, name), null)
    this.deleteBindingsOf(vhost, 'queue', name)
  }

  private deleteBindingsOf(vhost: string, end: BindingEnd, name: string): void {
    for (const k of this.index.keys(vhost, end, name)) this.write(k, null)
  }

  // ---- DefinitionsObserver: local changes ----------------------------------------------------

  exchangeAdded(v: VHost, x: Exchange): void {
    if (this.suppress === 0) this.write(this.keys.exchange(v.name, x.name), JSON.stringify(exchangeRecord(v, x)))
  }

  exchangeRemoved(v: VHost, x: Exchange): void {
    if (this.suppress > 0) return
    this.write(this.keys.exchange(v.name, x.name), null)
    this.deleteBindingsOf(v.name, 'source', x.name)
    this.deleteBindingsOf(v.name, 'exchange', x.name)
  }

  queueAdded(v: VHost, q: Queue): void {
    // a queue made outside claimQueue (the management API, definitions import): claim it now
    if (this.suppress === 0) void this.claimQueue(withReplicas(this.state, queueHome(v, q, this.self)), null).then((h) => this.lostClaim(v, q, h), () => undefined)
  }

  /** A queue created here whose name another node had claimed first goes: etcd's record wins. */
  private lostClaim(v: VHost, q: Queue, winner: QueueHome): void {
    if (winner.node === this.self || v.queues.get(q.name) !== q) return
    this.log.warn({ vhost: v.name, queue: q.name, node: winner.node }, 'queue declared here was claimed by another node first; removed here')
    this.suppressed(() => v.removeQueue(q))
  }

  queueRemoved(v: VHost, q: Queue): void {
    if (this.suppress > 0) return
    const h = this.state.placement.home(v.name, q.name)
    if (h !== undefined && h.node !== this.self) return
    this.deleteQueueRecord(v.name, q.name)
  }

  bindingAdded(v: VHost, b: Binding): void {
    if (this.suppress > 0) return
    const r = bindingRecord(v, b)
    this.write(this.keys.binding(r), JSON.stringify(r))
  }

  bindingRemoved(v: VHost, b: Binding): void {
    if (this.suppress === 0) this.write(this.keys.binding(bindingRecord(v, b)), null)
  }

  // ---- ClusterDefinitions: operations that go to etcd first ----------------------------------

  claiming(vhost: string, name: string): Promise<unknown> | undefined {
    return this.claims.get(`${vhost}\u0000${name}`)
  }

  claimQueue(home: QueueHome, createLocal: (() => void) | null): Promise<QueueHome> {
    const claim = this.claim(`${home.vhost}\u0000${home.name}`, this.keys.queue(home.vhost, home.name), encodeHome(home), createLocal)
    return claim.then((r) => (r.won ? home : decodeHome(r.value)))
  }

  claimExchange(vhost: string, name: string, type: string, o: ExchangeOptions, createLocal: () => void): Promise<boolean> {
    const r: ExchangeRecord = { vhost, name, type, durable: o.durable, autoDelete: o.autoDelete, internal: o.internal, arguments: encodeArguments(o.arguments) }
    return this.claim(`x\u0000${vhost}\u0000${name}`, this.keys.exchange(vhost, name), JSON.stringify(r), createLocal).then((c) => c.won)
  }

  /**
   * Creates `key` in etcd unless it exists (after this node's earlier writes), runs `createLocal`
   * when it did, and resolves once the record that holds is applied everywhere: ours (won) or the
   * one that was there (its value).
   */
  private claim(id: string, key: string, value: string, createLocal: (() => void) | null): Promise<{ won: boolean; value: string }> {
    // this node's pending writes (a delete of the same name) are committed first
    if (this.ops.length > 0) void this.flush().catch(() => undefined)
    this.inflight++
    const claimed = this.commitTail.then(() => this.claimTxn(key, value, createLocal))
    this.commitTail = claimed.catch(() => undefined)
    const done = claimed
      .then(async (r) => {
        await this.barrier.wait(r.rev)
        return { won: r.won, value: r.value }
      })
      .finally(() => {
        this.inflight--
        if (this.claims.get(id) === done) this.claims.delete(id)
      })
    this.claims.set(id, done)
    return done
  }

  private async claimTxn(key: string, value: string, createLocal: (() => void) | null): Promise<{ rev: bigint; won: boolean; value: string }> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.etcd.if(key, 'Create', '==', 0).then(this.etcd.put(key).value(value)).else(this.etcd.get(key)).commit()
      if (res.succeeded) {
        try {
          if (createLocal !== null) this.suppressed(createLocal)
        } catch (err) {
          await this.etcd.delete().key(key).exec()
          throw err
        }
        return { rev: BigInt(res.header.revision), won: true, value }
      }
      const kv = res.responses[0]?.response_range?.kvs[0]
      if (kv !== undefined) return { rev: BigInt(kv.mod_revision), won: false, value: kv.value.toString() }
      // deleted between the compare and the read: try again
      if (attempt > 3) throw new Error(`record ${key} keeps changing in etcd`)
    }
  }

  deleteRemoteQueue(vhost: string, name: string): Promise<void> {
    this.deleteQueueRecord(vhost, name)
    return this.flush()
  }

  bindRemote(b: RemoteBinding, bind: boolean): Promise<void> {
    const r: BindingRecord = { vhost: b.vhost, source: b.source, destinationType: 'queue', destination: b.queue, routingKey: b.routingKey, arguments: encodeArguments(b.arguments) }
    this.write(this.keys.binding(r), bind ? JSON.stringify(r) : null)
    return this.flush()
  }

  remoteBindings(vhost: string): RemoteBinding[] {
    const v = this.broker.vhost(vhost)
    const prefix = `${this.keys.defs}bindings/${encodeURIComponent(vhost)}/`
    const out: RemoteBinding[] = []
    for (const [k, value] of this.cache) {
      if (!k.startsWith(prefix)) continue
      const r = JSON.parse(value) as BindingRecord
      if (r.destinationType !== 'queue' || v?.queues.has(r.destination) === true) continue
      out.push({ vhost, source: r.source, queue: r.destination, routingKey: r.routingKey, arguments: decodeArguments(r.arguments) })
    }
    return out
  }
}
