/**
 * A vhost's firehose switch (RabbitMQ's tracing flag): a badge with the state and a button that flips
 * it with PUT /api/vhosts/{v}, sending the vhost's description and tags along so they stay as they are.
 */
import { get, put, seg } from './api.js'
import { h, replace } from './dom.js'
import { busy, toast } from './widgets.js'

/** The tracing switch of one vhost: shows the state and flips it, keeping description and tags. */
export function tracingSwitch(vhost, onChange = () => {}, ids = true) {
  const state = h('span', { class: 'badge', id: ids ? 'tracing-state' : undefined }, '…')
  const button = h('button', { type: 'button', class: 'btn small', id: ids ? 'tracing-toggle' : undefined, 'aria-label': `Tracing in ${vhost}` }, '…')
  let current = null
  const show = (v) => {
    current = v
    state.textContent = v.tracing ? 'tracing on' : 'tracing off'
    state.className = `badge ${v.tracing ? 'warn' : ''}`
    button.textContent = v.tracing ? 'Turn tracing off' : 'Turn tracing on'
    onChange(v.tracing)
  }
  button.addEventListener('click', () =>
    busy(button, async () => {
      if (current === null) return
      try {
        const { description = '', tags = [], default_queue_type } = current
        await put(`vhosts/${seg(vhost)}`, { description, tags, default_queue_type, tracing: !current.tracing })
        show(await get(`vhosts/${seg(vhost)}`))
        toast(`Tracing ${current.tracing ? 'on' : 'off'} in ${vhost}`)
      } catch (err) {
        toast(`Could not change tracing: ${err.message}`, 'error')
      }
    }),
  )
  return {
    el: h('div', { class: 'row' }, state, button),
    refresh: async () => show(await get(`vhosts/${seg(vhost)}`)),
    /** shows a vhost object already fetched (e.g. from the vhost list) */
    show,
  }
}

/** The overview's "Virtual hosts" panel: one tracing switch per vhost, kept as the list refreshes. */
export function vhostTracingPanel() {
  const switches = new Map()
  const list = h('div', { class: 'kv' })
  const el = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'vhosts-h' },
    h('h2', { id: 'vhosts-h' }, 'Virtual hosts'),
    h('p', { class: 'muted small' }, 'Tracing copies every message published and delivered in a virtual host to its amq.rabbitmq.trace exchange; watch it on the Trace page.'),
    list,
  )
  function update(vhosts) {
    const rows = []
    for (const v of vhosts) {
      let sw = switches.get(v.name)
      if (sw === undefined) switches.set(v.name, (sw = tracingSwitch(v.name, undefined, false)))
      sw.show(v)
      rows.push(h('div', { class: 'row', dataset: { vhost: v.name } }, h('strong', { style: { minWidth: '160px' } }, v.name), sw.el))
    }
    replace(list, rows)
  }
  return { el, update }
}
