// AMQP 0-9-1 method table (RabbitMQ's variant of the spec: classes, methods, argument types).
// Derived once from the protocol's JSON description; the codec in methods.ts is driven by it.

/** Wire types of method arguments. */
export type ArgType = 'bit' | 'octet' | 'short' | 'long' | 'longlong' | 'shortstr' | 'longstr' | 'table' | 'timestamp'

export interface MethodSpec {
  readonly classId: number
  readonly methodId: number
  /** e.g. 'basic.publish' */
  readonly name: string
  readonly args: readonly (readonly [name: string, type: ArgType])[]
  readonly content: boolean
  readonly synchronous: boolean
}

export const METHODS: readonly MethodSpec[] = [
  { classId: 10, methodId: 10, name: 'connection.start', args: [['versionMajor', 'octet'], ['versionMinor', 'octet'], ['serverProperties', 'table'], ['mechanisms', 'longstr'], ['locales', 'longstr']], content: false, synchronous: true },
  { classId: 10, methodId: 11, name: 'connection.start-ok', args: [['clientProperties', 'table'], ['mechanism', 'shortstr'], ['response', 'longstr'], ['locale', 'shortstr']], content: false, synchronous: false },
  { classId: 10, methodId: 20, name: 'connection.secure', args: [['challenge', 'longstr']], content: false, synchronous: true },
  { classId: 10, methodId: 21, name: 'connection.secure-ok', args: [['response', 'longstr']], content: false, synchronous: false },
  { classId: 10, methodId: 30, name: 'connection.tune', args: [['channelMax', 'short'], ['frameMax', 'long'], ['heartbeat', 'short']], content: false, synchronous: true },
  { classId: 10, methodId: 31, name: 'connection.tune-ok', args: [['channelMax', 'short'], ['frameMax', 'long'], ['heartbeat', 'short']], content: false, synchronous: false },
  { classId: 10, methodId: 40, name: 'connection.open', args: [['virtualHost', 'shortstr'], ['capabilities', 'shortstr'], ['insist', 'bit']], content: false, synchronous: true },
  { classId: 10, methodId: 41, name: 'connection.open-ok', args: [['knownHosts', 'shortstr']], content: false, synchronous: false },
  { classId: 10, methodId: 50, name: 'connection.close', args: [['replyCode', 'short'], ['replyText', 'shortstr'], ['classId', 'short'], ['methodId', 'short']], content: false, synchronous: true },
  { classId: 10, methodId: 51, name: 'connection.close-ok', args: [], content: false, synchronous: false },
  { classId: 10, methodId: 60, name: 'connection.blocked', args: [['reason', 'shortstr']], content: false, synchronous: false },
  { classId: 10, methodId: 61, name: 'connection.unblocked', args: [], content: false, synchronous: false },
  { classId: 10, methodId: 70, name: 'connection.update-secret', args: [['newSecret', 'longstr'], ['reason', 'shortstr']], content: false, synchronous: true },
  { classId: 10, methodId: 71, name: 'connection.update-secret-ok', args: [], content: false, synchronous: false },
  { classId: 20, methodId: 10, name: 'channel.open', args: [['outOfBand', 'shortstr']], content: false, synchronous: true },
  { classId: 20, methodId: 11, name: 'channel.open-ok', args: [['channelId', 'longstr']], content: false, synchronous: false },
  { classId: 20, methodId: 20, name: 'channel.flow', args: [['active', 'bit']], content: false, synchronous: true },
  { classId: 20, methodId: 21, name: 'channel.flow-ok', args: [['active', 'bit']], content: false, synchronous: false },
  { classId: 20, methodId: 40, name: 'channel.close', args: [['replyCode', 'short'], ['replyText', 'shortstr'], ['classId', 'short'], ['methodId', 'short']], content: false, synchronous: true },
  { classId: 20, methodId: 41, name: 'channel.close-ok', args: [], content: false, synchronous: false },
  { classId: 30, methodId: 10, name: 'access.request', args: [['realm', 'shortstr'], ['exclusive', 'bit'], ['passive', 'bit'], ['active', 'bit'], ['write', 'bit'], ['read', 'bit']], content: false, synchronous: true },
  { classId: 30, methodId: 11, name: 'access.request-ok', args: [['ticket', 'short']], content: false, synchronous: false },
  { classId: 40, methodId: 10, name: 'exchange.declare', args: [['ticket', 'short'], ['exchange', 'shortstr'], ['type', 'shortstr'], ['passive', 'bit'], ['durable', 'bit'], ['autoDelete', 'bit'], ['internal', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 40, methodId: 11, name: 'exchange.declare-ok', args: [], content: false, synchronous: false },
  { classId: 40, methodId: 20, name: 'exchange.delete', args: [['ticket', 'short'], ['exchange', 'shortstr'], ['ifUnused', 'bit'], ['nowait', 'bit']], content: false, synchronous: true },
  { classId: 40, methodId: 21, name: 'exchange.delete-ok', args: [], content: false, synchronous: false },
  { classId: 40, methodId: 30, name: 'exchange.bind', args: [['ticket', 'short'], ['destination', 'shortstr'], ['source', 'shortstr'], ['routingKey', 'shortstr'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 40, methodId: 31, name: 'exchange.bind-ok', args: [], content: false, synchronous: false },
  { classId: 40, methodId: 40, name: 'exchange.unbind', args: [['ticket', 'short'], ['destination', 'shortstr'], ['source', 'shortstr'], ['routingKey', 'shortstr'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 40, methodId: 51, name: 'exchange.unbind-ok', args: [], content: false, synchronous: false },
  { classId: 50, methodId: 10, name: 'queue.declare', args: [['ticket', 'short'], ['queue', 'shortstr'], ['passive', 'bit'], ['durable', 'bit'], ['exclusive', 'bit'], ['autoDelete', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 50, methodId: 11, name: 'queue.declare-ok', args: [['queue', 'shortstr'], ['messageCount', 'long'], ['consumerCount', 'long']], content: false, synchronous: false },
  { classId: 50, methodId: 20, name: 'queue.bind', args: [['ticket', 'short'], ['queue', 'shortstr'], ['exchange', 'shortstr'], ['routingKey', 'shortstr'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 50, methodId: 21, name: 'queue.bind-ok', args: [], content: false, synchronous: false },
  { classId: 50, methodId: 30, name: 'queue.purge', args: [['ticket', 'short'], ['queue', 'shortstr'], ['nowait', 'bit']], content: false, synchronous: true },
  { classId: 50, methodId: 31, name: 'queue.purge-ok', args: [['messageCount', 'long']], content: false, synchronous: false },
  { classId: 50, methodId: 40, name: 'queue.delete', args: [['ticket', 'short'], ['queue', 'shortstr'], ['ifUnused', 'bit'], ['ifEmpty', 'bit'], ['nowait', 'bit']], content: false, synchronous: true },
  { classId: 50, methodId: 41, name: 'queue.delete-ok', args: [['messageCount', 'long']], content: false, synchronous: false },
  { classId: 50, methodId: 50, name: 'queue.unbind', args: [['ticket', 'short'], ['queue', 'shortstr'], ['exchange', 'shortstr'], ['routingKey', 'shortstr'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 50, methodId: 51, name: 'queue.unbind-ok', args: [], content: false, synchronous: false },
  { classId: 60, methodId: 10, name: 'basic.qos', args: [['prefetchSize', 'long'], ['prefetchCount', 'short'], ['global', 'bit']], content: false, synchronous: true },
  { classId: 60, methodId: 11, name: 'basic.qos-ok', args: [], content: false, synchronous: false },
  { classId: 60, methodId: 20, name: 'basic.consume', args: [['ticket', 'short'], ['queue', 'shortstr'], ['consumerTag', 'shortstr'], ['noLocal', 'bit'], ['noAck', 'bit'], ['exclusive', 'bit'], ['nowait', 'bit'], ['arguments', 'table']], content: false, synchronous: true },
  { classId: 60, methodId: 21, name: 'basic.consume-ok', args: [['consumerTag', 'shortstr']], content: false, synchronous: false },
  { classId: 60, methodId: 30, name: 'basic.cancel', args: [['consumerTag', 'shortstr'], ['nowait', 'bit']], content: false, synchronous: true },
  { classId: 60, methodId: 31, name: 'basic.cancel-ok', args: [['consumerTag', 'shortstr']], content: false, synchronous: false },
  { classId: 60, methodId: 40, name: 'basic.publish', args: [['ticket', 'short'], ['exchange', 'shortstr'], ['routingKey', 'shortstr'], ['mandatory', 'bit'], ['immediate', 'bit']], content: true, synchronous: false },
  { classId: 60, methodId: 50, name: 'basic.return', args: [['replyCode', 'short'], ['replyText', 'shortstr'], ['exchange', 'shortstr'], ['routingKey', 'shortstr']], content: true, synchronous: false },
  { classId: 60, methodId: 60, name: 'basic.deliver', args: [['consumerTag', 'shortstr'], ['deliveryTag', 'longlong'], ['redelivered', 'bit'], ['exchange', 'shortstr'], ['routingKey', 'shortstr']], content: true, synchronous: false },
  { classId: 60, methodId: 70, name: 'basic.get', args: [['ticket', 'short'], ['queue', 'shortstr'], ['noAck', 'bit']], content: false, synchronous: true },
  { classId: 60, methodId: 71, name: 'basic.get-ok', args: [['deliveryTag', 'longlong'], ['redelivered', 'bit'], ['exchange', 'shortstr'], ['routingKey', 'shortstr'], ['messageCount', 'long']], content: true, synchronous: false },
  { classId: 60, methodId: 72, name: 'basic.get-empty', args: [['clusterId', 'shortstr']], content: false, synchronous: false },
  { classId: 60, methodId: 80, name: 'basic.ack', args: [['deliveryTag', 'longlong'], ['multiple', 'bit']], content: false, synchronous: false },
  { classId: 60, methodId: 90, name: 'basic.reject', args: [['deliveryTag', 'longlong'], ['requeue', 'bit']], content: false, synchronous: false },
  { classId: 60, methodId: 100, name: 'basic.recover-async', args: [['requeue', 'bit']], content: false, synchronous: false },
  { classId: 60, methodId: 110, name: 'basic.recover', args: [['requeue', 'bit']], content: false, synchronous: true },
  { classId: 60, methodId: 111, name: 'basic.recover-ok', args: [], content: false, synchronous: false },
  { classId: 60, methodId: 120, name: 'basic.nack', args: [['deliveryTag', 'longlong'], ['multiple', 'bit'], ['requeue', 'bit']], content: false, synchronous: false },
  { classId: 90, methodId: 10, name: 'tx.select', args: [], content: false, synchronous: true },
  { classId: 90, methodId: 11, name: 'tx.select-ok', args: [], content: false, synchronous: false },
  { classId: 90, methodId: 20, name: 'tx.commit', args: [], content: false, synchronous: true },
  { classId: 90, methodId: 21, name: 'tx.commit-ok', args: [], content: false, synchronous: false },
  { classId: 90, methodId: 30, name: 'tx.rollback', args: [], content: false, synchronous: true },
  { classId: 90, methodId: 31, name: 'tx.rollback-ok', args: [], content: false, synchronous: false },
  { classId: 85, methodId: 10, name: 'confirm.select', args: [['nowait', 'bit']], content: false, synchronous: true },
  { classId: 85, methodId: 11, name: 'confirm.select-ok', args: [], content: false, synchronous: false },
]

/** Basic content header properties, in flag order (bit 15 first). */
export const BASIC_PROPERTIES = [['contentType', 'shortstr'], ['contentEncoding', 'shortstr'], ['headers', 'table'], ['deliveryMode', 'octet'], ['priority', 'octet'], ['correlationId', 'shortstr'], ['replyTo', 'shortstr'], ['expiration', 'shortstr'], ['messageId', 'shortstr'], ['timestamp', 'timestamp'], ['type', 'shortstr'], ['userId', 'shortstr'], ['appId', 'shortstr'], ['clusterId', 'shortstr']] as const
