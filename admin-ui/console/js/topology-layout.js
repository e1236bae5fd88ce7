/**
 * Layered layout for the topology diagram (left to right, the way messages flow): longest-path
 * layers over the links (cycles broken by a depth-first search), barycentre ordering inside each
 * layer to cut crossings, and tall layers wrapped into several columns so that the whole diagram
 * keeps the viewport's shape (200 queues become a block, not a 7,000-pixel column).
 */

export const NODE_W = 200
export const NODE_H = 38
const GAP_X = 90
const GAP_Y = 12
const WRAP_GAP_X = 24

/** Edges that close a cycle (found by DFS), so the rest is a DAG. */
function backEdges(ids, out) {
  const state = new Map()
  const back = new Set()
  for (const start of ids) {
    if (state.has(start)) continue
    // iterative DFS: [node, index of next outgoing edge]
    const stack = [[start, 0]]
    state.set(start, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const edges = out.get(top[0]) ?? []
      if (top[1] >= edges.length) {
        state.set(top[0], 2)
        stack.pop()
        continue
      }
      const e = edges[top[1]++]
      const s = state.get(e.target)
      if (s === 1) back.add(e)
      else if (s === undefined) {
        state.set(e.target, 1)
        stack.push([e.target, 0])
      }
    }
  }
  return back
}

/** Longest-path layer of every node over the forward edges. */
function layers(nodes, edges) {
  const ids = nodes.map((n) => n.id)
  const out = new Map()
  for (const e of edges) {
    if (e.source === e.target) continue
    if (!out.has(e.source)) out.set(e.source, [])
    out.get(e.source).push(e)
  }
  const back = backEdges(ids, out)
  const forward = edges.filter((e) => e.source !== e.target && !back.has(e))
  const indeg = new Map(ids.map((id) => [id, 0]))
  for (const e of forward) indeg.set(e.target, (indeg.get(e.target) ?? 0) + 1)
  const layer = new Map(ids.map((id) => [id, 0]))
  const queue = ids.filter((id) => indeg.get(id) === 0)
  const succ = new Map()
  for (const e of forward) {
    if (!succ.has(e.source)) succ.set(e.source, [])
    succ.get(e.source).push(e.target)
  }
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]
    for (const t of succ.get(id) ?? []) {
      layer.set(t, Math.max(layer.get(t), layer.get(id) + 1))
      indeg.set(t, indeg.get(t) - 1)
      if (indeg.get(t) === 0) queue.push(t)
    }
  }
  // queues with no links at all sit with the other queues, right of the exchanges
  const linked = new Set(edges.flatMap((e) => [e.source, e.target]))
  const hasExchanges = nodes.some((n) => n.kind === 'exchange')
  for (const n of nodes) if (!linked.has(n.id) && n.kind === 'queue' && hasExchanges) layer.set(n.id, 1)
  return { layer, forward }
}

/** Orders each layer by the mean position of its neighbours (a few sweeps both ways). */
function order(byLayer, forward) {
  const pred = new Map()
  const succ = new Map()
  for (const e of forward) {
    if (!pred.has(e.target)) pred.set(e.target, [])
    pred.get(e.target).push(e.source)
    if (!succ.has(e.source)) succ.set(e.source, [])
    succ.get(e.source).push(e.target)
  }
  const pos = new Map()
  const place = (layer) => layer.forEach((n, i) => pos.set(n.id, i / Math.max(1, layer.length - 1)))
  for (const l of byLayer) {
    l.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'exchange' ? -1 : 1))
    place(l)
  }
  const sweep = (l, neigh) => {
    const key = new Map()
    for (const n of l) {
      const ns = (neigh.get(n.id) ?? []).filter((id) => pos.has(id))
      key.set(n.id, ns.length === 0 ? pos.get(n.id) : ns.reduce((s, id) => s + pos.get(id), 0) / ns.length)
    }
    l.sort((a, b) => key.get(a.id) - key.get(b.id) || a.name.localeCompare(b.name))
    place(l)
  }
  for (let it = 0; it < 3; it++) {
    for (let i = 1; i < byLayer.length; i++) sweep(byLayer[i], pred)
    for (let i = byLayer.length - 2; i >= 0; i--) sweep(byLayer[i], succ)
  }
}

/** Rows per column that makes the diagram fit a viewport of aspect `aspect` (width / height) best. */
function bestRows(sizes, aspect) {
  const largest = Math.max(1, ...sizes)
  let best = largest
  let bestScale = 0
  for (let rows = Math.min(8, largest); rows <= largest; rows++) {
    const cols = sizes.reduce((s, n) => s + Math.max(1, Math.ceil(n / rows)), 0)
    const w = cols * (NODE_W + GAP_X)
    const h = rows * (NODE_H + GAP_Y)
    const scale = Math.min((1000 * aspect) / w, 1000 / h)
    if (scale > bestScale * 1.0001) (bestScale = scale), (best = rows)
  }
  return best
}

/**
 * Positions nodes: returns {pos: Map(id → {x, y}), width, height}. `aspect` is the viewport's
 * width / height.
 */
export function layout(nodes, edges, aspect = 2) {
  const { layer, forward } = layers(nodes, edges)
  const count = Math.max(0, ...layer.values()) + 1
  const byLayer = Array.from({ length: count }, () => [])
  for (const n of nodes) byLayer[layer.get(n.id)].push(n)
  const used = byLayer.filter((l) => l.length > 0)
  order(used, forward)
  const rows = bestRows(used.map((l) => l.length), aspect)
  const pos = new Map()
  let x = 0
  let height = 0
  for (const l of used) {
    const cols = Math.max(1, Math.ceil(l.length / rows))
    const perCol = Math.ceil(l.length / cols)
    for (let c = 0; c < cols; c++) {
      const slice = l.slice(c * perCol, (c + 1) * perCol)
      // centre short columns against the tallest one
      const offset = ((rows - slice.length) * (NODE_H + GAP_Y)) / 2
      slice.forEach((n, i) => pos.set(n.id, { x, y: offset + i * (NODE_H + GAP_Y) }))
      height = Math.max(height, rows * (NODE_H + GAP_Y))
      x += NODE_W + (c < cols - 1 ? WRAP_GAP_X : GAP_X)
    }
  }
  return { pos, width: Math.max(x - GAP_X, NODE_W), height: Math.max(height - GAP_Y, NODE_H) }
}

/** SVG path of an edge from the right side of `a` to the left side of `b` (loops back when needed). */
export function edgePath(a, b) {
  const sx = a.x + NODE_W
  const sy = a.y + NODE_H / 2
  const tx = b.x
  const ty = b.y + NODE_H / 2
  if (tx > sx + 10) {
    const dx = Math.max(40, (tx - sx) / 2)
    return { d: `M${sx},${sy} C${sx + dx},${sy} ${tx - dx},${ty} ${tx},${ty}`, mx: (sx + tx) / 2, my: (sy + ty) / 2 }
  }
  // a link back (dead-letter retry loops, cycles) or within one column: swing out below
  const drop = Math.max(a.y, b.y) + NODE_H + 30
  const d = `M${sx},${sy} C${sx + 70},${sy} ${sx + 70},${drop} ${(sx + tx) / 2},${drop} S${tx - 70},${ty} ${tx},${ty}`
  return { d, mx: (sx + tx) / 2, my: drop }
}
