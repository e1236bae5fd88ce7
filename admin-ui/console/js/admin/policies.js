/**
 * Admin › Policies and operator policies (PUT/DELETE /api/policies/{v}/{name} and
 * /api/operator-policies/{v}/{name}, body {pattern, definition, priority, apply-to}), with a live
 * preview: as the pattern is typed, the queues and exchanges of the vhost it would match (for the
 * chosen apply-to) are listed. The broker matches with RE2; the preview uses a JavaScript RegExp,
 * which agrees for ordinary patterns (anchors, classes, alternation, repetition).
 */
import { get, put, seg } from '../api.js'
import { argsEditor } from '../args.js'
import { h, replace, fmtValue, utf8Length } from '../dom.js'
import { dataTable, formRow, invalid, resetValidity } from '../widgets.js'
import { deleteButton, nameSelect, optionalList, regexError, submit, unavailable } from './common.js'

/** Common policy keys (RabbitMQ's policy definition names, without the x- of queue arguments). */
const POLICY_KEYS = [
  { key: 'message-ttl', label: 'Message TTL', type: 'number' },
  { key: 'expires', label: 'Auto expire', type: 'number' },
  { key: 'max-length', label: 'Max length', type: 'number' },
  { key: 'max-length-bytes', label: 'Max length bytes', type: 'number' },
  { key: 'overflow', label: 'Overflow', type: 'string', options: ['drop-head', 'reject-publish', 'reject-publish-dlx'] },
  { key: 'dead-letter-exchange', label: 'Dead letter exchange', type: 'string' },
  { key: 'dead-letter-routing-key', label: 'Dead letter routing key', type: 'string' },
  { key: 'delivery-limit', label: 'Delivery limit', type: 'number' },
  { key: 'alternate-exchange', label: 'Alternate exchange', type: 'string' },
]
const OPERATOR_KEYS = POLICY_KEYS.filter((k) => ['message-ttl', 'expires', 'max-length', 'max-length-bytes', 'delivery-limit'].includes(k.key))

/** Which objects a policy with this apply-to may match (queue type from /api/queues). */
function applies(applyTo, kind, type) {
  if (applyTo === 'all') return true
  if (applyTo === 'exchanges') return kind === 'exchange'
  if (kind !== 'queue') return false
  if (applyTo === 'queues') return true
  return { classic_queues: 'classic', quorum_queues: 'quorum', streams: 'stream' }[applyTo] === (type ?? 'classic')
}

/** The live preview under the pattern field: objects of the vhost the pattern matches. */
function patternPreview(vhostSelect, patternInput, applyToSelect) {
  const box = h('div', { class: 'preview', role: 'status', 'aria-live': 'polite' })
  const cache = new Map()
  async function objects(vhost) {
    if (!cache.has(vhost)) {
      const [qs, xs] = await Promise.all([get(`queues/${seg(vhost)}?columns=name,type`), get(`exchanges/${seg(vhost)}?columns=name`)])
      cache.set(vhost, [...qs.map((q) => ({ kind: 'queue', name: q.name, type: q.type })), ...xs.filter((x) => x.name !== '').map((x) => ({ kind: 'exchange', name: x.name }))])
    }
    return cache.get(vhost)
  }
  let seq = 0
  async function update() {
    const mine = ++seq
    const pattern = patternInput.value
    if (pattern === '') return replace(box, h('span', { class: 'muted' }, 'Type a pattern to see what it matches.'))
    let re
    try {
      re = new RegExp(pattern)
    } catch {
      return replace(box, h('span', { class: 'field-error' }, 'Not a valid regular expression.'))
    }
    let list
    try {
      list = await objects(vhostSelect.value)
    } catch (err) {
      return replace(box, h('span', { class: 'field-error' }, `Cannot list objects: ${err.message}`))
    }
    if (mine !== seq) return
    const hits = list.filter((o) => applies(applyToSelect.value, o.kind, o.type) && re.test(o.name))
    replace(
      box,
      h('strong', {}, hits.length === 0 ? 'Matches nothing yet' : `Matches ${hits.length} object${hits.length === 1 ? '' : 's'}`),
      h('span', { class: 'muted' }, ` in ${vhostSelect.value}`),
      hits.length > 0 ? h('ul', {}, hits.slice(0, 200).map((o) => h('li', { dataset: { kind: o.kind } }, h('span', { class: 'badge' }, o.kind), o.name))) : null,
    )
  }
  patternInput.addEventListener('input', update)
  applyToSelect.addEventListener('change', update)
  vhostSelect.addEventListener('change', update)
  return { el: box, update, forget: () => cache.clear() }
}

