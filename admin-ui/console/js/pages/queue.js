/**
 * One queue: facts (with the policy, operator policy and effective policy definition that apply), its charts (queued messages, rates), consumers, a quorum queue's replicas, bindings (add / remove), where
 * its dead letters go, get messages, publish to it, purge, delete.
 */
import { del, get, post, seg } from '../api.js'
import { addBindingForm, bindingsTable } from '../bindings.js'
import { Series, lineChart } from '../chart.js'
import { h, href, replace, exchangeLabel, exchangeUrlName, fmtBytes, fmtNum, fmtRate, rateOf } from '../dom.js'
import { messageCard } from '../message.js'
import { publishForm } from '../publish-form.js'
import { argBadges, busy, confirmDialog, dataTable, formMessage, formRow, invalid, kvList, resetValidity, toast } from '../widgets.js'
import { queueFeatures } from './queues.js'
import { replicasTable } from '../replicas.js'

const QUEUED = [
  { label: 'Ready', color: '#1c7ed6' },
  { label: 'Unacked', color: '#f08c00' },
  { label: 'Total', color: '#868e96' },
]
const RATES = [
  { label: 'Publish', color: '#1c7ed6' },
  { label: 'Deliver / get', color: '#2f9e44' },
  { label: 'Ack', color: '#7048e8' },
  { label: 'Redeliver', color: '#f08c00' },
]

function getForm(vhost, name, onGot) {
  const ackmode = h(
    'select',
    { name: 'ackmode' },
    h('option', { value: 'ack_requeue_true' }, 'Nack message, requeue true'),
    h('option', { value: 'ack_requeue_false' }, 'Automatic ack (remove from queue)'),
    h('option', { value: 'reject_requeue_true' }, 'Reject, requeue true'),
    h('option', { value: 'reject_requeue_false' }, 'Reject, requeue false (dead-letter)'),
  )
  const encoding = h('select', { name: 'encoding' }, h('option', { value: 'auto' }, 'Auto: string when UTF-8, else base64'), h('option', { value: 'base64' }, 'Base64'))
  const count = h('input', { type: 'number', name: 'count', value: '1', min: 1, max: 1000 })
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Get message(s)')
  const results = h('div', { 'aria-live': 'polite' })
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Get messages', novalidate: true },
    formRow('Ack mode', ackmode, 'with requeue the messages stay in the queue (marked redelivered)'),
    formRow('Encoding', encoding),
    formRow('Messages', count),
    h('div', { class: 'actions' }, submit),
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    resetValidity(form)
    const n = Number(count.value)
    if (!Number.isInteger(n) || n < 1 || n > 1000) return invalid(count, 'Enter a number of messages from 1 to 1000.')
    if (!ackmode.value.endsWith('_true')) {
      const ok = await confirmDialog({ title: 'Remove messages?', message: `The ${n === 1 ? 'message' : `${n} messages`} will be taken off queue '${name}' for good${ackmode.value.startsWith('reject') ? ' (or dead-lettered)' : ''}. Continue?`, confirmLabel: 'Get and remove' })
      if (!ok) return
    }
    await busy(submit, async () => {
      try {
        const msgs = await post(`queues/${seg(vhost)}/${seg(name)}/get`, { count: n, ackmode: ackmode.value, encoding: encoding.value, truncate: 50000 })
        if (msgs.length === 0) replace(results, h('p', { class: 'muted', role: 'status' }, 'Queue is empty.'))
        else replace(results, msgs.map((m, i) => messageCard(m, i + 1)))
        onGot()
      } catch (err) {
        formMessage(form, err.message)
      }
    })
  })
  return h('div', {}, form, results)
}

function consumersTable() {
  return dataTable({
    rowKey: (c) => `${c.channel_details?.name}\u0000${c.consumer_tag}`,
    empty: 'No consumers.',
    columns: [
      { label: 'Channel', render: (c) => c.channel_details?.name ?? '–' },
      { label: 'Consumer tag', render: (c) => h('code', {}, c.consumer_tag) },
      { label: 'Ack required', render: (c) => (c.ack_required ? 'yes' : 'no') },
      { label: 'Exclusive', render: (c) => (c.exclusive ? 'yes' : 'no') },
      { label: 'Prefetch', num: true, render: (c) => fmtNum(c.prefetch_count ?? 0) },
      { label: 'Active', render: (c) => (c.active === false ? h('span', { class: 'badge warn' }, 'waiting') : h('span', { class: 'badge ok' }, 'active')) },
      { label: 'Arguments', render: (c) => argBadges(c.arguments) },
    ],
  })
}

