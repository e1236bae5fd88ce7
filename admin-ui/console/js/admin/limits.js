/**
 * Admin › Limits: per-vhost limits (max-connections, max-queues; /api/vhost-limits/{vhost}/{name})
 * and per-user limits (max-connections, max-channels; /api/user-limits/{user}/{name}), each set with
 * PUT {"value": n} and cleared with DELETE, as RabbitMQ's API takes them. A negative value means no
 * limit there too.
 */
import { get, put, seg } from '../api.js'
import { h, replace, fmtNum } from '../dom.js'
import { dataTable, formRow, invalid, resetValidity } from '../widgets.js'
import { deleteButton, nameSelect, optionalList, submit, unavailable } from './common.js'

/** [{vhost|user, value: {name: n}}] → one row per limit. */
function rows(list, owner) {
  return list.flatMap((e) => Object.entries(e.value ?? {}).map(([name, value]) => ({ owner: e[owner], name, value })))
}

function limitPanel({ kind, title, ownerLabel, owner, owners, names, app }) {
  const table = dataTable({
    rowKey: (r) => `${r.owner}\u0000${r.name}`,
    empty: 'No limits set.',
    columns: [
      { label: ownerLabel, render: (r) => h('span', { class: 'name' }, r.owner) },
      { label: 'Limit', render: (r) => r.name },
      { label: 'Value', num: true, render: (r) => (r.value < 0 ? 'no limit' : fmtNum(r.value)) },
      { label: '', render: (r) => deleteButton(`Clear ${r.name} of ${r.owner}`, `Clear the ${r.name} limit of '${r.owner}'?`, `${kind}/${seg(r.owner)}/${seg(r.name)}`, () => app.refresh()) },
    ],
  })
  const who = nameSelect(`${kind}-owner`, owners, owners[0])
  const name = h('select', { name: `${kind}-name` }, names.map((n) => h('option', { value: n }, n)))
  const value = h('input', { type: 'number', name: `${kind}-value`, step: '1', min: '-1' })
  const button = h('button', { type: 'submit', class: 'btn primary' }, 'Set limit')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': `Set a ${ownerLabel.toLowerCase()} limit`, novalidate: true },
    formRow(ownerLabel, who),
    formRow('Limit', name),
    formRow('Value', value, '0 refuses all; -1 removes the limit'),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    if (!/^-?\d+$/.test(value.value) || Number(value.value) < -1) return invalid(value, 'The value is a whole number, -1 or more.')
    submit(form, button, () => put(`${kind}/${seg(who.value)}/${seg(name.value)}`, { value: Number(value.value) }), `${name.value} of '${who.value}' set.`, () => app.refresh())
  })
  const body = h('div', {}, table.el, h('h3', {}, 'Set a limit'), form)
  const el = h('section', { class: 'panel', id: kind, 'aria-labelledby': `${kind}-h` }, h('h2', { id: `${kind}-h` }, title), body)
  async function update() {
    const list = await optionalList(kind)
    if (list === null) return replace(body, unavailable(`${title} are`, kind))
    table.update(rows(list, owner))
  }
  return { el, update }
}

export default {
  title: 'Limits',
  async render(root, app) {
    const [vhosts, users] = await Promise.all([get('vhosts?columns=name'), get('users')])
    const vl = limitPanel({ kind: 'vhost-limits', title: 'Virtual host limits', ownerLabel: 'Virtual host', owner: 'vhost', owners: vhosts.map((v) => v.name).sort(), names: ['max-connections', 'max-queues'], app })
    const ul = limitPanel({ kind: 'user-limits', title: 'User limits', ownerLabel: 'User', owner: 'user', owners: users.map((u) => u.name).sort(), names: ['max-connections', 'max-channels'], app })
    root.append(vl.el, ul.el)
    await app.poll(vl.update)
    await app.poll(ul.update)
  },
}
