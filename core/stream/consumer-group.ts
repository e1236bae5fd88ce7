/**
 * The members of one named consumer group (`x-stream-consumer-name`) on one stream and which of
 * them is active. Without single-active-consumer every member is active. With it one member is:
 * - on a plain stream, the first to join; the next in line takes over when it leaves (Kafka's "one
 *   partition, one consumer in a group");
 * - on partition i of a super stream (super-stream.ts), RabbitMQ's rule for super streams: the
 *   member at position i mod (number of members), members ordered by their channel's rank (the
 *   order in which channels first joined any group, the same on every partition). So members that
 *   consume every partition get an even share of them, and a member joining or leaving moves
 *   partitions between members. The stream moves a partition only at its committed offset.
 */

/**
 * A member's rank: the order its channel (any object standing for the member) first joined a group.
 * Ranks are times (ms × 1024, plus a counter within the millisecond), so the nodes of a cluster order
 * channels alike: a channel consuming a partition on another node brings its rank (setMemberRank).
 */
const ranks = new WeakMap<object, number>()
let lastRank = 0
export function memberRank(who: object): number {
  let r = ranks.get(who)
  if (r === undefined) ranks.set(who, (r = lastRank = Math.max(Date.now() * 1024, lastRank + 1)))
  return r
}

/** Gives `who` (another node's channel, seen here) the rank its own node gave it. */
export function setMemberRank(who: object, rank: number): void {
  ranks.set(who, rank)
}

export class ConsumerGroup<M> {
  /** members in joining order (ordered by rank on a partition) */
  readonly members: M[] = []
  /** partition index of the stream in its super stream, -1 when it is not a partition */
  partition = -1

  constructor(
    readonly name: string,
    readonly singleActive: boolean,
    /** the member's rank (memberRank of its channel) */
    private readonly rank: (m: M) => number,
  ) {}

  /** Adds a member (call `active` before and after to learn what changed). */
  join(m: M): void {
    // the channel's rank is fixed at its first join (memberRank), not when a sort first asks for it
    this.rank(m)
    this.members.push(m)
    this.order()
  }

  /** Removes a member. */
  leave(m: M): void {
    const i = this.members.indexOf(m)
    if (i >= 0) this.members.splice(i, 1)
  }

  /** Sets the partition index (members are then ordered by rank). */
  setPartition(i: number): void {
    this.partition = i
    this.order()
  }

  private order(): void {
    if (this.partition >= 0) this.members.sort((a, b) => this.rank(a) - this.rank(b))
  }

  isActive(m: M): boolean {
    return !this.singleActive || this.active === m
  }

  /** the active member (single-active), or the first member */
  get active(): M | undefined {
    const n = this.members.length
    if (n === 0) return undefined
    return this.members[this.partition >= 0 && this.singleActive ? this.partition % n : 0]
  }
}
