/**
 * The process's open-file limit, and the connection cap derived from it when --max-connections is
 * 0: every AMQP connection holds one file descriptor, and the store's segment files, the HTTP API
 * and the Prometheus endpoint need some too, so connections may take 90% of the soft limit.
 */
import { openFileLimit } from '../core/fds.js'

export { openFileLimit }

/**
 * The connection cap for `configured` (0: derived): the soft limit less a tenth (at least 64 file
 * descriptors) kept for store files and HTTP. 20000 → 18000; 1024 → 921.
 */
export function connectionCap(configured: number, limit = openFileLimit()): number {
  if (configured > 0) return configured
  if (limit === Infinity) return Infinity
  return Math.max(1, limit - Math.max(64, Math.ceil(limit / 10)))
}
