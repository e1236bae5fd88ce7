/**
 * The exchange and queue methods of a channel (exchange.declare/delete/bind/unbind, queue.declare/
 * bind/unbind/purge/delete): permission checks, the vhost call, and the -ok reply unless nowait.
 * In a cluster (Broker.cluster set) queues of other nodes and new queues go through
 * transport/cluster/cluster-topology.ts, and every reply waits until the change is visible on every
 * node (answerWhenVisible); a single node answers at once, as before.
 */
import type { FieldTable } from '../core/wire/field-table.js'
import type { Channel } from './channel.js'
import { CLASS_EXCHANGE, CLASS_QUEUE } from './codec/constants.js'
import type { MethodArgs } from './codec/methods.js'
import { answerWhenVisible, clusterExchangeDeclare, clusterQueueBind, clusterQueueDeclare, clusterQueueDelete, clusterQueuePurge } from './cluster/cluster-topology.js'
import { declareReplyQueue } from './direct-reply-to.js'

/** The -ok reply, after the cluster has the change when clustered (with nowait: only the wait). */
function reply(ch: Channel, a: MethodArgs, classId: number, methodId: number, okId: number, args?: unknown[]): void {
  const send = (): void => {
    if (!a.nowait) ch.writer.method(ch.id, classId, okId, args)
  }
  if (ch.conn.broker.cluster === null) send()
  else answerWhenVisible(ch, classId, methodId, send)
}

export function exchangeDeclare(ch: Channel, a: MethodArgs): void {
  const name = a.exchange as string
  const defs = ch.conn.broker.cluster?.definitions
  if (defs != null && clusterExchangeDeclare(ch, a, defs)) return
  ch.vhost.declareExchange(
    name,
    a.type as string,
    {
      durable: a.durable as boolean,
      autoDelete: a.autoDelete as boolean,
      internal: a.internal as boolean,
      arguments: a.arguments as FieldTable,
    },
    a.passive as boolean,
    ch.access.exchangeDeclareCheck((a.arguments as FieldTable) ?? {}),
  )
  reply(ch, a, CLASS_EXCHANGE, 10, 11)
}

export function exchangeDelete(ch: Channel, a: MethodArgs): void {
  const name = a.exchange as string
  // RabbitMQ: the default and amq.* exchanges are refused first (the vhost does), then configure
  if (name !== '' && !name.startsWith('amq.')) ch.access.check('configure', 'exchange', name)
  ch.vhost.deleteExchange(name, a.ifUnused as boolean)
  reply(ch, a, CLASS_EXCHANGE, 20, 21)
}

/** rabbit_channel binding_action: binding from a topic exchange needs the topic permission's read to match the key. */
function checkTopicRead(ch: Channel, source: string, routingKey: string): void {
  const x = ch.vhost.exchanges.get(source)
  if (x !== undefined) ch.access.checkTopic('read', x, routingKey)
}

export function exchangeBind(ch: Channel, a: MethodArgs, bind: boolean): void {
  const [d, s, rk, args] = [a.destination as string, a.source as string, a.routingKey as string, a.arguments as FieldTable]
  ch.access.checkBinding('exchange', d, s)
  checkTopicRead(ch, s, rk)
  if (bind) ch.vhost.bindExchange(d, s, rk, args)
  else ch.vhost.unbindExchange(d, s, rk, args)
  reply(ch, a, CLASS_EXCHANGE, bind ? 30 : 40, bind ? 31 : 51)
}

export function queueDeclare(ch: Channel, a: MethodArgs): void {
  if (declareReplyQueue(ch, a.queue as string, a.nowait as boolean)) return
  const cluster = ch.conn.broker.cluster
  if (cluster?.definitions != null && clusterQueueDeclare(ch, a, cluster, cluster.definitions)) return
  const passive = a.passive as boolean
  // RabbitMQ does not expand '' here: a passive declare of '' is 404 "no queue ''"
  const r = ch.vhost.declareQueue(
    a.queue as string,
    {
      durable: a.durable as boolean,
      autoDelete: a.autoDelete as boolean,
      exclusiveOwner: a.exclusive ? ch.conn : null,
      arguments: a.arguments as FieldTable,
    },
    passive,
    ch.conn,
    ch.access.queueDeclareCheck((a.arguments as FieldTable) ?? {}),
  )
  ch.lastQueue = r.queue.name
  reply(ch, a, CLASS_QUEUE, 10, 11, [r.queue.name, r.messageCount, r.consumerCount])
}

export function queueBind(ch: Channel, a: MethodArgs, bind: boolean): void {
  const q = ch.queueName(a.queue as string)
  const [x, args] = [a.exchange as string, a.arguments as FieldTable]
  // RabbitMQ expand_routing_key_shortcut: queue '' and key '' bind with the queue's name as the key
  const rk = a.queue === '' && a.routingKey === '' ? q : (a.routingKey as string)
  ch.access.checkBinding('queue', q, x)
  checkTopicRead(ch, x, rk)
  const cluster = ch.conn.broker.cluster
  if (cluster?.definitions != null && clusterQueueBind(ch, a, q, rk, bind, cluster, cluster.definitions)) return
  if (bind) ch.vhost.bindQueue(q, x, rk, args, ch.conn)
  else ch.vhost.unbindQueue(q, x, rk, args, ch.conn)
  // queue.unbind has no nowait bit
  reply(ch, bind ? a : { ...a, nowait: false }, CLASS_QUEUE, bind ? 20 : 50, bind ? 21 : 51)
}

export function queuePurge(ch: Channel, a: MethodArgs): void {
  const q = ch.queueName(a.queue as string)
  const cluster = ch.conn.broker.cluster
  if (cluster !== null && clusterQueuePurge(ch, a, q, cluster)) return
  ch.access.check('read', 'queue', q) // RabbitMQ: queue.purge needs read
  const n = ch.vhost.purgeQueue(q, ch.conn)
  reply(ch, a, CLASS_QUEUE, 30, 31, [n])
}

export function queueDelete(ch: Channel, a: MethodArgs): void {
  const q = ch.queueName(a.queue as string)
  const cluster = ch.conn.broker.cluster
  if (cluster?.definitions != null && clusterQueueDelete(ch, a, q, cluster, cluster.definitions)) return
  ch.access.check('configure', 'queue', q)
  const n = ch.vhost.deleteQueue(q, a.ifUnused as boolean, a.ifEmpty as boolean, ch.conn)
  reply(ch, a, CLASS_QUEUE, 40, 41, [n])
}
