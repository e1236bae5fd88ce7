/**
 * One warn line per interval for an event that an attacker can repeat thousands of times a second
 * (refused connections, handshake timeouts): the first occurrence is logged at once, later ones are
 * counted and summed up in the next line, so a flood costs a few log lines, not one per socket.
 */
import type { Logger } from 'pino'

const INTERVAL_MS = 10_000

export class LogThrottle {
  private suppressed = 0
  private lastAt = -Infinity
  private timer: NodeJS.Timeout | null = null
  private lastFields: Record<string, unknown> = {}

  constructor(
    private readonly log: Logger,
    private readonly msg: string,
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  /** Records one occurrence; `fields` describe it (the latest ones go into the summary line). */
  note(fields: Record<string, unknown>): void {
    const now = Date.now()
    if (now - this.lastAt >= this.intervalMs) {
      this.lastAt = now
      this.log.warn({ ...fields, count: 1 }, this.msg)
      return
    }
    this.suppressed++
    this.lastFields = fields
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs - (now - this.lastAt))
      this.timer.unref()
    }
  }

  private flush(): void {
    this.timer = null
    if (this.suppressed === 0) return
    this.lastAt = Date.now()
    this.log.warn({ ...this.lastFields, count: this.suppressed }, `${this.msg} (${this.suppressed} times in the last ${this.intervalMs / 1000} s)`)
    this.suppressed = 0
  }
}
