/**
 * One AMQP connection: protocol header, handshake (start/start-ok, tune/tune-ok, open), the channel
 * table, heartbeats, close, and output backpressure. Frames for channels > 0 go to Channel.
 */
import type { Logger } from 'pino'
import { blockedReason } from '../core/alarms.js'
import { AccessControl, vhostAccessRefusedText } from '../core/access-control.js'
import { checkChannelLimit, checkConnectionLimits } from '../core/limits.js'
import type { Broker } from '../core/broker.js'
import type { ChannelInfo, ConnectionInfo } from '../core/connections.js'
import { AmqpError, ConnectionError, ReplyCode } from '../core/errors.js'
import type { FlowWaiter } from '../core/queue.js'
import type { VHost } from '../core/vhost.js'
import type { User } from '../core/users.js'
import type { FieldTable } from '../core/wire/field-table.js'
import { Channel } from './channel.js'
import {
  CLASS_CHANNEL,
  CLASS_CONNECTION,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  M,
  PROTOCOL_HEADER,
  key,
} from './codec/constants.js'
import { FrameReader, type BodyTarget, type FrameHandler } from './codec/frame-reader.js'
import { FrameWriter, type FlushHooks } from './codec/frame-writer.js'
import { decodeArgs, lookupMethod, methodName } from './codec/methods.js'
import { Heartbeats, type HeartbeatPeer } from './heartbeats.js'
import type { AmqpSocket } from './socket-adapter.js'
import { serverProperties } from './server-properties.js'
import { loginRefused, offeredMechanisms, saslLogin } from './sasl.js'
import type { TlsPeer } from './tls.js'

type State = 'header' | 'start' | 'tune' | 'open' | 'running' | 'closing' | 'closed'

/** How long to wait for close-ok after we sent connection.close. */
const CLOSE_TIMEOUT_MS = 3000
/** RabbitMQ accepts frames up to 8 bytes over frame_max: "quite a few [clients] get it wrong" */
const FRAME_SIZE_FUDGE = 8

/** Shared by the connections of one broker: how handshake timeouts are reported (one line per interval). */
export interface HandshakeWatch {
  timedOut(fields: Record<string, unknown>): void
}

export class Connection implements FrameHandler, FlushHooks, FlowWaiter, ConnectionInfo, HeartbeatPeer {
  readonly id: number
  readonly name: string
  readonly peerHost: string
  readonly peerPort: number
  readonly connectedAt = Date.now()
  log: Logger
  readonly writer: FrameWriter
  readonly reader: FrameReader
  user: User | undefined
  vhostName: string | undefined
  vhost: VHost | undefined
  clientProperties: FieldTable = {}
  capabilities: FieldTable = {}
  frameMax: number
  channelMax: number
  heartbeat = 0
  bytesIn = 0
  recvCount = 0
  /** the user's permissions in the vhost, set by connection.open (core/access-control.ts) */
  access: AccessControl | undefined
  /** false while the socket is not draining; consumers on this connection then wait */
  writable = true
  private state: State = 'header'
  private readonly channelsById = new Map<number, Channel>()
  private headerBuf: Buffer | null = null
  private readonly heartbeats = new Heartbeats(this)
  private closeTimer: NodeJS.Timeout | null = null
  private handshakeTimer: NodeJS.Timeout | null = null
  private receivedSinceCheck = true
  /** queues currently holding this publisher back (flow control) */
  private flowBlocks = 0
  private readonly onDrainBound = (): void => this.onDrain()
  /** true when reads land in buffers the connection names (plain TCP, transport/direct-read.ts) */
  directReads = false

