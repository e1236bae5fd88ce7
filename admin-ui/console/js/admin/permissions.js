/**
 * Admin › Permissions: a user's configure/write/read patterns per vhost (PUT/DELETE
 * /api/permissions/{vhost}/{user}) and topic permissions per exchange (PUT/DELETE
 * /api/topic-permissions/{vhost}/{user}, body {exchange, write, read}); patterns are checked as
 * regular expressions before they are sent.
 */
import { get, put, seg } from '../api.js'
import { h, replace } from '../dom.js'
import { dataTable, formRow, invalid, resetValidity } from '../widgets.js'
import { deleteButton, nameSelect, optionalList, regexError, submit, unavailable } from './common.js'

/** Inputs for regex patterns, each checked before the form is sent. */
function patterns(names, initial) {
  const inputs = Object.fromEntries(names.map((n) => [n, h('input', { type: 'text', name: n, value: initial, autocomplete: 'off', class: 'mono' })]))
  const check = () => {
    for (const n of names) {
      const err = regexError(inputs[n].value)
      if (err !== null) return invalid(inputs[n], `${n}: ${err}.`)
    }
    return true
  }
  return { inputs, check, values: () => Object.fromEntries(names.map((n) => [n, inputs[n].value])) }
}

function permissionForm(users, vhosts, app) {
  const user = nameSelect('perm-user', users, users[0])
  const vhost = nameSelect('perm-vhost', vhosts, app.oneVhost)
  const p = patterns(['configure', 'write', 'read'], '.*')
  const button = h('button', { type: 'submit', class: 'btn primary' }, 'Set permission')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Set permission', novalidate: true },
    formRow('User', user),
    formRow('Virtual host', vhost),
    formRow('Configure regexp', p.inputs.configure, 'declare and delete queues and exchanges whose names match'),
    formRow('Write regexp', p.inputs.write, 'publish to exchanges, bind queues'),
    formRow('Read regexp', p.inputs.read, 'consume and get from queues, bind from exchanges'),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    if (!p.check()) return
    submit(form, button, () => put(`permissions/${seg(vhost.value)}/${seg(user.value)}`, p.values()), `Permission of '${user.value}' in '${vhost.value}' set.`, () => app.refresh())
  })
  return form
}

function topicPermissionForm(users, vhosts, app) {
  const user = nameSelect('topic-user', users, users[0])
  const vhost = nameSelect('topic-vhost', vhosts, app.oneVhost)
  const exchange = h('input', { type: 'text', name: 'topic-exchange', value: 'amq.topic', autocomplete: 'off' })
  const p = patterns(['write', 'read'], '.*')
  const button = h('button', { type: 'submit', class: 'btn primary' }, 'Set topic permission')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Set topic permission', novalidate: true },
    formRow('User', user),
    formRow('Virtual host', vhost),
    formRow('Exchange', exchange, 'a topic exchange'),
    formRow('Write regexp', p.inputs.write, 'routing keys the user may publish with'),
    formRow('Read regexp', p.inputs.read, 'routing keys the user may bind with'),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    if (exchange.value.trim() === '') return invalid(exchange, 'Enter the exchange the permission is for.')
    if (!p.check()) return
    const body = { exchange: exchange.value.trim(), ...p.values() }
    submit(form, button, () => put(`topic-permissions/${seg(vhost.value)}/${seg(user.value)}`, body), `Topic permission of '${user.value}' on '${body.exchange}' set.`, () => app.refresh())
  })
  return form
}

const code = (v) => h('code', {}, v === '' ? '(none)' : v)

export default {
  title: 'Permissions',
  async render(root, app) {
    const [users, vhosts] = await Promise.all([get('users'), get('vhosts')])
    const userNames = users.map((u) => u.name).sort()
    const vhostNames = vhosts.map((v) => v.name).sort()
    const perms = dataTable({
      rowKey: (p) => `${p.vhost}\u0000${p.user}`,
      empty: 'No permissions.',
      columns: [
        { label: 'User', render: (p) => h('span', { class: 'name' }, p.user) },
        { label: 'Virtual host', render: (p) => p.vhost },
        { label: 'Configure', render: (p) => code(p.configure) },
        { label: 'Write', render: (p) => code(p.write) },
        { label: 'Read', render: (p) => code(p.read) },
        { label: '', render: (p) => deleteButton(`Clear permission of ${p.user} in ${p.vhost}`, `Remove every permission of '${p.user}' in '${p.vhost}'?`, `permissions/${seg(p.vhost)}/${seg(p.user)}`, () => app.refresh()) },
      ],
    })
    const topics = dataTable({
      rowKey: (p) => `${p.vhost}\u0000${p.user}\u0000${p.exchange}`,
      empty: 'No topic permissions: topic exchanges check only the regular permissions.',
      columns: [
        { label: 'User', render: (p) => h('span', { class: 'name' }, p.user) },
        { label: 'Virtual host', render: (p) => p.vhost },
        { label: 'Exchange', render: (p) => p.exchange },
        { label: 'Write', render: (p) => code(p.write) },
        { label: 'Read', render: (p) => code(p.read) },
        // RabbitMQ's DELETE on the pair clears the user's topic permissions in that vhost
        { label: '', render: (p) => deleteButton(`Clear topic permissions of ${p.user} in ${p.vhost}`, `Remove the topic permissions of '${p.user}' in '${p.vhost}'?`, `topic-permissions/${seg(p.vhost)}/${seg(p.user)}`, () => app.refresh()) },
      ],
    })
    const topicBody = h('div', {}, topics.el, h('h3', {}, 'Set a topic permission'), topicPermissionForm(userNames, vhostNames, app))
    root.append(
      h('section', { class: 'panel', 'aria-labelledby': 'perms-h' }, h('h2', { id: 'perms-h' }, 'Permissions'), perms.el, h('h3', {}, 'Set a permission'), permissionForm(userNames, vhostNames, app)),
      h('section', { class: 'panel', 'aria-labelledby': 'topic-h', id: 'topic-permissions' }, h('h2', { id: 'topic-h' }, 'Topic permissions'), topicBody),
    )
    await app.poll(async () => perms.update(await get('permissions')))
    await app.poll(async () => {
      const list = await optionalList('topic-permissions')
      if (list === null) replace(topicBody, unavailable('Topic permissions are', 'topic-permissions'))
      else topics.update(list)
    })
  },
}
