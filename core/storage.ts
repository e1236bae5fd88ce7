/**
 * The broker's durable state in its data directory: the definitions log (vhosts, users and
 * permissions, durable exchanges, durable queues, bindings between durable ends) at
 * `<data>/definitions.log`, and one MessageStore per durable queue at
 * `<data>/vhosts/<hash(vhost)>/queues/<hash(queue)>-<random>` (hashed: names may hold any
 * character; the random part makes each incarnation of a name its own directory, so a queue
 * redeclared while the deleted one's store is still closing never shares its files). The
 * directory is recorded in the queue's definition.
 *
 * A durable `x-delayed-message` exchange keeps its pending messages in a MessageStore of its own
 * at `<data>/vhosts/<hash(vhost)>/delayed/<hash(exchange)>-<random>`, recorded in its definition
 * (core/delayed/delayed-messages.ts).
 *
 * A durable priority queue keeps one store per priority level in subdirectories of its directory
 * (store/priority-store.ts). A transient queue that grows deep pages its backlog to a transient
 * store under `<data>/paging/` (store/paged-list.ts): wiped at every start, never synced.
 *
 * VHosts call the hooks below as their topology changes; a vhost without storage (the management
 * API's trial-run vhosts) writes nothing. recover() replays the log into a fresh Broker at boot,
 * re-declaring through the normal VHost methods (the log's put is idempotent, so the replay writes
 * nothing back) and opening each queue's store, which recovers its persistent messages.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import type { BacklogAlert } from './backlog.js'
import type { Broker, VHostMetadata } from './broker.js'
import { DedupLog } from './dedup/dedup-log.js'
import type { DedupWindow } from './dedup/dedup-window.js'
import type { Binding, Exchange } from './exchange.js'
import type { Queue } from './queue.js'
import type { StreamLog } from './stream/stream-log.js'
import type { StreamReplicaHooks } from './stream/stream-replica-leader.js'
import { DefinitionsLog } from './store/definitions-log.js'
import {
  decodeArguments,
  definitionKey,
  deleteBinding,
  deleteExchange,
  deleteQueue,
  encodeArguments,
  putBinding,
  putExchange,
  putQueue,
  splitDefinitions,
  type BindingDefinition,
  type ExchangeDefinition,
  type QueueDefinition,
} from './store/definitions.js'
import { newLogStats, type LogStats } from './store/group-commit.js'
import { MessageStore, type DurableLog } from './store/message-store.js'
import { PagedList, type PagingBudget } from './store/paged-list.js'
import { levelDir, PriorityStoreList } from './store/priority-store.js'
import { StoreList, type EnvelopeFactory } from './store/queue-store.js'
import type { StoredList } from './store/stored-list.js'
import type { Permission, TopicPermission, User } from './users.js'
import type { VHost } from './vhost.js'

/** Marks a log written by this code (a fresh log: the broker's built-in vhost and users are kept). */
const INIT_KEY = '["init"]'
const USERS_KEY = '["users"]'
const vhostKey = (name: string): string => JSON.stringify(['v', name])

/** A queue definition with the directory of its store and its backlog alert thresholds. */
interface StoredQueue extends QueueDefinition {
  dir?: string
  backlogAlert?: BacklogAlert
}

/** An exchange definition with the directory of its delayed-message store (x-delayed-message). */
interface StoredExchange extends ExchangeDefinition {
  dir?: string
}

/** The store of a durable delayed exchange and how to stop its owner before it closes. */
interface DelayedStore {
  store: MessageStore
  rel: string
  stop: () => void
}

interface UsersDefinition {
  users: User[]
  permissions: Permission[]
  topicPermissions?: TopicPermission[]
  limits?: { user: string; value: Record<string, number> }[]
}

/** A runtime parameter (policies included) as recorded: ['p', vhost, component, name] → value. */
const paramKey = (vhost: string, component: string, name: string): string => JSON.stringify(['p', vhost, component, name])
/** A global parameter: ['g', name] → value. */
const globalKey = (name: string): string => JSON.stringify(['g', name])
/** Record kinds that belong to one vhost (element 1 of the key is the vhost). */
const VHOST_KINDS = new Set(['v', 'x', 'q', 'b', 'p'])

