/**
 * A small live line chart in SVG: a few series over time, y axis with round ticks, a legend with
 * the latest values. Samples are pushed as they are polled; the chart keeps the last `keep`.
 */
import { h, s, replace, fmtShort, fmtTime } from './dom.js'

/** A rolling store of samples, kept by pages across navigation so charts do not start empty. */
export class Series {
  constructor(keys, keep = 180) {
    this.keys = keys
    this.keep = keep
    this.t = []
    this.values = keys.map(() => [])
  }

  push(time, values) {
    this.t.push(time)
    values.forEach((v, i) => this.values[i].push(Number.isFinite(v) ? v : 0))
    if (this.t.length > this.keep) {
      this.t.shift()
      for (const v of this.values) v.shift()
    }
  }
}

/** A round tick step (1, 2 or 5 × 10^n) giving about four intervals up to `v`. */
function niceStep(v) {
  if (!(v > 0)) return 0.25
  const raw = v / 4
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 5]) if (raw <= m * p) return m * p
  return 10 * p
}

function tickLabel(v, step) {
  if (step >= 1) return fmtShort(v)
  const decimals = Math.min(4, (String(step).split('.')[1] ?? '').length)
  return String(Number(v.toFixed(decimals)))
}

/**
 * Creates a chart: {el, draw(series)}. `lines`: [{label, color}], `format` for legend values,
 * `integer` for counts (whole-number ticks). Redraws when its width changes.
 */
export function lineChart({ lines, height = 170, format = (v) => fmtShort(v), title, integer = false }) {
  const svg = s('svg', { height, role: 'img', 'aria-label': title ?? 'chart' })
  const legend = h('div', { class: 'legend' })
  const el = h('div', { class: 'chart' }, svg, legend)
  let last = null
  let drawnWidth = 0
  // redraw when the width changes (never on height: the legend may wrap, and that must not loop)
  const ro = new ResizeObserver(() => {
    if (last !== null && el.clientWidth > 0 && el.clientWidth !== drawnWidth) requestAnimationFrame(() => draw(last))
  })
  ro.observe(el)

  function draw(series) {
    last = series
    drawnWidth = el.clientWidth
    const width = Math.max(200, el.clientWidth || 600)
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
    const left = 44
    const right = 8
    const top = 8
    const bottom = 20
    const w = width - left - right
    const ht = height - top - bottom
    const n = series.t.length
    let peak = 0
    for (const vals of series.values) for (const v of vals) if (v > peak) peak = v
    const step = integer ? Math.max(1, niceStep(peak)) : niceStep(peak)
    const ticks = peak > 0 ? Math.max(1, Math.ceil(peak / step - 1e-9)) : 4
    const max = step * ticks
    const y = (v) => top + ht - (v / max) * ht
    const t0 = n > 0 ? series.t[0] : Date.now()
    const t1 = n > 1 ? series.t[n - 1] : t0 + 1000
    const span = Math.max(t1 - t0, 1)
    const x = (t) => left + ((t - t0) / span) * w
    const grid = s('g', { class: 'grid' })
    const axis = s('g', { class: 'axis' })
    for (let i = 0; i <= ticks; i++) {
      const v = i * step
      grid.appendChild(s('line', { x1: left, x2: left + w, y1: y(v), y2: y(v) }))
      axis.appendChild(s('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, tickLabel(v, step)))
    }
    if (n > 0) {
      axis.appendChild(s('text', { x: left, y: height - 4 }, fmtTime(t0)))
      axis.appendChild(s('text', { x: left + w, y: height - 4, 'text-anchor': 'end' }, fmtTime(t1)))
    }
    // one sample: a flat line across; the first series is drawn last, on top
    const xs = n === 1 ? [left, left + w] : series.t.map(x)
    const paths = lines
      .map((line, i) => {
        const vals = n === 1 ? [series.values[i][0], series.values[i][0]] : series.values[i]
        const d = xs.map((px, j) => `${j === 0 ? 'M' : 'L'}${px.toFixed(1)},${y(vals[j]).toFixed(1)}`).join('')
        return s('path', { class: 'line', d: d || 'M0,0', stroke: line.color })
      })
      .reverse()
    replace(svg, grid, axis, paths)
    replace(
      legend,
      lines.map((line, i) => {
        const vals = series.values[i]
        const v = vals.length > 0 ? vals[vals.length - 1] : undefined
        return h(
          'span',
          { class: 'item' },
          h('span', { class: 'swatch', style: { background: line.color } }),
          line.label,
          h('span', { class: 'v' }, v === undefined ? '–' : format(v)),
        )
      }),
    )
  }
  return { el, draw }
}