/** A stream's consumer groups (x-stream-consumer-name): committed offset and lag behind the tail. */
function groupsTable() {
  return dataTable({
    rowKey: (g) => g.name,
    empty: 'No consumer groups (consumers name one with the x-stream-consumer-name argument).',
    columns: [
      { label: 'Group', render: (g) => h('code', {}, g.name) },
      { label: 'Committed offset', num: true, render: (g) => (g.committed_offset === null ? '–' : fmtNum(g.committed_offset)) },
      { label: 'Lag (messages)', num: true, render: (g) => fmtNum(g.lag_messages) },
      { label: 'Lag (bytes)', num: true, render: (g) => fmtBytes(g.lag_bytes) },
      { label: 'Consumers', num: true, render: (g) => fmtNum(g.consumers) },
      { label: 'Active consumer', render: (g) => (g.active_consumer === null ? '–' : h('code', {}, g.active_consumer)) },
    ],
  })
}

function deadLetterInfo(vhost, args) {
  const dlx = args?.['x-dead-letter-exchange']
  if (dlx === undefined) return h('span', { class: 'muted' }, 'none (rejected, expired and dropped messages are discarded)')
  const key = args['x-dead-letter-routing-key']
  return h(
    'span',
    {},
    'to exchange ',
    h('a', { href: href('exchanges', vhost, exchangeUrlName(dlx)) }, exchangeLabel(dlx)),
    key !== undefined ? [' with routing key ', h('code', {}, key)] : ' with the message’s own routing key',
    ' · ',
    h('a', { href: href('dead-letters') }, 'dead letters overview'),
  )
}

/** A policy's name, linked to the Admin › Policies page, or a dash when none applies. */
function policyName(name) {
  if (name === null || name === undefined || name === '') return h('span', { class: 'muted' }, '–')
  return h('a', { class: 'name', href: href('admin', 'policies') }, name)
}

