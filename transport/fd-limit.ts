/**
 * The process's open-file limit, and the connection cap derived from it when --max-connections is
 * 0: every AMQP connection holds one file descriptor, and the store's segment files, the HTTP API
 * and the Prometheus endpoint need some too, so connections may take 90% of the soft limit.
 */
import { readFileSync } from 'node:fs'

/** Used when the limit cannot be read (not Linux): RabbitMQ's own fallback for file handles. */
const FALLBACK_LIMIT = 1024

/** The soft RLIMIT_NOFILE from /proc/self/limits; Infinity when unlimited. */
export function openFileLimit(): number {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8')
    const m = /^Max open files\s+(\S+)/m.exec(text)
    if (m === null) return FALLBACK_LIMIT
    if (m[1] === 'unlimited') return Infinity
    const n = Number(m[1])
    return Number.isFinite(n) && n > 0 ? n : FALLBACK_LIMIT
  } catch {
    return FALLBACK_LIMIT
  }
}

/**
 * The connection cap for `configured` (0: derived): the soft limit less a tenth (at least 64 file
 * descriptors) kept for store files and HTTP. 20000 → 18000; 1024 → 921.
 */
export function connectionCap(configured: number, limit = openFileLimit()): number {
  if (configured > 0) return configured
  if (limit === Infinity) return Infinity
  return Math.max(1, limit - Math.max(64, Math.ceil(limit / 10)))
}
