/**
 * Route tester: an exchange, a routing key and headers in; the queues the message would reach and
 * the bindings it would take out (POST /api/route-test/{vhost}/{exchange}); nothing is published.
 */
import { get, post, seg } from '../api.js'
import { argsEditor } from '../args.js'
import { h, href, replace, exchangeLabel, exchangeUrlName, fmtValue, utf8Length } from '../dom.js'
import { busy, formMessage, formRow, invalid, resetValidity } from '../widgets.js'

function nodeLink(vhost, kind, name) {
  const target = kind === 'exchange' ? href('exchanges', vhost, exchangeUrlName(name)) : href('queues', vhost, name)
  return h('a', { class: `node ${kind}`, href: target }, kind === 'exchange' ? exchangeLabel(name) : name)
}

function hopLabel(hop) {
  if (hop.via === 'alternate-exchange') return h('span', { class: 'arrow ae' }, '— alternate exchange →')
  if (hop.via === 'default') return h('span', { class: 'arrow' }, '— default binding ', h('code', {}, hop.routing_key), ' →')
  const args = Object.entries(hop.arguments ?? {})
  return h(
    'span',
    { class: 'arrow' },
    '— ',
    h('code', {}, hop.routing_key === '' ? '(empty key)' : hop.routing_key),
    args.length > 0 ? h('span', { class: 'small' }, ` ${args.map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ')}`) : null,
    ' →',
  )
}

function chain(vhost, start, path) {
  const parts = [nodeLink(vhost, 'exchange', start)]
  for (const hop of path) parts.push(hopLabel(hop), nodeLink(vhost, hop.destination_type, hop.destination))
  return h('div', { class: 'chain' }, parts)
}

function resultView(r) {
  const n = r.queues.length
  const banner = h(
    'div',
    { class: `result-banner ${n > 0 ? 'ok' : 'none'}`, role: 'status' },
    n > 0 ? `Routed to ${n} queue${n === 1 ? '' : 's'}` : 'Unroutable: the message would reach no queue (dropped, or returned if published as mandatory)',
  )
  const steps = h(
    'table',
    { class: 'inner' },
    h('thead', {}, h('tr', {}, ['Exchange', 'Type', 'Entered by', 'Bindings matched', 'Then'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      r.exchanges.map((x) =>
        h(
          'tr',
          {},
          h('td', {}, exchangeLabel(x.name)),
          h('td', {}, x.type),
          h('td', {}, x.entered_by),
          h('td', { class: 'num' }, String(x.matched)),
          h('td', {}, x.alternate_exchange !== undefined ? `alternate exchange ${x.alternate_exchange}` : ''),
        ),
      ),
    ),
  )
  return h(
    'section',
    { class: 'panel', 'aria-label': 'Route test result', id: 'route-result' },
    banner,
    r.warnings.map((w) => h('p', { class: 'badge warn', style: { display: 'block', marginBottom: '6px' } }, w)),
    r.queues.map((q) =>
      h('div', { class: 'route-queue', dataset: { queue: q.name } }, h('h3', {}, q.name, q.paths.length > 1 ? h('span', { class: 'muted small' }, ` · ${q.paths.length} paths`) : null), q.paths.map((p) => chain(r.vhost, r.exchange, p))),
    ),
    h('h3', {}, 'Exchanges the message passes'),
    steps,
  )
}

export default {
  title: 'Route tester',
  async render(root, params, app) {
    const vhost = params.vhost ?? app.oneVhost
    const preset = params.exchange === 'amq.default' ? '' : params.exchange
    const exchange = h('select', { name: 'exchange' })
    const rk = h('input', { type: 'text', name: 'routing_key', autocomplete: 'off' })
    const headers = argsEditor({ name: 'Headers', keyPlaceholder: 'header' })
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Test route')
    const result = h('div')
    const form = h(
      'form',
      { class: 'stacked', 'aria-label': 'Route test', novalidate: true },
      formRow('Exchange', exchange),
      formRow('Routing key', rk),
      formRow('Headers', headers.el, 'for headers exchanges (x-match bindings)'),
      h('div', { class: 'actions' }, submit),
    )
    let list = []
    try {
      list = await get(`exchanges/${seg(vhost)}?columns=name,type`)
    } catch (err) {
      formMessage(form, `Could not list exchanges: ${err.message}`)
    }
    replace(
      exchange,
      list.map((x) => h('option', { value: x.name, selected: x.name === preset }, `${exchangeLabel(x.name)} (${x.type})`)),
    )
    if (preset !== undefined && !list.some((x) => x.name === preset)) exchange.prepend(h('option', { value: preset, selected: true }, exchangeLabel(preset)))

    form.addEventListener('submit', (e) => {
      e.preventDefault()
      resetValidity(form)
      if (exchange.value === undefined || exchange.options.length === 0) return invalid(exchange, 'Choose an exchange.')
      if (utf8Length(rk.value) > 255) return invalid(rk, 'The routing key is longer than 255 bytes.')
      const hd = headers.read()
      if (hd.error) return invalid(hd.input, hd.error)
      busy(submit, async () => {
        try {
          const r = await post(`route-test/${seg(vhost)}/${seg(exchangeUrlName(exchange.value))}`, { routing_key: rk.value, headers: hd.value })
          replace(result, resultView(r))
        } catch (err) {
          formMessage(form, err.message)
          replace(result)
        }
      })
    })
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Route tester'), h('span', { class: 'muted' }, `virtual host ${vhost}`)),
      h('section', { class: 'panel', 'aria-labelledby': 'rt-h' }, h('h2', { id: 'rt-h' }, 'Where would this message go?'), h('p', { class: 'muted small' }, 'Nothing is published: the broker walks its bindings, exchange-to-exchange bindings and alternate exchanges for this message.'), form),
      result,
    )
  },
}
