/**
 * Backlog at a glance (GET /api/backlog): every queue's growth, consume rate, time to drain and
 * oldest message, worst first, with its alert; and a form that sets a queue's alert thresholds
 * (PUT/DELETE /api/queues/{vhost}/{name}/backlog-alert).
 */
import { del, get, put, seg } from '../api.js'
import { h, href, replace, fmtNum, fmtRate } from '../dom.js'
import { busy, dataTable, formMessage, formRow, invalid, resetValidity } from '../widgets.js'

const STATE_BADGE = { growing: 'danger', stable: 'warn', draining: 'accent', empty: 'ok' }

/** 90 → "1 min 30 s", 0.4 → "0.4 s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–'
  if (seconds < 10) return `${+seconds.toFixed(1)} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}

function drain(r) {
  if (r.state === 'growing') return h('span', { class: 'badge danger' }, 'growing')
  if (r.state === 'stable') return h('span', { class: 'muted', title: 'not draining' }, 'never')
  return fmtDuration(r.drain_seconds)
}

function thresholds(t) {
  if (t === null) return h('span', { class: 'muted' }, 'none')
  const parts = []
  if (t.max_messages !== null) parts.push(`more than ${fmtNum(t.max_messages)} messages`)
  if (t.max_age_ms !== null) parts.push(`older than ${fmtDuration(t.max_age_ms / 1000)}`)
  if (t.max_drain_seconds !== null) parts.push(`drain > ${fmtDuration(t.max_drain_seconds)}`)
  return h('span', { class: 'small' }, parts.join(', '))
}

function alertCell(r) {
  if (r.alert) return h('span', { class: 'badge danger', title: r.alert_reasons.join(', ') }, `ALERT: ${r.alert_reasons.join(', ')}`)
  return r.alert_thresholds === null ? h('span', { class: 'muted' }, '–') : h('span', { class: 'badge ok' }, 'ok')
}

function thresholdForm(app, rows) {
  const queue = h('select', { name: 'queue' })
  const num = (name, placeholder) => h('input', { name, type: 'number', min: '0', step: 'any', placeholder, inputmode: 'decimal' })
  const maxMessages = num('max_messages', 'no limit')
  const maxAge = num('max_age_s', 'no limit')
  const maxDrain = num('max_drain_seconds', 'no limit')
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save thresholds')
  const clear = h('button', { type: 'button' }, 'Clear')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Backlog alert thresholds', novalidate: true },
    ...formRow('Queue', queue),
    ...formRow('Max messages', maxMessages, 'ready + unacknowledged'),
    ...formRow('Max oldest message age (s)', maxAge),
    ...formRow('Max time to drain (s)', maxDrain, 'a queue that does not drain is over any limit'),
    h('div', { class: 'actions' }, save, clear),
  )
  const selected = () => {
    const [vhost, name] = JSON.parse(queue.value || '["",""]')
    return { vhost, name, path: `queues/${seg(vhost)}/${seg(name)}/backlog-alert` }
  }
  const fill = () => {
    const { vhost, name } = selected()
    const t = rows().find((r) => r.vhost === vhost && r.name === name)?.alert_thresholds
    maxMessages.value = t?.max_messages ?? ''
    maxAge.value = t?.max_age_ms == null ? '' : t.max_age_ms / 1000
    maxDrain.value = t?.max_drain_seconds ?? ''
  }
  queue.addEventListener('change', fill)
  const read = (input, scale = 1) => {
    if (input.value.trim() === '') return null
    const v = Number(input.value)
    return Number.isFinite(v) && v >= 0 ? v * scale : undefined
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    resetValidity(form)
    if (queue.value === '') return invalid(queue, 'There is no queue to set thresholds on.')
    const body = { max_messages: read(maxMessages), max_age_ms: read(maxAge, 1000), max_drain_seconds: read(maxDrain) }
    for (const [k, input] of [['max_messages', maxMessages], ['max_age_ms', maxAge], ['max_drain_seconds', maxDrain]]) {
      if (body[k] === undefined) return invalid(input, 'Enter a number ≥ 0, or leave it empty for no limit.')
    }
    busy(save, async () => {
      try {
        await put(selected().path, body)
        formMessage(form, `Thresholds of '${selected().name}' saved.`, 'ok')
        app.refresh()
      } catch (err) {
        formMessage(form, err.message)
      }
    })
  })
  clear.addEventListener('click', () =>
    busy(clear, async () => {
      try {
        await del(selected().path)
        formMessage(form, `Thresholds of '${selected().name}' cleared.`, 'ok')
        maxMessages.value = maxAge.value = maxDrain.value = ''
        app.refresh()
      } catch (err) {
        formMessage(form, err.message)
      }
    }),
  )
  let shown = ''
  /** Keeps the queue list current without losing the choice (untouched while the list is the same). */
  function update(list) {
    const keys = list.map((r) => JSON.stringify([r.vhost, r.name]))
    const sorted = [...keys].sort().join('\n')
    if (sorted === shown) return
    shown = sorted
    list = [...list].sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name))
    const keep = queue.value
    replace(queue, list.map((r) => h('option', { value: JSON.stringify([r.vhost, r.name]) }, app.vhost === '' ? `${r.name} (${r.vhost})` : r.name)))
    if (keep !== '' && list.some((r) => JSON.stringify([r.vhost, r.name]) === keep)) queue.value = keep
    else if (list.length > 0) fill()
  }
  return { el: form, update }
}

export default {
  title: 'Backlog',
  async render(root, _params, app) {
    const all = app.vhost === ''
    let rows = []
    const table = dataTable({
      rowKey: (r) => `${r.vhost}\u0000${r.name}`,
      empty: 'No queues.',
      caption: 'Worst first: queues in alert, then growing, stable, draining, empty.',
      columns: [
        all ? { label: 'Virtual host', render: (r) => r.vhost } : null,
        { label: 'Queue', render: (r) => h('a', { class: 'name', href: href('queues', r.vhost, r.name) }, r.name) },
        { label: 'Alert', render: alertCell },
        { label: 'State', render: (r) => h('span', { class: `badge ${STATE_BADGE[r.state] ?? ''}` }, r.state) },
        { label: 'Messages', num: true, render: (r) => fmtNum(r.messages) },
        { label: 'In', num: true, render: (r) => fmtRate(r.in_rate) },
        { label: 'Consumed', num: true, render: (r) => fmtRate(r.consume_rate) },
        { label: 'Growth', num: true, render: (r) => `${r.growth_rate > 0 ? '+' : ''}${fmtRate(r.growth_rate)}` },
        { label: 'Time to drain', num: true, render: drain },
        { label: 'Oldest message', num: true, render: (r) => (r.oldest_message_age_ms === null ? '–' : fmtDuration(r.oldest_message_age_ms / 1000)) },
        { label: 'Thresholds', render: (r) => thresholds(r.alert_thresholds) },
      ].filter(Boolean),
    })
    const form = thresholdForm(app, () => rows)
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Backlog'), h('span', { class: 'muted' }, all ? 'all virtual hosts' : `virtual host ${app.vhost}`)),
      h('section', { class: 'panel', 'aria-label': 'Backlog' }, table.el),
      h('details', { class: 'panel', id: 'backlog-alert' }, h('summary', {}, 'Alert thresholds'), form.el),
    )
    await app.poll(async () => {
      rows = await get(all ? 'backlog' : `backlog/${seg(app.vhost)}`)
      table.update(rows)
      form.update(rows)
    })
  },
}
