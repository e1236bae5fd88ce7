/**
 * Caps AMQP connections (TCP and WebSocket) in total and per source address, counted from accept
 * to socket close. Above either cap the listener drops the socket at once, before the protocol
 * header, as RabbitMQ does above connection_max, and says so in one rate-limited warn line.
 */
import type { Logger } from 'pino'
import { LogThrottle } from './log-throttle.js'

export class ConnectionLimiter {
  private total = 0
  private readonly perIp = new Map<string, number>()
  private readonly refusedLog: LogThrottle

  /**
   * @param maxTotal connections at once (Infinity: no cap)
   * @param maxPerIp connections at once from one address (0: no cap)
   */
  constructor(
    readonly maxTotal: number,
    readonly maxPerIp: number,
    log: Logger,
  ) {
    this.refusedLog = new LogThrottle(log, 'connection refused: too many connections')
  }

  /** Takes a slot for a new connection from `ip`; false (and logged) when a cap is reached. */
  admit(ip: string | undefined): boolean {
    const key = normalize(ip)
    const fromIp = this.perIp.get(key) ?? 0
    if (this.total >= this.maxTotal) {
      this.refusedLog.note({ peer: key, limit: 'max-connections', max: this.maxTotal })
      return false
    }
    if (this.maxPerIp > 0 && fromIp >= this.maxPerIp) {
      this.refusedLog.note({ peer: key, limit: 'max-connections-per-ip', max: this.maxPerIp })
      return false
    }
    this.total++
    this.perIp.set(key, fromIp + 1)
    return true
  }

  /** Gives back the slot taken by admit(ip) (the socket closed). */
  release(ip: string | undefined): void {
    const key = normalize(ip)
    const n = this.perIp.get(key)
    if (n === undefined) return
    this.total--
    if (n <= 1) this.perIp.delete(key)
    else this.perIp.set(key, n - 1)
  }

  get count(): number {
    return this.total
  }
}

/** An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d: count it as a.b.c.d. */
function normalize(ip: string | undefined): string {
  if (ip === undefined) return '?'
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip
}
