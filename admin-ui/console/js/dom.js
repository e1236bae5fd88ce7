/**
 * Tiny DOM helpers: element builders (text is always set as text, never parsed as HTML) and the
 * number, rate, byte and time formats the pages share.
 */

const SVG_NS = 'http://www.w3.org/2000/svg'

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else if (c instanceof Node) el.appendChild(c)
    else el.appendChild(document.createTextNode(String(c)))
  }
}

function setAttrs(el, attrs) {
  if (!attrs) return
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v)
    else if (k === 'text') el.textContent = String(v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v)
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'value' && 'value' in el) el.value = v
    else if ((k === 'checked' || k === 'selected' || k === 'disabled') && k in el) el[k] = Boolean(v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
}

/** Creates an HTML element: h('a', { href, class, onclick }, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

/** Creates an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag)
  setAttrs(el, attrs)
  append(el, children)
  return el
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

/** Hash link to a console page: link('queues', vhost, name) → #/queues/%2F/name */
export function href(...parts) {
  return '#/' + parts.map((p) => encodeURIComponent(p)).join('/')
}

/** The default exchange is addressed as amq.default in URLs (RabbitMQ). */
export function exchangeUrlName(name) {
  return name === '' ? 'amq.default' : name
}

export function exchangeLabel(name) {
  return name === '' ? '(AMQP default)' : name
}

export function fmtNum(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–'
  return Number(n).toLocaleString('en-US')
}

/** A per-second rate, e.g. 12.4/s. */
export function fmtRate(r) {
  if (r === undefined || r === null || Number.isNaN(r)) return '–'
  const v = Number(r)
  if (v === 0) return '0/s'
  if (v < 10) return `${v.toFixed(1)}/s`
  return `${Math.round(v).toLocaleString('en-US')}/s`
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = Number(n)
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  // whole bytes: a rate such as 943.3512224209899 B/s reads as 943 B/s
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}

/** A compact number for axes: 1.2k, 3M. */
export function fmtShort(n) {
  const a = Math.abs(n)
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`
  return `${+n.toFixed(a < 10 ? 1 : 0)}`
}

export function fmtTime(ms) {
  const d = new Date(ms)
  return d.toLocaleTimeString('en-GB', { hour12: false })
}

/** Seconds since the epoch (AMQP timestamps) or ms as a readable date-time. */
export function fmtDate(v) {
  if (typeof v !== 'number') return String(v)
  const ms = v < 1e11 ? v * 1000 : v
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

/** A rate from a RabbitMQ `*_details` object, 0 when absent. */
export function rateOf(stats, key) {
  return stats?.[`${key}_details`]?.rate ?? 0
}

/** Values a JSON table may hold, shown compactly. */
export function fmtValue(v) {
  if (v === null) return 'null'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

/** UTF-8 safe base64 of a string, and back (null when the bytes are not UTF-8). */
export function toBase64(text) {
  const bytes = new TextEncoder().encode(text)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin)
}

export function fromBase64(b64) {
  try {
    const bin = atob(b64)
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0))
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return null
  }
}

/** Bytes of a string in UTF-8 (AMQP short strings hold 255). */
export function utf8Length(text) {
  return new TextEncoder().encode(text).length
}