  constructor(
    readonly broker: Broker,
    readonly socket: AmqpSocket,
    readonly protocol: string,
    parentLog: Logger,
    /** the TLS session of an AMQPS or WSS connection; null over plain TCP or WebSocket */
    readonly tls: TlsPeer | null = null,
    private readonly handshakeWatch?: HandshakeWatch,
  ) {
    this.id = broker.connectionId()
    this.peerHost = plainAddress(socket.remoteAddress ?? 'unknown')
    this.peerPort = socket.remotePort ?? 0
    this.name = `${this.peerHost}:${this.peerPort} -> ${plainAddress(socket.localAddress ?? '?')}:${socket.localPort ?? 0}`
    this.log = parentLog.child({ conn: this.id, peer: `${this.peerHost}:${this.peerPort}` })
    this.frameMax = broker.config.frameMax
    this.channelMax = broker.config.channelMax
    this.writer = new FrameWriter(socket, this.frameMax, this)
    // RabbitMQ rabbit_reader starts every connection at frame_max = frame_min (4096) until tune-ok:
    // an unauthenticated client cannot make the broker buffer more than that per frame
    this.reader = new FrameReader(this, FRAME_MIN_SIZE + FRAME_SIZE_FUDGE)
    // RabbitMQ handshake_timeout: a client that has not opened the connection in time loses the socket
    this.handshakeTimer = setTimeout(() => this.onHandshakeTimeout(), broker.config.handshakeTimeout)
    this.handshakeTimer.unref()
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('drain', this.onDrainBound)
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'))
    socket.on('close', () => this.onSocketClosed())
    broker.connections.add(this)
    this.log.debug('connection accepted')
  }

  get userName(): string | undefined {
    return this.user?.name
  }

  channels(): Iterable<ChannelInfo> {
    return this.channelsById.values()
  }

  get channelCount(): number {
    return this.channelsById.size
  }

  // ConnectionInfo
  get bytesOut(): number {
    return this.writer.bytesOut
  }

  get sendCount(): number {
    return this.writer.sendCount
  }

  /**
   * How many output bytes the socket has written (handed to the kernel, or encrypted), or -1 when
   * the transport cannot tell (WebSocket): a pooled body block is reused only once its delivery is
   * written (transport/pooled-deliveries.ts).
   */
  get outputWritten(): number {
    const queued = (this.socket as { writableLength?: number }).writableLength
    return typeof queued === 'number' ? this.writer.bytesOut - queued : -1
  }

  /** Closes the connection with 320 CONNECTION_FORCED (shutdown, management API). */
  forceClose(reason: string): void {
    this.closeWith(new ConnectionError(ReplyCode.CONNECTION_FORCED, reason))
  }

  private onHandshakeTimeout(): void {
    this.handshakeTimer = null
    if (this.state === 'running' || this.state === 'closing' || this.state === 'closed') return
    const fields = { peer: `${this.peerHost}:${this.peerPort}`, state: this.state, timeoutMs: this.broker.config.handshakeTimeout }
    if (this.handshakeWatch !== undefined) this.handshakeWatch.timedOut(fields)
    else this.log.warn(fields, 'closing connection: handshake timeout')
    // as RabbitMQ (throw {handshake_timeout, …} in rabbit_reader): the socket is closed, no close method
    this.destroy()
  }

  // ---- input --------------------------------------------------------------------------------

  /** DirectReadSink: a large body frame being received is read straight into its message block. */
  readTarget(): Buffer | null {
    return this.state === 'running' ? this.reader.readTarget() : null
  }

  /** DirectReadSink: n bytes landed where readTarget() said. */
  targetFilled(n: number): void {
    this.bytesIn += n
    this.recvCount++
    this.receivedSinceCheck = true
    // a cluster node whose lease ran out fences (closing this connection too) before serving input
    if (this.broker.cluster !== null) this.broker.cluster.holdsLease()
    if (this.state === 'closed') return
    try {
      this.reader.targetFilled(n)
    } catch (err) {
      this.fail(err)
    }
  }

  onData(chunk: Buffer): void {
    this.bytesIn += chunk.length
    this.recvCount++
    this.receivedSinceCheck = true
    // a cluster node whose lease ran out fences (closing this connection too) before serving input
    if (this.broker.cluster !== null) this.broker.cluster.holdsLease()
    if (this.state === 'closed') return
    // after sending connection.close, new data is still read for the client's close-ok (0-9-1
    // §2.2.4; RabbitMQ closes the socket on close-ok); onFrame discards everything else meanwhile
    if (this.state === 'closing') this.reader.stopped = false
    try {
      if (this.state === 'header') {
        chunk = this.readProtocolHeader(chunk)
        if (chunk.length === 0) return
      }
      this.reader.push(chunk)
    } catch (err) {
      this.fail(err)
    }
  }

