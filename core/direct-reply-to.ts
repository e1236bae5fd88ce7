/**
 * Direct reply-to (RabbitMQ's `amq.rabbitmq.reply-to` pseudo-queue): the registry of waiting reply
 * consumers, keyed by their address `amq.rabbitmq.reply-to.<key>`.
 *
 * A channel that consumes from `amq.rabbitmq.reply-to` (transport/direct-reply-to.ts) registers here
 * and gets an address; requests it publishes carry that address as reply_to. A reply published to
 * the default exchange with the address as routing key, from any connection, goes straight to the
 * consumer: no queue, no store, no acknowledgement. When the consumer is gone the reply goes nowhere.
 *
 * The key is 24 random bytes (crypto), base64url: it names nothing and cannot be guessed or forged;
 * knowing an address is what lets a responder reply, as in RabbitMQ. One registry per broker, as
 * RabbitMQ resolves an address to its channel whatever the vhost.
 *
 * In a cluster (issue 13) an address also names its node (`amq.rabbitmq.reply-to.<node, base64url>.<key>`,
 * as RabbitMQ's encodes the channel's node and pid), so a reply published on any node reaches the
 * consumer: one for another node is relayed over the node link (ReplyRelay).
 */
import { randomBytes } from 'node:crypto'
import type { Message } from './message.js'

/** The pseudo-queue a client consumes from. */
export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to'
/** Every address starts with this. */
export const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.'

/** A waiting reply consumer (a channel's, owned by the transport). */
export interface ReplyConsumer {
  /** delivers one reply (no-ack); ignored when the channel is closing */
  deliverReply(message: Message): void
}

/** Is `routingKey` an address (`amq.rabbitmq.reply-to.…`)? A first-character test first: cheap for every other key. */
export function isReplyAddress(routingKey: string): boolean {
  return routingKey.charCodeAt(0) === 97 /* a */ && routingKey.startsWith(REPLY_TO_PREFIX)
}

/** Carries a reply to the node its address names (the cluster's node link). */
export interface ReplyRelay {
  relay(node: string, address: string, message: Message): void
}

export class DirectReplyTo {
  private readonly waiting = new Map<string, ReplyConsumer>()
  /** in a cluster: this node's part of its addresses (with its dot), and the relay to others */
  private nodeTag = ''
  private relayTo: ReplyRelay | null = null

  /** A cluster node: its addresses name it, replies to others' addresses go through `relay`. */
  joinCluster(node: string, relay: ReplyRelay): void {
    this.nodeTag = `${Buffer.from(node).toString('base64url')}.`
    this.relayTo = relay
  }

  leaveCluster(relay: ReplyRelay): void {
    if (this.relayTo !== relay) return
    this.relayTo = null
    this.nodeTag = ''
  }

  /** Registers a consumer under a new address and returns the address. */
  register(consumer: ReplyConsumer): string {
    let address: string
    do address = REPLY_TO_PREFIX + this.nodeTag + randomBytes(24).toString('base64url')
    while (this.waiting.has(address))
    this.waiting.set(address, consumer)
    return address
  }

  unregister(address: string): void {
    this.waiting.delete(address)
  }

  /** Is a consumer waiting at `address`? (queue.declare of an address) */
  has(address: string): boolean {
    return this.waiting.has(address)
  }

  /** Delivers `message` to the consumer at `address` (or relays it to its node); false when nobody waits here. */
  deliver(address: string, message: Message): boolean {
    const c = this.waiting.get(address)
    if (c === undefined) {
      if (this.relayTo !== null) this.relay(address, message)
      return false
    }
    c.deliverReply(message)
    return true
  }

  /** An address of another node's consumer: the reply goes there (an unknown node: nowhere). */
  private relay(address: string, message: Message): void {
    const dot = address.indexOf('.', REPLY_TO_PREFIX.length)
    if (dot < 0) return
    const tag = address.slice(REPLY_TO_PREFIX.length, dot + 1)
    if (tag === this.nodeTag) return
    const node = Buffer.from(tag.slice(0, -1), 'base64url').toString()
    this.relayTo!.relay(node, address, message)
  }

  /** consumers waiting (for tests and metrics) */
  get size(): number {
    return this.waiting.size
  }
}
