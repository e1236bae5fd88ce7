/**
 * A redeclare of a queue that lives on another node (issue 13), checked against its etcd record as
 * VHost checks a local queue: exclusive access first (405: the owner is a connection of the home
 * node), then durable, auto_delete and the arguments (406), with RabbitMQ's texts.
 */
import { queueArgumentsEquivalent } from '../arguments.js'
import { preconditionFailed, resourceLocked } from '../errors.js'
import type { QueueOptions } from '../queue.js'
import { describePair } from '../vhost.js'
import type { QueueHome } from './placement.js'

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
