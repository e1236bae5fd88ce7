/**
 * The queue methods (and exchange.declare) of a channel in a cluster (issue 13), where they cannot
 * be answered from this node alone: a new exchange or queue is claimed in etcd first (one home, decided by the leader locator), and a
 * queue homed on another node is checked against its etcd record (declare, bind, unbind) or reached
 * through the node link (passive declare counts, purge, delete: RemoteQueueOps). Each answers with
 * Channel.hold, so the channel's later frames wait, and only once the change is visible on every
 * live member. Each function returns false when the method is for a queue of this node: the
 * caller's local path runs then (its etcd writes go through the DefinitionsObserver hooks).
 *
 * Without the node link (ClusterState.remoteOps null): a passive declare of a remote queue answers
 * 0 messages and 0 consumers; queue.delete of a remote queue deletes its etcd record (its home
 * removes the queue when its watch sees that) and answers 0 messages; queue.purge of a remote queue
 * is refused with RabbitMQ's 404 for a queue whose home node cannot be reached. A queue whose home
 * is not a live member gets RabbitMQ's 404s for a queue of a node that is down.
 */
import type { ClusterState } from '../../core/cluster/cluster-state.js'
import type { ClusterDefinitions } from '../../core/cluster/definitions.js'
import { assertHomeEquivalent, assertHomeUp, lockedQueue, unreachableQueue } from '../../core/cluster/home-equivalence.js'
import { chooseHome } from '../../core/cluster/leader-locator.js'
import { withReplicas } from '../../core/cluster/replica-placement.js'
import type { QueueHome } from '../../core/cluster/placement.js'
import { validateQueueArguments } from '../../core/arguments.js'
import { accessRefused, ChannelError, preconditionFailed, ReplyCode } from '../../core/errors.js'
import { limitOf, queueLimitError, vhostLimits } from '../../core/limits.js'
import type { QueueOptions } from '../../core/queue.js'
import { generateName } from '../../core/vhost.js'
import type { FieldTable } from '../../core/wire/field-table.js'
import type { Channel } from '../channel.js'
import { CLASS_EXCHANGE, CLASS_QUEUE } from '../codec/constants.js'
import type { MethodArgs } from '../codec/methods.js'

interface Declared {
  name: string
  messageCount: number
  consumerCount: number
}

/** Sends a reply once this node's pending definition writes are visible everywhere (at once when none are). */
export function answerWhenVisible(ch: Channel, classId: number, methodId: number, send: () => void): void {
  const defs = ch.conn.broker.cluster?.definitions
  if (defs == null || !defs.busy) return send()
  ch.hold(defs.visible(), classId, methodId, send)
}

/**
 * exchange.declare of a new exchange: claimed in etcd first (so two nodes declaring one name with
 * different types at once do not both succeed), created here when this node wins; a loser's
 * declare is a redeclare against the winner's exchange (applied here by then): 406 if it differs.
 */
export function clusterExchangeDeclare(ch: Channel, a: MethodArgs, defs: ClusterDefinitions): boolean {
  const v = ch.vhost
  const name = a.exchange as string
  const type = a.type as string
  // passive, existing, reserved and unknown-type declares: the local path answers (or refuses) them
  if (a.passive || name === '' || name.startsWith('amq.') || v.exchanges.has(name)) return false
  if (type === 'x-default' || ch.conn.broker.exchangeTypes.get(type) === undefined) return false
  const args = (a.arguments as FieldTable) ?? {}
  const options = { durable: a.durable as boolean, autoDelete: a.autoDelete as boolean, internal: a.internal as boolean, arguments: args }
  const authorize = ch.access.exchangeDeclareCheck(args)
  authorize(name, true)
  const declare = (): void => void v.declareExchange(name, type, options, false, authorize)
  const step = defs.claimExchange(v.name, name, type, options, declare).then((won) => {
    if (!won) declare()
  })
  ch.hold(step, CLASS_EXCHANGE, 10, () => {
    if (!a.nowait) ch.writer.method(ch.id, CLASS_EXCHANGE, 11)
  })
  return true
}

const remoteHome = (state: ClusterState, vhost: string, name: string): QueueHome | undefined => {
  const h = state.placement.home(vhost, name)
  return h !== undefined && h.node !== state.nodeName ? h : undefined
}

export function clusterQueueDeclare(ch: Channel, a: MethodArgs, state: ClusterState, defs: ClusterDefinitions): boolean {
  const v = ch.vhost
  const name = a.queue as string
  if (defs.claiming(v.name, name) === undefined) {
    const remote = remoteHome(state, v.name, name)
    // passive: a queue of this node, or none (404); otherwise: an existing queue of this node
    if (a.passive ? remote === undefined : name !== '' && remote === undefined && v.queues.has(name)) return false
  }
  ch.hold(declare(ch, a, state, defs), CLASS_QUEUE, 10, (r) => {
    ch.lastQueue = r.name
    if (!a.nowait) ch.writer.method(ch.id, CLASS_QUEUE, 11, [r.name, r.messageCount, r.consumerCount])
  })
  return true
}

