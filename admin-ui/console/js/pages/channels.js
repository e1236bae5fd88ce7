/** Channels: user, vhost, mode (confirm / transactional), prefetch, unacked, consumers, rates. */
import { getPage, seg } from '../api.js'
import { h, replace, fmtNum, fmtRate, rateOf } from '../dom.js'
import { dataTable, filterBox, pager } from '../widgets.js'

function mode(c) {
  return [
    c.confirm ? h('span', { class: 'badge accent', title: 'publisher confirms' }, 'C') : null,
    c.transactional ? h('span', { class: 'badge warn', title: 'transactional' }, 'T') : null,
  ]
}

export default {
  title: 'Channels',
  async render(root, _params, app) {
    const filter = filterBox(() => ((pg.state.page = 1), app.refresh()), 'Filter by name')
    const pg = pager(() => app.refresh())
    const table = dataTable({
      rowKey: (c) => c.name,
      empty: 'No channels.',
      sort: { key: 'name' },
      onSort: () => app.refresh(),
      columns: [
        { label: 'Channel', sort: 'name', render: (c) => h('span', { class: 'name mono' }, c.name) },
        { label: 'User', sort: 'user', render: (c) => c.user ?? '–' },
        { label: 'Virtual host', sort: 'vhost', render: (c) => c.vhost ?? '–' },
        { label: 'Mode', render: mode },
        { label: 'Prefetch', num: true, sort: 'prefetch_count', render: (c) => (c.prefetch_count ? fmtNum(c.prefetch_count) : h('span', { class: 'muted' }, 'none')) },
        { label: 'Unacked', num: true, sort: 'messages_unacknowledged', render: (c) => fmtNum(c.messages_unacknowledged ?? 0) },
        { label: 'Consumers', num: true, sort: 'consumer_count', render: (c) => fmtNum(c.consumer_count ?? 0) },
        { label: 'Publish', num: true, sort: 'message_stats.publish_details.rate', render: (c) => fmtRate(rateOf(c.message_stats, 'publish')) },
        { label: 'Deliver / get', num: true, sort: 'message_stats.deliver_get_details.rate', render: (c) => fmtRate(rateOf(c.message_stats, 'deliver_get')) },
        { label: 'Ack', num: true, sort: 'message_stats.ack_details.rate', render: (c) => fmtRate(rateOf(c.message_stats, 'ack')) },
      ],
    })
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Channels')),
      h('section', { class: 'panel', 'aria-label': 'Channels' }, h('div', { class: 'toolbar' }, filter.el), table.el, pg.el),
    )
    await app.poll(async () => {
      const path = app.vhost === '' ? 'channels' : `vhosts/${seg(app.vhost)}/channels`
      const r = await getPage(path, { page: pg.state.page, pageSize: pg.state.pageSize, name: filter.value, regex: filter.regex, sort: table.state.sort, reverse: table.state.reverse })
      table.update(r.items)
      pg.update(r)
    })
  },
}
