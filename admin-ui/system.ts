/**
 * Process and host figures the management API and the Prometheus endpoint report in RabbitMQ's
 * terms (file descriptors, memory and its high watermark, free disk space and its limit).
 */
import { statfsSync } from 'node:fs'
import type { Broker } from '../core/broker.js'
import { countOpenFds, FALLBACK_FD_LIMIT, openFileLimit } from '../core/fds.js'


/** Open file descriptors of this process (Linux /proc; 0 elsewhere). */
export const openFds = countOpenFds

/** The open-files limit of this process (1024 when unknown or unlimited). */
export function maxFds(): number {
  const limit = openFileLimit()
  return limit === Infinity ? FALLBACK_FD_LIMIT : limit
}

/** The memory high watermark in bytes (core/memory-monitor.ts), as the broker computed it at its first check. */
export function memoryLimit(broker: Broker): number {
  return broker.memLimit
}

/** Free bytes on the file system of `dir` (0 when it cannot be read). */
export function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir)
    return s.bavail * s.bsize
  } catch {
    return 0
  }
}

/**
 * RabbitMQ 3.10's limit on client sockets (file_handle_cache obtain limit): 90% of the file
 * descriptors left after 103 reserved, minus 2.
 */
export function maxSockets(): number {
  return Math.trunc(Math.max(2, maxFds() - 103) * 0.9 - 2)
}
