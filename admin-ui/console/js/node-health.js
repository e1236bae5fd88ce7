/**
 * The overview's node health panel: memory used against the high watermark, free disk space
 * against its limit, file descriptors, uptime, and the alarms in effect (GET /api/nodes and
 * /api/health/checks/alarms, which answers 503 with the alarms while any is on). In a cluster, one
 * block per node (GET /api/nodes gives every member's figures; another node's alarms come from its
 * mem_alarm / disk_free_alarm / fd figures).
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

/** Another node's alarms, from its figures (its health check is its own). */
function alarmsOf(n) {
  const out = []
  if (n.mem_alarm) out.push('memory')
  if (n.disk_free_alarm) out.push('disk')
  if (n.fd_total > 0 && n.fd_used >= n.fd_total * 0.9) out.push('file_descriptor_limit')
  return out
}

/**
 * One node's gauges and alarms; `index` -1 on a single node (the ids stay health-memory …), else its
 * place in the list: a heading names the node and the ids get the index (health-memory-1 …).
 */
function nodeBlock(n, alarms, index) {
  const id = (base) => (index <= 0 ? base : `${base}-${index}`)
  const head = index < 0 ? [] : [h('h3', { class: 'node-name' }, n.name, index === 0 ? h('span', { class: 'muted small' }, ' (this node)') : null)]
  if (n.mem_limit === undefined) {
    return [...head, h('p', { class: 'muted', id: id('health-figures') }, `Running · uptime ${fmtUptime(n.uptime ?? 0)} · its figures did not come (its management API did not answer)`)]
  }
  const diskShareUsed = n.disk_free > 0 ? n.disk_free_limit / n.disk_free : 1
  return [
    ...head,
    gauge('Memory', id('health-memory'), n.mem_used, n.mem_limit, `${fmtBytes(n.mem_used)} of ${fmtBytes(n.mem_limit)} high watermark`, n.mem_alarm),
    // the bar fills as free space shrinks toward the limit
    gauge('Free disk space', id('health-disk'), Math.min(1, diskShareUsed), 1, `${fmtBytes(n.disk_free)} free · limit ${fmtBytes(n.disk_free_limit)}`, n.disk_free_alarm, 0.5),
    gauge('File descriptors', id('health-fds'), n.fd_used, n.fd_total, `${fmtNum(n.fd_used)} of ${fmtNum(n.fd_total)} open`, alarms.includes('file_descriptor_limit')),
    h(
      'div',
      { class: 'alarms', id: id('health-alarms') },
      h('span', { class: 'muted' }, `Uptime ${fmtUptime(n.uptime ?? 0)} ·`),
      alarms.length === 0
        ? h('span', { class: 'badge ok' }, 'no alarms')
        : alarms.map((a) => h('span', { class: 'badge danger', title: a === 'file_descriptor_limit' ? 'new connections are refused' : 'publishers are blocked' }, ALARM_LABELS[a] ?? a)),
    ),
  ]
}

/** The panel and its refresh. */
export function nodeHealthPanel() {
  const body = h('div', { id: 'node-health' }, h('p', { class: 'muted' }, 'Loading…'))
  const el = h('section', { class: 'panel', 'aria-labelledby': 'health-h' }, h('h2', { id: 'health-h' }, 'Node health'), body)
  async function update() {
    let nodes
    let alarms
    let self
    try {
      ;[nodes, alarms, self] = await Promise.all([get('nodes'), alarmsInEffect(), get('overview?columns=node').then((o) => o.node)])
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        replace(body, h('p', { class: 'muted' }, 'Node health is shown to users tagged monitoring or administrator.'))
        return
      }
      throw err
    }
    if (nodes.length === 0) return
    // this node first (the health check's alarms are its own), then the others by name
    nodes.sort((a, b) => (a.name === self ? -1 : b.name === self ? 1 : 0))
    const multi = nodes.length > 1
    replace(body, ...nodes.flatMap((n, i) => nodeBlock(n, i === 0 ? alarms : alarmsOf(n), multi ? i : -1)))
  }
  return { el, update }
}
