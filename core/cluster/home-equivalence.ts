/**
 * A queue that lives on another node (issue 13), checked from its etcd record as VHost checks a
 * local queue: its home must be a live member (RabbitMQ's 404 for a queue whose node is down), then
 * on redeclare exclusive access (405: the owner is a connection of the home node), durable,
 * auto_delete and the arguments (406), with RabbitMQ's texts.
 */
import { queueArgumentsEquivalent } from '../arguments.js'
import { ChannelError, notFound, preconditionFailed, ReplyCode, resourceLocked } from '../errors.js'
import type { QueueOptions } from '../queue.js'
import { describePair } from '../vhost.js'
import type { ClusterState } from './cluster-state.js'
import type { QueueHome } from './placement.js'

/** rabbit_misc:absent(…, nodedown): the home node of a durable queue is not reachable. */
export function unreachableQueue(h: QueueHome): ChannelError {
  return new ChannelError(ReplyCode.NOT_FOUND, `home node '${h.node}' of durable queue '${h.name}' in vhost '${h.vhost}' is down or inaccessible`)
}

/**
 * Throws when the queue's home is not a live member: 404 "home node … is down or inaccessible" for
 * a durable queue; a non-durable one is gone with its node in RabbitMQ (404 no queue).
 */
export function assertHomeUp(state: ClusterState, h: QueueHome): void {
  if (state.members.has(h.node)) return
  throw h.durable ? unreachableQueue(h) : notFound('queue', h.name, h.vhost)
}

/** RabbitMQ check_exclusive_access (strict on redeclare: the exclusive flag must match too). */
export function lockedQueue(name: string, vhost: string): Error {
  return resourceLocked(
    `cannot obtain exclusive access to locked queue '${name}' in vhost '${vhost}'. It could be ` +
      'originally declared on another connection or the exclusive property value does not match that ' +
      'of the original declaration.',
  )
}

export function assertHomeEquivalent(h: QueueHome, o: QueueOptions): void {
  if (h.exclusive || o.exclusiveOwner !== null) throw lockedQueue(h.name, h.vhost)
  const where = `for queue '${h.name}' in vhost '${h.vhost}'`
  if (o.durable !== h.durable) throw preconditionFailed(`inequivalent arg 'durable' ${where}: received '${o.durable}' but current is '${h.durable}'`)
  if (o.autoDelete !== h.autoDelete) {
    throw preconditionFailed(`inequivalent arg 'auto_delete' ${where}: received '${o.autoDelete}' but current is '${h.autoDelete}'`)
  }
  const bad = queueArgumentsEquivalent(o.arguments, h.arguments)
  if (bad !== undefined) {
    const current = bad === 'x-queue-type' ? (h.arguments[bad] ?? 'classic') : h.arguments[bad]
    throw preconditionFailed(`inequivalent arg '${bad}' ${where}: received ${describePair(o.arguments[bad], current)}`)
  }
}
