/**
 * A small client for the management API in tests: Basic auth as guest (or the given user), JSON in
 * and out, and the raw status/headers for assertions.
 */
import type { TestBroker } from './broker.js'

export interface HttpResult<T = any> {
  status: number
  headers: Headers
  /** parsed JSON, or the text when the body is not JSON, or undefined when empty */
  body: T
}

export interface ApiClient {
  readonly base: string
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>
  get<T = any>(path: string): Promise<HttpResult<T>>
  put<T = any>(path: string, body?: unknown): Promise<HttpResult<T>>
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>
  del<T = any>(path: string, headers?: Record<string, string>): Promise<HttpResult<T>>
}

export const basicAuth = (user: string, password: string): string => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64')

/** `body` as a string is sent as is (for malformed JSON); anything else is JSON-encoded. */
export function apiClient(b: Pick<TestBroker, 'httpPort'>, user = 'guest', password = 'guest'): ApiClient {
  const base = `http://127.0.0.1:${b.httpPort}`
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: basicAuth(user, password), 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    })
    const text = await res.text()
    let parsed: unknown = undefined
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
    }
    return { status: res.status, headers: res.headers, body: parsed }
  }
  return {
    base,
    request,
    get: (path) => request('GET', path),
    put: (path, body) => request('PUT', path, body ?? {}),
    post: (path, body, headers) => request('POST', path, body ?? {}, headers),
    del: (path, headers) => request('DELETE', path, undefined, headers),
  }
}
