/**
 * Zoom and pan for an SVG diagram: wheel zooms at the pointer, dragging the background pans,
 * buttons zoom in, out and fit, and the keyboard works when the SVG has focus (arrows pan, + and -
 * zoom, 0 fits). Edge labels are hidden when zoomed far out, where they would only be noise.
 */
import { h } from './dom.js'

const MIN = 0.08
const MAX = 4

export function zoomPan(svg, viewport, wrap) {
  const t = { k: 1, x: 0, y: 0 }
  let content = { w: 1, h: 1 }

  function apply() {
    viewport.setAttribute('transform', `translate(${t.x.toFixed(1)},${t.y.toFixed(1)}) scale(${t.k.toFixed(4)})`)
    svg.classList.toggle('far', t.k < 0.6)
  }

  function zoomAt(factor, cx, cy) {
    const k = Math.min(MAX, Math.max(MIN, t.k * factor))
    t.x = cx - ((cx - t.x) * k) / t.k
    t.y = cy - ((cy - t.y) * k) / t.k
    t.k = k
    apply()
  }

  function centre() {
    const r = svg.getBoundingClientRect()
    return [r.width / 2, r.height / 2]
  }

  function fit() {
    const r = svg.getBoundingClientRect()
    const pad = 30
    const k = Math.min(1.2, Math.max(MIN, Math.min((r.width - pad * 2) / content.w, (r.height - pad * 2) / content.h)))
    t.k = k
    t.x = (r.width - content.w * k) / 2
    t.y = (r.height - content.h * k) / 2
    apply()
  }

  svg.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault()
      const r = svg.getBoundingClientRect()
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top)
    },
    { passive: false },
  )

  let drag = null
  svg.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || e.target.closest('.tnode')) return
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY, tx: t.x, ty: t.y }
    svg.setPointerCapture(e.pointerId)
    svg.classList.add('panning')
  })
  svg.addEventListener('pointermove', (e) => {
    if (drag === null || e.pointerId !== drag.id) return
    t.x = drag.tx + e.clientX - drag.x
    t.y = drag.ty + e.clientY - drag.y
    apply()
  })
  const end = (e) => {
    if (drag === null || e.pointerId !== drag.id) return
    drag = null
    svg.classList.remove('panning')
  }
  svg.addEventListener('pointerup', end)
  svg.addEventListener('pointercancel', end)

  svg.addEventListener('keydown', (e) => {
    if (e.target !== svg) return
    const step = 60
    const keys = {
      ArrowLeft: () => (t.x += step),
      ArrowRight: () => (t.x -= step),
      ArrowUp: () => (t.y += step),
      ArrowDown: () => (t.y -= step),
      '+': () => zoomAt(1.25, ...centre()),
      '=': () => zoomAt(1.25, ...centre()),
      '-': () => zoomAt(0.8, ...centre()),
      0: () => fit(),
    }
    const fn = keys[e.key]
    if (!fn) return
    e.preventDefault()
    fn()
    apply()
  })

  const btn = (label, title, fn) => h('button', { type: 'button', class: 'btn', title, 'aria-label': title, onclick: fn }, label)
  wrap.appendChild(
    h(
      'div',
      { class: 'topo-zoom' },
      btn('+', 'Zoom in', () => zoomAt(1.25, ...centre())),
      btn('−', 'Zoom out', () => zoomAt(0.8, ...centre())),
      btn('⤢', 'Fit to view', () => fit()),
    ),
  )

  return {
    setContent(w, hgt) {
      content = { w: Math.max(1, w), h: Math.max(1, hgt) }
    },
    fit,
  }
}
