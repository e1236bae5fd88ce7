/**
 * JSON pieces several management resources share: message_stats blocks with `*_details.rate`,
 * and the channel/connection a consumer belongs to.
 */
import type { Broker } from '../../core/broker.js'
import type { ChannelInfo, ConnectionInfo } from '../../core/connections.js'
import type { Consumer } from '../../core/consumer.js'
import { details } from '../format.js'
import type { Counters } from '../rates.js'

/** `key` and `key_details: {rate}`, as every RabbitMQ counter is shown. */
export function withDetails(out: Record<string, unknown>, key: string, value: number, rate: number): void {
  out[key] = value
  out[`${key}_details`] = details(rate)
}

/** deliver_get: every message handed out, by consume or get, with or without ack. */
export const deliverGet = (c: Counters): number => c.deliver + c.deliver_no_ack + c.get + c.get_no_ack

/**
 * A message_stats object from counts and rates. With `onlyActive` the counters that never moved are
 * left out, as RabbitMQ shows a queue or exchange without activity without them.
 */
export function messageStats(
  counts: Readonly<Record<string, number>>,
  rates: Readonly<Record<string, number>>,
  keys: readonly string[],
  onlyActive = false,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of keys) {
    const v = counts[k] ?? 0
    if (onlyActive && v === 0) continue
    withDetails(out, k, v, rates[k] ?? 0)
  }
  return out
}

/** The counters of a queue-level message_stats, deliver_get included. */
export function queueStatsCounts(c: Counters): Record<string, number> {
  return { ...c, deliver_get: deliverGet(c) }
}

/** The message_stats keys of a queue. */
export const QUEUE_STATS_KEYS = ['ack', 'deliver', 'deliver_get', 'deliver_no_ack', 'get', 'get_empty', 'get_no_ack', 'publish', 'redeliver']

/** The channel and connection a consumer was created on (the transport's sink implements both). */
export function consumerChannel(broker: Broker, c: Consumer): { conn: ConnectionInfo | undefined; ch: ChannelInfo | undefined } {
  const owner = c.sink.owner as ConnectionInfo
  const conn = broker.connections.has(owner) ? owner : undefined
  const sink = c.sink as unknown as Partial<ChannelInfo>
  const ch = typeof sink.id === 'number' ? (sink as ChannelInfo) : undefined
  return { conn, ch }
}

/** RabbitMQ's channel name: "<connection name> (<channel number>)". */
export const channelName = (conn: ConnectionInfo, ch: ChannelInfo): string => `${conn.name} (${ch.id})`

/** `channel_details` of a consumer, as in /api/consumers. */
export function channelDetails(broker: Broker, c: Consumer): Record<string, unknown> {
  const { conn, ch } = consumerChannel(broker, c)
  if (conn === undefined || ch === undefined) return {}
  return {
    connection_name: conn.name,
    name: channelName(conn, ch),
    node: broker.nodeName,
    number: ch.id,
    peer_host: conn.peerHost,
    peer_port: conn.peerPort,
    user: conn.userName ?? '',
  }
}
