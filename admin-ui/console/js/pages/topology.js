/**
 * Topology: a diagram of the vhost's exchanges, queues and bindings (GET /api/topology/{vhost}),
 * with dead-letter links (dashed, pink) and alternate-exchange links (dotted, orange), live rates on
 * the nodes, zoom and pan, and a filter box. Clicking a node opens its page.
 */
import { get, seg } from '../api.js'
import { h, s, href, replace, exchangeLabel, exchangeUrlName, fmtNum, fmtRate } from '../dom.js'
import { NODE_H, NODE_W, edgePath, layout } from '../topology-layout.js'
import { zoomPan } from '../zoom-pan.js'

/** Beyond this many nodes the diagram asks for a filter instead of drawing an unreadable wall. */
const MAX_DRAWN = 800

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function subline(n) {
  if (n.missing) return 'does not exist'
  if (n.kind === 'exchange') {
    const r = n.rates ?? {}
    return `${n.type}${n.internal ? ' · internal' : ''} · ${fmtRate(r.publish_in)} in`
  }
  return `${fmtNum(n.messages_ready)} ready · ${fmtNum(n.messages_unacknowledged)} unacked · ${fmtRate(n.rates?.publish)}`
}

function isActive(n) {
  const r = n.rates ?? {}
  return (r.publish_in ?? 0) > 0 || (r.publish ?? 0) > 0 || (r.deliver_get ?? 0) > 0
}

function nodeTitle(n) {
  if (n.kind === 'exchange') return `Exchange ${exchangeLabel(n.name)} (${n.type ?? 'missing'})\n${fmtRate(n.rates?.publish_in)} in · ${fmtRate(n.rates?.publish_out)} out`
  return `Queue ${n.name}\n${fmtNum(n.messages_ready)} ready · ${fmtNum(n.messages_unacknowledged)} unacked · ${fmtNum(n.consumers)} consumers\n${fmtRate(n.rates?.publish)} in · ${fmtRate(n.rates?.deliver_get)} out`
}

function legend() {
  const line = (cls, label) => h('span', {}, s('svg', { width: 30, height: 10 }, s('path', { class: `tedge ${cls}`, d: 'M1,5 L29,5' })), ' ', label)
  const box = (cls, label) => h('span', {}, s('svg', { width: 16, height: 12, class: `tnode ${cls}` }, s('rect', { x: 1, y: 1, width: 14, height: 10, rx: 2 })), ' ', label)
  return h('div', { class: 'topo-legend' }, box('exchange', 'exchange'), box('queue', 'queue'), line('', 'binding'), line('active', 'binding with traffic'), line('dead-letter', 'dead-letter link'), line('alternate-exchange', 'alternate exchange'))
}

/** Keeps matched nodes (by name) and their direct neighbours. */
function visible(data, text, showSystem) {
  const degree = new Map()
  for (const e of data.edges) {
    degree.set(e.source, (degree.get(e.source) ?? 0) + 1)
    degree.set(e.target, (degree.get(e.target) ?? 0) + 1)
  }
  let nodes = data.nodes.filter((n) => showSystem || !(n.kind === 'exchange' && n.name.startsWith('amq.') && !degree.has(n.id)))
  const q = text.trim().toLowerCase()
  if (q !== '') {
    const hit = new Set(nodes.filter((n) => n.name.toLowerCase().includes(q)).map((n) => n.id))
    const keep = new Set(hit)
    for (const e of data.edges) {
      if (hit.has(e.source)) keep.add(e.target)
      if (hit.has(e.target)) keep.add(e.source)
    }
    nodes = nodes.filter((n) => keep.has(n.id))
  }
  const ids = new Set(nodes.map((n) => n.id))
  return { nodes, edges: data.edges.filter((e) => ids.has(e.source) && ids.has(e.target)) }
}

/**
 * A label by the end of its edge where it does not collide: binding keys just left of the node they
 * lead to, dead-letter and alternate-exchange labels just right of the node they leave; several
 * labels at one node are stacked upwards.
 */
