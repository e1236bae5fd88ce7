/**
 * A quorum queue's replicas on its page (issue 14): each member with its role, online, in sync
 * (the record's in-sync set, kept by the leader) and lag (records not acked durable yet, as the
 * leader last reported them), from the queue JSON's leader, members, online, in_sync, replica_lag.
 */
import { h, fmtNum } from './dom.js'
import { dataTable } from './widgets.js'

const yes = (ok, yesText, noText) => (ok ? h('span', { class: 'badge ok' }, yesText) : h('span', { class: 'badge warn' }, noText))

/** The table; update(q) with the queue JSON. */
export function replicasTable() {
  const table = dataTable({
    rowKey: (r) => r.node,
    empty: 'Not replicated.',
    columns: [
      { label: 'Node', render: (r) => h('code', {}, r.node) },
      { label: 'Role', render: (r) => (r.leader ? 'leader' : 'follower') },
      { label: 'Online', render: (r) => yes(r.online, 'online', 'offline') },
      { label: 'In sync', render: (r) => yes(r.inSync, 'in sync', 'behind') },
      { label: 'Lag (records)', num: true, render: (r) => (r.leader ? '–' : r.lag === undefined || r.lag < 0 ? 'unknown' : fmtNum(r.lag)) },
    ],
  })
  return {
    el: table.el,
    update(q) {
      const members = q.members ?? []
      const online = new Set(q.online ?? [])
      const inSync = new Set(q.in_sync ?? members)
      const lag = q.replica_lag ?? {}
      table.update(members.map((m) => ({ node: m, leader: m === q.leader, online: online.has(m), inSync: inSync.has(m), lag: lag[m] })))
    },
  }
}
