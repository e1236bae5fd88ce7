/**
 * Process and host figures the management API and the Prometheus endpoint report in RabbitMQ's
 * terms (file descriptors, memory and its high watermark, free disk space and its limit).
 */
import { statfsSync } from 'node:fs'
import { totalmem } from 'node:os'
import { countOpenFds, FALLBACK_FD_LIMIT, openFileLimit } from '../core/fds.js'

/** RabbitMQ's defaults: vm_memory_high_watermark 0.4, disk_free_limit 50 MB. */
export const MEMORY_HIGH_WATERMARK = 0.4
export const DISK_FREE_LIMIT = 50_000_000

/** Open file descriptors of this process (Linux /proc; 0 elsewhere). */
export const openFds = countOpenFds

/** The open-files limit of this process (1024 when unknown or unlimited). */
export function maxFds(): number {
  const limit = openFileLimit()
  return limit === Infinity ? FALLBACK_FD_LIMIT : limit
}

/** RabbitMQ's memory high watermark: 40% of the machine's memory. */
export function memoryLimit(): number {
  return Math.floor(totalmem() * MEMORY_HIGH_WATERMARK)
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
