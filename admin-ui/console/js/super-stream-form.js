/**
 * The "Add a new super stream" form of the Queues page: PUT /api/super-streams/{vhost}/{name} with
 * the number of partitions and optional stream arguments (x-max-age, x-max-length-bytes). Creates
 * the x-consistent-hash exchange and the partition streams <name>-0 … <name>-(N-1).
 */
import { put, seg } from './api.js'
import { argsEditor } from './args.js'
import { h, utf8Length } from './dom.js'
import { formRow, invalid, resetValidity, submitForm } from './widgets.js'

const STREAM_ARGUMENTS = [
  { key: 'x-max-age', label: 'Max age', type: 'string', hint: 'messages older than this go (30s, 15m, 1h, 7D)' },
  { key: 'x-max-length-bytes', label: 'Max length bytes', type: 'number', hint: 'bytes kept at most per partition' },
  { key: 'x-stream-max-segment-size-bytes', label: 'Segment size bytes', type: 'number', hint: 'default 500 MB' },
]

export function superStreamForm(app, onCreated) {
  const vhost = h('select', { name: 'vhost' }, app.vhosts.map((v) => h('option', { value: v, selected: v === app.oneVhost }, v)))
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })
  const partitions = h('input', { type: 'number', name: 'partitions', min: '1', max: '1000', value: '3', required: true })
  const args = argsEditor({ name: 'Arguments', helpers: STREAM_ARGUMENTS })
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add super stream')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add a new super stream', novalidate: true },
    app.vhosts.length > 1 ? formRow('Virtual host', vhost) : null,
    formRow('Name', name, 'an x-consistent-hash exchange of this name routes to the partition streams <name>-0, <name>-1, …'),
    formRow('Partitions', partitions),
    formRow('Arguments', args.el, 'of every partition stream'),
    h('div', { class: 'actions' }, submit),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a name for the super stream.')
    if (utf8Length(n) > 250) return invalid(name, 'The name is too long for its partition names (255 bytes).')
    const count = Number(partitions.value)
    if (!Number.isInteger(count) || count < 1 || count > 1000) return invalid(partitions, 'Partitions must be a whole number from 1 to 1000.')
    const a = args.read()
    if (a.error) return invalid(a.input, a.error)
    const v = app.vhosts.length > 1 ? vhost.value : app.oneVhost
    const body = { partitions: count, arguments: a.value }
    submitForm(form, submit, () => put(`super-streams/${seg(v)}/${seg(n)}`, body), `Super stream '${n}' added with ${count} partitions.`, () => {
      name.value = ''
      args.set({})
      onCreated()
    })
  })
  return form
}