/** A stream's files as Storage closes or deletes them (core/stream/stream-queue.ts). */
export interface StreamFiles {
  readonly streamLog: StreamLog
  close(): Promise<void>
  destroyFiles(): Promise<void>
}

/** What recover() found, as logged at startup. */
export interface RecoverySummary {
  vhosts: number
  exchanges: number
  queues: number
  bindings: number
  messages: number
  ms: number
}

function hash(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 32)
}

/** See the file comment. */
export class Storage {
  /** counters of every queue store's segment log (appends, writes, fdatasyncs) */
  readonly stats: LogStats = newLogStats()
  private readonly defs: DefinitionsLog
  private readonly lists = new Map<Queue, StoredList>()
  /** transient queues that may page to disk (a priority queue: one pager per level) */
  private readonly pagers = new Map<Queue, StoredList>()
  private readonly closing = new Set<Promise<void>>()
  private recovering = false
  private closed = false
  /** the files of each stream queue */
  private readonly streams = new Map<Queue, { dir: string; files: StreamFiles }>()
  /** store directory of each durable queue, relative to the data dir */
  private readonly dirs = new Map<Queue, string>()
  /** the window logs of durable deduplicating exchanges, by file */
  private readonly dedupLogs = new Map<string, DedupLog>()
  /** stores of durable delayed-message exchanges */
  private readonly delayed = new Map<Exchange, DelayedStore>()
  /**
   * In a cluster (issue 14): makes the ready list of a replicated quorum queue's leader
   * (core/cluster/replica-list.ts), or returns null for any other queue. Null on a single node.
   */
  replicatedList: ((q: Queue, openStore: () => MessageStore, make: EnvelopeFactory, touched: DurableLog[]) => StoreList | null) | null = null
  /** In a cluster (issue 14): where replicated streams keep their logs and who leads them. Null on a single node. */
  streamReplicas: StreamReplicaHooks | null = null

  constructor(readonly dir: string, private readonly log: Logger) {
    this.defs = DefinitionsLog.open({ file: path.join(dir, 'definitions.log'), log })
    // pages of transient queues from an earlier run: their messages did not survive it
    rmSync(path.join(dir, 'paging'), { recursive: true, force: true })
  }

  private newQueueDir(vhost: string, name: string): string {
    return path.join('vhosts', hash(vhost), 'queues', `${hash(name)}-${randomBytes(6).toString('hex')}`)
  }

  /**
   * The store-backed ready list of a queue: its durable store(s) for a durable, non-exclusive
   * queue, a list that pages to a transient store when deep for a transient queue (per priority
   * level for a priority queue).
   */
  openQueueStore(q: Queue): StoredList | null {
    if (this.closed) return null
    const maxPriority = q.settings.maxPriority
    if (!q.durable || q.exclusive) return this.openPager(q)
    // a new queue never inherits files: only a recovered one has messages of a previous run
    const rec = this.recovering ? this.defs.get<StoredQueue>(definitionKey.queue(q.vhost.name, q.name)) : undefined
    const rel = rec?.dir ?? this.newQueueDir(q.vhost.name, q.name)
    this.dirs.set(q, rel)
    const dir = path.join(this.dir, rel)
    const log = this.log.child({ queue: q.name, vhost: q.vhost.name })
    // which recovered messages can expire out of queue order (re-armed at boot, queue.ts)
    const expiring = maxPriority > 0 && q.settings.messageTtl >= 0 ? 'all' : 'own-ttl'
    const make: EnvelopeFactory = (m, ref, redelivered, count) => q.restoreEnvelope(m, ref, redelivered, count)
    const open = (d: string): StoreList =>
      new StoreList(
        MessageStore.open({ dir: d, log, stats: this.stats, expiring }),
        make,
        // expiring messages are tracked by ref, (ref, level) for a priority level store
        q.vhost.durableTouched,
      )
    const replicated = maxPriority > 0 || this.replicatedList === null ? null : this.replicatedList(q, () => MessageStore.open({ dir, log, stats: this.stats, expiring }), make, q.vhost.durableTouched)
    const list = replicated ?? (maxPriority > 0 ? new PriorityStoreList(dir, maxPriority, (_, d) => open(d)) : open(dir))
    this.lists.set(q, list)
    return list
  }

