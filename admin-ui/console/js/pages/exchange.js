/**
 * One exchange: facts and rates chart, bindings out of it and into it (add / remove), publish a
 * message, test its routing, delete it.
 */
import { del, get, seg } from '../api.js'
import { addBindingForm, bindingsTable } from '../bindings.js'
import { Series, lineChart } from '../chart.js'
import { h, href, replace, exchangeLabel, exchangeUrlName, fmtNum, fmtRate, rateOf } from '../dom.js'
import { publishForm } from '../publish-form.js'
import { argBadges, busy, confirmDialog, kvList, toast } from '../widgets.js'
import { exchangeFeatures } from './exchanges.js'

const RATE_LINES = [
  { label: 'In', color: '#1c7ed6' },
  { label: 'Out', color: '#2f9e44' },
]

export default {
  title: 'Exchange',
  async render(root, params, app) {
    const vhost = params.vhost
    const name = params.name === 'amq.default' ? '' : params.name
    const base = `exchanges/${seg(vhost)}/${seg(exchangeUrlName(name))}`
    const builtin = name === '' || name.startsWith('amq.')
    const facts = h('div')
    const series = new Series(RATE_LINES.map((l) => l.label))
    const chart = lineChart({ lines: RATE_LINES, title: 'Message rates', format: fmtRate, height: 150 })
    const out = bindingsTable({ vhost, side: 'source', onChange: () => app.refresh() })
    const into = bindingsTable({ vhost, side: 'destination', onChange: () => app.refresh() })

    const deleteBtn = h('button', { type: 'button', class: 'btn danger' }, 'Delete exchange')
    const ifUnused = h('input', { type: 'checkbox' })
    deleteBtn.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: 'Delete exchange?',
        message: `Delete exchange '${name}' in vhost '${vhost}' and all its bindings? This cannot be undone.`,
        confirmLabel: 'Delete',
      })
      if (!ok) return
      await busy(deleteBtn, async () => {
        try {
          await del(`${base}${ifUnused.checked ? '?if-unused=true' : ''}`)
          toast(`Exchange '${name}' deleted`)
          app.navigate('#/exchanges')
        } catch (err) {
          toast(`Could not delete: ${err.message}`, 'error')
        }
      })
    })

    replace(
      root,
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, h('span', { class: 'kind' }, 'Exchange'), exchangeLabel(name)),
        h('span', { class: 'muted' }, `virtual host ${vhost}`),
        h('div', { class: 'actions' }, h('a', { class: 'btn', href: href('route-tester', vhost, exchangeUrlName(name)) }, 'Test routing')),
      ),
      h(
        'div',
        { class: 'grid2' },
        h('section', { class: 'panel', 'aria-labelledby': 'x-facts' }, h('h2', { id: 'x-facts' }, 'Details'), facts),
        h('section', { class: 'panel', 'aria-labelledby': 'x-rates' }, h('h2', { id: 'x-rates' }, 'Message rates ', h('span', { class: 'muted small' }, 'per second')), chart.el),
      ),
      h('div', { style: { height: '16px' } }),
      h('section', { class: 'panel', 'aria-labelledby': 'x-out' }, h('h2', { id: 'x-out' }, 'Bindings from this exchange'), name === '' ? h('p', { class: 'muted' }, 'The default exchange is bound to every queue by the queue’s name; those bindings cannot be changed.') : out.el),
      name === '' ? null : h('section', { class: 'panel', 'aria-labelledby': 'x-in' }, h('h2', { id: 'x-in' }, 'Bindings to this exchange'), into.el),
      name === '' ? null : h('details', { class: 'panel', id: 'add-binding' }, h('summary', {}, 'Add binding from this exchange'), addBindingForm({ vhost, source: name, onAdded: () => app.refresh() })),
      h('details', { class: 'panel', id: 'publish' }, h('summary', {}, 'Publish message'), publishForm({ vhost, exchange: name, onPublished: () => app.refresh() })),
      builtin
        ? null
        : h(
            'section',
            { class: 'panel', 'aria-labelledby': 'x-delete' },
            h('h2', { id: 'x-delete' }, 'Delete this exchange'),
            h('div', { class: 'row' }, h('label', { class: 'row' }, ifUnused, 'Only if unused (no bindings from it)'), deleteBtn),
          ),
    )
    chart.draw(series)

    await app.poll(async () => {
      const [x, source, destination] = await Promise.all([
        get(base),
        name === '' ? Promise.resolve([]) : get(`${base}/bindings/source`),
        name === '' ? Promise.resolve([]) : get(`${base}/bindings/destination`),
      ])
      const ms = x.message_stats
      series.push(Date.now(), [rateOf(ms, 'publish_in'), rateOf(ms, 'publish_out')])
      chart.draw(series)
      replace(
        facts,
        kvList([
          ['Type', x.type],
          ['Features', h('span', {}, exchangeFeatures(x), x.durable || x.auto_delete || x.internal ? null : h('span', { class: 'muted' }, 'transient'))],
          ['Arguments', argBadges(x.arguments)],
          ['Messages in', fmtNum(ms?.publish_in ?? 0)],
          ['Messages out', fmtNum(ms?.publish_out ?? 0)],
          x.arguments?.['alternate-exchange'] !== undefined
            ? ['Alternate exchange', h('a', { href: href('exchanges', vhost, x.arguments['alternate-exchange']) }, x.arguments['alternate-exchange'])]
            : null,
        ]),
      )
      out.update(source)
      into.update(destination)
    })
  },
}
