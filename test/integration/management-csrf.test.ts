/**
 * Cross-site request forgery (issue 10, hole 2): a page on another origin must not be able to
 * write through a browser that holds the admin's Basic credentials. Bodies are application/json
 * only (415), cross-origin writes are 403 with a JSON reason, tools without Origin keep working, and
 * the console's calls (X-Requested-With) get 401 without the WWW-Authenticate challenge.
 */
import { describe, expect, it } from 'vitest'
import { apiClient, basicAuth } from '../helpers/http.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('csrf')

/** The forged request: a definitions import that creates an administrator. */
const forged = (user: string): string =>
  JSON.stringify({ users: [{ name: user, password: 'pwned', tags: ['administrator'] }], permissions: [] })

async function post(path: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${apiClient(s.b).base}${path}`, {
    method: 'POST',
    headers: { authorization: basicAuth('guest', 'guest'), ...headers },
    body,
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers }
}

const userExists = (name: string): boolean => s.b.broker.users.get(name) !== undefined

describe('cross-site request forgery', () => {
  it('a text/plain form post (what a cross-site <form> sends) is refused with 415 and creates nothing', async () => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const user = s.uniq('form')
      const r = await post('/api/definitions', forged(user), { 'content-type': type })
      expect(r.status, type).toBe(415)
      expect(r.body.error).toBe('unsupported_media_type')
      expect(r.body.reason).toContain('application/json')
      expect(userExists(user)).toBe(false)
    }
    // no content-type at all is not JSON either
    const user = s.uniq('none')
    const res = await fetch(`${apiClient(s.b).base}/api/definitions`, {
      method: 'POST',
      headers: { authorization: basicAuth('guest', 'guest') },
      body: new TextEncoder().encode(forged(user)),
    })
    expect(res.status).toBe(415)
    expect(userExists(user)).toBe(false)
  })

  it('a write from another origin is refused with 403 and a JSON reason, even as application/json', async () => {
    const cases: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      // another port on the same host is "same-site" for the browser, but another origin
      { 'sec-fetch-site': 'same-site' },
    ]
    for (const h of cases) {
      const user = s.uniq('xo')
      const r = await post('/api/definitions', forged(user), { 'content-type': 'application/json', ...h })
      expect(r.status, JSON.stringify(h)).toBe(403)
      expect(r.body.error).toBe('forbidden')
      expect(r.body.reason).toMatch(/cross-origin POST refused/)
      expect(userExists(user)).toBe(false)
    }
    const del = await fetch(`${apiClient(s.b).base}/api/users/guest`, {
      method: 'DELETE',
      headers: { authorization: basicAuth('guest', 'guest'), origin: 'http://evil.example' },
    })
    expect(del.status).toBe(403)
    expect(userExists('guest')).toBe(true)
  })

  it('same-origin writes, tools without Origin, bodyless DELETEs and cross-site reads still work', async () => {
    const base = apiClient(s.b).base
    const same = s.uniq('same')
    const r1 = await post('/api/definitions', forged(same), {
      'content-type': 'application/json; charset=utf-8',
      origin: base,
      'sec-fetch-site': 'same-origin',
    })
    expect(r1.status).toBe(204)
    expect(userExists(same)).toBe(true)
    const tool = s.uniq('tool')
    expect((await post('/api/definitions', forged(tool), { 'content-type': 'application/json' })).status).toBe(204)
    expect(userExists(tool)).toBe(true)
    const del = await fetch(`${base}/api/users/${tool}`, { method: 'DELETE', headers: { authorization: basicAuth('guest', 'guest') } })
    expect(del.status).toBe(204)
    // a bodyless POST needs no content-type either
    expect((await post(`/api/definitions`, undefined, {})).status).toBe(204)
    const read = await fetch(`${base}/api/overview`, { headers: { authorization: basicAuth('guest', 'guest'), origin: 'http://evil.example' } })
    expect(read.status).toBe(200)
  })

  it("401 carries WWW-Authenticate for tools, not for the console's own calls", async () => {
    const base = apiClient(s.b).base
    const tool = await fetch(`${base}/api/overview`)
    expect(tool.status).toBe(401)
    expect(tool.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"')
    const wrong = await fetch(`${base}/api/overview`, { headers: { authorization: basicAuth('guest', 'nope') } })
    expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"')
    const consoleCalls: Record<string, string>[] = [
      { 'x-requested-with': 'XMLHttpRequest' },
      { 'x-requested-with': 'XMLHttpRequest', authorization: basicAuth('guest', 'nope') },
    ]
    for (const headers of consoleCalls) {
      const consoleCall = await fetch(`${base}/api/overview`, { headers })
      expect(consoleCall.status).toBe(401)
      expect(consoleCall.headers.get('www-authenticate')).toBeNull()
      expect(await consoleCall.json()).toEqual({ error: 'not_authorized', reason: 'Login failed' })
    }
  })
})
