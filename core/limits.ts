/**
 * Vhost limits (rabbit_vhost_limit: max-connections, max-queues, stored as the runtime parameter
 * 'vhost-limits'/'limits') and user limits (rabbit_auth_backend_internal: max-connections,
 * max-channels, kept with the user). A negative limit, or none, means unlimited; 0 refuses all.
 * Checked when a connection opens, a channel opens or a queue is declared; never per message.
 */
import type { Broker } from './broker.js'
import { ConnectionError, preconditionFailed, ReplyCode } from './errors.js'
import type { RuntimeParameters } from './parameters.js'

/** The keys each kind of limit takes (RabbitMQ validates them the same way). */
export const VHOST_LIMIT_KEYS = ['max-connections', 'max-queues']
export const USER_LIMIT_KEYS = ['max-connections', 'max-channels']

/** Limits as stored: key → integer. */
export type Limits = Readonly<Record<string, number>>

/** A vhost's limits (the 'vhost-limits' parameter), or undefined. */
export function vhostLimits(params: RuntimeParameters, vhost: string): Limits | undefined {
  return params.get('vhost-limits', vhost, 'limits')?.value as Limits | undefined
}

/** The limit `key` when it is set and not negative, else undefined. */
export function limitOf(limits: Limits | undefined, key: string): number | undefined {
  const n = limits?.[key]
  return typeof n === 'number' && n >= 0 ? n : undefined
}

/** connection.open over a vhost's max-connections: 530 NOT_ALLOWED (rabbit_reader:is_over_vhost_connection_limit). */
export function vhostConnectionLimitError(vhost: string, user: string, limit: number): ConnectionError {
  return new ConnectionError(ReplyCode.NOT_ALLOWED, `access to vhost '${vhost}' refused for user '${user}': connection limit (${limit}) is reached`)
}

/** connection.open over a user's max-connections (rabbit_reader:is_over_user_connection_limit). */
export function userConnectionLimitError(user: string, limit: number): ConnectionError {
  return new ConnectionError(ReplyCode.NOT_ALLOWED, `Connection refused for user '${user}': user connection limit (${limit}) is reached`)
}

/** channel.open over a user's max-channels (rabbit_reader, a connection error). */
export function userChannelLimitError(user: string, limit: number): ConnectionError {
  return new ConnectionError(
    ReplyCode.NOT_ALLOWED,
    `number of channels opened for user '${user}' has reached the maximum allowed user limit of (${limit})`,
  )
}

/** queue.declare over a vhost's max-queues: 406 (rabbit_amqqueue:check_vhost_queue_limit). */
export function queueLimitError(queue: string, vhost: string, limit: number): Error {
  return preconditionFailed(`cannot declare queue '${queue}': queue limit in vhost '${vhost}' (${limit}) is reached`)
}

/**
 * Checks a limits object from the API or a definitions file: every key one of `keys`, every value
 * an integer. Returns RabbitMQ's complaint, or undefined.
 */
export function validateLimits(value: unknown, keys: string[]): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'limits must be an object'
  for (const [k, v] of Object.entries(value)) {
    if (!keys.includes(k)) return `Unrecognised terms [{<<"${k}">>,${JSON.stringify(v)}}] in limits`
    if (typeof v !== 'number' || !Number.isInteger(v)) return `${JSON.stringify(v)} is not a valid value for ${k}: must be an integer`
  }
  return undefined
}

/**
 * connection.open: the vhost's and the user's max-connections (rabbit_reader: vhost limit first,
 * then the user's). Only open connections count, as RabbitMQ tracks them from connection.open.
 */
export function checkConnectionLimits(broker: Broker, vhost: string, user: string): void {
  const vmax = limitOf(vhostLimits(broker.parameters, vhost), 'max-connections')
  const umax = limitOf(broker.users.getLimits(user), 'max-connections')
  if (vmax === undefined && umax === undefined) return
  let inVHost = 0
  let ofUser = 0
  for (const c of broker.connections) {
    if (c.vhostName === undefined) continue
    if (c.vhostName === vhost) inVHost++
    if (c.userName === user) ofUser++
  }
  if (vmax !== undefined && inVHost >= vmax) throw vhostConnectionLimitError(vhost, user, vmax)
  if (umax !== undefined && ofUser >= umax) throw userConnectionLimitError(user, umax)
}

/** channel.open: the user's max-channels over all its connections. */
export function checkChannelLimit(broker: Broker, user: string | undefined): void {
  if (user === undefined) return
  const max = limitOf(broker.users.getLimits(user), 'max-channels')
  if (max === undefined) return
  let n = 0
  for (const c of broker.connections) if (c.userName === user) for (const _ of c.channels()) n++
  if (n >= max) throw userChannelLimitError(user, max)
}
