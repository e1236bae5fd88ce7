/**
 * The distribution of published message body sizes, as RabbitMQ keeps it (rabbit_msg_size_metrics,
 * exported as the `rabbitmq_message_size_bytes` histogram): nine fixed buckets and a sum. Observed
 * once per published message with a few comparisons and two additions, nothing allocated.
 */

/** Upper bounds of the buckets, bytes (RabbitMQ's; the last one is +Inf). */
export const MESSAGE_SIZE_BOUNDS: readonly number[] = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 50_000_000, 100_000_000, Infinity]

/** Per-bucket observation counts (not cumulative) and the sum of the sizes. */
export class MessageSizeHistogram {
  readonly counts = new Float64Array(MESSAGE_SIZE_BOUNDS.length)
  sum = 0

  observe(size: number): void {
    let i = 0
    while (size > MESSAGE_SIZE_BOUNDS[i]) i++
    this.counts[i]++
    this.sum += size
  }

  /** Cumulative counts per bound, as a Prometheus histogram reports them (the last is the total). */
  cumulative(): number[] {
    const out: number[] = []
    let acc = 0
    for (const c of this.counts) out.push((acc += c))
    return out
  }
}
