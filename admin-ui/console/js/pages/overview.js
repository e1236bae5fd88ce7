/**
 * Overview: totals, node health (memory, disk, descriptors, uptime, alarms), live message-rate and
 * queued-message charts, node facts, listeners, and definitions export (file download) and import (file upload).
 */
import { get, post } from '../api.js'
import { Series, lineChart } from '../chart.js'
import { h, href, replace, fmtNum, fmtRate, rateOf } from '../dom.js'
import { nodeHealthPanel } from '../node-health.js'
import { vhostTracingPanel } from '../tracing-switch.js'
import { busy, confirmDialog, dataTable, kvList, toast } from '../widgets.js'

const RATE_LINES = [
  { label: 'Publish', color: '#1c7ed6' },
  { label: 'Deliver', color: '#2f9e44' },
  { label: 'Ack', color: '#7048e8' },
  { label: 'Redeliver', color: '#f08c00' },
  { label: 'Unroutable', color: '#e03131' },
]
const QUEUED_LINES = [
  { label: 'Ready', color: '#1c7ed6' },
  { label: 'Unacked', color: '#f08c00' },
  { label: 'Total', color: '#868e96' },
]

// kept across visits so the charts do not start empty when the user comes back
const rates = new Series(RATE_LINES.map((l) => l.label))
const queued = new Series(QUEUED_LINES.map((l) => l.label))

function stat(label, value, link) {
  const inner = [h('div', { class: 'value' }, value), h('div', { class: 'label' }, label)]
  return h('div', { class: 'stat' }, link ? h('a', { href: link }, inner) : inner)
}

function definitionsPanel() {
  const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Download definitions')
  exportBtn.addEventListener('click', () =>
    busy(exportBtn, async () => {
      try {
        const defs = await get('definitions')
        const blob = new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' })
        const a = h('a', { href: URL.createObjectURL(blob), download: `warren-definitions-${new Date().toISOString().slice(0, 10)}.json` })
        document.body.appendChild(a)
        a.click()
        a.remove()
        setTimeout(() => URL.revokeObjectURL(a.href), 10_000)
      } catch (err) {
        toast(`Export failed: ${err.message}`, 'error')
      }
    }),
  )
  const file = h('input', { type: 'file', accept: 'application/json,.json', 'aria-label': 'Definitions file' })
  const importBtn = h('button', { type: 'button', class: 'btn primary' }, 'Upload definitions')
  const result = h('p', { class: 'small', role: 'status' })
  importBtn.addEventListener('click', async () => {
    result.textContent = ''
    const f = file.files?.[0]
    if (!f) {
      result.className = 'field-error'
      result.textContent = 'Choose a definitions file (JSON exported from Warren or RabbitMQ) first.'
      file.focus()
      return
    }
    const text = await f.text()
    let defs
    try {
      defs = JSON.parse(text)
    } catch {
      result.className = 'field-error'
      result.textContent = `${f.name} is not valid JSON.`
      return
    }
    const counts = ['exchanges', 'queues', 'bindings'].map((k) => `${(defs[k] ?? []).length} ${k}`).join(', ')
    const ok = await confirmDialog({ title: 'Import definitions?', message: `Import ${counts} from ${f.name}? Existing objects with the same names must be equivalent.`, confirmLabel: 'Import', danger: false })
    if (!ok) return
    await busy(importBtn, async () => {
      try {
        await post('definitions', defs)
        result.className = 'small'
        result.textContent = `Imported ${counts}.`
        toast('Definitions imported')
      } catch (err) {
        result.className = 'field-error'
        result.textContent = `Import failed: ${err.message}`
      }
    })
  })
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'defs-h' },
    h('h2', { id: 'defs-h' }, 'Definitions'),
    h('p', { class: 'muted small' }, 'Exchanges, queues, bindings, users, vhosts and permissions as JSON, in RabbitMQ’s format.'),
    h('div', { class: 'row' }, exportBtn, h('span', { class: 'muted' }, '·'), file, importBtn),
    result,
  )
}

