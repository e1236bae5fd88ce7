/**
 * A stand-in for a queue homed on another node of the cluster (issue 13). It sits in the vhost's
 * queue map like any queue, so exchanges route to it, bindings attach to it and channels consume,
 * get and settle through it; it holds no messages itself. What it is asked goes to the home over
 * the node link (transport/cluster/link*.ts) through a HomePort:
 *   - push: the message is forwarded (one crossing per message and home node, whatever the number
 *     of its queues there); the confirm waits for the home's acceptance (remote-acceptance.ts);
 *   - a consumer here is a consumer at the home, with the channel's prefetch; deliveries come back
 *     with credit (the home sends at most `credit` more until this node hands them to its client);
 *   - ack / nack / reject / requeue of its envelopes go back to the home by delivery id;
 *   - basic.get answers later (Queue.getLater, the channel holds its frames meanwhile);
 *   - a publisher forwarding over a congested link is paused (queue flow control) until it drains.
 * When the home is unreachable, consume / get / passive declare fail with RabbitMQ's 404 for a
 * durable queue whose node is down, and publishes are refused (a confirm-mode publisher gets
 * basic.nack; the message is routed, so there is no basic.return).
 */
import type { Consumer } from '../consumer.js'
import { ChannelError, notFound, ReplyCode } from '../errors.js'
import type { Message } from '../message.js'
import { Envelope, FLOW_CHECK_BYTES, Queue, type FlowWaiter, type LaterGet } from '../queue.js'
import type { StoredList } from '../store/stored-list.js'
import type { VHost } from '../vhost.js'
import type { QueueHome } from './placement.js'

/** How a delivery is settled at its home. */
export const SETTLE_ACK = 0
export const SETTLE_REQUEUE = 1
export const SETTLE_REJECT = 2

/** What a stand-in asks of the link to its home node (implemented in transport/cluster/). */
export interface HomePort {
  /** the node the port leads to */
  readonly node: string
  /** a link session to the home is up */
  readonly up: boolean
  /** the home is a live member: its link is up or being (re)made */
  readonly expected: boolean
  /** resolves once the link is up; rejects when the home leaves or the link stays down too long */
  whenUp(): Promise<void>
  /** the current link session (envelopes of an older one are stale) */
  readonly session: object | null
  /** the link has more waiting to be sent than it should: publishers are paused */
  readonly congested: boolean
  /** pauses a publisher until the link is no longer congested */
  throttle(publisher: FlowWaiter): void
  /** forwards a routed message to `q` at its home; false when the home is unreachable */
  forward(q: RemoteQueue, message: Message): boolean
  /** opens a consumer at the home (its `opened` settles with the home's answer) */
  consume(q: RemoteQueue, c: Consumer): RemoteConsumer
  /** closes a consumer at the home (its unacked deliveries stay unacked) */
  cancel(rc: RemoteConsumer): void
  /** `n` deliveries of `rc` went to the client: the home may send `n` more */
  credit(rc: RemoteConsumer, n: number): void
  /** settles a delivery at the home (SETTLE_*) */
  settle(env: RemoteEnvelope, how: number): void
  /** basic.get at the home */
  get(q: RemoteQueue, noAck: boolean): Promise<LaterGet>
}

/** A delivery from a queue's home: its id there and the link session it came over. */
export class RemoteEnvelope extends Envelope {
  constructor(
    message: Message,
    queue: Queue,
    /** the delivery id at the home (0 for no-ack deliveries) */
    readonly deliveryId: number,
    readonly session: object,
    redelivered: boolean,
  ) {
    super(message, queue, 0, 0)
    this.redelivered = redelivered
  }
}

