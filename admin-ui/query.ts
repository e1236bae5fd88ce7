/**
 * The query parameters RabbitMQ's management API applies to its answers (rabbit_mgmt_util):
 * `columns` (comma-separated, dotted paths), `sort` (dotted path) and `sort_reverse`, and the paged
 * form selected by `page` with `page_size`, `name` and `use_regex`:
 * `{items, page, page_count, page_size, total_count, filtered_count, item_count}`.
 */
import { badRequest } from './http-errors.js'
import { nameMatcher } from './name-regex.js'

type Obj = Record<string, unknown>

const MAX_PAGE_SIZE = 500
const DEFAULT_PAGE_SIZE = 100

/** Applies sort, filter, pagination and columns to a list answer. */
export function listReply(items: readonly Obj[], query: URLSearchParams, defaultSort: readonly string[]): unknown {
  const sortKey = query.get('sort')
  const reverse = query.get('sort_reverse') === 'true'
  const sorted = sortItems(items, sortKey !== null && sortKey !== '' ? [sortKey] : defaultSort, reverse)
  const columns = parseColumns(query)
  const pageRaw = query.get('page')
  if (pageRaw === null) {
    const filtered = filterByName(sorted, query)
    return columns === null ? filtered : filtered.map((i) => pickColumns(i, columns))
  }
  const page = positiveInt(pageRaw, 'page', Number.MAX_SAFE_INTEGER)
  const pageSize = positiveInt(query.get('page_size') ?? String(DEFAULT_PAGE_SIZE), 'page_size', MAX_PAGE_SIZE)
  const filtered = filterByName(sorted, query)
  const pageCount = Math.max(1, Math.ceil(filtered.length / pageSize))
  if (page > pageCount) throw badRequest('page_out_of_range')
  const slice = filtered.slice((page - 1) * pageSize, page * pageSize)
  return {
    filtered_count: filtered.length,
    item_count: slice.length,
    items: columns === null ? slice : slice.map((i) => pickColumns(i, columns)),
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: items.length,
  }
}

/** Applies `columns` to a single-object answer. */
export function objectReply(body: unknown, query: URLSearchParams): unknown {
  const columns = parseColumns(query)
  if (columns === null || body === null || typeof body !== 'object' || Array.isArray(body)) return body
  return pickColumns(body as Obj, columns)
}

function positiveInt(raw: string, name: string, max: number): number {
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a positive integer, got '${raw}'`)
  const n = Number(raw)
  if (n < 1 || n > max) throw badRequest(`${name} must be between 1 and ${max}, got ${n}`)
  return n
}

/** `name` filters by substring, or (`use_regex=true`) by an RE2 search; see name-regex.ts. */
export function filterByName(items: readonly Obj[], query: URLSearchParams): readonly Obj[] {
  const name = query.get('name')
  if (name === null || name === '') return items
  let test: (s: string) => boolean
  if (query.get('use_regex') === 'true') test = nameMatcher(name)
  else {
    const needle = name.toLowerCase()
    test = (s) => s.toLowerCase().includes(needle)
  }
  return items.filter((i) => typeof i.name === 'string' && test(i.name))
}

function parseColumns(query: URLSearchParams): string[][] | null {
  const raw = query.get('columns')
  if (raw === null || raw.trim() === '') return null
  return raw
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((c) => c.split('.'))
}

/** `o[k]` for an own key only: `columns=__proto__.x` must not walk into Object.prototype. */
const own = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Obj)[k] : undefined)

function pickColumns(item: Obj, columns: readonly string[][]): Obj {
  const out = Object.create(null) as Obj
  for (const path of columns) {
    let src: unknown = item
    for (const k of path) src = own(src, k)
    if (src === undefined) continue
    let dst = out
    for (let i = 0; i < path.length - 1; i++) {
      const next = own(dst, path[i])
      dst = (next !== null && typeof next === 'object' ? next : (dst[path[i]] = Object.create(null))) as Obj
    }
    dst[path[path.length - 1]] = src
  }
  return out
}

function getPath(item: Obj, path: readonly string[]): unknown {
  let v: unknown = item
  for (const k of path) v = own(v, k)
  return v
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0
  if (a === undefined || a === null) return -1
  if (b === undefined || b === null) return 1
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}

function sortItems(items: readonly Obj[], keys: readonly string[], reverse: boolean): Obj[] {
  const out = [...items]
  const paths = keys.map((k) => k.split('.'))
  out.sort((a, b) => {
    for (const k of paths) {
      const c = compare(getPath(a, k), getPath(b, k))
      if (c !== 0) return reverse ? -c : c
    }
    return 0
  })
  return out
}