export default {
  title: 'Queue',
  async render(root, params, app) {
    const { vhost, name } = params
    const base = `queues/${seg(vhost)}/${seg(name)}`
    const facts = h('div')
    const queued = new Series(QUEUED.map((l) => l.label))
    const rates = new Series(RATES.map((l) => l.label))
    const queuedChart = lineChart({ lines: QUEUED, title: 'Queued messages', format: fmtNum, height: 150, integer: true })
    const rateChart = lineChart({ lines: RATES, title: 'Message rates', format: fmtRate, height: 150 })
    const consumers = consumersTable()
    const groups = groupsTable()
    const groupsPanel = h('section', { class: 'panel', 'aria-labelledby': 'q-groups', hidden: true }, h('h2', { id: 'q-groups' }, 'Consumer groups'), groups.el)
    const bindings = bindingsTable({ vhost, side: 'destination', onChange: () => app.refresh() })
    const replicas = replicasTable()
    const replicasPanel = h('section', { class: 'panel', 'aria-labelledby': 'q-replicas', id: 'replicas', hidden: true }, h('h2', { id: 'q-replicas' }, 'Replicas'), replicas.el)

    const purgeBtn = h('button', { type: 'button', class: 'btn danger' }, 'Purge messages')
    purgeBtn.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Purge queue?', message: `Remove every ready message from queue '${name}'? This cannot be undone.`, confirmLabel: 'Purge' })
      if (!ok) return
      await busy(purgeBtn, async () => {
        try {
          await del(`${base}/contents`)
          toast(`Queue '${name}' purged`)
          app.refresh()
        } catch (err) {
          toast(`Could not purge: ${err.message}`, 'error')
        }
      })
    })
    const ifEmpty = h('input', { type: 'checkbox' })
    const ifUnused = h('input', { type: 'checkbox' })
    const deleteBtn = h('button', { type: 'button', class: 'btn danger' }, 'Delete queue')
    deleteBtn.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Delete queue?', message: `Delete queue '${name}' in vhost '${vhost}' with its messages and bindings? This cannot be undone.`, confirmLabel: 'Delete' })
      if (!ok) return
      const q = new URLSearchParams()
      if (ifEmpty.checked) q.set('if-empty', 'true')
      if (ifUnused.checked) q.set('if-unused', 'true')
      await busy(deleteBtn, async () => {
        try {
          await del(`${base}${q.size > 0 ? `?${q}` : ''}`)
          toast(`Queue '${name}' deleted`)
          app.navigate('#/queues')
        } catch (err) {
          toast(`Could not delete: ${err.message}`, 'error')
        }
      })
    })

    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'kind' }, 'Queue'), name), h('span', { class: 'muted' }, `virtual host ${vhost}`)),
      h(
        'div',
        { class: 'grid2' },
        h('section', { class: 'panel', 'aria-labelledby': 'q-facts' }, h('h2', { id: 'q-facts' }, 'Details'), facts),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'q-charts' },
          h('h2', { id: 'q-charts' }, 'Queued messages'),
          queuedChart.el,
          h('h2', { style: { marginTop: '14px' } }, 'Message rates ', h('span', { class: 'muted small' }, 'per second')),
          rateChart.el,
        ),
      ),
      h('div', { style: { height: '16px' } }),
      h('section', { class: 'panel', 'aria-labelledby': 'q-consumers' }, h('h2', { id: 'q-consumers' }, 'Consumers'), consumers.el),
      groupsPanel,
      replicasPanel,
      h('section', { class: 'panel', 'aria-labelledby': 'q-bindings' }, h('h2', { id: 'q-bindings' }, 'Bindings'), bindings.el),
      h('details', { class: 'panel', id: 'add-binding' }, h('summary', {}, 'Add binding to this queue'), addBindingForm({ vhost, queue: name, onAdded: () => app.refresh() })),
      h('details', { class: 'panel', id: 'get-messages', open: true }, h('summary', {}, 'Get messages'), getForm(vhost, name, () => app.refresh())),
      h('details', { class: 'panel', id: 'publish' }, h('summary', {}, 'Publish message'), publishForm({ vhost, exchange: '', fixedRoutingKey: name, onPublished: () => app.refresh() })),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'q-danger' },
        h('h2', { id: 'q-danger' }, 'Purge or delete'),
        h('div', { class: 'row' }, purgeBtn, h('span', { class: 'spacer' }), h('label', { class: 'row' }, ifEmpty, 'Only if empty'), h('label', { class: 'row' }, ifUnused, 'Only if unused'), deleteBtn),
      ),
    )
    queuedChart.draw(queued)
    rateChart.draw(rates)

    await app.poll(async () => {
      const [q, b] = await Promise.all([get(base), get(`${base}/bindings`)])
      const ms = q.message_stats
      const now = Date.now()
      queued.push(now, [q.messages_ready ?? 0, q.messages_unacknowledged ?? 0, q.messages ?? 0])
      rates.push(now, [rateOf(ms, 'publish'), rateOf(ms, 'deliver_get'), rateOf(ms, 'ack'), rateOf(ms, 'redeliver')])
      queuedChart.draw(queued)
      rateChart.draw(rates)
      replace(
        facts,
        kvList([
          ['State', h('span', { class: 'badge ok' }, q.state ?? 'running')],
          ['Type', q.type ?? 'classic'],
          ['Features', h('span', {}, queueFeatures(q))],
          ['Arguments', argBadges(q.arguments)],
          // as RabbitMQ's queue page: the policy and operator policy that apply, and what they set together
          ['Policy', policyName(q.policy)],
          ['Operator policy', policyName(q.operator_policy)],
          ['Effective policy definition', h('span', { id: 'q-effective-policy' }, argBadges(q.effective_policy_definition))],
          ['Dead letters', deadLetterInfo(vhost, q.arguments)],
          ['Messages', h('span', { id: 'q-messages' }, `${fmtNum(q.messages ?? 0)} total · ${fmtNum(q.messages_ready ?? 0)} ready · ${fmtNum(q.messages_unacknowledged ?? 0)} unacked`)],
          ['Message bytes', h('span', { id: 'q-bytes' }, `${fmtBytes(q.message_bytes ?? 0)} total · ${fmtBytes(q.message_bytes_ready ?? 0)} ready · ${fmtBytes(q.message_bytes_unacknowledged ?? 0)} unacked`)],
          ['Consumers', fmtNum(q.consumers ?? 0)],
          ['Published', fmtNum(ms?.publish ?? 0)],
          ['Delivered / got', fmtNum(ms?.deliver_get ?? 0)],
        ]),
      )
      consumers.update(q.consumer_details ?? [])
      groupsPanel.hidden = q.consumer_groups === undefined
      if (q.consumer_groups !== undefined) groups.update(q.consumer_groups)
      // a replicated quorum queue (a cluster): its members, online, in sync, lag
      replicasPanel.hidden = q.members === undefined
      if (q.members !== undefined) replicas.update(q)
      bindings.update(b)
    })
  },
}
