/**
 * Connections: name (the client's connection_name above the peer address), user, vhost, client,
 * protocol, channels, byte rates (whole bytes); close one with a reason
 * (DELETE /api/connections/{name} with the X-Reason header).
 */
import { del, getPage, seg } from '../api.js'
import { h, replace, fmtBytes, fmtDate, fmtNum, rateOf } from '../dom.js'
import { busy, confirmDialog, dataTable, filterBox, pager, toast } from '../widgets.js'

function client(c) {
  const p = c.client_properties ?? {}
  const product = [p.product, p.version].filter(Boolean).join(' ')
  return product ? h('span', { class: 'small' }, product) : '–'
}

/** The client's connection_name (RabbitMQ's user_provided_name) over the "peer -> host:port" name, each on one line. */
function connName(c) {
  const label = c.user_provided_name ?? c.client_properties?.connection_name
  return h('span', {}, label ? h('span', { class: 'conn-label' }, label) : null, h('span', { class: ['conn-name', 'mono', label && 'muted'] }, c.name))
}

async function close(button, c, app) {
  const reason = await confirmDialog({
    title: 'Close connection?',
    message: `Close ${c.name} (user ${c.user}, vhost ${c.vhost})? The client gets 320 CONNECTION_FORCED with this reason:`,
    confirmLabel: 'Close connection',
    input: { label: 'Reason', value: 'Closed via management console' },
  })
  if (reason === null) return
  await busy(button, async () => {
    try {
      await del(`connections/${seg(c.name)}`, { 'x-reason': reason })
      toast('Connection closed')
      app.refresh()
    } catch (err) {
      toast(`Could not close: ${err.message}`, 'error')
    }
  })
}

export default {
  title: 'Connections',
  async render(root, _params, app) {
    const filter = filterBox(() => ((pg.state.page = 1), app.refresh()), 'Filter by name')
    const pg = pager(() => app.refresh())
    const table = dataTable({
      rowKey: (c) => c.name,
      empty: 'No connections.',
      sort: { key: 'name' },
      onSort: () => app.refresh(),
      columns: [
        { label: 'Name', sort: 'name', render: connName },
        { label: 'User', sort: 'user', render: (c) => c.user ?? '–' },
        { label: 'Virtual host', sort: 'vhost', render: (c) => c.vhost ?? '–' },
        { label: 'Client', render: client },
        { label: 'Protocol', render: (c) => c.protocol ?? '–' },
        { label: 'Channels', num: true, sort: 'channels', render: (c) => fmtNum(c.channels ?? 0) },
        { label: 'From client', num: true, sort: 'recv_oct_details.rate', render: (c) => `${fmtBytes(rateOf(c, 'recv_oct'))}/s` },
        { label: 'To client', num: true, sort: 'send_oct_details.rate', render: (c) => `${fmtBytes(rateOf(c, 'send_oct'))}/s` },
        { label: 'Connected', sort: 'connected_at', render: (c) => (c.connected_at ? h('span', { class: 'small' }, fmtDate(c.connected_at)) : '–') },
        {
          label: '',
          render: (c) => h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Close connection ${c.name}`, onclick: (e) => close(e.currentTarget, c, app) }, 'Close'),
        },
      ],
    })
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Connections')),
      h('section', { class: 'panel', 'aria-label': 'Connections' }, h('div', { class: 'toolbar' }, filter.el), table.el, pg.el),
    )
    await app.poll(async () => {
      const path = app.vhost === '' ? 'connections' : `vhosts/${seg(app.vhost)}/connections`
      const r = await getPage(path, { page: pg.state.page, pageSize: pg.state.pageSize, name: filter.value, regex: filter.regex, sort: table.state.sort, reverse: table.state.reverse })
      table.update(r.items)
      pg.update(r)
    })
  },
}
