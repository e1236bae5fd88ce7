/**
 * Queues: the list (regex filter, sort, server-side paging, ready / unacked / total, consumers,
 * rates; partitions of a super stream carry a P<i> badge), the "Add a new queue" form with helpers
 * for the common x-arguments, and the "Add a new super stream" form.
 */
import { getPage, put, seg } from '../api.js'
import { QUEUE_ARGUMENTS, argsEditor } from '../args.js'
import { h, href, replace, fmtNum, fmtRate, rateOf, utf8Length } from '../dom.js'
import { superStreamForm } from '../super-stream-form.js'
import { dataTable, filterBox, formRow, invalid, pager, resetValidity, submitForm, yesNo } from '../widgets.js'

const SHORT = {
  'x-message-ttl': 'TTL',
  'x-expires': 'Exp',
  'x-max-length': 'Lim',
  'x-max-length-bytes': 'Lim B',
  'x-overflow': 'Ovfl',
  'x-dead-letter-exchange': 'DLX',
  'x-dead-letter-routing-key': 'DLK',
  'x-delivery-limit': 'DL',
  'x-max-priority': 'Pri',
  'x-single-active-consumer': 'SAC',
}

/** D, AD, Excl, short argument badges and the policies that apply, as RabbitMQ's "Features" column. */
export function queueFeatures(q) {
  const args = q.arguments ?? {}
  return [
    q.durable ? h('span', { class: 'badge', title: 'durable' }, 'D') : null,
    q.auto_delete ? h('span', { class: 'badge', title: 'auto-delete' }, 'AD') : null,
    q.exclusive ? h('span', { class: 'badge', title: 'exclusive' }, 'Excl') : null,
    q.policy ? h('span', { class: 'badge policy', title: `Policy: ${q.policy}` }, q.policy) : null,
    q.operator_policy ? h('span', { class: 'badge policy', title: `Operator policy: ${q.operator_policy}` }, q.operator_policy) : null,
    q.super_stream !== undefined ? h('span', { class: 'badge accent', title: `partition ${q.partition} of super stream ${q.super_stream}` }, `P${q.partition}`) : null,
    ...Object.keys(args)
      .filter((k) => k !== 'x-queue-type')
      .map((k) => h('span', { class: `badge ${k.startsWith('x-dead-letter') ? 'danger' : 'accent'}`, title: `${k}: ${JSON.stringify(args[k])}` }, SHORT[k] ?? k)),
  ]
}

function stateBadge(q) {
  const st = q.state ?? 'running'
  return h('span', { class: `badge ${st === 'running' ? 'ok' : 'warn'}` }, q.consumers > 0 || st !== 'running' ? st : 'idle')
}

function createForm(app, onCreated) {
  const vhost = h('select', { name: 'vhost' }, app.vhosts.map((v) => h('option', { value: v, selected: v === app.oneVhost }, v)))
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })
  const durable = yesNo(true, 'durable')
  const autoDelete = yesNo(false, 'auto_delete')
  const args = argsEditor({ name: 'Arguments', helpers: QUEUE_ARGUMENTS })
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add queue')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add a new queue', novalidate: true },
    app.vhosts.length > 1 ? formRow('Virtual host', vhost) : null,
    formRow('Name', name),
    formRow('Durable', durable),
    formRow('Auto delete', autoDelete, 'deleted when its last consumer goes'),
    formRow('Arguments', args.el),
    h('div', { class: 'actions' }, submit),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a name for the queue.')
    if (utf8Length(n) > 255) return invalid(name, 'The name is longer than 255 bytes.')
    const a = args.read()
    if (a.error) return invalid(a.input, a.error)
    for (const [k, v] of Object.entries(a.value)) {
      const helper = QUEUE_ARGUMENTS.find((x) => x.key === k)
      if (helper?.type === 'number' && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
        return invalid(args.el.querySelector('input'), `${helper.label} (${k}) must be a whole number ≥ 0.`)
      }
    }
    const v = app.vhosts.length > 1 ? vhost.value : app.oneVhost
    const body = { durable: durable.value === 'true', auto_delete: autoDelete.value === 'true', arguments: a.value }
    submitForm(form, submit, () => put(`queues/${seg(v)}/${seg(n)}`, body), `Queue '${n}' added.`, () => {
      name.value = ''
      args.set({})
      onCreated()
    })
  })
  return form
}

export default {
  title: 'Queues',
  async render(root, _params, app) {
    const all = app.vhost === ''
    const filter = filterBox(() => ((pg.state.page = 1), app.refresh()), 'Filter by name')
    const pg = pager(() => app.refresh())
    const table = dataTable({
      rowKey: (q) => `${q.vhost}\u0000${q.name}`,
      empty: 'No queues match.',
      sort: { key: 'name' },
      onSort: () => app.refresh(),
      columns: [
        all ? { label: 'Virtual host', sort: 'vhost', render: (q) => q.vhost } : null,
        { label: 'Name', sort: 'name', render: (q) => h('a', { class: 'name', href: href('queues', q.vhost, q.name) }, q.name) },
        // in a cluster, the node each queue lives on (its leader), as RabbitMQ's console shows it
        app.nodes.length > 1 ? { label: 'Node', sort: 'node', render: (q) => q.node ?? '' } : null,
        { label: 'Features', render: queueFeatures },
        { label: 'State', sort: 'state', render: stateBadge },
        { label: 'Ready', num: true, sort: 'messages_ready', render: (q) => fmtNum(q.messages_ready ?? 0) },
        { label: 'Unacked', num: true, sort: 'messages_unacknowledged', render: (q) => fmtNum(q.messages_unacknowledged ?? 0) },
        { label: 'Total', num: true, sort: 'messages', render: (q) => fmtNum(q.messages ?? 0) },
        { label: 'Consumers', num: true, sort: 'consumers', render: (q) => fmtNum(q.consumers ?? 0) },
        { label: 'Incoming', num: true, sort: 'message_stats.publish_details.rate', render: (q) => fmtRate(rateOf(q.message_stats, 'publish')) },
        { label: 'Deliver / get', num: true, sort: 'message_stats.deliver_get_details.rate', render: (q) => fmtRate(rateOf(q.message_stats, 'deliver_get')) },
        { label: 'Ack', num: true, sort: 'message_stats.ack_details.rate', render: (q) => fmtRate(rateOf(q.message_stats, 'ack')) },
      ].filter(Boolean),
    })
    async function load() {
      const r = await getPage(all ? 'queues' : `queues/${seg(app.vhost)}`, {
        page: pg.state.page,
        pageSize: pg.state.pageSize,
        name: filter.value,
        regex: filter.regex,
        sort: table.state.sort,
        reverse: table.state.reverse,
      })
      table.update(r.items)
      pg.update(r)
    }
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Queues'), h('span', { class: 'muted' }, all ? 'all virtual hosts' : `virtual host ${app.vhost}`)),
      h('section', { class: 'panel', 'aria-label': 'Queues' }, h('div', { class: 'toolbar' }, filter.el), table.el, pg.el),
      h('details', { class: 'panel', id: 'add-queue' }, h('summary', {}, 'Add a new queue'), createForm(app, () => app.refresh())),
      h('details', { class: 'panel', id: 'add-super-stream' }, h('summary', {}, 'Add a new super stream'), superStreamForm(app, () => app.refresh())),
    )
    await app.poll(load)
  },
}
