/**
 * Exchanges: the list (filter, sort, server-side paging, rates) and the "Add a new exchange" form
 * with every option, alternate-exchange included.
 */
import { get, getPage, put, seg } from '../api.js'
import { argsEditor } from '../args.js'
import { h, href, replace, exchangeLabel, exchangeUrlName, fmtRate, rateOf, utf8Length } from '../dom.js'
import { dataTable, filterBox, formRow, invalid, pager, resetValidity, submitForm, yesNo } from '../widgets.js'

/** D, AD, I and argument badges, as RabbitMQ's "Features" column. */
export function exchangeFeatures(x) {
  return [
    x.durable ? h('span', { class: 'badge', title: 'durable' }, 'D') : null,
    x.auto_delete ? h('span', { class: 'badge', title: 'auto-delete' }, 'AD') : null,
    x.internal ? h('span', { class: 'badge', title: 'internal' }, 'I') : null,
    x.arguments?.['alternate-exchange'] !== undefined
      ? h('span', { class: 'badge accent', title: `alternate-exchange: ${x.arguments['alternate-exchange']}` }, `AE: ${x.arguments['alternate-exchange']}`)
      : null,
    ...Object.keys(x.arguments ?? {})
      .filter((k) => k !== 'alternate-exchange')
      .map((k) => h('span', { class: 'badge', title: `${k}: ${JSON.stringify(x.arguments[k])}` }, k)),
  ]
}

function createForm(app, onCreated, types) {
  const vhost = h('select', { name: 'vhost' }, app.vhosts.map((v) => h('option', { value: v, selected: v === app.oneVhost }, v)))
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })
  const type = h('select', { name: 'type' }, types.map((t) => h('option', { value: t }, t)))
  const durable = yesNo(true, 'durable')
  const autoDelete = yesNo(false, 'auto_delete')
  const internal = yesNo(false, 'internal')
  const ae = h('input', { type: 'text', name: 'alternate-exchange', list: 'exchange-names', autocomplete: 'off' })
  const args = argsEditor({ name: 'Arguments' })
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add exchange')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Add a new exchange', novalidate: true },
    app.vhosts.length > 1 ? formRow('Virtual host', vhost) : null,
    formRow('Name', name),
    formRow('Type', type),
    formRow('Durable', durable),
    formRow('Auto delete', autoDelete, 'deleted when its last binding is removed'),
    formRow('Internal', internal, 'clients cannot publish to it; only exchange-to-exchange bindings feed it'),
    formRow('Alternate exchange', ae, 'where messages go that match no binding'),
    formRow('Arguments', args.el),
    h('div', { class: 'actions' }, submit),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = name.value.trim()
    if (n === '') return invalid(name, 'Enter a name for the exchange.')
    if (utf8Length(n) > 255) return invalid(name, 'The name is longer than 255 bytes.')
    const a = args.read()
    if (a.error) return invalid(a.input, a.error)
    if (ae.value.trim() !== '') a.value['alternate-exchange'] = ae.value.trim()
    const v = app.vhosts.length > 1 ? vhost.value : app.oneVhost
    const body = { type: type.value, durable: durable.value === 'true', auto_delete: autoDelete.value === 'true', internal: internal.value === 'true', arguments: a.value }
    submitForm(form, submit, () => put(`exchanges/${seg(v)}/${seg(n)}`, body), `Exchange '${n}' added.`, () => {
      name.value = ''
      ae.value = ''
      args.set({})
      onCreated()
    })
  })
  return form
}

export default {
  title: 'Exchanges',
  async render(root, _params, app) {
    const all = app.vhost === ''
    const filter = filterBox(() => ((pg.state.page = 1), app.refresh()))
    const pg = pager(() => app.refresh())
    const table = dataTable({
      rowKey: (x) => `${x.vhost}\u0000${x.name}`,
      empty: 'No exchanges match.',
      sort: { key: 'name' },
      onSort: () => app.refresh(),
      columns: [
        all ? { label: 'Virtual host', sort: 'vhost', render: (x) => x.vhost } : null,
        { label: 'Name', sort: 'name', render: (x) => h('a', { class: 'name', href: href('exchanges', x.vhost, exchangeUrlName(x.name)) }, exchangeLabel(x.name)) },
        { label: 'Type', sort: 'type', render: (x) => x.type },
        { label: 'Features', render: exchangeFeatures },
        { label: 'Message rate in', num: true, sort: 'message_stats.publish_in_details.rate', render: (x) => fmtRate(rateOf(x.message_stats, 'publish_in')) },
        { label: 'Message rate out', num: true, sort: 'message_stats.publish_out_details.rate', render: (x) => fmtRate(rateOf(x.message_stats, 'publish_out')) },
      ].filter(Boolean),
    })
    async function load() {
      const path = all ? 'exchanges' : `exchanges/${seg(app.vhost)}`
      const r = await getPage(path, {
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
    let types = ['direct', 'fanout', 'headers', 'topic', 'x-consistent-hash', 'x-message-deduplication']
    try {
      const o = await get('overview?columns=exchange_types')
      if (Array.isArray(o.exchange_types) && o.exchange_types.length > 0) types = o.exchange_types.map((t) => t.name)
    } catch {
      // the built-in types
    }
    const names = h('datalist', { id: 'exchange-names' })
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Exchanges'), h('span', { class: 'muted' }, all ? 'all virtual hosts' : `virtual host ${app.vhost}`)),
      h('section', { class: 'panel', 'aria-label': 'Exchanges' }, h('div', { class: 'toolbar' }, filter.el), table.el, pg.el),
      h('details', { class: 'panel', id: 'add-exchange' }, h('summary', {}, 'Add a new exchange'), createForm(app, () => app.refresh(), types)),
      names,
    )
    get(`exchanges/${seg(app.oneVhost)}?columns=name`)
      .then((list) => names.replaceChildren(...list.filter((x) => x.name !== '').map((x) => h('option', { value: x.name }))))
      .catch(() => {})
    await app.poll(load)
  },
}
