/**
 * The overview's node health panel: memory used against the high watermark, free disk space
 * against its limit, file descriptors, uptime, and the alarms in effect (GET /api/nodes and
 * /api/health/checks/alarms, which answers 503 with the alarms while any is on).
 */
import { ApiError, get } from './api.js'
import { h, replace, fmtBytes, fmtNum } from './dom.js'

/** "3 d 4 h", "5 h 12 min", "42 s" from milliseconds. */
export function fmtUptime(ms) {
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const hr = Math.floor((s % 86400) / 3600)
  const min = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d} d ${hr} h`
  if (hr > 0) return `${hr} h ${min} min`
  if (min > 0) return `${min} min ${s % 60} s`
  return `${s} s`
}

/** A labelled bar: `used` of `max`, amber from `warnAt` of it, red while `alarm`. */
function gauge(label, id, used, max, text, alarm, warnAt = 0.8) {
  const share = max > 0 ? Math.min(1, used / max) : 0
  const kind = alarm ? 'alarm' : share >= warnAt ? 'warn' : ''
  return h(
    'div',
    { class: ['gauge', kind], id, role: 'group', 'aria-label': label },
    h('span', {}, label),
    h('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': max, 'aria-valuenow': used, 'aria-label': label }, h('div', { class: 'fill', style: { width: `${(share * 100).toFixed(1)}%` } })),
    h('span', { class: 'figures' }, text),
  )
}

/** Alarm names as the health check lists them, in words. */
const ALARM_LABELS = { memory: 'memory alarm', disk: 'disk alarm', file_descriptor_limit: 'file descriptor alarm' }

async function alarmsInEffect() {
  try {
    await get('health/checks/alarms')
    return []
  } catch (err) {
    if (err instanceof ApiError && err.status === 503 && Array.isArray(err.body?.alarms)) return err.body.alarms.map((a) => a.resource)
    throw err
  }
}

/** The panel and its refresh. */
export function nodeHealthPanel() {
  const body = h('div', { id: 'node-health' }, h('p', { class: 'muted' }, 'Loading…'))
  const el = h('section', { class: 'panel', 'aria-labelledby': 'health-h' }, h('h2', { id: 'health-h' }, 'Node health'), body)
  async function update() {
    let n
    let alarms
    try {
      ;[n, alarms] = await Promise.all([get('nodes').then((l) => l[0]), alarmsInEffect()])
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        replace(body, h('p', { class: 'muted' }, 'Node health is shown to users tagged monitoring or administrator.'))
        return
      }
      throw err
    }
    if (n === undefined) return
    const diskShareUsed = n.disk_free > 0 ? n.disk_free_limit / n.disk_free : 1
    replace(
      body,
      gauge('Memory', 'health-memory', n.mem_used, n.mem_limit, `${fmtBytes(n.mem_used)} of ${fmtBytes(n.mem_limit)} high watermark`, n.mem_alarm),
      // the bar fills as free space shrinks toward the limit
      gauge('Free disk space', 'health-disk', Math.min(1, diskShareUsed), 1, `${fmtBytes(n.disk_free)} free · limit ${fmtBytes(n.disk_free_limit)}`, n.disk_free_alarm, 0.5),
      gauge('File descriptors', 'health-fds', n.fd_used, n.fd_total, `${fmtNum(n.fd_used)} of ${fmtNum(n.fd_total)} open`, alarms.includes('file_descriptor_limit')),
      h(
        'div',
        { class: 'alarms', id: 'health-alarms' },
        h('span', { class: 'muted' }, `Uptime ${fmtUptime(n.uptime ?? 0)} ·`),
        alarms.length === 0
          ? h('span', { class: 'badge ok' }, 'no alarms')
          : alarms.map((a) => h('span', { class: 'badge danger', title: a === 'file_descriptor_limit' ? 'new connections are refused' : 'publishers are blocked' }, ALARM_LABELS[a] ?? a)),
      ),
    )
  }
  return { el, update }
}