function edgeLabel(e, text, a, b, stacked) {
  const atSource = e.kind !== 'binding'
  const anchor = atSource ? a : b
  const key = `${atSource ? 's' : 't'}:${atSource ? e.source : e.target}`
  const i = stacked.get(key) ?? 0
  stacked.set(key, i + 1)
  const x = atSource ? anchor.x + NODE_W + 6 : anchor.x - 8
  const y = anchor.y + NODE_H / 2 - 4 - i * 11
  return s('text', { class: 'tlabel', x, y, 'text-anchor': atSource ? 'start' : 'end', dataset: { source: e.source, target: e.target } }, truncate(text, 22))
}

function signature(g) {
  return g.nodes.map((n) => n.id).join('\u0000') + '\u0001' + g.edges.map((e) => `${e.kind}:${e.source}>${e.target}:${e.routing_key ?? ''}`).join('\u0000')
}

function markers() {
  const m = (id, color) =>
    s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }))
  return s('defs', {}, m('arrow-binding', '#9aa8b5'), m('arrow-active', '#3b82c4'), m('arrow-dead-letter', '#d6336c'), m('arrow-alternate-exchange', '#e8590c'))
}

export default {
  title: 'Topology',
  async render(root, _params, app) {
    const vhost = app.oneVhost
    const filter = h('input', { type: 'search', placeholder: 'Filter: name contains…', 'aria-label': 'Filter nodes by name', size: 30 })
    const system = h('input', { type: 'checkbox' })
    const summary = h('span', { class: 'muted small', role: 'status' })
    const viewport = s('g', { class: 'viewport' })
    const svg = s('svg', { tabindex: 0, role: 'group', 'aria-label': `Topology of virtual host ${vhost}. Arrow keys pan, plus and minus zoom, 0 fits.` }, markers(), viewport)
    const wrap = h('div', { class: 'topology-wrap' }, svg)
    const message = h('div', { class: 'loading', role: 'status' })
    const zp = zoomPan(svg, viewport, wrap)
    let data = null
    let drawnSig = null
    let nodeEls = new Map()

    function highlight(id) {
      wrap.classList.toggle('focus-mode', id !== null)
      for (const el of viewport.querySelectorAll('.hl')) el.classList.remove('hl')
      if (id === null) return
      nodeEls.get(id)?.g.classList.add('hl')
      for (const el of viewport.querySelectorAll('[data-source], [data-target]')) {
        if (el.dataset.source === id || el.dataset.target === id) {
          el.classList.add('hl')
          nodeEls.get(el.dataset.source)?.g.classList.add('hl')
          nodeEls.get(el.dataset.target)?.g.classList.add('hl')
        }
      }
    }

    function nodeEl(n, p) {
      const link = n.missing ? null : n.kind === 'exchange' ? href('exchanges', vhost, exchangeUrlName(n.name)) : href('queues', vhost, n.name)
      const label = n.kind === 'exchange' ? exchangeLabel(n.name) : n.name
      const sub = s('text', { class: 'sub', x: 10, y: 30 }, truncate(subline(n), 34))
      const title = s('title', {}, nodeTitle(n))
      const g = s(
        link ? 'a' : 'g',
        { class: ['tnode', n.kind, n.missing && 'missing', isActive(n) && 'active'], href: link ?? undefined, transform: `translate(${p.x},${p.y})`, dataset: { id: n.id }, 'aria-label': `${n.kind} ${exchangeLabel(n.name)}` },
        title,
        s('rect', { width: NODE_W, height: NODE_H, rx: 5 }),
        s('text', { class: 'kind', x: NODE_W - 8, y: 13, 'text-anchor': 'end' }, n.kind === 'exchange' ? 'X' : 'Q'),
        s('text', { class: 'name', x: 10, y: 15 }, truncate(label, 27)),
        s('text', { class: 'name-far', x: 10, y: 25 }, truncate(label, 18)),
        sub,
      )
      g.addEventListener('mouseenter', () => highlight(n.id))
      g.addEventListener('mouseleave', () => highlight(null))
      g.addEventListener('focus', () => highlight(n.id))
      g.addEventListener('blur', () => highlight(null))
      return { g, sub, title }
    }

    function draw(g) {
      const rect = wrap.getBoundingClientRect()
      const { pos, width, height } = layout(g.nodes, g.edges, Math.max(0.5, rect.width / Math.max(1, rect.height)))
      const byId = new Map(g.nodes.map((n) => [n.id, n]))
      const edges = s('g', { class: 'edges' })
      const labels = s('g', { class: 'labels' })
      const stacked = new Map()
      for (const e of g.edges) {
        const a = pos.get(e.source)
        const b = pos.get(e.target)
        if (!a || !b) continue
        const { d } = edgePath(a, b)
        const active = e.kind === 'binding' && (byId.get(e.source)?.rates?.publish_out ?? 0) > 0 && isActive(byId.get(e.target))
        const cls = e.kind === 'binding' ? (active ? 'active' : '') : e.kind
        edges.appendChild(
          s('path', { class: `tedge ${cls}`, d, 'marker-end': `url(#arrow-${e.kind === 'binding' ? (active ? 'active' : 'binding') : e.kind})`, dataset: { source: e.source, target: e.target } }, s('title', {}, `${e.kind}: ${e.source.slice(2)} → ${e.target.slice(2)}${e.routing_key !== undefined ? ` (key '${e.routing_key}')` : ''}`)),
        )
        const label = e.kind === 'binding' ? e.routing_key : e.kind === 'dead-letter' ? `DLX${e.routing_key !== undefined ? ` ${e.routing_key}` : ''}` : 'AE'
        if (label) labels.appendChild(edgeLabel(e, label, a, b, stacked))
      }
      wrap.classList.toggle('dense', g.edges.length > 120)
      const nodes = s('g', { class: 'nodes' })
      nodeEls = new Map()
      for (const n of g.nodes) {
        const el = nodeEl(n, pos.get(n.id))
        nodeEls.set(n.id, el)
        nodes.appendChild(el.g)
      }
      replace(viewport, edges, labels, nodes)
      zp.setContent(width, height)
    }

    function update(g) {
      for (const n of g.nodes) {
        const el = nodeEls.get(n.id)
        if (!el) continue
        el.sub.textContent = truncate(subline(n), 34)
        el.title.textContent = nodeTitle(n)
        el.g.classList.toggle('active', isActive(n))
      }
    }

    function show(refit) {
      if (data === null) return
      const g = visible(data, filter.value, system.checked)
      const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
      const edges = (k) => g.edges.filter((e) => e.kind === k).length
      summary.textContent = [
        count(g.nodes.filter((n) => n.kind === 'exchange').length, 'exchange'),
        count(g.nodes.filter((n) => n.kind === 'queue').length, 'queue'),
        count(edges('binding'), 'binding'),
        count(edges('dead-letter'), 'dead-letter link'),
        count(edges('alternate-exchange'), 'alternate-exchange link'),
      ].join(' · ')
      if (g.nodes.length === 0 || g.nodes.length > MAX_DRAWN) {
        message.textContent = g.nodes.length === 0 ? (filter.value ? 'Nothing matches the filter.' : 'No exchanges or queues yet.') : `${g.nodes.length} objects: type in the filter to draw a part of them.`
        message.hidden = false
        wrap.hidden = true
        drawnSig = null
        return
      }
      message.hidden = true
      wrap.hidden = false
      const sig = signature(g)
      if (sig === drawnSig) return update(g)
      draw(g)
      if (refit || drawnSig === null) zp.fit()
      drawnSig = sig
    }

    let timer = 0
    filter.addEventListener('input', () => {
      clearTimeout(timer)
      timer = setTimeout(() => show(true), 200)
    })
    system.addEventListener('change', () => show(true))
    replace(
      root,
      h('div', { class: 'page-head' }, h('h1', {}, 'Topology'), h('span', { class: 'muted' }, `virtual host ${vhost}`)),
      h('div', { class: 'toolbar' }, filter, h('label', { class: 'row small' }, system, 'Show unused amq.* exchanges'), h('span', { class: 'spacer' }), legend()),
      h('div', { class: 'toolbar' }, summary),
      message,
      wrap,
    )
    message.textContent = 'Loading…'
    wrap.hidden = true
    await app.poll(async () => {
      data = await get(`topology/${seg(vhost)}`)
      show(false)
    })
  },
}
