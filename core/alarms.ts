/**
 * Resource alarms that block publishers (RabbitMQ's rabbit_alarm): memory above the high watermark
 * and free disk space below its limit. Both can be in effect at once; publishing connections stay
 * blocked until the last one clears. (The fd alarm refuses new connections instead: fd-monitor.ts.)
 */

/** The resources as RabbitMQ names them in alarms (`{resource_limit, memory|disk, Node}`). */
export type ResourceAlarm = 'memory' | 'disk'

/** Reason texts of connection.blocked, as rabbit_reader words them. */
const REASONS: Record<ResourceAlarm, string> = { memory: 'low on memory', disk: 'low on disk' }

/** The connection.blocked reason for the alarms in effect: `low on memory`, or `low on memory & low on disk`. */
export function blockedReason(alarms: ReadonlySet<ResourceAlarm>): string {
  const parts: string[] = []
  // a fixed order, whatever order the alarms went on in
  for (const a of ['memory', 'disk'] as const) if (alarms.has(a)) parts.push(REASONS[a])
  return parts.join(' & ')
}
