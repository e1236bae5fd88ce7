/**
 * `warren ctl status`: the node at a glance, from /api/overview, /api/nodes and the alarms health
 * check: version, uptime, listeners, alarms, memory, file descriptors, disk, object counts. Exit code
 * 3 while an alarm is in effect (memory, disk, file descriptors), so scripts and probes can test it.
 */
import { ApiError, type ApiClient } from './client.js'
import type { Command } from './command.js'
import { formatJson, safeText } from './table.js'

/** Exit code of `status` while an alarm is in effect. */
export const ALARM_EXIT_CODE = 3

type Json = Record<string, unknown>

const num = (o: Json, k: string): number | undefined => (typeof o[k] === 'number' ? (o[k] as number) : undefined)

/** The alarms in effect: the health check's resources, plus the node's memory and disk flags. */
async function alarmsOf(api: ApiClient, node: Json): Promise<string[]> {
  const out = new Set<string>()
  try {
    await api.get('/api/health/checks/alarms')
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 503) throw err
    const list = (err.body as Json | undefined)?.alarms
    if (Array.isArray(list)) for (const a of list) if (typeof (a as Json)?.resource === 'string') out.add((a as Json).resource as string)
  }
  if (node.mem_alarm === true) out.add('memory')
  if (node.disk_free_alarm === true) out.add('disk')
  return [...out]
}

/** The status as one JSON object (the `--format json` output). */
export async function statusOf(api: ApiClient): Promise<Json> {
  const [overview, nodes] = await Promise.all([api.get<Json>('/api/overview'), api.get<Json[]>('/api/nodes')])
  const node = (Array.isArray(nodes) ? nodes.find((n) => n.name === overview.node) ?? nodes[0] : undefined) ?? {}
  const listeners = Array.isArray(overview.listeners) ? (overview.listeners as Json[]) : []
  const totals = (overview.queue_totals ?? {}) as Json
  return {
    product: overview.product_name ?? 'Warren',
    version: overview.warren_version ?? overview.product_version,
    rabbitmq_version: overview.rabbitmq_version,
    node: overview.node,
    uptime_ms: num(node, 'uptime'),
    listeners: listeners.map((l) => ({ protocol: l.protocol, ip_address: l.ip_address, port: l.port })),
    alarms: await alarmsOf(api, node),
    memory: { used: num(node, 'mem_used'), limit: num(node, 'mem_limit') },
    file_descriptors: { used: num(node, 'fd_used'), total: num(node, 'fd_total') },
    disk: { free: num(node, 'disk_free'), limit: num(node, 'disk_free_limit') },
    object_totals: overview.object_totals ?? {},
    messages: { total: totals.messages, ready: totals.messages_ready, unacknowledged: totals.messages_unacknowledged },
  }
}

/** 1536 → "1.5 KiB". */
export function bytes(n: unknown): string {
  if (typeof n !== 'number') return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`
}

/** 3723000 → "1h 02m 03s"; days when over 24 h. */
export function duration(ms: unknown): string {
  if (typeof ms !== 'number') return '?'
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const two = (x: number): string => String(x).padStart(2, '0')
  if (d > 0) return `${d}d ${h}h ${two(m)}m`
  if (h > 0) return `${h}h ${two(m)}m ${two(s % 60)}s`
  return `${m}m ${two(s % 60)}s`
}

function statusText(st: Json): string {
  const t = (x: unknown): string => safeText(String(x ?? '?'))
  const listeners = (st.listeners as Json[]).map((l) => `${t(l.protocol)} ${t(l.ip_address)}:${t(l.port)}`)
  const alarms = st.alarms as string[]
  const mem = st.memory as Json
  const fds = st.file_descriptors as Json
  const disk = st.disk as Json
  const o = st.object_totals as Json
  const msgs = st.messages as Json
  const rows: [string, string][] = [
    ['node', t(st.node)],
    ['version', `${t(st.product)} ${t(st.version)} (RabbitMQ ${t(st.rabbitmq_version)} API)`],
    ['uptime', duration(st.uptime_ms)],
    ['listeners', listeners.join(', ') || 'none'],
    ['alarms', alarms.length === 0 ? 'none' : `ALARM: ${alarms.map(t).join(', ')}`],
    ['memory', `${bytes(mem.used)} used, high watermark ${bytes(mem.limit)}`],
    ['file descriptors', `${t(fds.used)} used of ${t(fds.total)}`],
    ['disk free', `${bytes(disk.free)} (alarm below ${bytes(disk.limit)})`],
    ['objects', ['connections', 'channels', 'queues', 'exchanges', 'consumers'].map((k) => `${t(o[k] ?? 0)} ${k}`).join(', ')],
    ['messages', `${t(msgs.total ?? 0)} (${t(msgs.ready ?? 0)} ready, ${t(msgs.unacknowledged ?? 0)} unacknowledged)`],
  ]
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n'
}

export const STATUS_COMMAND: Command = {
  words: ['status'],
  args: [],
  summary: `version, uptime, listeners, alarms, memory, file descriptors and disk of the node (exit code ${ALARM_EXIT_CODE} while an alarm is in effect)`,
  async run(c) {
    const st = await statusOf(c.api)
    c.io.out(c.format === 'json' ? formatJson(st) : statusText(st))
    return (st.alarms as string[]).length > 0 ? ALARM_EXIT_CODE : 0
  },
}
