/**
 * Cross-site request forgery defences for the management API. A browser that holds Basic
 * credentials for the API (cached after its own login prompt) attaches them to any request a page
 * on another origin makes, so such a page could POST a `text/plain` "form" to /api/definitions and
 * create an administrator. Three rules close that:
 *
 *  - writes (any method but GET, HEAD, OPTIONS) from another origin are refused with 403: an
 *    `Origin` header whose host is not the request's `Host`, `Origin: null`, or `Sec-Fetch-Site`
 *    `cross-site` / `same-site` (another port of the same host is "same-site" but another origin).
 *    Requests without these headers (curl, rabbitmqadmin, client libraries) are not browsers'
 *    cross-site requests and keep working;
 *  - a request body must be `application/json` (415 otherwise): a cross-site form can only send
 *    text/plain, urlencoded or multipart without a CORS preflight, which Warren never grants;
 *  - the console's own calls carry `X-Requested-With: XMLHttpRequest` and get their 401s without
 *    `WWW-Authenticate`, so a failed call never opens the browser's Basic prompt (whose answer the
 *    browser would cache and send cross-site). Tools still get the challenge.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { HttpError } from './http-errors.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** 403 for a browser write from another origin. */
export const crossOrigin = (reason: string): HttpError => new HttpError(403, 'forbidden', reason)

/** 415 for a body that is not JSON. */
export const unsupportedMediaType = (type: string): HttpError =>
  new HttpError(415, 'unsupported_media_type', `request bodies must be application/json, got '${type.slice(0, 100)}'`)

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)

/** Throws 403 when a write comes from a page on another origin (see the module comment). */
export function checkSameOrigin(method: string, headers: IncomingHttpHeaders): void {
  if (SAFE_METHODS.has(method)) return
  const site = one(headers['sec-fetch-site'])?.toLowerCase()
  if (site === 'cross-site' || site === 'same-site') {
    throw crossOrigin(`cross-origin ${method} refused (Sec-Fetch-Site: ${site})`)
  }
  const origin = one(headers.origin)
  if (origin === undefined) return
  const host = one(headers.host)?.toLowerCase()
  let originHost: string | undefined
  try {
    const u = new URL(origin)
    if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.host.toLowerCase()
  } catch {
    originHost = undefined
  }
  if (host === undefined || originHost === undefined || !sameHost(originHost, host)) {
    throw crossOrigin(`cross-origin ${method} refused: Origin '${origin.slice(0, 200)}' is not this server's origin`)
  }
}

/**
 * `URL.host` drops a default port (`http://h:80` → `h`) while a Host header may keep it: compare
 * with the default ports stripped from both.
 */
function sameHost(originHost: string, host: string): boolean {
  const strip = (h: string): string => h.replace(/:(80|443)$/, '')
  return strip(originHost) === strip(host)
}

/** True when the request carries a body (a declared length above 0, or a chunked one). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const len = headers['content-length']
  if (len !== undefined) return len !== '0'
  return headers['transfer-encoding'] !== undefined
}

/** Throws 415 unless a request with a body declares it as application/json. */
export function checkJsonBody(headers: IncomingHttpHeaders): void {
  if (!hasBody(headers)) return
  const type = headers['content-type'] ?? ''
  const media = type.split(';', 1)[0].trim().toLowerCase()
  if (media !== 'application/json') throw unsupportedMediaType(type)
}

/** Does the request come from a script that handles 401 itself (the console)? */
export function isScriptCall(headers: IncomingHttpHeaders): boolean {
  return one(headers['x-requested-with'])?.toLowerCase() === 'xmlhttprequest'
}
