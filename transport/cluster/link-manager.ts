/**
 * The node links of this node (issue 13): one TCP connection per pair of nodes on the cluster
 * port. The node with the smaller name dials the other (link-auth.ts `dials`) from the address and
 * cluster port the peer registered in etcd, and dials again (backing off to 2 s) while the peer is
 * a member and the link is down; the other only accepts. A session replaces an older one of the same
 * peer (the peer restarted). A fenced node (etcd lease lost) ends its links and opens none until it
 * is registered again.
 *
 * Also the data plane's face towards the rest of the node: a PlacementListener that puts a
 * stand-in (core/cluster/remote-queue.ts) in the vhost for every queue homed on another node, and
 * the RemoteQueueOps (counts, purge, delete at a queue's home).
 */
import net from 'node:net'
import type { Logger } from 'pino'
import type { Broker } from '../../core/broker.js'
import type { ClusterState, MemberInfo, MemberListener } from '../../core/cluster/cluster-state.js'
import type { ReplyRelay } from '../../core/direct-reply-to.js'
import type { Message } from '../../core/message.js'
import type { PlacementListener, QueueCounts, QueueHome, RemoteQueueOps } from '../../core/cluster/placement.js'
import { RemoteQueue } from '../../core/cluster/remote-queue.js'
import { dials } from './link-auth.js'
import { messageLen, Out, strLen, T, writeMessage } from './link-codec.js'
import { LinkHome } from './link-home.js'
import { LinkPeer } from './link-peer.js'
import { LinkSession, type LinkHandler, type LinkOwner } from './link.js'
import type { ReplicaManager } from './replica-manager.js'

const REDIAL_MIN_MS = 100
const REDIAL_MAX_MS = 2000

interface Active {
  session: LinkSession
  home: LinkHome
}

export class LinkManager implements LinkOwner, PlacementListener, RemoteQueueOps, MemberListener, ReplyRelay {
  readonly clusterName: string
  readonly nodeName: string
  private readonly peers = new Map<string, LinkPeer>()
  private readonly active = new Map<string, Active>()
  private readonly dialing = new Map<string, LinkSession>()
  private readonly redial = new Map<string, { timer: NodeJS.Timeout | null; delay: number }>()
  private readonly accepted = new Set<LinkSession>()
  private closed = false
  /** quorum queue replication (replica-manager.ts): told of sessions, gets its frames */
  replicas: ReplicaManager | null = null

  constructor(
    private readonly broker: Broker,
    private readonly state: ClusterState,
    readonly secret: Buffer,
    private readonly log: Logger,
  ) {
    this.clusterName = state.clusterName
    this.nodeName = state.nodeName
  }

  /** Starts serving: links to the members known so far, stand-ins for the queues placed so far. */
  start(): void {
    this.state.memberListeners.push(this)
    this.state.placement.listen(this)
    this.state.remoteOps = this
    this.broker.replyTo.joinCluster(this.nodeName, this)
    for (const m of this.state.members.values()) this.memberUp(m)
    for (const h of this.state.placement.all()) if (h.node !== this.nodeName) this.remoteQueueUp(h)
  }

  /** The link to `node` (created on first use; stand-ins keep it across reconnects). */
  peer(node: string): LinkPeer {
    let p = this.peers.get(node)
    if (p === undefined) {
      p = new LinkPeer(node, this.log)
      this.peers.set(node, p)
    }
    return p
  }

  /** The current session with `node`, or undefined (tests cut it to check reconnects). */
  session(node: string): LinkSession | undefined {
    return this.active.get(node)?.session
  }

  // ---- sessions ----------------------------------------------------------------------------------

  /** A socket accepted on the cluster port: it must authenticate before anything else. */
  accept(socket: net.Socket): void {
    // a fenced node serves no one, other nodes included
    if (this.closed || this.state.fenced) return void socket.destroy()
    socket.on('error', () => undefined)
    const s = new LinkSession(socket, 'accept', null, this, this.log)
    this.accepted.add(s)
  }

  private dial(node: string): void {
    const r = this.redial.get(node)
    if (r !== undefined) r.timer = null
    const m = this.state.members.get(node)
    if (this.closed || this.state.fenced || m === undefined || this.active.has(node) || this.dialing.has(node) || !dials(this.nodeName, node)) return
    const socket = net.connect({ host: m.address, port: m.clusterPort })
    socket.on('error', () => undefined)
    this.dialing.set(node, new LinkSession(socket, 'dial', node, this, this.log))
  }

  private scheduleRedial(node: string): void {
    if (this.closed || !this.state.members.has(node) || !dials(this.nodeName, node)) return
    let r = this.redial.get(node)
    if (r === undefined) this.redial.set(node, (r = { timer: null, delay: REDIAL_MIN_MS }))
    if (r.timer !== null) return
    r.timer = setTimeout(() => this.dial(node), r.delay)
    r.timer.unref()
    r.delay = Math.min(r.delay * 2, REDIAL_MAX_MS)
  }

