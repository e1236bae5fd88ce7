/**
 * A resource check that runs now and then every `intervalMs` on an unref'd timer: the base of the
 * broker's alarms that poll the system (disk free space, open file descriptors).
 */
export abstract class Poller {
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly intervalMs: number) {}

  /** One check; returns whether the alarm is on. */
  abstract check(): boolean

  /** Checks now and then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    this.check()
    if (this.timer !== null) return
    this.timer = setInterval(() => this.check(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}
