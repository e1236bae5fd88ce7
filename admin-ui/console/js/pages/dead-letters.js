/**
 * Dead letters at a glance (GET /api/dead-letters/{vhost}): for each queue with a dead-letter
 * exchange, where its dead letters go; for each queue holding dead letters, their x-death reasons
 * counted (read in place on the broker: nothing is fetched or redelivered).
 */
import { get, seg } from '../api.js'
import { h, href, replace, exchangeLabel, exchangeUrlName, fmtNum } from '../dom.js'
import { dataTable } from '../widgets.js'

const REASONS = ['rejected', 'expired', 'maxlen', 'delivery_limit']

function queueLink(vhost, name) {
  return h('a', { class: 'name', href: href('queues', vhost, name) }, name)
}

function destination(vhost, s) {
  if (!s.exchange_exists) {
    return h('span', { class: 'badge danger' }, `exchange '${s.dead_letter_exchange}' does not exist: dead letters are dropped`)
  }
  if (s.targets.length === 0) {
    return h('span', { class: 'badge danger' }, s.depends_on_message ? 'depends on each message’s routing key' : 'no queue is bound: dead letters are dropped')
  }
  return h(
    'span',
    {},
    s.depends_on_message ? h('span', { class: 'muted small' }, 'one of: ') : null,
    s.targets.map((t, i) => [i > 0 ? ', ' : '', queueLink(vhost, t)]),
  )
}

export default {
  title: 'Dead letters',
  async render(root, _params, app) {
    const vhost = app.oneVhost
    const sources = dataTable({
      rowKey: (s) => s.queue,
      empty: 'No queue in this virtual host has a dead-letter exchange (x-dead-letter-exchange).',
      columns: [
        { label: 'Queue', render: (s) => queueLink(vhost, s.queue) },
        {
          label: 'Dead-letter exchange',
          render: (s) => [
            h('a', { href: href('exchanges', vhost, exchangeUrlName(s.dead_letter_exchange)) }, exchangeLabel(s.dead_letter_exchange)),
            s.exchange_type ? h('span', { class: 'muted small' }, ` (${s.exchange_type})`) : null,
          ],
        },
        { label: 'Routing key', render: (s) => (s.dead_letter_routing_key !== undefined ? h('code', {}, s.dead_letter_routing_key) : h('span', { class: 'muted' }, 'message’s own')) },
        { label: 'Dead letters go to', render: (s) => destination(vhost, s) },
        { label: 'Dead-lettered so far', num: true, render: (s) => fmtNum(s.dead_lettered ?? 0) },
      ],
    })
    const dlqs = dataTable({
      rowKey: (q) => q.queue,
      empty: 'No queue receives dead letters yet.',
      columns: [
        { label: 'Queue', render: (q) => queueLink(vhost, q.queue) },
        { label: 'Messages', num: true, render: (q) => fmtNum(q.messages) },
        { label: 'Dead letters', num: true, render: (q) => fmtNum(q.dead_lettered_messages) },
        ...REASONS.map((r) => ({
          label: r,
          num: true,
          render: (q) => (q.reasons[r] ? h('span', { class: `badge ${r === 'rejected' ? 'danger' : 'warn'}` }, fmtNum(q.reasons[r])) : h('span', { class: 'muted' }, '0')),
        })),
        {
          label: 'Died in',
          render: (q) =>
            Object.entries(q.from).length === 0
              ? h('span', { class: 'muted' }, '–')
              : Object.entries(q.from)
                  .sort((a, b) => b[1] - a[1])
                  .map(([name, n]) => h('span', { class: 'badge' }, `${name}: ${fmtNum(n)}`)),
        },
        { label: 'Read', num: true, render: (q) => h('span', { class: 'muted small', title: 'ready messages looked at' }, q.scanned < q.messages ? `${fmtNum(q.scanned)} of ${fmtNum(q.messages)}` : 'all') },
      ],
    })
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Dead letters'), h('span', { class: 'muted' }, `virtual host ${vhost}`)),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'dl-sources' },
        h('h2', { id: 'dl-sources' }, 'Where dead letters go'),
        h('p', { class: 'muted small' }, 'Messages rejected without requeue, expired (TTL), dropped by a length limit or over their delivery limit go to the queue’s dead-letter exchange.'),
        sources.el,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'dl-queues' },
        h('h2', { id: 'dl-queues' }, 'Dead-lettered messages by reason'),
        h('p', { class: 'muted small' }, 'In the queues dead letters go to: ready messages carrying an x-death header, counted by their latest death reason. Read in place: nothing is fetched or redelivered.'),
        dlqs.el,
      ),
    )
    await app.poll(async () => {
      const r = await get(`dead-letters/${seg(vhost)}`)
      sources.update(r.sources)
      dlqs.update(r.queues)
    })
  },
}
