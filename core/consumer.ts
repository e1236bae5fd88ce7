/**
 * A consumer of one queue. The transport's Channel implements DeliverySink: the queue asks it whether
 * a consumer may take a message now (prefetch window, channel flow, socket backpressure) and hands it
 * the message; core never touches sockets.
 */
import type { Envelope, Queue } from './queue.js'
import type { TraceOrigin } from './trace.js'
import type { FieldTable } from './wire/field-table.js'

/** Also a TraceOrigin: the firehose names the receiving connection, channel and user. */
export interface DeliverySink extends TraceOrigin {
  /** connection-unique id of the channel's connection, for exclusive-queue ownership and listings */
  readonly owner: object
  /** May this consumer receive one more message now? */
  canDeliver(consumer: Consumer): boolean
  /** Sends the message; the queue has already taken it off its ready list. */
  deliver(consumer: Consumer, envelope: Envelope): void
  /** The queue went away (deleted): tell the client (basic.cancel) and forget the consumer. */
  cancelledByServer(consumer: Consumer): void
  /** what stands for the consumer's channel in a stream's consumer group (default: the sink) */
  readonly member?: object
  /** the channel's global prefetch (basic.qos global), checked by a stream at its home */
  readonly globalPrefetch?: number
}

export class Consumer {
  /** messages delivered to this consumer and not yet settled */
  unacked = 0
  delivered = 0

  constructor(
    readonly tag: string,
    readonly queue: Queue,
    readonly sink: DeliverySink,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** prefetch_count in force when the consumer was created (0: unlimited) */
    public prefetch: number,
    readonly args: FieldTable,
    /** x-priority consume argument */
    readonly priority: number,
  ) {}

  /** True when the consumer's own prefetch window has room. */
  hasCredit(): boolean {
    return this.prefetch === 0 || this.unacked < this.prefetch
  }
}
