/**
 * Serves the web console: `/` (and `/index.html`) is the page, `/console/…` its scripts, styles and
 * images, straight from admin-ui/console/ (no build step). No authentication here: the page signs in
 * against the API itself. Files are revalidated with ETags (`Cache-Control: no-cache` + 304), kept in
 * memory while unchanged on disk, and never served from outside the console directory.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))

/**
 * The console's directory: next to this module in the sources; when running the compiled
 * dist/admin-ui/static.js, back in the source tree (tsc does not copy non-TypeScript files).
 */
export const CONSOLE_ROOT: string =
  [path.join(HERE, 'console'), path.join(HERE, '..', '..', 'admin-ui', 'console')].find((p) => existsSync(path.join(p, 'index.html'))) ??
  path.join(HERE, 'console')

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

/** The page may load only its own scripts and styles, and talk only to its own origin. */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

interface Cached {
  mtimeMs: number
  size: number
  etag: string
  body: Buffer
}

const cache = new Map<string, Cached>()

/** Maps a request path to a file under CONSOLE_ROOT, or null when it is not a console asset. */
export function consoleFile(pathname: string): string | null | 'bad' {
  if (pathname === '/' || pathname === '/index.html') return path.join(CONSOLE_ROOT, 'index.html')
  if (pathname === '/favicon.ico') return path.join(CONSOLE_ROOT, 'favicon.svg')
  if (!pathname.startsWith('/console/')) return null
  let rel: string
  try {
    rel = decodeURIComponent(pathname.slice('/console/'.length))
  } catch {
    return 'bad'
  }
  const parts = rel.split('/')
  // no traversal, no hidden files, no backslashes or NULs, no directories
  if (rel.includes('\\') || rel.includes('\0') || parts.some((p) => p === '' || p.startsWith('.'))) return 'bad'
  const file = path.resolve(CONSOLE_ROOT, ...parts)
  if (!file.startsWith(CONSOLE_ROOT + path.sep)) return 'bad'
  return file
}

function load(file: string): Cached | null {
  let st
  try {
    st = statSync(file)
  } catch {
    return null
  }
  if (!st.isFile()) return null
  const hit = cache.get(file)
  if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit
  const body = readFileSync(file)
  const entry: Cached = { mtimeMs: st.mtimeMs, size: st.size, etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`, body }
  cache.set(file, entry)
  return entry
}

function notFound(res: ServerResponse, status = 404): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
  res.end(status === 404 ? 'Not found\n' : 'Bad request\n')
  return true
}

/**
 * Answers GET and HEAD for the console's page and assets and returns true; returns false for any
 * other URL or method, so the API router handles it.
 */
export function serveStatic(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const pathname = q < 0 ? url : url.slice(0, q)
  const file = consoleFile(pathname)
  if (file === null) return false
  if (file === 'bad') return notFound(res, 400)
  const type = TYPES[path.extname(file).toLowerCase()]
  if (type === undefined) return notFound(res)
  const entry = load(file)
  if (entry === null) return notFound(res)
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': 'no-cache',
    etag: entry.etag,
    'last-modified': new Date(entry.mtimeMs).toUTCString(),
    'x-content-type-options': 'nosniff',
  }
  if (type.startsWith('text/html')) {
    headers['content-security-policy'] = PAGE_CSP
    headers['x-frame-options'] = 'DENY'
    headers['referrer-policy'] = 'same-origin'
  }
  const inm = req.headers['if-none-match']
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === entry.etag)) {
    res.writeHead(304, headers)
    res.end()
    return true
  }
  headers['content-length'] = String(entry.body.length)
  res.writeHead(200, headers)
  res.end(req.method === 'HEAD' ? undefined : entry.body)
  return true
}