  /**
   * The store of a durable x-delayed-message exchange (null for a transient one: RAM only).
   * `stop` is called before the store closes (shutdown) or is deleted (exchange deleted).
   */
  openDelayedStore(x: Exchange, stop: () => void): MessageStore | null {
    if (this.closed || !x.durable) return null
    const vhost = x.vhost.name
    const rec = this.recovering ? this.defs.get<StoredExchange>(definitionKey.exchange(vhost, x.name)) : undefined
    const rel = rec?.dir ?? path.join('vhosts', hash(vhost), 'delayed', `${hash(x.name)}-${randomBytes(6).toString('hex')}`)
    const log = this.log.child({ exchange: x.name, vhost })
    // read back by due time, not in log order: a small read-ahead
    const store = MessageStore.open({ dir: path.join(this.dir, rel), log, stats: this.stats, readBlock: 4096 })
    this.delayed.set(x, { store, rel, stop })
    if (store.count > 0) log.info({ messages: store.count }, 'recovered delayed messages')
    return store
  }

  /** The directory of a stream's log (core/stream/); a recovered stream keeps its own. */
  openStreamDir(q: Queue, files: StreamFiles): string {
    const rec = this.recovering ? this.defs.get<StoredQueue>(definitionKey.queue(q.vhost.name, q.name)) : undefined
    // a recovered stream keeps its directory (one from before the node was in a cluster too)
    const rel = rec?.dir ?? this.streamReplicas?.dir(q) ?? this.newQueueDir(q.vhost.name, q.name)
    this.dirs.set(q, rel)
    const dir = path.join(this.dir, rel)
    this.streams.set(q, { dir, files })
    return dir
  }

  private openPager(q: Queue): StoredList {
    const maxPriority = q.settings.maxPriority
    const open = (dir: string, budget?: PagingBudget): PagedList =>
      new PagedList(() => {
        if (this.closed) return null
        const log = this.log.child({ queue: q.name, vhost: q.vhost.name })
        log.info({ dir, messages: q.messageCount }, 'transient queue is deep: paging its backlog to disk')
        // a small head cache: the pager's in-memory part already holds the first messages
        const store = MessageStore.open({ dir, log, durable: false, cacheBytes: 1024 * 1024 })
        return new StoreList(store, (m, ref, redelivered, count) => q.restoreEnvelope(m, ref, redelivered, count), [])
      }, budget)
    const dir = path.join(this.dir, 'paging', randomBytes(8).toString('hex'))
    let pager: StoredList
    if (maxPriority > 0) {
      // the levels share one in-memory budget: the queue as a whole pages past pagingLimits
      const budget: PagingBudget = { messages: 0, bytes: 0 }
      pager = new PriorityStoreList<PagedList>(dir, maxPriority, (level) => open(levelDir(dir, level), budget))
    } else pager = open(dir)
    this.pagers.set(q, pager)
    return pager
  }

  /**
   * The log of a durable exchange's deduplication window, `<data>/dedup/<hash(vhost)>-<hash(name)>.log`;
   * at boot its keys are replayed into `window`, otherwise any old file there is discarded.
   */
  openDedupLog(v: VHost, name: string, window: DedupWindow): DedupLog | null {
    if (this.closed) return null
    const file = path.join(this.dir, 'dedup', `${hash(v.name)}-${hash(name)}.log`)
    this.dedupLogs.get(file)?.destroy()
    const log = DedupLog.open(file, window, this.log.child({ exchange: name, vhost: v.name }), this.recovering)
    this.dedupLogs.set(file, log)
    return log
  }

  // ---- hooks called by VHost and Broker ------------------------------------------------------

  exchangeAdded(v: VHost, x: Exchange): void {
    if (!x.durable || x.name === '' || x.name.startsWith('amq.')) return
    const def: StoredExchange = {
      vhost: v.name,
      name: x.name,
      type: x.type,
      autoDelete: x.autoDelete,
      internal: x.internal,
      arguments: encodeArguments(x.arguments),
    }
    const d = this.delayed.get(x)
    if (d !== undefined) def.dir = d.rel
    putExchange(this.defs, def)
  }

