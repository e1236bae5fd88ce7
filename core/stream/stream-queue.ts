/**
 * A stream queue (`x-queue-type: stream`): an append-only log that consuming does not remove from.
 * Each consumer reads from its own place (`x-stream-offset`), within its prefetch window; an ack only
 * gives credit back, as in RabbitMQ. Consumers named with `x-stream-consumer-name` form a group
 * whose committed offset (highest contiguously acked) the broker keeps (group-offsets.ts); with
 * `x-single-active-consumer` one member per name receives and the next takes over at the committed
 * offset; on a partition of a super stream the group spreads the partitions over its members
 * (consumer-group.ts, super-stream.ts). It plugs into the queue machinery (listings, delete, consumer counts) as a Queue whose
 * delivery methods read the log (stream-log.ts) instead of a ready list.
 */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Consumer } from '../consumer.js'
import { ConnectionError, ReplyCode, preconditionFailed } from '../errors.js'
import type { Message } from '../message.js'
import { Queue, type Envelope, type FlowWaiter, type QueueOptions } from '../queue.js'
import { storeCannotWrite } from '../store/segment-log.js'
import { storeFlow } from '../store/stored-list.js'
import type { TraceOrigin } from '../trace.js'
import type { VHost } from '../vhost.js'
import type { FieldTable } from '../wire/field-table.js'
import { editProperties } from '../wire/property-edit.js'
import { ConsumerGroup, memberRank } from './consumer-group.js'
import { GroupOffsets } from './group-offsets.js'
import { parseInterval, parseOffsetSpec, type OffsetSpec } from './offset-spec.js'
import { StreamLog } from './stream-log.js'
import { streamDepth, streamDepthBytes, streamOldest } from './stream-backlog.js'
import { StreamReader } from './stream-reader.js'
import type { StreamReplicaLeader } from './stream-replica-leader.js'
import { groupInfos } from './stream-groups-info.js'
import { StreamEnvelope, StreamMember, type GroupInfo } from './stream-member.js'
import { partitionIndexOf } from './super-stream.js'

/** RabbitMQ's default x-stream-max-segment-size-bytes (500 MB). */
const DEFAULT_SEGMENT = 500_000_000
/** SegmentLog's largest segment (RabbitMQ accepts up to 3 GB). */
const MAX_SEGMENT = 2 ** 30
const DRAIN_BUDGET = 2048
/** How often x-max-age is checked between segment rolls. */
const RETENTION_MS = 1000
/** Retry of a retention pass that met a segment still being written. */
const RETRY_MS = 50

/** A group member's rank: its channel's (members are channels, consumer-group.ts). */
const rankOf = (m: StreamMember): number => memberRank(m.consumer.sink.member ?? m.consumer.sink)

/** The stream's "rs" as RabbitMQ prints it in reply texts. */
function rs(q: Queue): string {
  return `queue '${q.name}' in vhost '${q.vhost.name}'`
}

export class StreamQueue extends Queue {
  readonly streamLog: StreamLog
  /** in a cluster: what confirms wait for besides this log (a majority of the replica set) */
  readonly replica: StreamReplicaLeader | null
  readonly offsets: GroupOffsets
  readonly maxBytes: number
  readonly maxAgeMs: number
  private readonly members = new Map<Consumer, StreamMember>()
  private readonly groups = new Map<string, ConsumerGroup<StreamMember>>()
  /** stream position after each group's committed offset (-1: not known yet this run) */
  private readonly groupEnds = new Map<string, number>()
  private streamDraining = false
  private retentionTimer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  /** publishers paused while the log's unwritten batches are over storeFlow.high */
  private writeWaiters: Set<FlowWaiter> | null = null