async function declare(ch: Channel, a: MethodArgs, state: ClusterState, defs: ClusterDefinitions): Promise<Declared> {
  const v = ch.vhost
  let name = a.queue as string
  let serverNamed = false
  await defs.claiming(v.name, name)?.catch(() => undefined)
  const args = (a.arguments as FieldTable) ?? {}
  const options: QueueOptions = {
    durable: a.durable as boolean,
    autoDelete: a.autoDelete as boolean,
    exclusiveOwner: a.exclusive ? ch.conn : null,
    arguments: args,
  }
  const authorize = ch.access.queueDeclareCheck(args)
  const local = (passive: boolean): Declared => {
    const r = v.declareQueue(name, options, passive, ch.conn, authorize)
    return { name: r.queue.name, messageCount: r.messageCount, consumerCount: r.consumerCount }
  }
  if (a.passive) {
    const home = remoteHome(state, v.name, name)
    return home === undefined ? local(true) : remoteCounts(state, home)
  }
  if (name === '') {
    // RabbitMQ is_server_named_allowed: only classic queues may be server-named
    const type = args['x-queue-type']
    if (type === 'quorum' || type === 'stream') throw preconditionFailed(`Cannot declare a server-named queue for type rabbit_${type}_queue`)
    name = generateName('amq.gen-')
    serverNamed = true
  } else if (name.startsWith('amq.')) {
    throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`)
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const home = remoteHome(state, v.name, name)
    if (home !== undefined) {
      authorize(name, false)
      assertHomeUp(state, home)
      assertHomeEquivalent(home, options)
      return remoteCounts(state, home)
    }
    if (v.queues.has(name)) return local(false)
    authorize(name, true)
    validateQueueArguments(name, v.name, options)
    const maxQueues = v.parameters === null ? undefined : limitOf(vhostLimits(v.parameters, v.name), 'max-queues')
    if (maxQueues !== undefined && countQueues(state, v.name) >= maxQueues) throw queueLimitError(name, v.name, maxQueues)
    const node = chooseHome(state, v, name, args)
    const rec = withReplicas(state, { vhost: v.name, name, node, durable: options.durable, autoDelete: options.autoDelete, exclusive: a.exclusive as boolean, arguments: args })
    const createLocal =
      node !== state.nodeName
        ? null
        : () => {
            // an exclusive queue whose owner closed while etcd answered is not created (the claim is undone)
            if (a.exclusive && !ch.conn.broker.connections.has(ch.conn)) throw new ChannelError(ReplyCode.RESOURCE_LOCKED, 'owner connection closed')
            v.declareQueue(name, options, false, ch.conn, undefined, serverNamed)
          }
    const held = await defs.claimQueue(rec, createLocal)
    if (held === rec) return { name, messageCount: 0, consumerCount: 0 }
    // another declare won the name: this one becomes an equivalence check against it (next turn)
  }
  throw preconditionFailed(`queue '${name}' in vhost '${v.name}' changed while being declared`)
}

function countQueues(state: ClusterState, vhost: string): number {
  let n = 0
  for (const h of state.placement.all()) if (h.vhost === vhost) n++
  return n
}

async function remoteCounts(state: ClusterState, home: QueueHome): Promise<Declared> {
  assertHomeUp(state, home)
  // the owner of an exclusive queue is a connection of its home node
  if (home.exclusive) throw lockedQueue(home.name, home.vhost)
  const ops = state.remoteOps
  const c = ops === null ? { messageCount: 0, consumerCount: 0 } : await ops.counts(home)
  return { name: home.name, messageCount: c.messageCount, consumerCount: c.consumerCount }
}

export function clusterQueueDelete(ch: Channel, a: MethodArgs, q: string, state: ClusterState, defs: ClusterDefinitions): boolean {
  const home = remoteHome(state, ch.vhost.name, q)
  if (home === undefined) return false
  ch.access.check('configure', 'queue', q)
  assertHomeUp(state, home)
  if (home.exclusive) throw lockedQueue(q, home.vhost)
  const ops = state.remoteOps
  const step = ops !== null ? ops.delete(home, a.ifUnused as boolean, a.ifEmpty as boolean) : defs.deleteRemoteQueue(home.vhost, q).then(() => 0)
  ch.hold(step, CLASS_QUEUE, 40, (n) => {
    if (!a.nowait) ch.writer.method(ch.id, CLASS_QUEUE, 41, [n])
  })
  return true
}

export function clusterQueuePurge(ch: Channel, a: MethodArgs, q: string, state: ClusterState): boolean {
  const home = remoteHome(state, ch.vhost.name, q)
  if (home === undefined) return false
  ch.access.check('read', 'queue', q)
  assertHomeUp(state, home)
  if (home.exclusive) throw lockedQueue(q, home.vhost)
  const ops = state.remoteOps
  // without the node link the home cannot be reached from here: RabbitMQ's 404 for that
  if (ops === null) throw unreachableQueue(home)
  ch.hold(ops.purge(home), CLASS_QUEUE, 30, (n) => {
    if (!a.nowait) ch.writer.method(ch.id, CLASS_QUEUE, 31, [n])
  })
  return true
}

/**
 * queue.bind/unbind to a queue homed elsewhere that has no stand-in here yet: checked as VHost does
 * (default exchange 403, source 404, exclusive 405, binding arguments 406) and written to etcd.
 */
export function clusterQueueBind(ch: Channel, a: MethodArgs, q: string, rk: string, bind: boolean, state: ClusterState, defs: ClusterDefinitions): boolean {
  const v = ch.vhost
  const home = remoteHome(state, v.name, q)
  if (home === undefined) return false
  const exchange = a.exchange as string
  const args = (a.arguments as FieldTable) ?? {}
  if (exchange === '') throw accessRefused('operation not permitted on the default exchange')
  const x = v.getExchange(exchange)
  if (home.exclusive) throw lockedQueue(q, v.name)
  if (v.queues.has(q)) return false // the node link's stand-in: bound locally, written by the hooks
  const invalid = bind ? x.router.validateBinding?.(args, rk) : undefined
  if (invalid !== undefined) throw preconditionFailed(invalid)
  ch.hold(defs.bindRemote({ vhost: v.name, source: exchange, queue: q, routingKey: rk, arguments: args }, bind), CLASS_QUEUE, bind ? 20 : 50, () => {
    if (!bind || !a.nowait) ch.writer.method(ch.id, CLASS_QUEUE, bind ? 21 : 51)
  })
  return true
}