  exchangeRemoved(v: VHost, x: Exchange): void {
    if (x.durable) deleteExchange(this.defs, v.name, x.name)
    const log = x.dedup?.log
    if (log != null && this.dedupLogs.get(log.file) === log) {
      this.dedupLogs.delete(log.file)
      log.destroy()
    }
    const d = this.delayed.get(x)
    if (d !== undefined) {
      this.delayed.delete(x)
      d.stop()
      this.track(d.store.destroy(), d.store.dir)
    }
  }

  queueAdded(v: VHost, q: Queue): void {
    if (!q.durable || q.exclusive) return
    if (this.recovering) {
      // thresholds set through the management API (core/backlog.ts) come back with the queue
      const rec = this.defs.get<StoredQueue>(definitionKey.queue(v.name, q.name))
      if (rec?.backlogAlert !== undefined) q.backlogAlert = rec.backlogAlert
    }
    const def: StoredQueue = { vhost: v.name, name: q.name, autoDelete: q.autoDelete, arguments: encodeArguments(q.arguments), dir: this.dirs.get(q) }
    if (q.backlogAlert !== null) def.backlogAlert = q.backlogAlert
    putQueue(this.defs, def)
  }

  /** Records a change to what the queue's definition keeps besides its arguments (backlog alert). */
  queueChanged(v: VHost, q: Queue): void {
    this.queueAdded(v, q)
  }

  /** Forgets the queue and deletes its store (in the background; close() waits for it). */
  queueRemoved(v: VHost, q: Queue): void {
    const pager = this.pagers.get(q)
    if (pager !== undefined) {
      this.pagers.delete(q)
      this.track(pager.destroy(), pager.dir)
    }
    if (!q.durable || q.exclusive) return
    deleteQueue(this.defs, v.name, q.name)
    this.dirs.delete(q)
    const stream = this.streams.get(q)
    if (stream !== undefined) {
      this.streams.delete(q)
      // a replicated stream's log stays with the replica set (core/stream/stream-replica-registry.ts)
      if (this.streamReplicas?.removed(v.name, q.name, stream.files.streamLog) === true) return
      this.track(stream.files.destroyFiles(), stream.dir)
      return
    }
    const list = this.lists.get(q)
    if (list === undefined) return
    this.lists.delete(q)
    list.detached = true
    this.track(list.destroy(), list.dir)
  }

  /** Keeps a store deletion in `closing` (close() waits for it); failures are logged. */
  private track(done: Promise<void>, dir: string): void {
    const p = done
      .catch((err: unknown) => this.log.error({ err, dir }, 'cannot delete a deleted queue store'))
      .finally(() => this.closing.delete(p))
    this.closing.add(p)
  }

  bindingAdded(v: VHost, b: Binding): void {
    if (durableEnds(b)) putBinding(this.defs, bindingDefinition(v, b))
  }

  bindingRemoved(v: VHost, b: Binding): void {
    if (durableEnds(b)) deleteBinding(this.defs, bindingDefinition(v, b))
  }

  vhostAdded(name: string, meta: VHostMetadata | undefined): void {
    // the firehose switch is not stored: as in RabbitMQ, tracing is off after a restart
    let stored: VHostMetadata | null = null
    if (meta !== undefined) {
      const { tracing: _tracing, ...rest } = meta
      stored = rest
    }
    this.defs.put(vhostKey(name), { name, meta: stored })
  }

  /** Forgets a deleted vhost and every definition in it (its queues are removed one by one). */
  vhostRemoved(name: string): void {
    const doomed: string[] = []
    for (const k of this.defs.keys()) {
      const parts = JSON.parse(k) as string[]
      if (parts.length > 1 && parts[1] === name && VHOST_KINDS.has(parts[0])) doomed.push(k)
    }
    for (const k of doomed) this.defs.delete(k)
  }

  usersChanged(broker: Broker): void {
    const u = broker.users
    const def: UsersDefinition = { users: u.list(), permissions: u.permissions(), topicPermissions: u.topicPermissions(), limits: u.allLimits() }
    this.defs.put(USERS_KEY, def)
  }