/** A local consumer of a stand-in: deliveries received from the home, waiting for the channel. */
export class RemoteConsumer {
  readonly pending: (RemoteEnvelope | undefined)[] = []
  head = 0
  /** credit handed back to the home but not sent yet (the link batches it per tick) */
  owed = 0
  /** the channel sent consume-ok: deliveries may go to it */
  ready = false
  /** settles when the home took the consumer (rejected with its error, or the link's) */
  readonly opened: Promise<void>
  open!: () => void
  refuse!: (err: Error) => void
  constructor(
    readonly queue: RemoteQueue,
    readonly consumer: Consumer,
    /** id of the consumer on its link */
    readonly id: number,
    readonly session: object,
  ) {
    this.opened = new Promise<void>((resolve, reject) => {
      this.open = resolve
      this.refuse = reject
    })
    // a consumer added without waiting (not through a channel) has nobody awaiting it
    this.opened.catch(() => undefined)
  }
}

/** RabbitMQ's 404 for a queue whose home node is down (rabbit_amqqueue: not_found_or_absent). */
export function homeDown(home: QueueHome): ChannelError {
  if (!home.durable) return notFound('queue', home.name, home.vhost)
  return new ChannelError(
    ReplyCode.NOT_FOUND,
    `home node '${home.node}' of durable queue '${home.name}' in vhost '${home.vhost}' is down or inaccessible`,
  )
}

/** The owner of an exclusive queue of another node: no connection here, so every use is 405. */
const OWNED_ELSEWHERE = Object.freeze({ ownedElsewhere: true })

export class RemoteQueue extends Queue {
  /** the queue name as link frames carry it (encoded once) */
  readonly nameBytes: Buffer
  private readonly remote = new Map<Consumer, RemoteConsumer>()
  /** consumers waiting for the link to their home to come up before opening there */
  private readonly waiting = new Set<Consumer>()

  constructor(
    vhost: VHost,
    public home: QueueHome,
    readonly port: HomePort,
  ) {
    const exclusiveOwner = home.exclusive ? OWNED_ELSEWHERE : null
    super(vhost, home.name, { durable: home.durable, autoDelete: home.autoDelete, exclusiveOwner, arguments: home.arguments })
    this.nameBytes = Buffer.from(home.name)
  }

  /** No local store: the messages live at the home. */
  protected override openStore(): StoredList | null {
    return null
  }

  /** x-expires runs at the home. */
  protected override armExpires(): void {}

  override push(message: Message): boolean {
    if (!this.port.forward(this, message)) return false
    this.stats.publish++
    // the vhost throttles a publisher past FLOW_CHECK_BYTES ready: a congested link shows as that
    this.readyBytes = this.port.congested ? FLOW_CHECK_BYTES + 1 : 0
    return true
  }

  /** A publisher routed here while the link is congested: paused until it drains. */
  override throttle(publisher: FlowWaiter): void {
    if (this.port.congested) this.port.throttle(publisher)
  }

  override checkAvailable(): void {
    if (!this.port.up && !this.port.expected) throw homeDown(this.home)
  }

  override checkConsume(): void {
    this.checkAvailable()
  }

  override getLater(noAck: boolean): Promise<LaterGet> {
    if (!this.port.up) {
      return this.port.whenUp().then(
        () => this.getLater(noAck),
        () => Promise.reject(homeDown(this.home)),
      )
    }
    this.lastUsed = Date.now()
    return this.port.get(this, noAck)
  }

  /** Called by the port for a basic.get-ok: counts the envelope as unacked here. */
  gotten(env: RemoteEnvelope, noAck: boolean): void {
    this.stats.get++
    if (noAck) this.stats.getNoAck++
    else {
      this.unackedCount++
      this.unackedBytes += env.message.bodySize
    }
  }

  /** basic.consume: the consumer opens at the home first; the channel's consume-ok waits for it. */
  override consumeLater(c: Consumer): Promise<void> {
    if (!this.port.up && this.port.expected) {
      // the link to a live home is being made (start-up, reconnect): open the consumer once it is up
      this.waiting.add(c)
      return this.port.whenUp().then(
        () => (this.waiting.delete(c) ? this.consumeLater(c) : undefined),
        () => {
          this.waiting.delete(c)
          return Promise.reject(homeDown(this.home))
        },
      )
    }
    const rc = this.port.consume(this, c)
    this.remote.set(c, rc)
    return rc.opened
  }

