/**
 * A small path router for the management API. Patterns are '/'-separated, `:name` segments capture
 * one (percent-decoded) segment, so `%2F` in `/api/queues/%2F/q` is the vhost '/'. The first
 * registered route that matches wins; a path that matches only with another method gives 405.
 */
import type { Handler } from './context.js'
import { badRequest } from './http-errors.js'

/** Tag a user needs for a route (RabbitMQ's management user tags). */
export type Access = 'management' | 'monitoring' | 'policymaker' | 'administrator'

/** Per-route behaviour beyond the handler. */
export interface RouteOptions {
  /** a list endpoint: columns, sort, pagination and name filtering apply; `sort` is the default order */
  list?: { sort: readonly string[] }
  /** least user tag needed (default 'management') */
  access?: Access
  /** takes bodies up to the configured maximum (20 MB); other routes take up to 1 MB */
  largeBody?: boolean
}

/** A registered route: method, pattern segments, handler. */
export interface Route {
  readonly method: string
  readonly segments: readonly string[]
  readonly handler: Handler
  readonly options: RouteOptions
}

/** Result of Router.match: the route, or the methods the path allows, or nothing. */
export type Match =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method'; allow: string[] }
  | { kind: 'none' }

/** Method + path pattern → handler, first match wins. */
export class Router {
  private readonly routes: Route[] = []

  on(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    this.routes.push({ method, segments: pattern.split('/').filter((s) => s !== ''), handler, options })
    return this
  }

  get(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.on('GET', pattern, handler, options)
  }

  put(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.on('PUT', pattern, handler, options)
  }

  post(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.on('POST', pattern, handler, options)
  }

  delete(pattern: string, handler: Handler, options?: RouteOptions): this {
    return this.on('DELETE', pattern, handler, options)
  }

  /** Finds the route for a method and an already split, decoded path. HEAD matches GET routes. */
  match(method: string, segments: readonly string[]): Match {
    const want = method === 'HEAD' ? 'GET' : method
    const allow: string[] = []
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segments)
      if (params === null) continue
      if (r.method === want) return { kind: 'found', route: r, params }
      if (!allow.includes(r.method)) allow.push(r.method)
    }
    return allow.length > 0 ? { kind: 'method', allow } : { kind: 'none' }
  }
}

function matchSegments(pattern: readonly string[], path: readonly string[]): Record<string, string> | null {
  if (pattern.length !== path.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]
    if (p.startsWith(':')) params[p.slice(1)] = path[i]
    else if (p !== path[i]) return null
  }
  return params
}

/**
 * Splits the path part of a request URL into decoded segments. A trailing slash is ignored; an
 * empty segment inside the path stays (it never matches a `:param`-only route by accident).
 */
export function splitPath(rawPath: string): string[] {
  const parts = rawPath.split('/')
  if (parts[0] === '') parts.shift()
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts.map((p) => {
    try {
      return decodeURIComponent(p)
    } catch {
      throw badRequest(`malformed percent-encoding in path segment '${p}'`)
    }
  })
}
