/**
 * Binding lists with "Unbind" buttons and the "Add binding" forms of the exchange and queue pages
 * (RabbitMQ's /api/bindings/{vhost}/e/{source}/{q|e}/{destination}[/{properties_key}]).
 */
import { del, get, post, seg } from './api.js'
import { argsEditor } from './args.js'
import { h, href, exchangeLabel, exchangeUrlName, utf8Length } from './dom.js'
import { argBadges, busy, confirmDialog, dataTable, formRow, invalid, resetValidity, submitForm, toast } from './widgets.js'

function bindingUrl(vhost, b) {
  const kind = b.destination_type === 'exchange' ? 'e' : 'q'
  return `bindings/${seg(vhost)}/e/${seg(b.source)}/${kind}/${seg(b.destination)}/${seg(b.properties_key)}`
}

function endLink(vhost, type, name) {
  if (type === 'exchange') return h('a', { href: href('exchanges', vhost, exchangeUrlName(name)), class: 'name' }, exchangeLabel(name))
  return h('a', { href: href('queues', vhost, name), class: 'name' }, name)
}

/**
 * A bindings table. `side`: 'source' lists where bindings lead (exchange page, outgoing), 'destination'
 * where they come from. `onChange` reloads after an unbind.
 */
export function bindingsTable({ vhost, side, onChange }) {
  const table = dataTable({
    rowKey: (b) => `${b.source}\u0000${b.destination_type}\u0000${b.destination}\u0000${b.properties_key}`,
    empty: 'No bindings.',
    columns: [
      side === 'source'
        ? { label: 'To', render: (b) => [endLink(vhost, b.destination_type, b.destination), ' ', h('span', { class: 'badge' }, b.destination_type)] }
        : { label: 'From', render: (b) => (b.source === '' ? h('span', { class: 'muted' }, '(Default exchange binding)') : endLink(vhost, 'exchange', b.source)) },
      { label: 'Routing key', render: (b) => h('code', {}, b.routing_key === '' ? '(empty)' : b.routing_key) },
      { label: 'Arguments', render: (b) => argBadges(b.arguments) },
      {
        label: '',
        render: (b) =>
          b.source === ''
            ? null
            : h('button', {
                type: 'button',
                class: 'btn small danger',
                'aria-label': `Unbind ${b.source} → ${b.destination} (${b.routing_key})`,
                onclick: async (e) => {
                  const button = e.currentTarget
                  const ok = await confirmDialog({
                    title: 'Remove binding?',
                    message: `Unbind ${b.destination_type} '${b.destination}' from exchange '${b.source}' (routing key '${b.routing_key}')?`,
                    confirmLabel: 'Unbind',
                  })
                  if (!ok) return
                  await busy(button, async () => {
                    try {
                      await del(bindingUrl(vhost, b))
                      toast('Binding removed')
                      onChange()
                    } catch (err) {
                      toast(err.message, 'error')
                    }
                  })
                },
              }, 'Unbind'),
      },
    ],
  })
  return table
}

/** Names for a datalist: up to 500 queues or exchanges of a vhost. */
export async function nameOptions(vhost, kind) {
  try {
    const r = await get(`${kind}/${seg(vhost)}?page=1&page_size=500&pagination=true&columns=name`)
    const items = Array.isArray(r) ? r : r.items
    return items.map((i) => i.name).filter((n) => n !== '')
  } catch {
    return []
  }
}

/**
 * "Add binding" form. On the exchange page (`source` fixed) the destination type and name are asked;
 * on the queue page (`queue` fixed) the source exchange is asked.
 */
export function addBindingForm({ vhost, source, queue, onAdded }) {
  const listId = `bind-names-${Math.random().toString(36).slice(2, 8)}`
  const datalist = h('datalist', { id: listId })
  const destType = h('select', { name: 'destination_type' }, h('option', { value: 'q' }, 'Queue'), h('option', { value: 'e' }, 'Exchange'))
  const name = h('input', { type: 'text', name: source !== undefined ? 'destination' : 'source', list: listId, autocomplete: 'off', required: true })
  const rk = h('input', { type: 'text', name: 'routing_key' })
  const args = argsEditor({ name: 'Binding arguments' })
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Bind')
  const fill = async () => {
    const kind = source === undefined || destType.value === 'e' ? 'exchanges' : 'queues'
    const names = await nameOptions(vhost, kind)
    datalist.replaceChildren(...names.map((n) => h('option', { value: n })))
  }
  destType.addEventListener('change', fill)
  fill()
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add binding', novalidate: true },
    source !== undefined ? formRow('To', destType) : null,
    formRow(source !== undefined ? 'Destination name' : 'From exchange', name),
    formRow('Routing key', rk),
    formRow('Arguments', args.el),
    h('div', { class: 'actions' }, submit),
    datalist,
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const target = name.value.trim()
    if (target === '') return invalid(name, source !== undefined ? 'Enter the name of the queue or exchange to bind.' : 'Enter the exchange to bind from.')
    if (utf8Length(rk.value) > 255) return invalid(rk, 'The routing key is longer than 255 bytes.')
    const a = args.read()
    if (a.error) return invalid(a.input, a.error)
    const path =
      source !== undefined
        ? `bindings/${seg(vhost)}/e/${seg(source)}/${destType.value}/${seg(target)}`
        : `bindings/${seg(vhost)}/e/${seg(target)}/q/${seg(queue)}`
    submitForm(form, submit, () => post(path, { routing_key: rk.value, arguments: a.value }), 'Binding added.', () => {
      name.value = ''
      rk.value = ''
      args.set({})
      onAdded()
    })
  })
  return form
}
