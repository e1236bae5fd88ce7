/**
 * The console's shell: sign-in, the top bar (navigation, virtual host, refresh rate, sign-out), the
 * hash router (#/queues/%2F/name) and the refresh loop that pages register their pollers with.
 */
import { SignedOut, clearCredentials, credentials, get, signIn, whenSignedOut } from './api.js'
import { h, replace } from './dom.js'
import overview from './pages/overview.js'
import connections from './pages/connections.js'
import channels from './pages/channels.js'
import exchanges from './pages/exchanges.js'
import exchange from './pages/exchange.js'
import queues from './pages/queues.js'
import queue from './pages/queue.js'
import deadLetters from './pages/dead-letters.js'
import backlog from './pages/backlog.js'
import topology from './pages/topology.js'
import routeTester from './pages/route-tester.js'
import trace from './pages/trace.js'
import admin from './pages/admin.js'

const ROUTES = [
  { path: [], page: overview, nav: 'Overview', key: '' },
  { path: ['connections'], page: connections, nav: 'Connections', key: 'connections' },
  { path: ['channels'], page: channels, nav: 'Channels', key: 'channels' },
  { path: ['exchanges'], page: exchanges, nav: 'Exchanges', key: 'exchanges' },
  { path: ['exchanges', ':vhost', ':name'], page: exchange, key: 'exchanges' },
  { path: ['queues'], page: queues, nav: 'Queues', key: 'queues' },
  { path: ['queues', ':vhost', ':name'], page: queue, key: 'queues' },
  { path: ['backlog'], page: backlog, nav: 'Backlog', key: 'backlog' },
  { path: ['dead-letters'], page: deadLetters, nav: 'Dead letters', key: 'dead-letters' },
  { path: ['topology'], page: topology, nav: 'Topology', key: 'topology' },
  { path: ['route-tester'], page: routeTester, nav: 'Route tester', key: 'route-tester' },
  { path: ['route-tester', ':vhost', ':exchange'], page: routeTester, key: 'route-tester' },
  { path: ['trace'], page: trace, nav: 'Trace', key: 'trace' },
  { path: ['admin'], page: admin, nav: 'Admin', key: 'admin' },
  { path: ['admin', ':section'], page: admin, key: 'admin' },
]

const main = document.getElementById('main')
const topbar = document.getElementById('topbar')
const vhostSelect = document.getElementById('vhost-select')
const refreshSelect = document.getElementById('refresh-select')

/** The state of the page on screen: its pollers, stopped when the user navigates away. */
let view = null
let timer = 0

/** What pages get: the selected vhost, vhost list, pollers and navigation. */
export const app = {
  vhosts: [],
  /** the cluster's node names (one on a single node; empty for users who may not list nodes) */
  nodes: [],
  /** the selected vhost, or '' for all */
  get vhost() {
    return sessionStorage.getItem('warren.vhost') ?? ''
  },
  /** the selected vhost, or the first one (pages that show one vhost) */
  get oneVhost() {
    const v = this.vhost
    if (v !== '') return v
    return this.vhosts.includes('/') ? '/' : (this.vhosts[0] ?? '/')
  },
  /** Runs `fn` now and at every refresh until the user leaves the page. */
  poll(fn) {
    const v = view
    const run = async () => {
      if (v !== view) return
      if (v.busy.has(fn)) {
        // a change while a refresh is under way: run once more when it is done
        v.again.add(fn)
        return
      }
      v.busy.add(fn)
      try {
        await fn()
        if (v === view) showPollError(null)
      } catch (err) {
        if (v === view) showPollError(err)
      } finally {
        v.busy.delete(fn)
      }
      if (v.again.delete(fn)) await run()
    }
    v.pollers.push(run)
    return run()
  },
  /** Runs every poller of the page now (after a change the user made). */
  refresh() {
    if (view === null) return Promise.resolve()
    return Promise.all(view.pollers.map((p) => p()))
  },
  navigate(hash) {
    location.hash = hash
  },
  /** Reads the vhost list again (after one is added or deleted) and updates the top bar's choice. */
  reloadVhosts() {
    return loadVhosts()
  },
}

function showPollError(err) {
  const box = document.getElementById('poll-error')
  if (box === null) return
  box.hidden = err === null
  if (err !== null) box.textContent = `Could not refresh: ${err.message}`
}

function match(parts) {
  for (const r of ROUTES) {
    if (r.path.length !== parts.length) continue
    const params = {}
    if (r.path.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = parts[i]), true) : p === parts[i]))) return { route: r, params }
  }
  return null
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '')
  if (raw === '') return []
  return raw.split('/').map((p) => {
    try {
      return decodeURIComponent(p)
    } catch {
      return p
    }
  })
}

