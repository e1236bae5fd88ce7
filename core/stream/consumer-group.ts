/**
 * The members of one named consumer group (`x-stream-consumer-name`) and which of them is active.
 * With single-active-consumer the first member to join is active and the next in line takes over
 * when it leaves (Kafka's "one partition, one consumer in a group"); without it every member is
 * active. Kept apart from streams on purpose: a super stream can give each member a set of
 * partitions by asking the same object who is active where.
 */
export class ConsumerGroup<M> {
  /** members in joining order; with single-active the first one is the active one */
  readonly members: M[] = []

  constructor(
    readonly name: string,
    readonly singleActive: boolean,
  ) {}

  /** Adds a member; true when it is active right away. */
  join(m: M): boolean {
    this.members.push(m)
    return !this.singleActive || this.members.length === 1
  }

  /** Removes a member; returns the member that became active because of it, if any. */
  leave(m: M): M | undefined {
    const i = this.members.indexOf(m)
    if (i < 0) return undefined
    this.members.splice(i, 1)
    return this.singleActive && i === 0 ? this.members[0] : undefined
  }

  isActive(m: M): boolean {
    return !this.singleActive || this.members[0] === m
  }

  /** the active member (single-active), or the first member */
  get active(): M | undefined {
    return this.members[0]
  }
}
