/**
 * The memory alarm's pieces: --vm-memory-high-watermark parsing, the cgroup memory limit, the
 * watermark in bytes, the alarm's on/off steps, and connection.blocked's reason text.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { blockedReason } from '../../core/alarms.js'
import { DEFAULT_CONFIG, helpText, parseConfig } from '../../core/config.js'
import { cgroupMemoryLimit, memoryLimitBytes, totalMemory } from '../../core/memory.js'
import { MemoryMonitor } from '../../core/memory-monitor.js'

describe('--vm-memory-high-watermark', () => {
  it('defaults to 0.4 of the memory, shown so in --help', () => {
    expect(DEFAULT_CONFIG.vmMemoryHighWatermark).toEqual({ relative: 0.4 })
    expect(helpText()).toMatch(/--vm-memory-high-watermark .*WARREN_VM_MEMORY_HIGH_WATERMARK .*\[default: 0\.4\]/)
  })

  it('takes a fraction with a decimal point or an absolute size', () => {
    expect(parseConfig(['--vm-memory-high-watermark', '0.6'], {})!.vmMemoryHighWatermark).toEqual({ relative: 0.6 })
    expect(parseConfig(['--vm-memory-high-watermark=.25'], {})!.vmMemoryHighWatermark).toEqual({ relative: 0.25 })
    expect(parseConfig(['--vm-memory-high-watermark', '512MiB'], {})!.vmMemoryHighWatermark).toEqual({ absolute: 512 * 1024 ** 2 })
    expect(parseConfig([], { WARREN_VM_MEMORY_HIGH_WATERMARK: '2GB' })!.vmMemoryHighWatermark).toEqual({ absolute: 2e9 })
    expect(parseConfig(['--vm-memory-high-watermark', '1073741824'], {})!.vmMemoryHighWatermark).toEqual({ absolute: 1073741824 })
  })

  it('refuses fractions over 1 and anything else, naming the option', () => {
    expect(() => parseConfig(['--vm-memory-high-watermark', '1.5'], {})).toThrow("invalid --vm-memory-high-watermark '1.5': a fraction must be from 0 to 1")
    expect(() => parseConfig(['--vm-memory-high-watermark', '40%'], {})).toThrow(/invalid --vm-memory-high-watermark '40%': must be a fraction of the memory/)
    expect(() => parseConfig(['--vm-memory-high-watermark', '-1'], {})).toThrow(/invalid --vm-memory-high-watermark/)
  })

  it('is a share of the total or the absolute size, in bytes', () => {
    expect(memoryLimitBytes({ relative: 0.4 }, 1000)).toBe(400)
    expect(memoryLimitBytes({ absolute: 123 }, 1000)).toBe(123)
  })
})

describe('cgroup memory limit', () => {
  const root = (): string => mkdtempSync(path.join(tmpdir(), 'warren-cgroup-'))

  it('reads cgroup v2 memory.max, and "max" is no limit', () => {
    const r = root()
    writeFileSync(path.join(r, 'memory.max'), '536870912\n')
    expect(cgroupMemoryLimit(r)).toBe(536870912)
    writeFileSync(path.join(r, 'memory.max'), 'max\n')
    expect(cgroupMemoryLimit(r)).toBeNull()
  })

  it('reads cgroup v1 memory.limit_in_bytes, where 2^63 rounded to a page is no limit', () => {
    const r = root()
    mkdirSync(path.join(r, 'memory'))
    writeFileSync(path.join(r, 'memory', 'memory.limit_in_bytes'), '1073741824\n')
    expect(cgroupMemoryLimit(r)).toBe(1073741824)
    writeFileSync(path.join(r, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n')
    expect(cgroupMemoryLimit(r)).toBeNull()
  })

  it('the total is never above the machine RAM', () => {
    expect(totalMemory()).toBeGreaterThan(0)
  })
})

describe('MemoryMonitor', () => {
  it('raises the alarm above the watermark and clears it at or below, telling the listener each reading', () => {
    let used = 100
    const seen: [boolean, number, number][] = []
    const m = new MemoryMonitor({ log: pino({ level: 'silent' }), listener: { memoryAlarm: (on, u, l) => seen.push([on, u, l]) }, total: 1000, used: () => used })
    expect(m.limit).toBe(400)
    expect(m.check()).toBe(false)
    used = 401
    expect(m.check()).toBe(true)
    used = 400
    expect(m.check()).toBe(false)
    expect(seen).toEqual([
      [false, 100, 400],
      [true, 401, 400],
      [false, 400, 400],
    ])
  })
})

describe('connection.blocked reason', () => {
  it('names the alarms in effect as RabbitMQ does', () => {
    expect(blockedReason(new Set(['memory']))).toBe('low on memory')
    expect(blockedReason(new Set(['disk']))).toBe('low on disk')
    expect(blockedReason(new Set(['disk', 'memory']))).toBe('low on memory & low on disk')
  })
})
