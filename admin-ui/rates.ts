/**
 * Message rates without cost on the hot path: the broker only bumps integer counters (Broker.stats,
 * Queue.stats, Exchange.publishIn/Out, connection byte counts); this sampler reads them every
 * `statsInterval` ms (RabbitMQ's collect_statistics_interval, 5 s) and turns the differences into
 * the `*_details.rate` values (per second, over the last interval, as RabbitMQ's "basic" rates mode).
 *
 * It also keeps monotonic totals of the per-queue counters (a deleted queue's counts stay in the
 * totals) and counts connections, channels and queues appearing and disappearing between samples
 * (churn; objects that live shorter than one interval are not seen).
 */
import type { Broker } from '../core/broker.js'
import { BacklogTracker } from './backlog.js'
import { channelMessageStats, type ChannelInfo, type ChannelMessageStats, type ConnectionInfo } from '../core/connections.js'
import type { Exchange } from '../core/exchange.js'
import type { Queue } from '../core/queue.js'

/** The per-queue counters, by RabbitMQ message_stats name. */
export const QUEUE_COUNTERS = ['publish', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack', 'ack', 'redeliver', 'get_empty'] as const
/** One of {@link QUEUE_COUNTERS}. */
export type QueueCounter = (typeof QUEUE_COUNTERS)[number]
/** A value per queue counter (counts or rates). */
export type Counters = Record<QueueCounter, number>

/** Gauges whose rate of change RabbitMQ also shows. */
export interface Depths {
  messages: number
  messages_ready: number
  messages_unacknowledged: number
}

/** Objects seen appearing and disappearing between samples (RabbitMQ churn_rates). */
export interface Churn {
  connection_created: number
  connection_closed: number
  channel_created: number
  channel_closed: number
  queue_created: number
  queue_deleted: number
}

/** The broker-wide counters of /api/overview message_stats and the Prometheus global_* metrics. */
export interface GlobalCounters extends Counters {
  confirm: number
  drop_unroutable: number
  return_unroutable: number
}

const zero = (): Counters => ({ publish: 0, deliver: 0, deliver_no_ack: 0, get: 0, get_no_ack: 0, ack: 0, redeliver: 0, get_empty: 0 })

/** RabbitMQ's names for a queue's counters (deliver = with manual ack, get = basic.get with ack). */
export function queueCounters(q: Queue): Counters {
  const s = q.stats
  return {
    publish: s.publish,
    deliver: s.deliver - s.deliverNoAck,
    deliver_no_ack: s.deliverNoAck,
    get: s.get - s.getNoAck,
    get_no_ack: s.getNoAck,
    ack: s.ack,
    redeliver: s.redeliver,
    get_empty: s.getEmpty,
  }
}

/** Current ready, unacknowledged and total messages of a queue. */
export function queueDepths(q: Queue): Depths {
  return { messages: q.messageCount + q.unackedCount, messages_ready: q.messageCount, messages_unacknowledged: q.unackedCount }
}

interface QueueTrack {
  /** counters already folded into the totals */
  seen: Counters
  /** counters and depths at the last tick, and the rates computed then */
  tick: Counters
  tickDepths: Depths
  rates: Counters
  depthRates: Depths
}

interface PairTrack {
  tickIn: number
  tickOut: number
  rateIn: number
  rateOut: number
}

interface ConnTrack extends PairTrack {
  channels: Set<ChannelInfo>
}

/** A channel's message counters at the last tick and the rates computed then. */
interface ChannelTrack {
  tick: ChannelMessageStats
  rates: ChannelMessageStats
}

/** Per-second rates of one vhost over the last interval. */
export interface VHostRates {
  counters: Counters
  publish: number
  depths: Depths
  recvOct: number
  sendOct: number
}

/** Samples the broker's counters on a timer; see the module comment. */
export class Sampler {
  /** monotonic totals of the queue counters, broker-wide and per vhost */
  readonly totals: Counters = zero()
  readonly vhostTotals = new Map<string, Counters>()
  /** monotonic totals of the queue counters per queue type ('classic', 'quorum'; Prometheus queue_type) */
  private readonly typeTotals = new Map<string, Counters>()
  readonly churn: Churn = { connection_created: 0, connection_closed: 0, channel_created: 0, channel_closed: 0, queue_created: 0, queue_deleted: 0 }
  /** per-second rates of the last interval */
  churnRates: Churn = { connection_created: 0, connection_closed: 0, channel_created: 0, channel_closed: 0, queue_created: 0, queue_deleted: 0 }
  globalRates: GlobalCounters = { ...zero(), confirm: 0, drop_unroutable: 0, return_unroutable: 0 }
  depthRates: Depths = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 }
  readonly vhostRates = new Map<string, VHostRates>()
  private readonly queues = new Map<Queue, QueueTrack>()
  private readonly exchanges = new Map<Exchange, PairTrack>()
  private readonly conns = new Map<ConnectionInfo, ConnTrack>()
  private readonly chans = new Map<ChannelInfo, ChannelTrack>()
  private tickChurn: Churn = { ...this.churn }
  private tickTotals: GlobalCounters = { ...zero(), confirm: 0, drop_unroutable: 0, return_unroutable: 0 }
  private tickDepths: Depths = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 }
  private readonly vhostTick = new Map<string, VHostRates>()
  private lastTick = Date.now()
  private timer: NodeJS.Timeout | null = null
  /** smoothed backlog figures per queue (admin-ui/backlog.ts), sampled with the rates */
  readonly backlog: BacklogTracker

  constructor(
    private readonly broker: Broker,
    readonly intervalMs: number,
  ) {
    this.backlog = new BacklogTracker(broker)
  }

  start(): void {
    if (this.timer !== null) return
    this.lastTick = Date.now()
    this.timer = setInterval(() => this.tick(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** The broker-wide counters, up to date. */
  globalCounters(): GlobalCounters {
    this.collect()
    const s = this.broker.stats
    return { ...this.totals, publish: s.publish, confirm: s.confirm, drop_unroutable: s.unroutable, return_unroutable: s.returned }
  }

  /** The queue counters summed over every queue that ever existed, up to date. */
  queueTotals(): Counters {
    this.collect()
    return { ...this.totals }
  }

  /** The queue counters summed per queue type ('classic', 'quorum'), up to date. */
  queueTypeTotals(): ReadonlyMap<string, Counters> {
    this.collect()
    return this.typeTotals
  }

  /** A vhost's queue counters, up to date. */
  vhostCounters(vhost: string): Counters {
    this.collect()
    return { ...(this.vhostTotals.get(vhost) ?? zero()) }
  }

  queueRates(q: Queue): { counters: Counters; depths: Depths } {
    const t = this.queues.get(q)
    return t === undefined ? { counters: zero(), depths: { messages: 0, messages_ready: 0, messages_unacknowledged: 0 } } : { counters: t.rates, depths: t.depthRates }
  }

  exchangeRates(x: Exchange): { publishIn: number; publishOut: number } {
    const t = this.exchanges.get(x)
    return { publishIn: t?.rateIn ?? 0, publishOut: t?.rateOut ?? 0 }
  }

  /** Per-second rates of a channel's message_stats counters over the last interval. */
  channelRates(ch: ChannelInfo): Readonly<ChannelMessageStats> {
    return this.chans.get(ch)?.rates ?? channelMessageStats()
  }

  connectionRates(c: ConnectionInfo): { recvOct: number; sendOct: number } {
    const t = this.conns.get(c)
    return { recvOct: t?.rateIn ?? 0, sendOct: t?.rateOut ?? 0 }
  }

  /** Folds every live queue's new counts into the totals (deleted queues keep what was folded). */
  collect(): void {
    const live = new Set<Queue>()
    for (const v of this.broker.vhosts.values()) {
      let vt = this.vhostTotals.get(v.name)
      if (vt === undefined) this.vhostTotals.set(v.name, (vt = zero()))
      for (const q of v.queues.values()) {
        live.add(q)
        let t = this.queues.get(q)
        if (t === undefined) {
          t = { seen: zero(), tick: zero(), tickDepths: queueDepths(q), rates: zero(), depthRates: { messages: 0, messages_ready: 0, messages_unacknowledged: 0 } }
          this.queues.set(q, t)
          this.churn.queue_created++
        }
        const cur = queueCounters(q)
        let tt = this.typeTotals.get(q.settings.type)
        if (tt === undefined) this.typeTotals.set(q.settings.type, (tt = zero()))
        for (const k of QUEUE_COUNTERS) {
          const d = cur[k] - t.seen[k]
          if (d > 0) {
            this.totals[k] += d
            vt[k] += d
            tt[k] += d
          }
        }
        t.seen = cur
      }
    }
    for (const q of this.queues.keys()) {
      if (!live.has(q)) {
        this.queues.delete(q)
        this.churn.queue_deleted++
      }
    }
    for (const name of this.vhostTotals.keys()) if (!this.broker.vhosts.has(name)) this.vhostTotals.delete(name)
  }

  /** One sample: updates totals, then every rate from the differences since the previous sample. */
  tick(now = Date.now()): void {
    this.collect()
    const dt = Math.max(0.001, (now - this.lastTick) / 1000)
    this.lastTick = now
    const g = this.globalCounters()
    const rate = (cur: number, prev: number): number => Math.max(0, cur - prev) / dt
    const gr = { ...g }
    for (const k of Object.keys(g) as (keyof GlobalCounters)[]) gr[k] = rate(g[k], this.tickTotals[k])
    this.globalRates = gr
    this.tickTotals = g
    const depths: Depths = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 }
    const vhostNow = new Map<string, VHostRates>()
    for (const v of this.broker.vhosts.values()) {
      const vd: Depths = { messages: 0, messages_ready: 0, messages_unacknowledged: 0 }
      for (const q of v.queues.values()) {
        const t = this.queues.get(q)!
        const c = queueCounters(q)
        const d = queueDepths(q)
        for (const k of QUEUE_COUNTERS) t.rates[k] = rate(c[k], t.tick[k])
        t.depthRates = gaugeRates(d, t.tickDepths, dt)
        t.tick = c
        t.tickDepths = d
        addDepths(vd, d)
      }
      addDepths(depths, vd)
      let publish = 0
      for (const x of v.exchanges.values()) publish += this.sampleExchange(x, dt)
      vhostNow.set(v.name, { counters: { ...this.vhostTotals.get(v.name)! }, publish, depths: vd, recvOct: 0, sendOct: 0 })
    }
    this.depthRates = gaugeRates(depths, this.tickDepths, dt)
    this.tickDepths = depths
    this.sampleConnections(dt, vhostNow)
    this.vhostRates.clear()
    for (const [name, cur] of vhostNow) {
      const prev = this.vhostTick.get(name)
      const r: VHostRates = { counters: zero(), publish: 0, depths: cur.depths, recvOct: 0, sendOct: 0 }
      if (prev !== undefined) {
        for (const k of QUEUE_COUNTERS) r.counters[k] = rate(cur.counters[k], prev.counters[k])
        r.publish = cur.publish / dt
        r.depths = gaugeRates(cur.depths, prev.depths, dt)
        r.recvOct = cur.recvOct / dt
        r.sendOct = cur.sendOct / dt
      }
      this.vhostRates.set(name, r)
    }
    this.vhostTick.clear()
    for (const [k, v] of vhostNow) this.vhostTick.set(k, v)
    const cr = { ...this.churn }
    for (const k of Object.keys(cr) as (keyof Churn)[]) cr[k] = rate(this.churn[k], this.tickChurn[k])
    this.churnRates = cr
    this.tickChurn = { ...this.churn }
    this.backlog.sample(now, this.intervalMs)
    for (const x of [...this.exchanges.keys()]) {
      const live = this.broker.vhosts.get(x.vhost.name) === x.vhost && x.vhost.exchanges.get(x.name) === x
      if (!live) this.exchanges.delete(x)
    }
  }

  /** Returns how many messages came into the exchange since the previous sample. */
  private sampleExchange(x: Exchange, dt: number): number {
    let t = this.exchanges.get(x)
    if (t === undefined) this.exchanges.set(x, (t = { tickIn: 0, tickOut: 0, rateIn: 0, rateOut: 0 }))
    const dIn = Math.max(0, x.publishIn - t.tickIn)
    t.rateIn = dIn / dt
    t.rateOut = Math.max(0, x.publishOut - t.tickOut) / dt
    t.tickIn = x.publishIn
    t.tickOut = x.publishOut
    return dIn
  }

  /** Byte rates per connection (and per vhost, in `vhostNow`), and connection/channel churn. */
  private sampleConnections(dt: number, vhostNow: Map<string, VHostRates>): void {
    for (const c of this.broker.connections) {
      let t = this.conns.get(c)
      if (t === undefined) {
        this.conns.set(c, (t = { tickIn: c.bytesIn, tickOut: c.bytesOut, rateIn: 0, rateOut: 0, channels: new Set() }))
        this.churn.connection_created++
      }
      const dIn = Math.max(0, c.bytesIn - t.tickIn)
      const dOut = Math.max(0, c.bytesOut - t.tickOut)
      t.rateIn = dIn / dt
      t.rateOut = dOut / dt
      t.tickIn = c.bytesIn
      t.tickOut = c.bytesOut
      const v = c.vhostName === undefined ? undefined : vhostNow.get(c.vhostName)
      if (v !== undefined) {
        v.recvOct += dIn
        v.sendOct += dOut
      }
      const chans = new Set(c.channels())
      for (const ch of chans) this.sampleChannel(ch, dt)
      for (const ch of chans) if (!t.channels.has(ch)) this.churn.channel_created++
      for (const ch of t.channels) {
        if (chans.has(ch)) continue
        this.churn.channel_closed++
        this.chans.delete(ch)
      }
      t.channels = chans
    }
    for (const [c, t] of this.conns) {
      if (this.broker.connections.has(c)) continue
      this.conns.delete(c)
      this.churn.connection_closed++
      this.churn.channel_closed += t.channels.size
      for (const ch of t.channels) this.chans.delete(ch)
    }
  }

  /** Rates of one channel's message counters since the previous sample. */
  private sampleChannel(ch: ChannelInfo, dt: number): void {
    const cur = ch.messageStats
    let t = this.chans.get(ch)
    if (t === undefined) this.chans.set(ch, (t = { tick: channelMessageStats(), rates: channelMessageStats() }))
    for (const k of Object.keys(cur) as (keyof ChannelMessageStats)[]) {
      t.rates[k] = Math.max(0, cur[k] - t.tick[k]) / dt
      t.tick[k] = cur[k]
    }
  }
}

function addDepths(into: Depths, d: Depths): void {
  into.messages += d.messages
  into.messages_ready += d.messages_ready
  into.messages_unacknowledged += d.messages_unacknowledged
}

/** Rate of change of a gauge (may be negative: a queue draining). */
function gaugeRates(cur: Depths, prev: Depths, dt: number): Depths {
  return {
    messages: (cur.messages - prev.messages) / dt,
    messages_ready: (cur.messages_ready - prev.messages_ready) / dt,
    messages_unacknowledged: (cur.messages_unacknowledged - prev.messages_unacknowledged) / dt,
  }
}