  constructor(vhost: VHost, name: string, options: QueueOptions) {
    super(vhost, name, options)
    const a = options.arguments
    this.maxBytes = typeof a['x-max-length-bytes'] === 'number' ? a['x-max-length-bytes'] : -1
    this.maxAgeMs = typeof a['x-max-age'] === 'string' ? parseInterval(a['x-max-age']) : -1
    const seg = a['x-stream-max-segment-size-bytes']
    const segmentSize = Math.min(MAX_SEGMENT, typeof seg === 'number' && seg > 0 ? seg : DEFAULT_SEGMENT)
    const storage = vhost.storage
    // a broker without a data dir (or a trial-run vhost) keeps its streams in scratch files
    const dir = storage?.openStreamDir(this, this) ?? mkdtempSync(path.join(os.tmpdir(), 'warren-stream-'))
    const log = vhost.log.child({ stream: name })
    // in a cluster: the log of this node's replica when it has one (a failover), and a replication leader
    const replicas = storage?.streamReplicas ?? null
    this.streamLog = replicas?.adopt(vhost.name, name) ?? new StreamLog({ dir, log, segmentSize, sync: storage !== null, stats: storage?.stats })
    this.replica = replicas?.leader(vhost.name, name, this.streamLog) ?? null
    this.offsets = new GroupOffsets(this.streamLog.dir, log, storage !== null)
    if (this.replica !== null) this.replica.groups = this.offsets
    this.streamLog.onDurable = () => this.written()
    this.retain(Date.now())
    if (this.maxAgeMs >= 0) {
      this.retentionTimer = setInterval(() => this.guard(() => this.retain(Date.now())), RETENTION_MS)
      this.retentionTimer.unref()
    }
  }

  /** backlog view (stream-backlog.ts): what the slowest reader has still to process */
  override get backlogDepth(): number {
    return streamDepth(this)
  }
  override get backlogBytes(): number {
    return streamDepthBytes(this)
  }
  override backlogOldest(): number {
    return streamOldest(this)
  }
  streamMembers(): IterableIterator<StreamMember> {
    return this.members.values()
  }

  /** messages kept in the stream (what RabbitMQ lists as messages / messages_ready) */
  override get messageCount(): number {
    return this.streamLog.count
  }

  override push(message: Message): boolean {
    const log = this.streamLog
    const now = Date.now()
    const segments = log.segments.length
    // every delivery carries its offset (RabbitMQ adds it when reading; stored here, read once)
    const m = message.withProperties(editProperties(message.props, { setHeaders: { 'x-stream-offset': BigInt(log.nextOffset) } }))
    try {
      log.append(m, now)
    } catch (err) {
      if (!storeCannotWrite(err)) throw err
      this.vhost.warnOnce(`store-unavailable:${this.name}`, { queue: this.name, err }, 'stream cannot write: publishes refused until it recovers')
      return false
    }
    this.vhost.durableTouched.push(log)
    if (this.replica !== null) {
      this.replica.appended()
      this.vhost.durableTouched.push(this.replica)
    }
    this.stats.publish++
    // what VHost.publish compares with FLOW_CHECK_BYTES: the bytes not on disk yet (see throttle)
    this.readyBytes = log.pendingBytes
    if (log.segments.length !== segments) this.retain(now)
    if (this.consumers.length > 0) this.drain()
    return true
  }

  /**
   * Called by VHost.publish when readyBytes (the log's unwritten bytes) passed FLOW_CHECK_BYTES:
   * past storeFlow.high the publisher is paused until the group commit is back under storeFlow.low,
   * as a queue store pauses its publishers (store/stored-list.ts).
   */
  override throttle(publisher: FlowWaiter): void {
    if (this.streamLog.pendingBytes <= storeFlow.high) return
    const ws = (this.writeWaiters ??= new Set())
    if (ws.has(publisher)) return
    ws.add(publisher)
    publisher.blockFlow()
  }

  private written(): void {
    this.readyBytes = this.streamLog.pendingBytes
    const ws = this.writeWaiters
    if (ws === null || this.readyBytes > storeFlow.low) return
    this.writeWaiters = null
    for (const w of ws) w.resumeFlow()
  }