  up(session: LinkSession, node: string): LinkHandler {
    this.accepted.delete(session)
    if (this.dialing.get(node) === session) this.dialing.delete(node)
    const r = this.redial.get(node)
    if (r !== undefined) r.delay = REDIAL_MIN_MS
    // the peer restarted (or both raced): the newer session wins
    this.active.get(node)?.session.end('replaced by a new link')
    const peer = this.peer(node)
    const home = new LinkHome(this.broker, session, node)
    this.active.set(node, { session, home })
    peer.attach(session)
    session.beforeFlush = () => {
      peer.flushPending()
      peer.flushed()
      home.flushPending()
    }
    const replicas = this.replicas
    replicas?.linkUp(node, session)
    return {
      frame(type, i) {
        if (!peer.frame(type, i) && !home.frame(type, i) && !(replicas?.frame(node, type, i, session) ?? false)) session.end(`unknown link frame ${type}`)
      },
      drained() {
        peer.drained()
        home.drained()
      },
    }
  }

  down(session: LinkSession, node: string | null, why: string): void {
    this.accepted.delete(session)
    const dialed = session.role === 'dial' ? session.peer : null
    if (dialed !== null && this.dialing.get(dialed) === session) this.dialing.delete(dialed)
    if (node !== null) {
      const a = this.active.get(node)
      if (a !== undefined && a.session === session) {
        this.active.delete(node)
        this.log.warn({ peer: node, why }, 'node link down')
        this.peers.get(node)?.detach(session, why)
        a.home.close()
      }
    } else if (!this.closed) this.log.debug({ peer: session.peer, why, role: session.role }, 'node link setup failed')
    if (dialed !== null) this.scheduleRedial(dialed)
  }

  // ---- members -----------------------------------------------------------------------------------

  memberUp(m: MemberInfo): void {
    if (m.name === this.nodeName) return
    this.peer(m.name).expected = true
    if (dials(this.nodeName, m.name) && !this.active.has(m.name)) this.dial(m.name)
  }

  memberDown(name: string): void {
    const p = this.peers.get(name)
    if (p !== undefined) p.expected = false
    const r = this.redial.get(name)
    if (r?.timer) clearTimeout(r.timer)
    this.redial.delete(name)
    // a node without its lease serves nothing: its link goes too
    this.active.get(name)?.session.end('member left the cluster')
    this.dialing.get(name)?.end('member left the cluster')
  }

  /** This node lost its lease: its links end (its queues must not be served any more). */
  fenced(): void {
    for (const s of [...this.dialing.values(), ...this.accepted]) s.end('this node is fenced')
    for (const a of [...this.active.values()]) a.session.end('this node is fenced')
  }

  /** Registered again: links to the members come back. */
  unfenced(): void {
    for (const m of this.state.members.values()) this.memberUp(m)
  }

  // ---- placement (core/cluster/placement.ts) -----------------------------------------------------

  remoteQueueUp(home: QueueHome): void {
    const v = this.broker.vhost(home.vhost)
    if (v === undefined) return void this.log.warn({ vhost: home.vhost, queue: home.name }, 'remote queue in an unknown vhost ignored')
    const q = v.queues.get(home.name)
    if (q instanceof RemoteQueue) {
      if (q.home.node === home.node) {
        q.home = home
        return
      }
      v.removeQueue(q)
    } else if (q !== undefined) {
      return void this.log.warn({ vhost: home.vhost, queue: home.name, home: home.node }, 'a local queue has the name of a queue homed elsewhere: kept')
    }
    v.queues.set(home.name, new RemoteQueue(v, home, this.peer(home.node)))
  }

  remoteQueueGone(vhost: string, name: string): void {
    const v = this.broker.vhost(vhost)
    const q = v?.queues.get(name)
    if (q instanceof RemoteQueue) v!.removeQueue(q)
  }

  // ---- RemoteQueueOps ----------------------------------------------------------------------------

  counts(home: QueueHome): Promise<QueueCounts> {
    return this.peer(home.node).counts(home)
  }
  listCounts(node: string): Promise<Map<string, QueueCounts>> {
    return this.peer(node).listCounts()
  }
  purge(home: QueueHome): Promise<number> {
    return this.peer(home.node).purge(home)
  }
  delete(home: QueueHome, ifUnused: boolean, ifEmpty: boolean): Promise<number> {
    return this.peer(home.node).delete(home, ifUnused, ifEmpty)
  }

  /** Ends every link (node shutdown). */
  close(): void {
    this.closed = true
    for (const r of this.redial.values()) if (r.timer !== null) clearTimeout(r.timer)
    this.redial.clear()
    for (const s of [...this.dialing.values(), ...this.accepted]) s.end('node closing')
    for (const a of [...this.active.values()]) a.session.end('node closing')
    if (this.state.remoteOps === this) this.state.remoteOps = null
    this.broker.replyTo.leaveCluster(this)
  }

  /** ReplyRelay: a reply for a direct reply-to consumer of `node` (dropped when no link is up, as a reply to a gone consumer is). */
  relay(node: string, address: string, message: Message): void {
    const s = this.active.get(node)?.session
    if (s === undefined || !s.isUp) return
    const o = new Out(T.REPLY, strLen(address) + messageLen(message)).str(address)
    writeMessage(o, message)
    s.send(o.buf)
  }
}
