/**
 * Admin › Virtual hosts: the list with each vhost's tracing switch, create one (PUT /api/vhosts/{v}
 * with description, tags, default queue type and tracing), delete (DELETE /api/vhosts/{v}, which
 * takes its queues, messages and permissions with it).
 */
import { get, put, seg } from '../api.js'
import { h, fmtNum, utf8Length } from '../dom.js'
import { tracingSwitch } from '../tracing-switch.js'
import { dataTable, formRow, invalid, resetValidity } from '../widgets.js'
import { deleteButton, submit } from './common.js'

function vhostForm(app, onCreated) {
  const name = h('input', { type: 'text', name: 'vhost-name', autocomplete: 'off', required: true })
  const description = h('input', { type: 'text', name: 'description', autocomplete: 'off' })
  const tags = h('input', { type: 'text', name: 'vhost-tags', autocomplete: 'off', placeholder: 'production, eu' })
  const dqt = h('select', { name: 'default_queue_type' }, h('option', { value: '' }, '(none: classic)'), h('option', { value: 'classic' }, 'classic'), h('option', { value: 'quorum' }, 'quorum'))
  const tracing = h('input', { type: 'checkbox', name: 'tracing' })
  const button = h('button', { type: 'submit', class: 'btn primary' }, 'Add virtual host')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add a virtual host', novalidate: true },
    formRow('Name', name),
    formRow('Description', description),
    formRow('Tags', tags, 'comma-separated'),
    formRow('Default queue type', dqt),
    formRow('Tracing', h('label', { class: 'row' }, tracing, 'copy every message to amq.rabbitmq.trace')),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a name for the virtual host.')
    if (utf8Length(n) > 255) return invalid(name, 'The name is longer than 255 bytes.')
    const body = {
      description: description.value,
      tags: tags.value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
        .join(','),
      tracing: tracing.checked,
    }
    if (dqt.value !== '') body.default_queue_type = dqt.value
    submit(form, button, () => put(`vhosts/${seg(n)}`, body), `Virtual host '${n}' added.`, () => {
      app.reloadVhosts()
      name.value = ''
      description.value = ''
      tags.value = ''
      onCreated()
    })
  })
  return form
}

export default {
  title: 'Virtual hosts',
  async render(root, app) {
    const switches = new Map()
    const table = dataTable({
      rowKey: (v) => v.name,
      empty: 'No virtual hosts.',
      columns: [
        { label: 'Name', render: (v) => h('span', { class: 'name' }, v.name) },
        { label: 'Description', render: (v) => v.description || h('span', { class: 'muted' }, '–') },
        { label: 'Tags', render: (v) => (v.tags ?? []).map((t) => h('span', { class: 'badge' }, t)) },
        { label: 'Default queue type', render: (v) => v.default_queue_type ?? 'classic' },
        { label: 'Messages', num: true, render: (v) => fmtNum(v.messages ?? 0) },
        {
          label: 'Tracing',
          render: (v) => {
            let sw = switches.get(v.name)
            if (sw === undefined) switches.set(v.name, (sw = tracingSwitch(v.name, undefined, false)))
            sw.show(v)
            return sw.el
          },
        },
        {
          label: '',
          render: (v) =>
            deleteButton(`Delete virtual host ${v.name}`, `Delete virtual host '${v.name}' with all its queues, messages, exchanges and permissions? Its connections are closed.`, `vhosts/${seg(v.name)}`, () => {
              app.reloadVhosts()
              app.refresh()
            }),
        },
      ],
    })
    root.append(
      h('section', { class: 'panel', 'aria-label': 'Virtual hosts' }, table.el),
      h('details', { class: 'panel', id: 'add-vhost', open: true }, h('summary', {}, 'Add a virtual host'), vhostForm(app, () => app.refresh())),
    )
    await app.poll(async () => {
      table.update(await get('vhosts'))
    })
  },
}