function policyForm(kind, vhosts, app) {
  const operator = kind === 'operator-policies'
  const vhost = nameSelect('policy-vhost', vhosts, app.oneVhost)
  const name = h('input', { type: 'text', name: 'policy-name', autocomplete: 'off' })
  const pattern = h('input', { type: 'text', name: 'pattern', autocomplete: 'off', class: 'mono', placeholder: '^orders\\.' })
  const applyTo = h('select', { name: 'apply-to' }, (operator ? ['queues', 'classic_queues', 'quorum_queues'] : ['all', 'queues', 'exchanges', 'classic_queues', 'quorum_queues', 'streams']).map((a) => h('option', { value: a }, a.replace('_', ' '))))
  const priority = h('input', { type: 'number', name: 'priority', value: '0', step: '1' })
  const definition = argsEditor({ helpers: operator ? OPERATOR_KEYS : POLICY_KEYS, name: 'Definition' })
  const preview = patternPreview(vhost, pattern, applyTo)
  const button = h('button', { type: 'submit', class: 'btn primary' }, operator ? 'Add operator policy' : 'Add policy')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': operator ? 'Add an operator policy' : 'Add a policy', novalidate: true },
    formRow('Virtual host', vhost),
    formRow('Name', name),
    formRow('Pattern', h('div', {}, pattern, preview.el), 'a regular expression matched against queue and exchange names'),
    formRow('Apply to', applyTo),
    formRow('Priority', priority, 'the highest-priority matching policy applies'),
    formRow('Definition', definition.el),
    h('div', { class: 'actions' }, button),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a name for the policy.')
    if (utf8Length(n) > 255) return invalid(name, 'The name is longer than 255 bytes.')
    if (pattern.value === '') return invalid(pattern, 'Enter a pattern (^ matches every name).')
    const re = regexError(pattern.value)
    if (re !== null) return invalid(pattern, `Pattern: ${re}.`)
    if (!/^-?\d+$/.test(priority.value)) return invalid(priority, 'The priority is a whole number.')
    const d = definition.read()
    if (d.error) return invalid(d.input, d.error)
    if (Object.keys(d.value).length === 0) return invalid(form.querySelector('.args input') ?? name, 'Add at least one definition key.')
    const body = { pattern: pattern.value, 'apply-to': applyTo.value, priority: Number(priority.value), definition: d.value }
    submit(form, button, () => put(`${kind}/${seg(vhost.value)}/${seg(n)}`, body), `${operator ? 'Operator policy' : 'Policy'} '${n}' saved.`, () => app.refresh())
  })
  return { form, preview }
}

function policyPanel(kind, title, vhosts, app) {
  const table = dataTable({
    rowKey: (p) => `${p.vhost}\u0000${p.name}`,
    empty: `No ${title.toLowerCase()}.`,
    columns: [
      { label: 'Virtual host', render: (p) => p.vhost },
      { label: 'Name', render: (p) => h('span', { class: 'name' }, p.name) },
      { label: 'Pattern', render: (p) => h('code', {}, p.pattern) },
      { label: 'Apply to', render: (p) => p['apply-to'] },
      { label: 'Definition', render: (p) => Object.entries(p.definition ?? {}).map(([k, v]) => h('span', { class: 'badge' }, `${k}: ${fmtValue(v)}`)) },
      { label: 'Priority', num: true, render: (p) => String(p.priority) },
      { label: '', render: (p) => deleteButton(`Delete ${kind === 'policies' ? 'policy' : 'operator policy'} ${p.name}`, `Delete '${p.name}' in '${p.vhost}'?`, `${kind}/${seg(p.vhost)}/${seg(p.name)}`, () => app.refresh()) },
    ],
  })
  const { form, preview } = policyForm(kind, vhosts, app)
  const body = h('div', {}, table.el, h('h3', {}, `Add or update ${kind === 'policies' ? 'a policy' : 'an operator policy'}`), form)
  const id = kind === 'policies' ? 'policies' : 'operator-policies'
  const el = h('section', { class: 'panel', id, 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, title), body)
  async function update() {
    const list = await optionalList(kind)
    if (list === null) return replace(body, unavailable(`${title} are`, kind))
    table.update(list)
    preview.forget()
  }
  return { el, update }
}

export default {
  title: 'Policies',
  async render(root, app) {
    const vhosts = (await get('vhosts?columns=name')).map((v) => v.name).sort()
    const policies = policyPanel('policies', 'Policies', vhosts, app)
    const operator = policyPanel('operator-policies', 'Operator policies', vhosts, app)
    root.append(policies.el, operator.el)
    await app.poll(policies.update)
    await app.poll(operator.update)
  },
}