export default {
  title: 'Overview',
  async render(root, _params, app) {
    const totals = h('div', { class: 'totals' })
    const rateChart = lineChart({ lines: RATE_LINES, title: 'Message rates per second', format: fmtRate })
    const queuedChart = lineChart({ lines: QUEUED_LINES, title: 'Queued messages', format: fmtNum, integer: true })
    const facts = h('div')
    const listeners = dataTable({
      rowKey: (l) => `${l.protocol}:${l.ip_address}:${l.port}`,
      columns: [
        { label: 'Protocol', render: (l) => l.protocol },
        { label: 'Bound to', render: (l) => l.ip_address },
        { label: 'Port', render: (l) => String(l.port), num: true },
      ],
    })
    const vhosts = vhostTracingPanel()
    const health = nodeHealthPanel()
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Overview'), h('span', { class: 'muted', id: 'node-name' })),
      totals,
      health.el,
      h(
        'div',
        { class: 'grid2' },
        h('section', { class: 'panel', 'aria-labelledby': 'rates-h' }, h('h2', { id: 'rates-h' }, 'Message rates ', h('span', { class: 'muted small' }, 'per second')), rateChart.el),
        h('section', { class: 'panel', 'aria-labelledby': 'queued-h' }, h('h2', { id: 'queued-h' }, 'Queued messages'), queuedChart.el),
      ),
      h('div', { style: { height: '16px' } }),
      h(
        'div',
        { class: 'grid2' },
        h('section', { class: 'panel', 'aria-labelledby': 'node-h' }, h('h2', { id: 'node-h' }, 'Node'), facts),
        h('section', { class: 'panel', 'aria-labelledby': 'listeners-h' }, h('h2', { id: 'listeners-h' }, 'Listeners'), listeners.el),
      ),
      h('div', { style: { height: '16px' } }),
      vhosts.el,
      definitionsPanel(),
    )
    rateChart.draw(rates)
    queuedChart.draw(queued)

    await app.poll(async () => {
      const o = await get('overview')
      const ms = o.message_stats ?? {}
      const qt = o.queue_totals ?? {}
      const ot = o.object_totals ?? {}
      const now = Date.now()
      rates.push(now, [
        rateOf(ms, 'publish'),
        rateOf(ms, 'deliver_get') || rateOf(ms, 'deliver') + rateOf(ms, 'deliver_no_ack') + rateOf(ms, 'get') + rateOf(ms, 'get_no_ack'),
        rateOf(ms, 'ack'),
        rateOf(ms, 'redeliver'),
        rateOf(ms, 'drop_unroutable') + rateOf(ms, 'return_unroutable'),
      ])
      queued.push(now, [qt.messages_ready ?? 0, qt.messages_unacknowledged ?? 0, qt.messages ?? 0])
      rateChart.draw(rates)
      queuedChart.draw(queued)
      replace(
        totals,
        stat('Connections', fmtNum(ot.connections ?? 0), href('connections')),
        stat('Channels', fmtNum(ot.channels ?? 0), href('channels')),
        stat('Exchanges', fmtNum(ot.exchanges ?? 0), href('exchanges')),
        stat('Queues', fmtNum(ot.queues ?? 0), href('queues')),
        stat('Consumers', fmtNum(ot.consumers ?? 0)),
        stat('Messages', fmtNum(qt.messages ?? 0), href('queues')),
      )
      document.getElementById('node-name').textContent = o.node ?? ''
      replace(
        facts,
        kvList([
          ['Warren version', o.warren_version ?? o.product_version ?? '–'],
          ['RabbitMQ compatibility', o.rabbitmq_version ?? '–'],
          ['Management API', o.management_version ?? '–'],
          ['Node', o.node ?? '–'],
          ['Cluster', o.cluster_name ?? '–'],
          ['Exchange types', (o.exchange_types ?? []).map((t) => t.name).join(', ') || '–'],
          ['Messages published', fmtNum(ms.publish ?? 0)],
          ['Messages delivered', fmtNum(ms.deliver_get ?? ms.deliver ?? 0)],
        ]),
      )
      listeners.update(o.listeners ?? [])
    })
    await app.poll(health.update)
    await app.poll(async () => vhosts.update(await get('vhosts?columns=name,description,tags,default_queue_type,tracing')))
  },
}
