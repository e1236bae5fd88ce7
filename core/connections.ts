/**
 * What the rest of the broker (management API, shutdown) may know of a live client connection.
 * The transport implements it; core and admin-ui only read it.
 */
import type { FieldTable } from './wire/field-table.js'

/**
 * Per-channel message counters, RabbitMQ's channel message_stats (rabbit_channel ?INCR_STATS on
 * channel_exchange_metrics and channel_queue_metrics). Plain integers bumped by the channel; the
 * management API samples them for rates.
 */
export interface ChannelMessageStats {
  publish: number
  confirm: number
  return_unroutable: number
  drop_unroutable: number
  /** deliveries to consumers with manual ack */
  deliver: number
  deliver_no_ack: number
  /** basic.get with manual ack */
  get: number
  get_no_ack: number
  get_empty: number
  ack: number
  redeliver: number
}

/** A fresh set of {@link ChannelMessageStats}, all zero. */
export function channelMessageStats(): ChannelMessageStats {
  return { publish: 0, confirm: 0, return_unroutable: 0, drop_unroutable: 0, deliver: 0, deliver_no_ack: 0, get: 0, get_no_ack: 0, get_empty: 0, ack: 0, redeliver: 0 }
}

export interface ChannelInfo {
  readonly id: number
  readonly prefetchCount: number
  readonly globalPrefetchCount: number
  readonly unackedCount: number
  readonly consumerCount: number
  readonly confirm: boolean
  readonly transactional: boolean
  readonly messageStats: Readonly<ChannelMessageStats>
}

/** A connection's TLS session, as the management API shows it (ssl_protocol, ssl_cipher). */
export interface ConnectionTls {
  /** 'TLSv1.2' or 'TLSv1.3' */
  readonly protocol: string | null
  /** the cipher suite, OpenSSL's name */
  readonly cipher: string | null
}

export interface ConnectionInfo {
  readonly id: number
  /** RabbitMQ-style name: "127.0.0.1:53422 -> 127.0.0.1:5672" */
  readonly name: string
  readonly userName: string | undefined
  readonly vhostName: string | undefined
  readonly peerHost: string
  readonly peerPort: number
  readonly protocol: string
  readonly connectedAt: number
  readonly clientProperties: FieldTable
  readonly frameMax: number
  readonly heartbeat: number
  readonly channelMax: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** the TLS session of an AMQPS or WSS connection; null over plain TCP */
  readonly tls: ConnectionTls | null
  /** socket reads (RabbitMQ recv_cnt) */
  readonly recvCount: number
  /** socket writes (RabbitMQ send_cnt) */
  readonly sendCount: number
  channels(): Iterable<ChannelInfo>
  /** Closes the connection with 320 CONNECTION_FORCED and the given reason. */
  forceClose(reason: string): void
  /** blocked by a resource alarm after publishing (RabbitMQ's connection state `blocked`) */
  readonly blockedByAlarm?: boolean
  /** The broker's resource alarms changed (core/alarms.ts): a publishing connection is blocked until none is on. */
  resourceAlarm?(): void
}
