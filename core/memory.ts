/**
 * Memory figures for RabbitMQ's memory alarm: the total a node may use (the machine's RAM, or the
 * cgroup's limit when the process runs under a lower one, as RabbitMQ's vm_memory_monitor reads
 * it), the high watermark (a fraction of that total or an absolute size) and what the process
 * uses (its resident set size, RabbitMQ's `rss` strategy).
 */
import { readFileSync } from 'node:fs'
import { totalmem } from 'node:os'

/**
 * vm_memory_high_watermark: `{ relative: 0.4 }` (a fraction of the total, RabbitMQ's
 * `vm_memory_high_watermark.relative`) or `{ absolute: bytes }` (`vm_memory_high_watermark.absolute`).
 */
export type MemoryWatermark = { relative: number } | { absolute: number }

/** RabbitMQ's default: 40% of the available memory. */
export const DEFAULT_MEMORY_WATERMARK: MemoryWatermark = { relative: 0.4 }

/** cgroup v1 writes this (or a page-rounded value near 2^63) for "no limit". */
const UNLIMITED_V1 = 2 ** 62

/** Reads a cgroup memory limit file: a byte count, or null for `max`, an absurd value or no file. */
function readLimit(file: string): number | null {
  try {
    const raw = readFileSync(file, 'utf8').trim()
    if (!/^\d+$/.test(raw)) return null // v2's 'max'
    const n = Number(raw)
    return n > 0 && n < UNLIMITED_V1 ? n : null
  } catch {
    return null
  }
}

/**
 * The memory limit of this process's cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`), or
 * null when there is none. The process's own cgroup path (/proc/self/cgroup) is tried first, then
 * the mount's root, which is what a container with its own cgroup namespace sees.
 */
export function cgroupMemoryLimit(root = '/sys/fs/cgroup'): number | null {
  let v2Path = ''
  let v1Path = ''
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, p] = line.split(':')
      if (p === undefined) continue
      if (line.startsWith('0::')) v2Path = p
      else if (controllers.split(',').includes('memory')) v1Path = p
    }
  } catch {
    // not Linux: no cgroup
  }
  const candidates = [
    `${root}${v2Path === '/' ? '' : v2Path}/memory.max`,
    `${root}/memory.max`,
    `${root}/memory${v1Path === '/' ? '' : v1Path}/memory.limit_in_bytes`,
    `${root}/memory/memory.limit_in_bytes`,
  ]
  for (const f of candidates) {
    const n = readLimit(f)
    if (n !== null) return n
  }
  return null
}

/** The memory this node may use: the machine's RAM, or its cgroup's limit when lower. */
export function totalMemory(): number {
  const ram = totalmem()
  const cg = cgroupMemoryLimit()
  return cg !== null && cg < ram ? cg : ram
}

/** The high watermark in bytes for `total` bytes of available memory. */
export function memoryLimitBytes(w: MemoryWatermark, total: number): number {
  return 'absolute' in w ? w.absolute : Math.floor(total * w.relative)
}

/** The watermark as RabbitMQ's config would write it: `0.4` or `{absolute,536870912}`. */
export function formatWatermark(w: MemoryWatermark): string {
  return 'absolute' in w ? `{absolute,${w.absolute}}` : String(w.relative)
}

/** Resident set size of this process (cheap: one syscall, no heap walk). */
export function residentMemory(): number {
  return process.memoryUsage.rss()
}
