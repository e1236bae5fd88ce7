/**
 * The arguments / headers editor: rows of key, value and type (string, number, boolean, list or
 * table as JSON), with one-click helpers for the common queue arguments.
 */
import { h } from './dom.js'

/** RabbitMQ's common queue arguments, as the console's helpers offer them. */
export const QUEUE_ARGUMENTS = [
  { key: 'x-message-ttl', label: 'Message TTL', type: 'number', hint: 'ms a message may stay in the queue' },
  { key: 'x-expires', label: 'Auto expire', type: 'number', hint: 'ms unused before the queue is deleted' },
  { key: 'x-max-length', label: 'Max length', type: 'number', hint: 'ready messages kept at most' },
  { key: 'x-max-length-bytes', label: 'Max length bytes', type: 'number', hint: 'total body bytes kept at most' },
  { key: 'x-overflow', label: 'Overflow behaviour', type: 'string', options: ['drop-head', 'reject-publish', 'reject-publish-dlx'], hint: 'what happens at the length limit' },
  { key: 'x-dead-letter-exchange', label: 'Dead letter exchange', type: 'string', hint: 'exchange that receives rejected, expired and dropped messages' },
  { key: 'x-dead-letter-routing-key', label: 'Dead letter routing key', type: 'string', hint: "routing key for dead letters (default: the message's own)" },
  { key: 'x-delivery-limit', label: 'Delivery limit', type: 'number', hint: 'redeliveries before the message is dead-lettered' },
  { key: 'x-max-priority', label: 'Maximum priority', type: 'number', hint: '1–255: makes a priority queue' },
  { key: 'x-single-active-consumer', label: 'Single active consumer', type: 'boolean', hint: 'only one consumer receives at a time' },
]

const TYPES = [
  ['string', 'String'],
  ['number', 'Number'],
  ['boolean', 'Boolean'],
  ['json', 'List / table (JSON)'],
]

function typeOf(v) {
  if (typeof v === 'number') return 'number'
  if (typeof v === 'boolean') return 'boolean'
  if (v !== null && typeof v === 'object') return 'json'
  return 'string'
}

let uid = 0

/**
 * Creates an editor. `helpers`: entries like QUEUE_ARGUMENTS offered as links that add a row.
 * Returns {el, read(), set(obj), add(key, type, value)}; read() → {value} or {error, input}.
 */
export function argsEditor({ helpers = [], name = 'Arguments', keyPlaceholder = 'key' } = {}) {
  const rows = h('div', { class: 'args', role: 'group', 'aria-label': name })
  const listId = `arg-options-${++uid}`
  const datalist = h('datalist', { id: listId })

  function row(key = '', type = 'string', value = '') {
    const k = h('input', { type: 'text', placeholder: keyPlaceholder, 'aria-label': `${name}: key`, value: key })
    const v = h('input', { type: 'text', placeholder: 'value', 'aria-label': `${name}: value`, value: typeof value === 'object' ? JSON.stringify(value) : String(value) })
    const t = h('select', { 'aria-label': `${name}: type` }, TYPES.map(([id, label]) => h('option', { value: id, selected: id === type }, label)))
    const helper = helpers.find((x) => x.key === key)
    if (helper?.options) {
      datalist.replaceChildren(...helper.options.map((o) => h('option', { value: o })))
      v.setAttribute('list', listId)
    }
    if (helper?.hint) v.title = helper.hint
    const remove = h('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${name.toLowerCase()} row`, title: 'Remove' }, '×')
    const cells = [k, v, t, remove]
    remove.addEventListener('click', () => {
      for (const c of cells) c.remove()
      ensureBlank()
    })
    k.addEventListener('input', ensureBlank)
    v.addEventListener('input', ensureBlank)
    rows.append(...cells)
    return { k, v, t }
  }

  function entries() {
    const inputs = [...rows.querySelectorAll('input, select')]
    const out = []
    for (let i = 0; i < inputs.length; i += 3) out.push({ k: inputs[i], v: inputs[i + 1], t: inputs[i + 2] })
    return out
  }

  function ensureBlank() {
    const all = entries()
    const last = all[all.length - 1]
    if (last === undefined || last.k.value !== '' || last.v.value !== '') row()
  }

  function add(key, type, value = '') {
    const existing = entries().find((e) => e.k.value === key)
    if (existing) {
      existing.v.focus()
      return
    }
    const blank = entries().find((e) => e.k.value === '' && e.v.value === '')
    if (blank) for (const c of [blank.k, blank.v, blank.t]) c.remove()
    const r = row(key, type, value)
    ensureBlank()
    r.v.focus()
  }

  function set(obj) {
    rows.replaceChildren()
    for (const [k, v] of Object.entries(obj ?? {})) row(k, typeOf(v), v)
    ensureBlank()
  }

  function read() {
    const value = {}
    for (const { k, v, t } of entries()) {
      const key = k.value.trim()
      if (key === '' && v.value.trim() === '') continue
      if (key === '') return { error: `${name}: a value without a key`, input: k }
      if (Object.hasOwn(value, key)) return { error: `${name}: '${key}' is given twice`, input: k }
      const raw = v.value.trim()
      switch (t.value) {
        case 'number': {
          const n = Number(raw)
          if (raw === '' || !Number.isFinite(n)) return { error: `${name}: '${key}' must be a number`, input: v }
          value[key] = n
          break
        }
        case 'boolean':
          if (!/^(true|false)$/i.test(raw)) return { error: `${name}: '${key}' must be true or false`, input: v }
          value[key] = raw.toLowerCase() === 'true'
          break
        case 'json':
          try {
            value[key] = JSON.parse(raw)
          } catch {
            return { error: `${name}: '${key}' is not valid JSON`, input: v }
          }
          break
        default:
          value[key] = v.value
      }
    }
    return { value }
  }

  ensureBlank()
  const helperLinks =
    helpers.length === 0
      ? null
      : h(
          'div',
          { class: 'arg-helpers' },
          h('span', {}, 'Add:'),
          helpers.map((x) =>
            h('button', { type: 'button', class: 'link-btn', title: `${x.key}: ${x.hint ?? ''}`, onclick: () => add(x.key, x.type, x.type === 'boolean' ? 'true' : '') }, x.label),
          ),
        )
  return { el: h('div', {}, rows, datalist, helperLinks), read, set, add }
}