  /** Consumes the 8-byte protocol header; returns the bytes after it. */
  private readProtocolHeader(chunk: Buffer): Buffer {
    const buf = this.headerBuf === null ? chunk : Buffer.concat([this.headerBuf, chunk])
    if (buf.length < 8) {
      this.headerBuf = buf
      return Buffer.alloc(0)
    }
    this.headerBuf = null
    if (!buf.subarray(0, 8).equals(PROTOCOL_HEADER)) {
      // 0-9-1 §4.2.2: answer a bad header with the header we support, then close.
      this.log.info({ header: buf.subarray(0, 8).toString('hex') }, 'unsupported protocol header')
      this.writer.raw(PROTOCOL_HEADER)
      this.writer.flush()
      this.state = 'closed'
      this.socket.end()
      return Buffer.alloc(0)
    }
    this.state = 'start'
    const props = serverProperties(this.broker)
    // rabbit_auth_mechanism_ssl offers EXTERNAL on every TLS connection, with or without a client
    // certificate (a refusal that says why beats a client finding no common mechanism)
    this.writer.method(0, CLASS_CONNECTION, 10, [0, 9, props, offeredMechanisms(this.tls), 'en_US'])
    return buf.subarray(8)
  }

  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    if (type === FRAME_METHOD) {
      if (end - start < 4) throw new ConnectionError(ReplyCode.FRAME_ERROR, 'method frame too short')
      const classId = buf.readUInt16BE(start)
      const methodId = buf.readUInt16BE(start + 2)
      if (channel === 0) return this.connectionMethod(classId, methodId, buf, start + 4, end)
      if (this.state === 'closing') return // 0-9-1 §2.2.4: after close, discard until close-ok
      if (this.state !== 'running') {
        // RabbitMQ: any frame on a channel before the connection is open is unexpected (505)
        throw new ConnectionError(ReplyCode.UNEXPECTED_FRAME, `${methodName(classId, methodId)} before connection.open`)
      }
      return this.channelMethod(channel, classId, methodId, buf, start + 4, end)
    }
    if (type === FRAME_HEARTBEAT) {
      // as RabbitMQ: a heartbeat with a payload cannot be parsed (501); one on a channel is unexpected (505)
      if (end !== start) throw new ConnectionError(ReplyCode.FRAME_ERROR, 'heartbeat frame with a payload')
      if (channel !== 0) throw new ConnectionError(ReplyCode.UNEXPECTED_FRAME, `heartbeat frame on channel ${channel}`)
      return
    }
    if (type === 2 || type === 3) {
      if (this.state === 'closing') return
      if (this.state !== 'running' || channel === 0) {
        throw new ConnectionError(ReplyCode.UNEXPECTED_FRAME, `content frame on channel ${channel} not expected`)
      }
      const ch = this.channelsById.get(channel)
      if (ch === undefined) throw new ConnectionError(ReplyCode.CHANNEL_ERROR, `channel ${channel} is not open`)
      return ch.onContent(type, buf, start, end)
    }
    throw new ConnectionError(ReplyCode.FRAME_ERROR, `unknown frame type ${type}`)
  }

  /** FrameReader: a large body frame split across chunks goes straight into its channel's message. */
  bodyTarget(channel: number, size: number): BodyTarget | null {
    if (this.state !== 'running') return null
    const ch = this.channelsById.get(channel)
    return ch === undefined ? null : ch.bodyTarget(size)
  }

  private channelMethod(id: number, classId: number, methodId: number, buf: Buffer, start: number, end: number): void {
    let ch = this.channelsById.get(id)
    if (ch === undefined) {
      if (key(classId, methodId) !== M.CHANNEL_OPEN) {
        // RabbitMQ: frames on a channel that was never opened are a connection error
        throw new ConnectionError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${id}`)
      }
      // RabbitMQ limits how many channels are open (530), not the channel number
      if (this.channelsById.size >= this.channelMax) {
        throw new ConnectionError(
          ReplyCode.NOT_ALLOWED,
          `number of channels opened (${this.channelsById.size}) has reached the negotiated channel_max (${this.channelMax})`,
        )
      }
      checkChannelLimit(this.broker, this.user?.name)
      ch = new Channel(this, id)
      this.channelsById.set(id, ch)
      this.writer.method(id, CLASS_CHANNEL, 11, [''])
      return
    }
    ch.dispatch(classId, methodId, buf, start, end)
  }

  /** A channel is done (close-ok sent or received): free its number. */
  channelClosed(ch: Channel): void {
    if (this.channelsById.get(ch.id) === ch) this.channelsById.delete(ch.id)
  }

  private connectionMethod(classId: number, methodId: number, buf: Buffer, start: number, end: number): void {
    const k = key(classId, methodId)
    if (this.state === 'closing') {
      if (k === M.CONNECTION_CLOSE_OK) return this.destroy()
      if (k === M.CONNECTION_CLOSE) {
        this.writer.method(0, CLASS_CONNECTION, 51)
        return
      }
      return
    }
    if (classId !== CLASS_CONNECTION) {
      throw new ConnectionError(ReplyCode.COMMAND_INVALID, `${methodName(classId, methodId)} on channel 0`, classId, methodId)
    }
    const spec = lookupMethod(classId, methodId)
    const args = decodeArgs(spec, buf, start, end)
    switch (k) {
      case M.CONNECTION_START_OK:
        this.expect('start', k)
        return this.startOk(args.clientProperties as FieldTable, args.mechanism as string, args.response as Buffer)
      case M.CONNECTION_TUNE_OK:
        this.expect('tune', k)
        return this.tuneOk(args.channelMax as number, args.frameMax as number, args.heartbeat as number)
      case M.CONNECTION_OPEN:
        this.expect('open', k)
        return this.open(args.virtualHost as string)
      case M.CONNECTION_CLOSE:
        this.log.debug({ code: args.replyCode, text: args.replyText }, 'client closed connection')
        this.writer.method(0, CLASS_CONNECTION, 51)
        this.writer.flush()
        this.teardown()
        this.state = 'closed'
        this.socket.end()
        return
      case M.CONNECTION_CLOSE_OK:
        return this.destroy()
      case M.CONNECTION_UPDATE_SECRET:
        this.expect('running', k)
        this.writer.method(0, CLASS_CONNECTION, 71)
        return
      case M.CONNECTION_BLOCKED:
      case M.CONNECTION_UNBLOCKED:
        return // clients may send these to us; nothing to do
      default:
        throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unexpected ${spec.name}`, classId, methodId)
    }
  }

  private expect(state: State, k: number): void {
    if (this.state !== state) {
      throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unexpected ${methodName(k >>> 16, k & 0xffff)}`, k >>> 16, k & 0xffff)
    }
  }

  private startOk(clientProperties: FieldTable, mechanism: string, response: Buffer): void {
    this.clientProperties = clientProperties ?? {}
    const caps = this.clientProperties.capabilities
    this.capabilities = caps !== null && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps) ? (caps as FieldTable) : {}
    // a web page from another origin: its browser's loopback address is not the client's (ws-origin.ts)
    const peer = this.socket.loopbackTrusted === false ? 'untrusted-origin' : this.peerHost
    const result = saslLogin(this.broker, this.tls, peer, mechanism, response)
    if (!result.ok) {
      this.log.warn({ user: result.username, mechanism, reason: result.reason }, 'authentication failed')
      // RabbitMQ auth_fail: the reason stays in the log; only clients announcing the
      // authentication_failure_close capability get a connection.close, the others lose the socket
      if (this.capabilities.authentication_failure_close !== true) return this.destroy()
      throw loginRefused(mechanism)
    }
    this.user = result.user
    this.state = 'tune'
    const c = this.broker.config
    this.writer.method(0, CLASS_CONNECTION, 30, [c.channelMax, c.frameMax, c.heartbeat])
  }

  private tuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const c = this.broker.config
    if (frameMax !== 0 && frameMax < FRAME_MIN_SIZE) {
      throw new ConnectionError(
        ReplyCode.NOT_ALLOWED,
        `negotiated frame_max = ${frameMax} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`,
      )
    }
    if (frameMax > c.frameMax) {
      throw new ConnectionError(
        ReplyCode.NOT_ALLOWED,
        `negotiated frame_max = ${frameMax} is higher than the maximum allowed value (${c.frameMax})`,
      )
    }
    if (channelMax > c.channelMax) {
      throw new ConnectionError(
        ReplyCode.NOT_ALLOWED,
        `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${c.channelMax})`,
      )
    }
    this.frameMax = frameMax === 0 ? c.frameMax : frameMax
    this.channelMax = channelMax === 0 ? c.channelMax : channelMax
    this.heartbeat = heartbeat
    this.writer.frameMax = this.frameMax
    this.reader.maxFrameSize = this.frameMax + FRAME_SIZE_FUDGE
    // authenticated: WebSocket messages may now carry whole publishes (ws-socket.ts)
    this.socket.liftInputLimit?.()
    this.state = 'open'
    if (heartbeat > 0) this.heartbeats.start(heartbeat)
  }

  private open(vhostName: string): void {
    const vhost = this.broker.vhost(vhostName)
    if (vhost === undefined) {
      throw new ConnectionError(ReplyCode.NOT_ALLOWED, `vhost ${vhostName} not found`, CLASS_CONNECTION, 40)
    }
    // RabbitMQ rabbit_reader: check_vhost_access after the vhost lookup; the internal backend lets a
    // user in when it has any permission entry on the vhost (tags do not matter for AMQP)
    const user = this.user!.name
    try {
      checkConnectionLimits(this.broker, vhostName, user)
    } catch (err) {
      if (err instanceof ConnectionError) {
        err.classId = CLASS_CONNECTION
        err.methodId = 40
      }
      this.log.warn({ user, vhost: vhostName, err: (err as Error).message }, 'connection limit reached')
      throw err
    }
    const access = new AccessControl(this.broker.users, user, vhostName)
    if (!access.canAccessVHost()) {
      this.log.warn({ user, vhost: vhostName }, 'vhost access refused')
      throw new ConnectionError(ReplyCode.NOT_ALLOWED, vhostAccessRefusedText(vhostName, user), CLASS_CONNECTION, 40)
    }
    this.access = access
    this.vhostName = vhostName
    this.vhost = vhost
    this.state = 'running'
    this.clearHandshakeTimer()
    this.log = this.log.child({ user: this.user?.name, vhost: vhostName })
    this.writer.method(0, CLASS_CONNECTION, 41, [''])
    // the handshake is not traffic: an idle connection's first heartbeat follows half an interval after it
    this.writer.flush()
    this.writer.wroteSinceCheck = false
    this.log.info({ client: describeClient(this.clientProperties), protocol: this.protocol }, 'connection opened')
  }

  // ---- flow control -------------------------------------------------------------------------

  /** A queue this connection publishes to is backing up: stop reading from the socket. */
  blockFlow(): void {
    // the rest of the current chunk is still processed; reading stops after it
    if (this.flowBlocks++ === 0) this.socket.pause()
  }

  /** set by a resource alarm while this connection is blocked */
  private alarmBlocked = false
  /** this connection has published: a resource alarm blocks it */
  published = false

  /**
   * RabbitMQ's memory and disk alarms, as they treat publishers (core/alarms.ts): called when the
   * broker's alarms change and on each publish while one is on. A connection that publishes is told
   * connection.blocked once (when the client announced the capability; the reason names the alarms
   * then in effect) and no longer read from until every alarm has cleared.
   */
  resourceAlarm(): void {
    const notify = this.capabilities['connection.blocked'] === true
    const alarms = this.broker.alarms
    if (alarms.size > 0) {
      if (this.alarmBlocked || this.state !== 'running' || !this.published) return
      this.alarmBlocked = true
      if (notify) this.writer.method(0, 10, 60, [blockedReason(alarms)])
      this.blockFlow()
    } else {
      if (!this.alarmBlocked) return
      this.alarmBlocked = false
      if (notify && this.state === 'running') this.writer.method(0, 10, 61)
      this.resumeFlow()
    }
  }

  /** Blocked by a resource alarm: RabbitMQ's connection state `blocked` (`blocking` when it has not published). */
  get blockedByAlarm(): boolean {
    return this.alarmBlocked
  }

  resumeFlow(): void {
    if (this.flowBlocks === 0 || --this.flowBlocks > 0) return
    if (this.state === 'closed' || this.state === 'closing') return
    this.socket.resume()
  }

  // ---- heartbeats (transport/heartbeats.ts) ------------------------------------------------

  takeReceived(): boolean {
    const r = this.receivedSinceCheck || this.flowBlocks > 0
    this.receivedSinceCheck = false
    return r
  }

  heartbeatTimeout(): void {
    // 0-9-1 §4.2.7: a peer silent for two intervals is dead; RabbitMQ closes the socket
    this.log.warn({ timeout: this.heartbeat }, 'missed heartbeats from client, closing connection')
    this.destroy()
  }

  // ---- output -------------------------------------------------------------------------------

  beforeFlush(): void {
    for (const ch of this.channelsById.values()) ch.flushConfirms()
  }

  writeBlocked(): void {
    this.writable = false
  }

  private onDrain(): void {
    if (this.writable) return
    this.writable = true
    for (const ch of this.channelsById.values()) ch.resumeDeliveries()
  }

  // ---- closing ------------------------------------------------------------------------------

  /** Handles an exception from frame processing: protocol errors close, others become 541. */
  fail(err: unknown): void {
    if (err instanceof AmqpError) {
      if (this.state === 'closing') return // bytes after a frame error are noise; close is already sent
      if (err.hard) {
        this.log.warn({ code: err.code, reason: err.replyText }, 'connection error')
        this.closeWith(err as ConnectionError)
      } else {
        // a soft error outside a channel cannot happen; treat as hard
        this.closeWith(new ConnectionError(err.code, err.detail, err.classId, err.methodId))
      }
      return
    }
    this.log.error({ err }, 'internal error while handling a frame')
    this.closeWith(new ConnectionError(ReplyCode.INTERNAL_ERROR, 'internal error'))
  }

  /** Sends connection.close and waits (bounded) for close-ok. */
  closeWith(err: ConnectionError): void {
    if (this.state === 'closing' || this.state === 'closed') return
    this.reader.stopped = true
    if (this.state === 'header') {
      this.destroy()
      return
    }
    this.state = 'closing'
    this.writer.method(0, CLASS_CONNECTION, 50, [err.code, err.replyText, err.classId, err.methodId])
    this.writer.flush()
    this.teardown()
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_TIMEOUT_MS)
    this.closeTimer.unref()
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
  }

  /** Closes the socket now. */
  destroy(): void {
    this.state = 'closed'
    // close-ok (or the socket) came before the close timeout: nothing left for the timer to do
    if (this.closeTimer !== null) clearTimeout(this.closeTimer)
    this.closeTimer = null
    this.teardown()
    this.socket.destroy()
  }

  private onSocketClosed(): void {
    this.state = 'closed'
    this.teardown()
    this.log.info({ durationMs: Date.now() - this.connectedAt }, 'connection closed')
  }

  private tornDown = false
  /** Releases everything the connection holds: channels (requeueing unacked), exclusive queues, timers. */
  private teardown(): void {
    if (this.tornDown) return
    this.tornDown = true
    this.reader.stopped = true
    this.clearHandshakeTimer()
    this.heartbeats.stop()
    for (const ch of this.channelsById.values()) ch.teardown()
    this.channelsById.clear()
    if (this.vhost !== undefined) this.vhost.dropExclusiveQueues(this)
    this.broker.connections.delete(this)
  }

}

function describeClient(p: FieldTable): string {
  const product = typeof p.product === 'string' ? p.product : 'unknown'
  const version = typeof p.version === 'string' ? p.version : ''
  return `${product} ${version}`.trim()
}

/**
 * An IPv4 peer of a dual-stack listener as RabbitMQ shows it: `127.0.0.1`, not the IPv4-mapped
 * `::ffff:127.0.0.1` Node reports.
 */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