  /** Records a runtime parameter (a policy, operator policy, vhost limits, …), or forgets it (`value` undefined). */
  parameterChanged(vhost: string, component: string, name: string, value: unknown): void {
    if (value === undefined) this.defs.delete(paramKey(vhost, component, name))
    else this.defs.put(paramKey(vhost, component, name), value)
  }

  /** Records a global parameter, or forgets it. */
  globalParameterChanged(name: string, value: unknown): void {
    if (value === undefined) this.defs.delete(globalKey(name))
    else this.defs.put(globalKey(name), value)
  }

  // ---- boot and shutdown ---------------------------------------------------------------------

  /** Replays the definitions into `broker` (whose vhosts must already point here) and logs a summary. */
  recover(broker: Broker): RecoverySummary {
    const t0 = performance.now()
    const sum: RecoverySummary = { vhosts: 0, exchanges: 0, queues: 0, bindings: 0, messages: 0, ms: 0 }
    this.recovering = true
    try {
      if (!this.defs.has(INIT_KEY)) {
        // first boot on this directory: record what the broker starts with
        for (const name of broker.vhosts.keys()) this.vhostAdded(name, broker.vhostMetadata.get(name))
        this.usersChanged(broker)
        this.defs.put(INIT_KEY, 1)
      } else {
        this.recoverVHostsAndUsers(broker, sum)
        this.recoverParameters(broker)
      }
      const split = splitDefinitions(this.defs)
      const attempt = (what: string, fn: () => void): boolean => {
        try {
          fn()
          return true
        } catch (err) {
          this.log.error({ err, what }, 'cannot recover a definition, skipped')
          return false
        }
      }
      for (const x of split.exchanges) {
        const v = broker.vhost(x.vhost)
        const opts = { durable: true, autoDelete: x.autoDelete, internal: x.internal, arguments: decodeArguments(x.arguments) }
        if (v !== undefined && attempt(`exchange ${x.name}`, () => v.declareExchange(x.name, x.type, opts, false))) sum.exchanges++
      }
      for (const q of split.queues) {
        const v = broker.vhost(q.vhost)
        const opts = { durable: true, autoDelete: q.autoDelete, exclusiveOwner: null, arguments: decodeArguments(q.arguments) }
        if (v === undefined || !attempt(`queue ${q.name}`, () => v.declareQueue(q.name, opts, false, null))) continue
        sum.queues++
        sum.messages += v.queues.get(q.name)?.messageCount ?? 0
      }
      for (const b of split.bindings) {
        const v = broker.vhost(b.vhost)
        if (v === undefined) continue
        const args = decodeArguments(b.arguments)
        const ok = attempt(`binding ${b.source} -> ${b.destination}`, () =>
          b.destinationType === 'queue'
            ? v.bindQueue(b.destination, b.source, b.routingKey, args, null)
            : v.bindExchange(b.destination, b.source, b.routingKey, args),
        )
        if (ok) sum.bindings++
      }
      this.recoverDedupKeys(broker)
      this.removeOrphans()
    } finally {
      this.recovering = false
    }
    sum.vhosts = broker.vhosts.size
    sum.ms = Math.round(performance.now() - t0)
    this.log.info({ dataDir: this.dir, ...sum }, 'recovered durable state')
    return sum
  }

  private recoverVHostsAndUsers(broker: Broker, sum: RecoverySummary): void {
    const recorded = new Set<string>()
    for (const [k, v] of this.defs.entries<{ name: string; meta: VHostMetadata | null }>()) {
      if (!k.startsWith('["v",')) continue
      recorded.add(v.name)
      broker.addVHost(v.name, v.meta ?? undefined)
    }
    const users = this.defs.get<UsersDefinition>(USERS_KEY)
    if (users !== undefined) broker.users.replaceAll(users.users, users.permissions, users.topicPermissions, users.limits)
    // a vhost the broker creates by default but that was deleted in an earlier run
    for (const name of [...broker.vhosts.keys()]) if (!recorded.has(name)) broker.deleteVHost(name)
    sum.vhosts = recorded.size
  }