function buildNav(activeKey) {
  const nav = document.getElementById('nav')
  replace(
    nav,
    ROUTES.filter((r) => r.nav).map((r) =>
      h('a', { href: `#/${r.path.join('/')}`, class: r.key === activeKey ? 'active' : undefined, 'aria-current': r.key === activeKey ? 'page' : undefined }, r.nav),
    ),
  )
}

async function loadVhosts() {
  try {
    const list = await get('vhosts?columns=name')
    app.vhosts = list.map((v) => v.name).sort()
  } catch {
    app.vhosts = ['/']
  }
  try {
    app.nodes = (await get('nodes?columns=name')).map((n) => n.name)
  } catch {
    app.nodes = []
  }
  const current = app.vhost
  replace(
    vhostSelect,
    h('option', { value: '', selected: current === '' }, 'All'),
    app.vhosts.map((v) => h('option', { value: v, selected: v === current }, v)),
  )
}

async function render(focus) {
  view = { pollers: [], busy: new Set(), again: new Set() }
  if (credentials() === null) return renderSignIn()
  topbar.hidden = false
  document.getElementById('user-name').textContent = credentials().user
  const m = match(parseHash())
  if (m === null) {
    buildNav('')
    document.title = 'Not found · Warren'
    replace(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')))
    return
  }
  buildNav(m.route.key)
  document.title = `${m.route.page.title ?? m.route.nav} · Warren`
  replace(main, h('div', { id: 'poll-error', class: 'error-box', role: 'alert', hidden: true, style: { marginBottom: '12px' } }))
  const body = h('div')
  main.appendChild(body)
  if (focus) main.focus()
  try {
    await m.route.page.render(body, m.params, app)
  } catch (err) {
    replace(body, h('div', { class: 'error-box', role: 'alert' }, err.message))
  }
}

function renderSignIn(message) {
  topbar.hidden = true
  document.title = 'Sign in · Warren'
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true })
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' })
  const err = h('p', { class: 'form-error', role: 'alert', hidden: !message }, message ?? '')
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in')
  const form = h(
    'form',
    { 'aria-label': 'Sign in' },
    err,
    h('label', {}, 'Username', user),
    h('label', {}, 'Password', pass),
    submit,
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    if (user.value.trim() === '') {
      err.hidden = false
      err.textContent = 'Enter a username.'
      user.focus()
      return
    }
    submit.disabled = true
    try {
      await signIn(user.value.trim(), pass.value)
      await loadVhosts()
      await render(true)
    } catch (e2) {
      err.hidden = false
      // a refused login (401 with a challenge) says little on purpose; other refusals say why
      err.textContent =
        e2 instanceof SignedOut ? 'Sign-in failed: wrong username or password, or this user may not sign in from here.' : `Sign-in failed: ${e2.message}`
      pass.select()
    } finally {
      submit.disabled = false
    }
  })
  replace(
    main,
    h(
      'div',
      { class: 'signin' },
      h('div', { class: 'logo' }, h('img', { src: 'console/favicon.svg', alt: '', width: 30, height: 30 }), 'Warren'),
      h('div', { class: 'muted' }, 'Sign in with a broker user to manage exchanges, queues and bindings.'),
      form,
    ),
  )
  user.focus()
}

function tick() {
  clearInterval(timer)
  const ms = Number(refreshSelect.value)
  localStorage.setItem('warren.refresh', String(ms))
  if (ms > 0) {
    timer = setInterval(() => {
      if (document.hidden || view === null) return
      for (const p of view.pollers) p()
    }, ms)
  }
}

whenSignedOut(() => {
  view = null
  renderSignIn('Your session has ended. Please sign in again.')
})

document.getElementById('sign-out').addEventListener('click', () => {
  view = null
  clearCredentials()
  sessionStorage.removeItem('warren.vhost')
  location.hash = '#/'
  renderSignIn()
})

document.getElementById('skip-link').addEventListener('click', (e) => {
  // the hash is the router's: move focus without navigating
  e.preventDefault()
  main.focus()
})

vhostSelect.addEventListener('change', () => {
  sessionStorage.setItem('warren.vhost', vhostSelect.value)
  render(false)
})

const savedRefresh = localStorage.getItem('warren.refresh')
if (savedRefresh !== null && [...refreshSelect.options].some((o) => o.value === savedRefresh)) refreshSelect.value = savedRefresh
refreshSelect.addEventListener('change', tick)
window.addEventListener('hashchange', () => render(true))
tick()
if (credentials() !== null) await loadVhosts()
render(false)