  private retain(now: number): void {
    if (this.maxBytes < 0 && this.maxAgeMs < 0) return
    const dropped = this.streamLog.applyRetention(this.maxBytes, this.maxAgeMs, now)
    if (dropped > 0) this.vhost.log.debug({ queue: this.name, dropped, first: this.streamLog.firstOffset }, 'stream retention deleted segments')
    if (this.streamLog.retentionBlocked && this.retryTimer === null && !this.deleted) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null
        this.guard(() => this.retain(Date.now()))
      }, RETRY_MS)
      this.retryTimer.unref()
    }
  }

  // ---- consuming ------------------------------------------------------------------------------

  /**
   * basic.consume checks, in RabbitMQ's order (rabbit_amqqueue:check_consume_arguments, then
   * rabbit_stream_queue:consume): argument values, prefetch set, manual acks, no global qos.
   */
  override checkConsume(noAck: boolean, prefetch: number, globalPrefetch: number, args: FieldTable): void {
    if (args['x-priority'] !== undefined || args['x-cancel-on-ha-failover'] !== undefined) {
      const k = args['x-priority'] !== undefined ? 'x-priority' : 'x-cancel-on-ha-failover'
      throw preconditionFailed(`invalid arg '${k}' for ${rs(this)} of queue type rabbit_stream_queue`)
    }
    const spec = parseOffsetSpec(args['x-stream-offset'], Date.now())
    if (typeof spec === 'string') throw preconditionFailed(`invalid arg 'x-stream-offset' for ${rs(this)}: ${spec}`)
    const name = args['x-stream-consumer-name']
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw preconditionFailed(`invalid arg 'x-stream-consumer-name' for ${rs(this)}: a non-empty string is required`)
    }
    if (prefetch === 0) throw preconditionFailed(`consumer prefetch count is not set for '${rs(this)}'`)
    if (noAck) throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `automatic acknowledgement not supported by stream queues ${rs(this)}`)
    if (globalPrefetch !== 0) throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `${rs(this)} does not support global qos`)
  }

  override addConsumer(c: Consumer): void {
    const spec = parseOffsetSpec(c.args['x-stream-offset'], Date.now()) as OffsetSpec
    const name = c.args['x-stream-consumer-name']
    const explicit = c.args['x-stream-offset'] !== undefined
    let group: ConsumerGroup<StreamMember> | null = null
    if (typeof name === 'string') {
      group = this.groups.get(name) ?? null
      if (group === null) this.groups.set(name, (group = new ConsumerGroup(name, this.settings.singleActiveConsumer, rankOf)))
    }
    const m = new StreamMember(c, new StreamReader(this.streamLog, 0), spec, group, false)
    this.members.set(c, m)
    if (group === null) {
      m.active = true
      this.startAt(m, explicit)
    } else {
      const before = group.active
      group.setPartition(partitionIndexOf(this))
      group.join(m)
      if (!group.singleActive) {
        m.active = true
        this.startAt(m, explicit)
      } else this.handOver(group, before, m, explicit)
    }
    super.addConsumer(c)
  }

  /**
   * With single-active-consumer, makes the group's active member the one consumer-group.ts names
   * after a join or leave: the one that was active stops receiving (its deliveries still in flight
   * can be acked), the new one starts right after the committed offset (or where the joiner's
   * explicit x-stream-offset says), so what the old one had not acked comes again.
   */
  private handOver(g: ConsumerGroup<StreamMember>, before: StreamMember | undefined, joined: StreamMember | null, explicit: boolean): void {
    const now = g.active
    if (now === before) return
    if (before !== undefined) before.active = false
    if (now !== undefined) {
      now.active = true
      this.startAt(now, now === joined && explicit)
    }
    this.scheduleDrain()
  }

  /**
   * Places a member that becomes active: a named one without an explicit x-stream-offset (or one
   * taking over) resumes right after its group's committed offset; others start where the spec says.
   */
  private startAt(m: StreamMember, explicit: boolean): void {
    const log = this.streamLog
    const committed = m.group === null ? undefined : this.offsets.committed.get(m.group.name)
    let start: number
    if (committed !== undefined && !explicit) start = committed + 1
    else {
      const s = m.spec
      if (s.kind === 'first') start = log.firstOffset
      else if (s.kind === 'last') start = Math.max(log.firstOffset, log.nextOffset - 1)
      else if (s.kind === 'next') start = log.nextOffset
      else if (s.kind === 'offset') start = s.offset
      else start = log.offsetAtTime(s.ms)
    }
    m.reader.seek(Math.min(Math.max(start, log.firstOffset), log.nextOffset))
  }

  override removeConsumer(c: Consumer): void {
    const m = this.members.get(c)
    if (m !== undefined) {
      this.members.delete(c)
      m.reader.release()
      const g = m.group
      if (g !== null) {
        const before = g.active
        g.leave(m)
        if (g.singleActive) this.handOver(g, before, null, false)
        if (g.members.length === 0) this.groups.delete(g.name)
      }
    }
    super.removeConsumer(c)
    this.scheduleDrain()
  }

  /** Delivers to every active consumer with credit, at most DRAIN_BUDGET messages per pass. */
  override drain(now = Date.now()): void {
    if (this.streamDraining || this.deleted || this.members.size === 0) return
    this.streamDraining = true
    let budget = DRAIN_BUDGET
    try {
      for (const m of this.members.values()) {
        if (!m.active) continue
        const c = m.consumer
        const r = m.reader
        while (budget > 0 && r.next < this.streamLog.nextOffset && c.sink.canDeliver(c)) {
          const msg = r.read()
          if (msg === undefined) break
          budget--
          const env = new StreamEnvelope(msg, this, r.next - 1, r.lastEnd, m)
          env.deliveredAt = now
          env.consumer = c
          c.unacked++
          c.delivered++
          this.unackedCount++
          this.stats.deliver++
          if (m.group !== null) m.out.push(env.seq)
          c.sink.deliver(c, env)
          if (this.vhost.tracer !== null) this.vhost.tracer.delivered(this, env, c.sink)
        }
      }
      if (budget === 0) this.scheduleDrain()
    } finally {
      this.streamDraining = false
    }
  }

  // ---- settlement -----------------------------------------------------------------------------

  /** An ack: gives the consumer its credit back and moves its group's committed offset. */
  override settle(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    if (this.deleted) return
    this.unackedCount--
    this.stats.ack++
    const se = env as StreamEnvelope
    if (se.member.group !== null) this.acked(se)
  }

  private acked(env: StreamEnvelope): void {
    const m = env.member
    const out = m.out
    if (out[m.head] !== env.seq) {
      m.acked.add(env.seq)
      return
    }
    let last = env.seq
    let end = env.end
    m.head++
    while (m.head < out.length && m.acked.delete(out[m.head])) last = out[m.head++]
    if (m.head === out.length) {
      out.length = 0
      m.head = 0
    } else if (m.head > 1024) {
      out.splice(0, m.head)
      m.head = 0
    }
    // the end position is exact only when the ack closed the run at this envelope
    if (last !== env.seq) end = -1
    const name = m.group!.name
    this.offsets.commit(name, last)
    // a replicated stream ships its groups' offsets with its records
    if (this.replica !== null) this.replica.appended()
    if (this.offsets.committed.get(name) === last) this.groupEnds.set(name, end)
  }

  /** basic.nack / basic.reject (and basic.recover) are not supported on streams (RabbitMQ 3.10). */
  override reject(env: Envelope): void {
    this.requeue(env)
  }

  /**
   * Called for nack/reject with requeue and when a channel closes with deliveries outstanding: the
   * latter (consumer already gone) just drops them, uncommitted, so the group gets them again.
   */
  override requeue(env: Envelope): void {
    const c = env.consumer
    if (c !== null && this.members.has(c)) {
      throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `basic.nack and basic.reject not supported by stream queues ${rs(this)}`)
    }
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    if (!this.deleted) this.unackedCount--
  }

  override get(_noAck: boolean, _origin: TraceOrigin | null = null): Envelope | undefined {
    throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `basic.get not supported by stream queues ${rs(this)}`)
  }

  override purge(): number {
    throw new ConnectionError(ReplyCode.NOT_IMPLEMENTED, `queue.purge not supported by stream queues ${rs(this)}`)
  }

  override destroy(): number {
    const n = this.messageCount
    this.deleted = true
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.offsets.discard()
    const ws = this.writeWaiters
    this.writeWaiters = null
    if (ws !== null) for (const w of ws) w.resumeFlow()
    for (const m of this.members.values()) m.reader.release()
    this.members.clear()
    const consumers = this.consumers.splice(0)
    for (const c of consumers) c.sink.cancelledByServer(c)
    // a stream of a broker with storage is deleted by Storage.queueRemoved; scratch ones here
    if (this.vhost.storage === null) void this.destroyFiles()
    return n
  }

  /** Deletes the stream's files (after destroy). */
  async destroyFiles(): Promise<void> {
    try {
      await this.streamLog.destroy()
    } catch (err) {
      this.vhost.log.error({ err, queue: this.name }, 'cannot delete the files of a deleted stream')
    }
  }

  /** Flushes the committed offsets and closes the files (broker shutdown). */
  async close(): Promise<void> {
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.offsets.close()
    await this.streamLog.close()
  }

  // ---- management (stream-groups-info.ts) -----------------------------------------------------

  /** Every group with a committed offset or a live member: offset and lag behind the tail. */
  groupInfos(): GroupInfo[] {
    return groupInfos(this, this.groups, this.groupEnds)
  }
}

/** Creates the queue object of a declared queue: a stream for `x-queue-type: stream`. */
export function newQueue(vhost: VHost, name: string, options: QueueOptions): Queue {
  return options.arguments['x-queue-type'] === 'stream' ? new StreamQueue(vhost, name, options) : new Queue(vhost, name, options)
}
