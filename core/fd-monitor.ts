/**
 * The file-descriptor alarm: open descriptors are counted (entries of /proc/self/fd) every
 * second; at 90% of the soft limit the alarm goes on (logged) and the listeners refuse new
 * connections, so the descriptors left keep serving the clients and stores already there instead
 * of every open() failing with EMFILE; below 85% it clears. RabbitMQ reports the same figures
 * (fd_used, fd_total, rabbitmq_alarms_file_descriptor_limit) and stops accepting sockets past its
 * sockets limit.
 */
import type { Logger } from 'pino'
import { countOpenFds } from './fds.js'
import { Poller } from './poller.js'
import { fdSoftLimit } from './store/file-budget.js'

/** Alarm on at this share of the limit, off below FD_CLEAR_RATIO. */
export const FD_ALARM_RATIO = 0.9
export const FD_CLEAR_RATIO = 0.85

/** Told when the fd alarm goes on or off. */
export interface FdAlarmListener {
  fdAlarm(on: boolean, used: number, total: number): void
}

/** What an FdMonitor watches and whom it tells. */
export interface FdMonitorOptions {
  log: Logger
  listener: FdAlarmListener
  /** the descriptor limit (default: the soft limit of this process) */
  total?: number
  /** ms between checks (default 1000) */
  intervalMs?: number
  /** open-descriptor count, replaceable in tests */
  count?: () => number
}

/** Polls the open descriptors and raises/clears the fd alarm (see the file comment). */
export class FdMonitor extends Poller {
  alarmed = false
  /** descriptors open at the last check */
  used = 0
  readonly total: number
  private readonly count: () => number

  constructor(private readonly o: FdMonitorOptions) {
    super(o.intervalMs ?? 1000)
    this.total = o.total ?? fdSoftLimit()
    this.count = o.count ?? countOpenFds
  }

  /** One check; returns whether the alarm is on. */
  override check(): boolean {
    const used = this.count()
    this.used = used
    const on = this.alarmed ? used >= this.total * FD_CLEAR_RATIO : used >= this.total * FD_ALARM_RATIO
    if (on !== this.alarmed) {
      this.alarmed = on
      if (on) this.o.log.warn({ used, total: this.total }, 'file descriptor alarm: open files near the limit, new connections refused')
      else this.o.log.info({ used, total: this.total }, 'file descriptor alarm cleared')
    }
    this.o.listener.fdAlarm(on, used, this.total)
    return on
  }
}
