/**
 * Trace: RabbitMQ's firehose, live. The vhost's tracing switch (PUT /api/vhosts/{v} {"tracing"}),
 * and a trace session: a queue `warren.trace.<random>` (x-expires, so it goes away with the page)
 * bound to amq.rabbitmq.trace with a pattern, read every second with POST …/get (ack_requeue_false);
 * each trace message becomes a row. Stop (or leaving the page) deletes the queue.
 */
import { del, get, post, put, seg } from '../api.js'
import { h, replace, fmtBytes, fmtValue } from '../dom.js'
import { tracingSwitch } from '../tracing-switch.js'
import { busy, dataTable, formMessage, formRow, invalid, resetValidity, toast } from '../widgets.js'

const POLL_MS = 1000
/** rows kept on screen; older ones scroll away */
const MAX_ROWS = 500
/** the trace queue outlives a closed page by this long (x-expires), and holds at most this many */
const QUEUE_EXPIRES_MS = 60_000
const QUEUE_MAX_LENGTH = 10_000
const PREVIEW = 120

function randomSuffix() {
  const b = new Uint8Array(6)
  crypto.getRandomValues(b)
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
}

/** One trace message (from …/get) as a row. */
function traceRow(m, seq) {
  const hd = m.properties?.headers ?? {}
  const dot = m.routing_key.indexOf('.')
  const kind = dot < 0 ? m.routing_key : m.routing_key.slice(0, dot)
  const target = dot < 0 ? '' : m.routing_key.slice(dot + 1)
  return {
    seq,
    time: new Date(),
    kind,
    target,
    exchange: hd.exchange_name ?? '',
    routingKeys: Array.isArray(hd.routing_keys) ? hd.routing_keys.join(', ') : '',
    routed: Array.isArray(hd.routed_queues) ? hd.routed_queues : undefined,
    redelivered: hd.redelivered === 1,
    user: hd.user ?? '',
    connection: hd.connection ?? '',
    channel: hd.channel,
    size: m.payload_bytes,
    preview: m.payload_encoding === 'string' ? m.payload : `(${m.payload_encoding})`,
  }
}