  /** Parameters and policies, before the queues and exchanges they apply to. */
  private recoverParameters(broker: Broker): void {
    for (const [k, value] of this.defs.entries<unknown>()) {
      const parts = JSON.parse(k) as string[]
      try {
        if (parts[0] === 'p' && broker.vhosts.has(parts[1])) broker.restoreParameter(parts[1], parts[2], parts[3], value)
        else if (parts[0] === 'g') broker.parameters.putGlobal(parts[1], value)
      } catch (err) {
        this.log.error({ err, parameter: parts }, 'cannot recover a parameter, skipped')
      }
    }
  }

  /**
   * A durable dedup exchange's window also takes the keys of the recovered messages published to
   * it (in the durable queues it reaches), which a crash may have kept from its log (dedup-log.ts).
   */
  private recoverDedupKeys(broker: Broker): void {
    const now = Date.now()
    for (const v of broker.vhosts.values()) {
      for (const x of v.exchanges.values()) {
        const w = x.dedup
        if (w === null || w.log === null) continue
        const seen = new Set<Exchange | Queue>([x])
        const todo: Exchange[] = [x]
        while (todo.length > 0) {
          for (const b of todo.pop()!.bindings.values()) {
            const d = b.destination
            if (d.kind === 'exchange') {
              if (!seen.has(d)) seen.add(d), todo.push(d)
              continue
            }
            const list = this.lists.get(d)
            if (list === undefined || seen.has(d)) continue
            seen.add(d)
            for (let at = 0; at < list.length; at += 512) {
              for (const env of list.page(at, 512)) if (env.message.exchange === x.name) w.restoreFromMessage(env.message, now)
            }
          }
        }
        // and back on disk: those messages may be consumed before the next crash
        w.log.rewrite()
      }
    }
  }

  /** Deletes queue directories and dedup logs that belong to nothing recovered (a crash during a delete). */
  private removeOrphans(): void {
    const dedupDir = path.join(this.dir, 'dedup')
    if (existsSync(dedupDir)) {
      for (const f of readdirSync(dedupDir)) {
        const file = path.join(dedupDir, f)
        if (!this.dedupLogs.has(file)) rmSync(file, { force: true })
      }
    }
    const live = new Set<string>()
    for (const list of this.lists.values()) live.add(list.dir)
    for (const d of this.delayed.values()) live.add(d.store.dir)
    for (const s of this.streams.values()) live.add(s.dir)
    const root = path.join(this.dir, 'vhosts')
    if (!existsSync(root)) return
    for (const v of readdirSync(root)) for (const kind of ['queues', 'delayed']) {
      const qroot = path.join(root, v, kind)
      if (!existsSync(qroot)) continue
      for (const q of readdirSync(qroot)) {
        const dir = path.join(qroot, q)
        if (live.has(dir)) continue
        this.log.info({ dir }, 'removing the store of a deleted queue')
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }

  /** Flushes and closes every store and the definitions log. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const lists = [...this.lists.values()]
    for (const l of lists) l.detached = true
    const pagers = [...this.pagers.values()]
    for (const p of pagers) p.detached = true
    this.pagers.clear()
    const dedupLogs = [...this.dedupLogs.values()]
    this.dedupLogs.clear()
    const delayed = [...this.delayed.values()]
    this.delayed.clear()
    for (const d of delayed) d.stop()
    const streams = [...this.streams.values()].map((s) => s.files.close())
    this.streams.clear()
    await Promise.all([
      ...lists.map((l) => l.close()),
      ...pagers.map((p) => p.destroy()),
      ...dedupLogs.map((d) => d.close()),
      ...delayed.map((d) => d.store.close()),
      ...streams,
      ...this.closing,
    ])
    this.defs.close()
    // the group-commit figures of the run (fdatasyncs per message is what confirms cost)
    this.log.info({ ...this.stats, queues: lists.length }, 'queue stores closed')
  }
}

function durableEnds(b: Binding): boolean {
  const d = b.destination
  return b.source.durable && d.durable && (d.kind === 'exchange' || !d.exclusive)
}

function bindingDefinition(v: VHost, b: Binding): BindingDefinition {
  return {
    vhost: v.name,
    source: b.source.name,
    destinationType: b.destination.kind,
    destination: b.destination.name,
    routingKey: b.routingKey,
    arguments: encodeArguments(b.arguments),
  }
}
