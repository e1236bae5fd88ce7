/**
 * The management API client: HTTP Basic credentials kept in sessionStorage (gone when the tab
 * closes), JSON in and out, and errors carrying the API's `reason`.
 */
import { toBase64 } from './dom.js'

const KEY = 'warren.credentials'

/** An API answer other than 2xx; `message` is the API's reason. */
export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || `HTTP ${status}`)
    this.status = status
    this.error = error
    this.reason = reason
  }
}

/** Raised (and the app signs out) when the API no longer accepts the stored credentials. */
export class SignedOut extends ApiError {}

let onSignedOut = () => {}

/** Registers what to do when the credentials are refused (the app shows the sign-in page). */
export function whenSignedOut(fn) {
  onSignedOut = fn
}

export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? 'null')
  } catch {
    return null
  }
}

export function clearCredentials() {
  sessionStorage.removeItem(KEY)
}

/**
 * Sent with every call: the API then answers 401 without `WWW-Authenticate`, so the browser never
 * shows (and caches the answer of) its own Basic prompt; see admin-ui/request-guard.ts.
 */
const SCRIPT_CALL = { 'x-requested-with': 'XMLHttpRequest' }

function authHeader(user, password) {
  return `Basic ${toBase64(`${user}:${password}`)}`
}

/** Checks the credentials against /api/whoami and keeps them for the session; returns whoami. */
export async function signIn(user, password) {
  const auth = authHeader(user, password)
  const res = await fetch('api/whoami', { headers: { ...SCRIPT_CALL, authorization: auth }, credentials: 'omit', cache: 'no-store' })
  if (!res.ok) throw await errorOf(res)
  const me = await res.json()
  sessionStorage.setItem(KEY, JSON.stringify({ user: me.name ?? user, auth, tags: me.tags ?? [] }))
  return me
}

async function errorOf(res) {
  let body = null
  try {
    body = await res.json()
  } catch {
    // not JSON: the status text says enough
  }
  const reason = body?.reason ?? res.statusText
  // "not_authorized" (with a z) is RabbitMQ's failed login; "not_authorised" a refused action
  if (res.status === 401 && (body?.error === 'not_authorized' || res.headers.has('www-authenticate'))) return new SignedOut(401, body?.error, reason)
  const err = new ApiError(res.status, body?.error, typeof reason === 'string' ? reason : JSON.stringify(reason))
  // the whole answer, for the few that say more than a reason (a failed health check lists its alarms)
  err.body = body
  return err
}

/**
 * Calls the API. `path` is relative to /api (e.g. 'queues/%2F'). Resolves with the parsed JSON, or
 * null for an empty answer. Credentials go in an explicit header with `credentials: 'omit'`, and
 * with X-Requested-With a 401 carries no challenge, so the browser never pops up its own prompt.
 */
export async function api(method, path, body, headers = {}) {
  const c = credentials()
  if (c === null) {
    onSignedOut()
    throw new SignedOut(401, 'not_authorized', 'Not signed in')
  }
  const init = { method, headers: { ...SCRIPT_CALL, authorization: c.auth, ...headers }, credentials: 'omit', cache: 'no-store' }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
  }
  const res = await fetch(`api/${path}`, init)
  if (!res.ok) {
    const err = await errorOf(res)
    if (err instanceof SignedOut) {
      clearCredentials()
      onSignedOut()
    }
    throw err
  }
  const text = await res.text()
  return text === '' ? null : JSON.parse(text)
}

export const get = (path) => api('GET', path)
export const put = (path, body) => api('PUT', path, body ?? {})
export const post = (path, body) => api('POST', path, body ?? {})
export const del = (path, headers) => api('DELETE', path, undefined, headers)

/** Path segment for a name (the vhost '/' is %2F). */
export const seg = (name) => encodeURIComponent(name)

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/** GET a list, paged on the server: {items, page, page_count, filtered_count, total_count}. */
export async function getPage(path, { page = 1, pageSize = 50, name = '', regex = false, sort, reverse = false, columns } = {}) {
  const q = query({
    page,
    page_size: pageSize,
    name,
    use_regex: name !== '' ? regex : undefined,
    sort,
    sort_reverse: sort ? reverse : undefined,
    pagination: true,
    columns,
  })
  let r
  try {
    r = await get(path + q)
  } catch (err) {
    // the list shrank under the page being shown: show its first page
    if (page > 1 && err.reason === 'page_out_of_range') return getPage(path, { page: 1, pageSize, name, regex, sort, reverse, columns })
    throw err
  }
  if (Array.isArray(r)) {
    // an API without paging: page here
    const items = r.slice((page - 1) * pageSize, page * pageSize)
    return { items, page, page_count: Math.max(1, Math.ceil(r.length / pageSize)), filtered_count: r.length, total_count: r.length, item_count: items.length }
  }
  return r
}
