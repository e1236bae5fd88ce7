/**
 * This process's file descriptors as Linux shows them: the open-file soft limit
 * (/proc/self/limits) and how many are open (/proc/self/fd). The store's file budget, the fd alarm,
 * the connection cap and the management API all read them here.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Used when the limit cannot be read (not Linux): RabbitMQ's own fallback for file handles. */
export const FALLBACK_FD_LIMIT = 1024

/** The soft RLIMIT_NOFILE; Infinity when unlimited, FALLBACK_FD_LIMIT when it cannot be read. */
export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (m === null) return FALLBACK_FD_LIMIT
    if (m[1] === 'unlimited') return Infinity
    const n = Number(m[1])
    return Number.isFinite(n) && n > 0 ? n : FALLBACK_FD_LIMIT
  } catch {
    return FALLBACK_FD_LIMIT
  }
}

/** Descriptors open now (0 when /proc cannot be read). */
export function countOpenFds(): number {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return 0
  }
}
