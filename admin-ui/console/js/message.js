/**
 * Shows a message fetched with POST /api/queues/{vhost}/{queue}/get: routing, properties, headers
 * (x-death as a readable table) and the payload as text or base64.
 */
import { h, fmtDate, fmtValue, fromBase64, toBase64 } from './dom.js'
import { kvList } from './widgets.js'

/** x-death entries as a table: count, reason, queue, exchange, routing keys, time. */
export function deathTable(deaths) {
  return h(
    'table',
    { class: 'inner' },
    h('thead', {}, h('tr', {}, ['Count', 'Reason', 'Queue', 'Exchange', 'Routing keys', 'Time'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      deaths.map((d) =>
        h(
          'tr',
          {},
          h('td', { class: 'num' }, String(d.count ?? '')),
          h('td', {}, h('span', { class: `badge ${d.reason === 'rejected' ? 'danger' : 'warn'}` }, String(d.reason ?? ''))),
          h('td', {}, String(d.queue ?? '')),
          h('td', {}, d.exchange === '' ? '(AMQP default)' : String(d.exchange ?? '')),
          h('td', {}, Array.isArray(d['routing-keys']) ? d['routing-keys'].join(', ') : ''),
          h('td', {}, d.time !== undefined ? fmtDate(d.time) : ''),
        ),
      ),
    ),
  )
}

function headersView(headers) {
  const entries = Object.entries(headers ?? {})
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none')
  return h(
    'div',
    {},
    entries.map(([k, v]) => {
      if (k === 'x-death' && Array.isArray(v)) return h('div', {}, h('strong', {}, 'x-death'), deathTable(v))
      return h('div', { class: 'mono' }, `${k} = ${v === '' ? '""' : fmtValue(v)}`)
    }),
  )
}

function propertiesView(props) {
  const pairs = Object.entries(props ?? {})
    .filter(([k]) => k !== 'headers')
    .map(([k, v]) => [k, k === 'timestamp' ? fmtDate(v) : fmtValue(v)])
  return pairs.length === 0 ? h('span', { class: 'muted' }, 'none') : kvList(pairs)
}

/** One message card; `index` counts from 1. */
export function messageCard(m, index) {
  let mode = m.payload_encoding === 'base64' ? 'base64' : 'text'
  const pre = h('pre', { tabindex: 0, 'aria-label': `Payload of message ${index}` })
  const note = h('span', { class: 'muted small' })
  const asText = m.payload_encoding === 'base64' ? fromBase64(m.payload) : m.payload
  const asBase64 = m.payload_encoding === 'base64' ? m.payload : toBase64(m.payload)
  const show = () => {
    if (mode === 'text' && asText === null) {
      pre.textContent = asBase64
      note.textContent = 'not UTF-8 text: shown as base64'
    } else {
      pre.textContent = mode === 'text' ? asText : asBase64
      note.textContent = ''
    }
    toggle.textContent = mode === 'text' ? 'Show base64' : 'Show text'
    toggle.setAttribute('aria-pressed', String(mode === 'base64'))
  }
  const toggle = h('button', {
    type: 'button',
    class: 'btn small',
    onclick: () => {
      mode = mode === 'text' ? 'base64' : 'text'
      show()
    },
  })
  show()
  const headers = m.properties?.headers
  return h(
    'article',
    { class: 'message', 'aria-label': `Message ${index}` },
    h(
      'h3',
      {},
      `Message ${index}`,
      m.redelivered ? h('span', { class: 'badge warn' }, 'redelivered') : null,
      headers?.['x-death'] ? h('span', { class: 'badge danger' }, 'dead-lettered') : null,
    ),
    kvList([
      ['Exchange', m.exchange === '' ? '(AMQP default)' : m.exchange],
      ['Routing key', m.routing_key],
      ['Messages left', String(m.message_count ?? '')],
      ['Properties', propertiesView(m.properties)],
      ['Headers', headersView(headers)],
      ['Payload', h('div', {}, h('div', { class: 'row' }, `${m.payload_bytes ?? ''} bytes`, toggle, note), pre)],
    ]),
  )
}
