/**
 * Admin › Users: the list (tags, whether a password is set, vhosts the user may use), add a user
 * or change one's tags and password (PUT /api/users/{name}; an unchanged password is kept by
 * sending the stored hash back), and delete (DELETE /api/users/{name}).
 */
import { get, put, seg } from '../api.js'
import { h, utf8Length } from '../dom.js'
import { dataTable, formRow, invalid, resetValidity } from '../widgets.js'
import { deleteButton, submit } from './common.js'

const TAGS = ['administrator', 'monitoring', 'policymaker', 'management', 'impersonator']

/** `known`: the users as last listed, by name (their stored hash keeps an unchanged password). */
function userForm(known, refresh) {
  const name = h('input', { type: 'text', name: 'username', autocomplete: 'off', required: true })
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password' })
  const confirm = h('input', { type: 'password', name: 'password-confirm', autocomplete: 'new-password' })
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off', placeholder: 'administrator, monitoring' })
  const quick = h(
    'div',
    { class: 'arg-helpers' },
    h('span', {}, 'Add:'),
    TAGS.map((t) => h('button', { type: 'button', class: 'link-btn', onclick: () => (tags.value = [...new Set([...splitTags(tags.value), t])].join(', ')) }, t)),
  )
  const button = h('button', { type: 'submit', class: 'btn primary' }, 'Add or update user')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add or update a user', novalidate: true },
    formRow('Username', name),
    formRow('Password', password, 'leave empty to keep the password of an existing user'),
    formRow('Confirm password', confirm),
    formRow('Tags', h('div', {}, tags, quick), 'comma-separated; administrator sees and manages everything'),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a username.')
    if (utf8Length(n) > 255) return invalid(name, 'The username is longer than 255 bytes.')
    if (password.value !== confirm.value) return invalid(confirm, 'The two passwords differ.')
    const body = { tags: splitTags(tags.value).join(',') }
    const existing = known.get(n) ?? null
    if (password.value !== '') body.password = password.value
    else if (existing !== null) Object.assign(body, { password_hash: existing.password_hash, hashing_algorithm: existing.hashing_algorithm })
    else return invalid(password, 'Enter a password for the new user.')
    submit(form, button, () => put(`users/${seg(n)}`, body), `User '${n}' ${existing === null ? 'added' : 'updated'}.`, () => {
      password.value = ''
      confirm.value = ''
      refresh()
    })
  })
  return { form, edit: (u) => ((name.value = u.name), (tags.value = u.tags.join(', ')), password.focus()) }
}

function splitTags(text) {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
}

export default {
  title: 'Users',
  async render(root, app) {
    const known = new Map()
    const editor = userForm(known, () => app.refresh())
    const table = dataTable({
      rowKey: (u) => u.name,
      empty: 'No users.',
      columns: [
        { label: 'Name', render: (u) => h('span', { class: 'name' }, u.name) },
        { label: 'Tags', render: (u) => (u.tags.length === 0 ? h('span', { class: 'muted' }, 'none') : u.tags.map((t) => h('span', { class: 'badge' }, t))) },
        { label: 'Password', render: (u) => (u.password_hash ? 'set' : h('span', { class: 'badge warn' }, 'none')) },
        { label: 'Virtual hosts', render: (u) => u.vhosts.join(', ') || h('span', { class: 'muted' }, 'no access') },
        {
          label: '',
          render: (u) =>
            h(
              'span',
              { class: 'row' },
              h('button', { type: 'button', class: 'btn small', 'aria-label': `Edit user ${u.name}`, onclick: () => editor.edit(u) }, 'Edit'),
              deleteButton(`Delete user ${u.name}`, `Delete user '${u.name}' and its permissions? Its open connections are closed.`, `users/${seg(u.name)}`, () => app.refresh()),
            ),
        },
      ],
    })
    root.append(
      h('section', { class: 'panel', 'aria-label': 'Users' }, table.el),
      h('details', { class: 'panel', id: 'add-user', open: true }, h('summary', {}, 'Add or update a user'), editor.form),
    )
    await app.poll(async () => {
      const [users, perms] = await Promise.all([get('users'), get('permissions')])
      for (const u of users) {
        u.tags = Array.isArray(u.tags) ? u.tags : splitTags(u.tags ?? '')
        u.vhosts = perms.filter((p) => p.user === u.name).map((p) => p.vhost)
      }
      known.clear()
      for (const u of users) known.set(u.name, u)
      table.update(users)
    })
  },
}