export default {
  title: 'Trace',
  async render(root, _params, app) {
    const vhost = app.oneVhost
    const pattern = h('input', { type: 'text', name: 'pattern', value: '#', autocomplete: 'off', spellcheck: 'false' })
    const start = h('button', { type: 'submit', class: 'btn primary' }, 'Start trace')
    const stop = h('button', { type: 'button', class: 'btn', disabled: true }, 'Stop')
    const clear = h('button', { type: 'button', class: 'btn ghost' }, 'Clear')
    const status = h('p', { class: 'muted small', role: 'status', id: 'trace-status' }, 'Not tracing.')
    const offNote = h('p', { class: 'badge warn', hidden: true, style: { display: 'block', marginTop: '8px', whiteSpace: 'normal' } }, 'Tracing is off in this virtual host: nothing will be captured until it is turned on.')
    const sw = tracingSwitch(vhost, (on) => (offNote.hidden = on))
    const form = h(
      'form',
      { class: 'stacked', 'aria-label': 'Start a trace', novalidate: true },
      formRow('Pattern', pattern, 'topic pattern on amq.rabbitmq.trace: # (everything), publish.#, deliver.<queue>, publish.<exchange>'),
      h('div', { class: 'actions' }, start, stop, clear),
    )
    let rows = []
    let seq = 0
    const table = dataTable({
      rowKey: (r) => String(r.seq),
      empty: 'No trace messages yet.',
      columns: [
        { label: 'Time', render: (r) => r.time.toLocaleTimeString() },
        { label: 'Kind', render: (r) => h('span', { class: `badge ${r.kind === 'publish' ? '' : 'ok'}` }, r.kind) },
        {
          label: 'Exchange / queue',
          render: (r) =>
            r.kind === 'publish'
              ? [h('span', {}, r.target === '' ? '(AMQP default)' : r.target), r.routed ? h('div', { class: 'muted small' }, r.routed.length ? `→ ${r.routed.join(', ')}` : 'unroutable') : null]
              : [h('span', {}, r.target), h('div', { class: 'muted small' }, `from ${r.exchange === '' ? '(AMQP default)' : r.exchange}${r.redelivered ? ' · redelivered' : ''}`)],
        },
        { label: 'Routing keys', render: (r) => h('code', {}, r.routingKeys) },
        { label: 'User', render: (r) => h('span', { title: `${r.connection} · channel ${fmtValue(r.channel)}` }, r.user) },
        { label: 'Size', num: true, render: (r) => fmtBytes(r.size) },
        { label: 'Body', render: (r) => h('code', { class: 'small' }, r.preview.length > PREVIEW ? `${r.preview.slice(0, PREVIEW)}…` : r.preview) },
      ],
    })

    /** the running session: its queue and timer, or null */
    let session = null

    async function stopSession(quiet) {
      const s = session
      if (s === null) return
      session = null
      clearInterval(s.timer)
      start.disabled = false
      stop.disabled = true
      pattern.disabled = false
      if (!quiet) status.textContent = 'Trace stopped.'
      try {
        await del(`queues/${seg(vhost)}/${seg(s.queue)}`)
      } catch (err) {
        // gone already (x-expires) or the user signed out: nothing to clean up
        if (!quiet) toast(`Could not delete ${s.queue}: ${err.message}`, 'error')
      }
    }

    async function pollSession(s) {
      if (!root.isConnected) return stopSession(true)
      if (s.busy || session !== s) return
      s.busy = true
      try {
        const msgs = await post(`queues/${seg(vhost)}/${seg(s.queue)}/get`, { count: 200, ackmode: 'ack_requeue_false', encoding: 'auto', truncate: PREVIEW * 4 })
        if (session !== s) return
        if (msgs.length > 0) {
          rows = msgs.map((m) => traceRow(m, ++seq)).reverse().concat(rows).slice(0, MAX_ROWS)
          table.update(rows)
        }
        s.seen += msgs.length
        status.textContent = `Tracing '${s.pattern}' in ${vhost} into ${s.queue}: ${s.seen} message${s.seen === 1 ? '' : 's'} so far.`
      } catch (err) {
        if (session === s) status.textContent = `Could not read the trace queue: ${err.message}`
        if (err.status === 404 && session === s) await stopSession(true)
      } finally {
        s.busy = false
      }
    }

    form.addEventListener('submit', (e) => {
      e.preventDefault()
      resetValidity(form)
      if (session !== null) return
      const p = pattern.value.trim()
      if (p === '') return invalid(pattern, 'Enter a pattern, e.g. # for everything.')
      busy(start, async () => {
        const queue = `warren.trace.${randomSuffix()}`
        try {
          await put(`queues/${seg(vhost)}/${seg(queue)}`, {
            durable: false,
            auto_delete: false,
            arguments: { 'x-expires': QUEUE_EXPIRES_MS, 'x-max-length': QUEUE_MAX_LENGTH },
          })
          await post(`bindings/${seg(vhost)}/e/amq.rabbitmq.trace/q/${seg(queue)}`, { routing_key: p, arguments: {} })
        } catch (err) {
          formMessage(form, `Could not start the trace: ${err.message}`)
          await del(`queues/${seg(vhost)}/${seg(queue)}`).catch(() => {})
          return
        }
        const s = { queue, pattern: p, timer: 0, busy: false, seen: 0 }
        session = s
        s.timer = setInterval(() => pollSession(s), POLL_MS)
        pattern.disabled = true
        stop.disabled = false
        status.textContent = `Tracing '${p}' in ${vhost} into ${queue}.`
        await sw.refresh().catch(() => {})
        pollSession(s)
      }).finally(() => {
        start.disabled = session !== null
      })
    })
    stop.addEventListener('click', () => stopSession(false))
    clear.addEventListener('click', () => {
      rows = []
      table.update(rows)
    })
    // best effort when the tab goes away; x-expires removes the queue otherwise
    window.addEventListener('pagehide', () => stopSession(true), { once: true })

    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Trace'), h('span', { class: 'muted' }, `virtual host ${vhost}`)),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'tr-switch' },
        h('h2', { id: 'tr-switch' }, 'Firehose'),
        h('p', { class: 'muted small' }, 'While tracing is on, every message published into this virtual host and every delivery is copied to the amq.rabbitmq.trace exchange (RabbitMQ’s firehose). It costs throughput: turn it off when done.'),
        sw.el,
        offNote,
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'tr-session' }, h('h2', { id: 'tr-session' }, 'Trace messages'), form, status, table.el),
    )
    table.update(rows)
    await app.poll(sw.refresh)
  },
}
