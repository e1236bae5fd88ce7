/**
 * What a stream keeps per consumer (its reader, its deliveries not yet acked, its group) and per
 * delivery (offset and stream position), and what the management API shows per consumer group.
 */
import type { Consumer } from '../consumer.js'
import type { Message } from '../message.js'
import { Envelope, type Queue } from '../queue.js'
import type { ConsumerGroup } from './consumer-group.js'
import type { OffsetSpec } from './offset-spec.js'
import type { StreamReader } from './stream-reader.js'

/** A delivery from a stream: its offset is `seq`; `end` is the stream position after it. */
export class StreamEnvelope extends Envelope {
  constructor(message: Message, queue: Queue, offset: number, readonly end: number, readonly member: StreamMember) {
    super(message, queue, offset, 0)
  }
}

/** One consumer's reading state. */
export class StreamMember {
  /** offsets delivered and not acked yet, in delivery order, from `head` */
  readonly out: number[] = []
  head = 0
  readonly acked = new Set<number>()
  constructor(
    readonly consumer: Consumer,
    readonly reader: StreamReader,
    readonly spec: OffsetSpec,
    readonly group: ConsumerGroup<StreamMember> | null,
    public active: boolean,
  ) {}
}

/** What the management API shows per consumer group. */
export interface GroupInfo {
  name: string
  committed_offset: number | null
  lag_messages: number
  lag_bytes: number
  consumers: number
  active_consumer: string | null
}
