/**
 * What the rest of the broker (management API, shutdown) may know of a live client connection.
 * The transport implements it; core and admin-ui only read it.
 */
import type { FieldTable } from './wire/field-table.js'

export interface ChannelInfo {
  readonly id: number
  readonly prefetchCount: number
  readonly globalPrefetchCount: number
  readonly unackedCount: number
  readonly consumerCount: number
  readonly confirm: boolean
  readonly transactional: boolean
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
  channels(): Iterable<ChannelInfo>
  /** Closes the connection with 320 CONNECTION_FORCED and the given reason. */
  forceClose(reason: string): void
  /** The disk alarm went on or off: a publishing connection is blocked until it is off. */
  diskAlarm?(on: boolean): void
}
