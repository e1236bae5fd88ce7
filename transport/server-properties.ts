/** connection.start server-properties, shaped like RabbitMQ's so clients enable the same features. */
import { createRequire } from 'node:module'
import type { Broker } from '../core/broker.js'
import type { FieldTable } from '../core/wire/field-table.js'

const require = createRequire(import.meta.url)
let version = '0.0.0'
try {
  version = (require('../../package.json') as { version: string }).version
} catch {
  try {
    version = (require('../package.json') as { version: string }).version
  } catch {
    // running from an unusual layout: the version is only informational
  }
}

export const WARREN_VERSION = version

export function serverProperties(broker: Broker): FieldTable {
  return {
    product: 'Warren',
    version: WARREN_VERSION,
    platform: `Node.js ${process.version}`,
    copyright: 'Warren contributors',
    information: 'AMQP 0-9-1 broker for Node.js, compatible with RabbitMQ clients',
    cluster_name: broker.clusterName,
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    },
  }
}
