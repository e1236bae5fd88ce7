/**
 * `warren ctl`'s HTTP client for the management API: Basic auth, JSON in and out, and errors that
 * name the problem: the API's own `reason` (ApiError), or why the API could not be reached at all
 * (Unreachable).
 */

/** The API answered with an error status; `reason` is its JSON `reason` (or the body's text). */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    /** the parsed JSON answer (health checks put details there) */
    readonly body?: unknown,
  ) {
    super(`${reason} (HTTP ${status}${error === '' ? '' : ` ${error}`})`)
  }
}

/** No HTTP answer: refused, unknown host, TLS failure, timeout, or an answer that is not the API's. */
export class Unreachable extends Error {
  override readonly name = 'Unreachable'
}

export interface ClientOptions {
  url: string
  user: string
  password: string
  timeoutMs: number
}

export interface RequestOptions {
  body?: string
  headers?: Record<string, string>
}

/**
 * Parses the base URL; credentials in it (`http://u:p@host:15672`) are taken out (fetch refuses
 * URLs with credentials) and returned. Returns null when it is not an http(s) URL.
 */
export function parseBaseUrl(raw: string): { base: string; user?: string; password?: string } | null {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    return null
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  const user = u.username === '' ? undefined : decodeURIComponent(u.username)
  const password = u.password === '' ? undefined : decodeURIComponent(u.password)
  u.username = ''
  u.password = ''
  u.search = ''
  u.hash = ''
  return { base: u.toString().replace(/\/+$/, ''), user, password }
}

/** Path segment encoding (`/` → `%2F`, as the API wants vhost names). */
export const seg = (s: string): string => encodeURIComponent(s)

export class ApiClient {
  private readonly auth: string

  constructor(private readonly options: ClientOptions) {
    this.auth = 'Basic ' + Buffer.from(`${options.user}:${options.password}`, 'utf8').toString('base64')
  }

  get url(): string {
    return this.options.url
  }

  /** the user it authenticates as */
  get user(): string {
    return this.options.user
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request('GET', path) as Promise<T>
  }

  /** Sends the request; resolves with the parsed JSON answer (undefined when empty). */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<unknown> {
    const headers: Record<string, string> = { authorization: this.auth, accept: 'application/json', ...opts.headers }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    let text: string
    try {
      res = await fetch(this.options.url + path, {
        method,
        headers,
        body: opts.body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
      text = await res.text()
    } catch (err) {
      throw new Unreachable(`cannot reach the management API at ${this.options.url}: ${causeOf(err, this.options.timeoutMs)}`)
    }
    const parsed = parseJson(text)
    if (!res.ok) throw apiError(res.status, res.statusText, parsed, text)
    if (parsed === NOT_JSON) {
      throw new Unreachable(`${this.options.url}${path} answered with something that is not JSON: is it the management API?`)
    }
    return parsed
  }
}

const NOT_JSON = Symbol('not json')

function parseJson(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return NOT_JSON
  }
}

function apiError(status: number, statusText: string, parsed: unknown, text: string): ApiError {
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>
    const reason = typeof o.reason === 'string' ? o.reason : JSON.stringify(o.reason ?? parsed)
    return new ApiError(status, typeof o.error === 'string' ? o.error : '', reason, parsed)
  }
  const body = text.trim().slice(0, 200)
  return new ApiError(status, '', body === '' ? statusText : body)
}

/** The most specific message of a fetch failure (undici wraps the socket error in `cause`). */
function causeOf(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`
  let e: unknown = err
  while (e instanceof Error && e.cause instanceof Error) e = e.cause
  if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0]
  return e instanceof Error ? e.message : String(e)
}
