/**
 * The memory alarm (RabbitMQ's vm_memory_monitor): every second the process's resident memory is
 * compared with the high watermark; above it the alarm goes on (logged) and the broker blocks
 * publishing connections, at or below it the alarm clears. Consumers keep draining meanwhile,
 * which is what brings memory back down. RabbitMQ has no hysteresis here either.
 */
import type { Logger } from 'pino'
import { DEFAULT_MEMORY_WATERMARK, memoryLimitBytes, residentMemory, totalMemory, type MemoryWatermark } from './memory.js'
import { Poller } from './poller.js'

/** Told when the memory alarm goes on or off, and of each reading. */
export interface MemoryAlarmListener {
  memoryAlarm(on: boolean, used: number, limit: number): void
}

/** What a MemoryMonitor watches and whom it tells. */
export interface MemoryMonitorOptions {
  log: Logger
  listener: MemoryAlarmListener
  watermark?: MemoryWatermark
  /** bytes of memory available (default: RAM, or the cgroup limit when lower) */
  total?: number
  /** ms between checks (default 1000) */
  intervalMs?: number
  /** memory in use, replaceable in tests (default: resident set size) */
  used?: () => number
}

/** Polls resident memory and raises/clears the memory alarm (see the file comment). */
export class MemoryMonitor extends Poller {
  alarmed = false
  /** bytes in use at the last check */
  used = 0
  readonly total: number
  /** the watermark in bytes */
  readonly limit: number
  private readonly probe: () => number

  constructor(private readonly o: MemoryMonitorOptions) {
    super(o.intervalMs ?? 1000)
    this.total = o.total ?? totalMemory()
    this.limit = memoryLimitBytes(o.watermark ?? DEFAULT_MEMORY_WATERMARK, this.total)
    this.probe = o.used ?? residentMemory
  }

  /** One check; returns whether the alarm is on. */
  override check(): boolean {
    const used = this.probe()
    this.used = used
    const on = used > this.limit
    if (on !== this.alarmed) {
      this.alarmed = on
      if (on) this.o.log.warn({ used, limit: this.limit }, 'memory alarm: memory use above the high watermark, publishers blocked')
      else this.o.log.info({ used, limit: this.limit }, 'memory alarm cleared')
    }
    this.o.listener.memoryAlarm(on, used, this.limit)
    return on
  }
}