  /** The channel sent consume-ok: deliveries received for the consumer may go to it now. */
  override addConsumer(c: Consumer): void {
    let rc = this.remote.get(c)
    if (rc === undefined) this.remote.set(c, (rc = this.port.consume(this, c)))
    rc.ready = true
    this.consumers.push(c)
    this.lastUsed = Date.now()
    this.drainOne(rc, Date.now())
  }

  /** The home refused the consumer (the channel closes with its error). */
  refusedAtHome(rc: RemoteConsumer): void {
    if (this.remote.get(rc.consumer) === rc) this.forget(rc)
  }

  override removeConsumer(c: Consumer): void {
    this.waiting.delete(c)
    const rc = this.remote.get(c)
    if (rc === undefined) return
    this.forget(rc)
    this.port.cancel(rc)
  }

  /** The home cancelled the consumer (queue deleted, link lost): the client hears basic.cancel. */
  cancelledAtHome(rc: RemoteConsumer): void {
    if (this.remote.get(rc.consumer) !== rc) return
    this.forget(rc)
    rc.consumer.sink.cancelledByServer(rc.consumer)
  }

  /** Drops a consumer here; deliveries not yet handed to the client go back to the home. */
  private forget(rc: RemoteConsumer): void {
    this.remote.delete(rc.consumer)
    const i = this.consumers.indexOf(rc.consumer)
    if (i >= 0) this.consumers.splice(i, 1)
    this.dropPending(rc)
  }

  private dropPending(rc: RemoteConsumer): void {
    for (let k = rc.head; k < rc.pending.length; k++) {
      const env = rc.pending[k]!
      if (env.deliveryId !== 0) this.port.settle(env, SETTLE_REQUEUE)
    }
    rc.pending.length = 0
    rc.head = 0
  }

  /** A delivery for `rc` arrived from the home. */
  received(rc: RemoteConsumer, env: RemoteEnvelope): void {
    if (this.remote.get(rc.consumer) !== rc) {
      // the consumer is gone here: give the message back
      if (env.deliveryId !== 0) this.port.settle(env, SETTLE_REQUEUE)
      return
    }
    rc.pending.push(env)
    if (!this.deleted) this.drainOne(rc, Date.now())
  }

  /** Hands received deliveries to the channels that have room; credits the home for them. */
  override drain(now = Date.now()): void {
    if (this.deleted) return
    for (const rc of this.remote.values()) this.drainOne(rc, now)
  }

  private drainOne(rc: RemoteConsumer, now: number): void {
    if (!rc.ready) return
    const c = rc.consumer
    const p = rc.pending
    let n = 0
    while (rc.head < p.length && c.sink.canDeliver(c)) {
      const env = p[rc.head]!
      p[rc.head++] = undefined
      this.handOut(env, c, now)
      n++
    }
    if (rc.head === p.length) {
      p.length = 0
      rc.head = 0
    }
    if (n > 0) this.port.credit(rc, n)
  }

  override settle(env: Envelope): void {
    this.unacked(env)
    this.stats.ack++
    this.home_(env as RemoteEnvelope, SETTLE_ACK)
  }

  override reject(env: Envelope): void {
    this.unacked(env)
    this.home_(env as RemoteEnvelope, SETTLE_REJECT)
  }

  override requeue(env: Envelope): void {
    this.unacked(env)
    this.home_(env as RemoteEnvelope, SETTLE_REQUEUE)
  }

  private unacked(env: Envelope): void {
    const c = env.consumer
    if (c !== null) {
      c.unacked--
      env.consumer = null
    }
    this.unackedCount--
    this.unackedBytes -= env.message.bodySize
  }

  /** Settles at the home, unless the envelope came over a link session that has ended since. */
  private home_(env: RemoteEnvelope, how: number): void {
    if (env.deliveryId !== 0 && env.session === this.port.session && !this.deleted) this.port.settle(env, how)
  }

  /** The stand-in leaves the vhost: its consumers end at the home and hear basic.cancel here. */
  override destroy(): number {
    for (const rc of this.remote.values()) {
      this.dropPending(rc)
      this.port.cancel(rc)
    }
    this.remote.clear()
    return super.destroy()
  }
}
