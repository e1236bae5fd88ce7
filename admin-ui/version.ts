/**
 * Version strings the management API reports. Tools compare `rabbitmq_version` and
 * `management_version` with the RabbitMQ release they support, so Warren presents the API level it
 * implements (3.10.8) and reports its own version as `warren_version`.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Broker } from '../core/broker.js'

const require = createRequire(import.meta.url)

function readVersion(): string {
  for (const p of ['../../package.json', '../package.json']) {
    try {
      return (require(p) as { version: string }).version
    } catch {
      // try the next layout (dist/admin-ui or admin-ui run from source)
    }
  }
  return '0.0.0'
}

/** Warren's version, from package.json. */
export const WARREN_VERSION = readVersion()

/** The RabbitMQ release whose management API Warren matches. */
export const RABBITMQ_VERSION = '3.10.8'

/**
 * RabbitMQ's internal_cluster_id global parameter ("rabbitmq-cluster-id-…"), stable for a node name
 * and data directory so Prometheus series keep their identity across restarts.
 */
export function clusterId(broker: Broker): string {
  const h = createHash('sha256').update(`${broker.clusterName}\u0000${broker.config.dataDir}`).digest()
  return `rabbitmq-cluster-id-${h.subarray(0, 16).toString('base64url')}`
}
