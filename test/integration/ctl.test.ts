/**
 * `warren ctl` against a real broker's management API: every command in-process (runCtl with
 * captured output), and the built `warren` bin as a user runs it (`node dist/transport/warren.js`,
 * built by test/global-setup.ts). Error paths: usage (exit 2), API refusals with the API's reason
 * (exit 1), an unreachable URL (exit 1), an alarm in `status` (exit 3).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { afterAll, describe, expect, it } from 'vitest'
import { runCtl } from '../../admin-ui/ctl/main.js'
import { startTestBroker, waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { brokerSuite, channelError, replyText } from '../helpers/suite.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = path.join(ROOT, 'dist', 'transport', 'warren.js')

const s = brokerSuite('ctl')
const url = (): string => `http://127.0.0.1:${s.b.httpPort}`
const dir = mkdtempSync(path.join(tmpdir(), 'warren-ctl-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  code: number
  out: string
  err: string
}

/** `warren ctl ARGS` in-process, against the suite's broker unless WARREN_URL/--url says otherwise. */
async function ctl(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<Run> {
  let out = ''
  let err = ''
  const env = { WARREN_URL: url(), ...opts.env }
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), readStdin: async () => opts.stdin ?? '' }
  const code = await runCtl(args, env, io)
  return { code, out, err }
}

/** The table's rows as arrays of cells (split on runs of 2+ spaces), header first. */
const tableRows = (out: string): string[][] => out.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/))

describe('usage', () => {
  it('--help lists every command; a command has its own help; both exit 0', async () => {
    const r = await ctl(['--help'])
    expect(r.code).toBe(0)
    for (const c of ['list queues', 'list permissions', 'add user NAME', 'delete vhost NAME', 'set policy NAME PATTERN DEFINITION', 'export definitions FILE', 'import definitions FILE', 'close connection NAME', 'purge queue NAME', 'status',
      'list operator-policies', 'list vhost-limits', 'list user-limits', 'list topic-permissions', 'list parameters',
      'set operator-policy NAME PATTERN DEFINITION', 'clear operator-policy NAME', 'set vhost-limit NAME VALUE', 'clear vhost-limit NAME',
      'set user-limit USER NAME VALUE', 'clear user-limit USER NAME', 'set topic-permissions USER', 'clear topic-permissions USER',
      'set parameter COMPONENT NAME VALUE', 'clear parameter COMPONENT NAME']) {
      expect(r.out).toContain(c)
    }
    expect(r.out).toContain('WARREN_URL')
    const add = await ctl(['add', 'user', '--help'])
    expect(add.code).toBe(0)
    expect(add.out).toMatch(/^Usage: warren ctl add user NAME --password P \[--tags LIST\]/)
    expect((await ctl(['help', 'set', 'permissions'])).out).toContain('--configure RE')
    expect((await ctl(['set', 'topic-permissions', '--help'])).out).toMatch(/^Usage: warren ctl set topic-permissions USER --exchange X --write RE --read RE/)
    expect((await ctl(['clear', 'topic-permissions', '--help'])).out).toMatch(/^Usage: warren ctl clear topic-permissions USER \[--exchange X\]/)
    const list = await ctl(['list', '--help'])
    expect(list.code).toBe(0)
    expect(list.out).toContain('list consumers')
    expect(list.out).not.toContain('add user')
  })

  it('mistakes exit 2 with a message naming them and a usage hint, without calling the API', async () => {
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['list'], /'list' needs an object: list queues\|exchanges\|/],
      [['list', 'queue'], /unknown command 'list queue': list queues\|/],
      [['list', 'queues', '--bogus'], /unknown option '--bogus'/],
      [['list', 'queues', 'extra'], /'list queues' takes no arguments; unexpected 'extra'/],
      [['delete', 'user'], /'delete user' takes NAME/],
      [['add', 'user', 'bob'], /add user needs --password/],
      [['add', 'vhost', 'v', '--tags', 'x'], /'add vhost' takes no option '--tags'/],
      [['set', 'permissions', 'bob', '--configure', '.*'], /needs --configure, --write and --read/],
      [['set', 'policy', 'p', '.*', '{nope'], /DEFINITION is not JSON/],
      [['set', 'policy', 'p', '.*', '[1]'], /DEFINITION must be a JSON object/],
      [['set', 'policy', 'p', '.*', '{}', '--priority', 'high'], /--priority must be an integer/],
      [['set', 'operator-policy', 'p', '.*', '{nope'], /DEFINITION is not JSON/],
      [['set', 'operator-policy', 'p', '.*', '{}', '--priority', '1.5'], /--priority must be an integer/],
      [['set', 'vhost-limit', 'max-queues'], /'set vhost-limit' takes NAME VALUE/],
      [['set', 'vhost-limit', 'max-queues', 'ten'], /VALUE must be an integer, got 'ten'/],
      [['set', 'user-limit', 'bob', 'max-channels', '1e3'], /VALUE must be an integer/],
      [['clear', 'user-limit', 'bob'], /'clear user-limit' takes USER NAME/],
      [['set', 'topic-permissions', 'bob', '--exchange', 'amq.topic', '--write', '.*'], /needs --exchange, --write and --read/],
      [['clear', 'topic-permissions', 'bob', '--write', '.*'], /'clear topic-permissions' takes no option '--write'/],
      [['set', 'parameter', 'shovel', 'x', '{nope'], /VALUE is not JSON/],
      [['clear', 'parameter', 'shovel'], /'clear parameter' takes COMPONENT NAME/],
      [['list', 'queues', '--format', 'yaml'], /--format must be table or json, got 'yaml'/],
      [['list', 'queues', '--url', 'ftp://x'], /--url 'ftp:\/\/x' is not an http/],
      [['list', 'queues', '--timeout', '-1'], /option '--timeout' needs a value|--timeout must be/],
      [['status', '--url'], /option '--url' needs a value/],
    ]
    for (const [args, re] of cases) {
      // an unreachable URL: a usage error must be found before any request
      const r = await ctl(args, { env: { WARREN_URL: 'http://127.0.0.1:1' } })
      expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' })
      expect(r.err, args.join(' ')).toMatch(re)
      expect(r.err).toMatch(/\n(Usage: warren ctl|Run warren ctl --help)/)
    }
  })

  it('an unreachable URL exits 1 with "cannot reach the management API at URL"', async () => {
    const srv = net.createServer()
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as net.AddressInfo).port
    await new Promise((resolve) => srv.close(resolve))
    const r = await ctl(['list', 'queues', '--url', `http://127.0.0.1:${port}`])
    expect(r.code).toBe(1)
    expect(r.err).toBe(`warren ctl: cannot reach the management API at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`)
  })

  it('a server that is not the API (no JSON) or does not answer in --timeout exits 1 saying so', async () => {
    const srv = http.createServer((req, res) => {
      if (req.url?.startsWith('/slow/') === true) return // never answers
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>')
    })
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`
    try {
      const html = await ctl(['list', 'queues', '--url', base])
      expect(html).toEqual({ code: 1, out: '', err: `warren ctl: ${base}/api/queues answered with something that is not JSON: is it the management API?\n` })
      const slow = await ctl(['status', '--url', `${base}/slow`, '--timeout', '0.2'])
      expect(slow).toEqual({ code: 1, out: '', err: `warren ctl: cannot reach the management API at ${base}/slow: no answer within 200 ms\n` })
    } finally {
      srv.closeAllConnections()
      await new Promise((resolve) => srv.close(resolve))
    }
  })
})

describe('credentials', () => {
  it('bad credentials exit 1 with the API reason and the user; env, flags and URL credentials are used', async () => {
    const bad = await ctl(['list', 'users', '--user', 'guest', '--password', 'wrong'])
    expect(bad.code).toBe(1)
    expect(bad.err).toBe("warren ctl: list users: Login failed (HTTP 401 not_authorized) as user 'guest'\n")
    expect((await ctl(['list', 'users'], { env: { WARREN_PASSWORD: 'wrong' } })).code).toBe(1)
    const inUrl = await ctl(['list', 'users', '--url', `http://guest:wrong@127.0.0.1:${s.b.httpPort}`])
    expect(inUrl.err).toContain('Login failed')
    expect((await ctl(['list', 'users', '--url', `http://guest:guest@127.0.0.1:${s.b.httpPort}/`], { env: { WARREN_PASSWORD: 'wrong' } })).code).toBe(0)
  })

  it("--password before the command words is the tool's; after 'add user' it is the new user's", async () => {
    const name = s.uniq('pw')
    const refused = await ctl(['--password', 'wrong', 'add', 'user', name, '--password', 'secret'])
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('Login failed')
    expect((await ctl(['--password', 'guest', 'add', 'user', name, '--password', 'secret', '--tags', 'management'])).code).toBe(0)
    expect((await apiClient(s.b, name, 'secret').get('/api/whoami')).status).toBe(200)
    expect((await ctl(['delete', 'user', name])).code).toBe(0)
  })

  it('a user without the administrator tag gets the API refusal', async () => {
    const name = s.uniq('mon')
    expect((await ctl(['add', 'user', name, '--password', 'p', '--tags', 'monitoring'])).code).toBe(0)
    const r = await ctl(['list', 'users', '--user', name, '--password', 'p'])
    expect(r.code).toBe(1)
    expect(r.err).toBe(`warren ctl: list users: Not administrator user (HTTP 401 not_authorised)\n`)
    await ctl(['delete', 'user', name])
  })
})

describe('users, vhosts, permissions, policies', () => {
  it('add/list/delete user, with tags, table and JSON', async () => {
    const name = s.uniq('bob')
    const add = await ctl(['add', 'user', name, '--password', 's3cret', '--tags', 'administrator,monitoring'])
    expect(add).toEqual({ code: 0, out: `added user '${name}'\n`, err: '' })
    const table = tableRows((await ctl(['list', 'users'])).out)
    expect(table[0]).toEqual(['name', 'tags'])
    expect(table).toContainEqual([name, 'administrator,monitoring'])
    const json = JSON.parse((await ctl(['list', 'users', '--format', 'json'])).out)
    expect(json.find((u: any) => u.name === name)).toMatchObject({ tags: ['administrator', 'monitoring'] })
    expect((await apiClient(s.b, name, 's3cret').get('/api/whoami')).body).toEqual({ name, tags: ['administrator', 'monitoring'] })
    expect(await ctl(['delete', 'user', name, '--format', 'json'])).toEqual({ code: 0, out: '', err: '' })
    const again = await ctl(['delete', 'user', name])
    expect(again.code).toBe(1)
    expect(again.err).toBe(`warren ctl: delete user '${name}': Not Found (HTTP 404 Object Not Found)\n`)
  })

  it('add/delete vhost, set/clear permissions, list permissions of a vhost', async () => {
    const v = s.uniq('vh')
    const u = s.uniq('u')
    expect((await ctl(['add', 'vhost', v, '--description', 'for tests'])).code).toBe(0)
    expect(tableRows((await ctl(['list', 'vhosts', '--columns', 'name,description'])).out)).toContainEqual([v, 'for tests'])
    await ctl(['add', 'user', u, '--password', 'p'])
    const set = await ctl(['set', 'permissions', u, '--vhost', v, '--configure', '^x', '--write', '.*', '--read', ''])
    expect(set.out).toBe(`set permissions of user '${u}' in vhost '${v}'\n`)
    const perms = JSON.parse((await ctl(['list', 'permissions', '--vhost', v, '--format', 'json'])).out)
    expect(perms.find((p: any) => p.user === u)).toEqual({ user: u, vhost: v, configure: '^x', write: '.*', read: '' })
    expect(perms.every((p: any) => p.vhost === v)).toBe(true)
    // the API's reason quotes the pattern: its control characters are escaped on the terminal too
    const bad = await ctl(['set', 'permissions', u, '--vhost', v, '--configure', '\u001b[2J(', '--write', '', '--read', ''])
    expect(bad.code).toBe(1)
    expect(bad.err).toBe(`warren ctl: set permissions '${u}' in vhost '${v}': configure is not a valid regular expression: '\\x1b[2J(' (HTTP 400 bad_request)\n`)
    expect((await ctl(['clear', 'permissions', u, '--vhost', v])).code).toBe(0)
    expect((await apiClient(s.b).get(`/api/permissions/${encodeURIComponent(v)}/${u}`)).status).toBe(404)
    expect((await ctl(['delete', 'vhost', v])).code).toBe(0)
    expect(JSON.parse((await ctl(['list', 'vhosts', '--format', 'json'])).out).map((x: any) => x.name)).not.toContain(v)
    await ctl(['delete', 'user', u])
  })

  it('set/list/clear policy with apply-to and priority', async () => {
    const name = s.uniq('pol')
    const r = await ctl(['set', 'policy', name, '^tmp\\.', '{"message-ttl":60000}', '--apply-to', 'queues', '--priority', '7'])
    expect(r).toEqual({ code: 0, out: `set policy '${name}' in vhost '/'\n`, err: '' })
    const list = JSON.parse((await ctl(['list', 'policies', '--vhost', '/', '--format', 'json'])).out)
    expect(list.find((p: any) => p.name === name)).toEqual({
      vhost: '/', name, pattern: '^tmp\\.', 'apply-to': 'queues', definition: { 'message-ttl': 60000 }, priority: 7,
    })
    expect(tableRows((await ctl(['list', 'policies'])).out)).toContainEqual(['/', name, '^tmp\\.', 'queues', '7', '{"message-ttl":60000}'])
    const bad = await ctl(['set', 'policy', name, '.*', '{}', '--apply-to', 'everything'])
    expect(bad.code).toBe(1)
    expect(bad.err).toContain("apply-to 'everything' unrecognised; should be one of")
    expect((await ctl(['clear', 'policy', name])).code).toBe(0)
    expect((await ctl(['clear', 'policy', name])).code).toBe(1)
  })
})

describe('operator policies, limits, topic permissions, parameters', () => {
  const api = () => apiClient(s.b)

  it('set/list/clear operator-policy; the queue shows it as operator_policy', async () => {
    const name = s.uniq('op')
    const qname = s.uniq('opq')
    const r = await ctl(['set', 'operator-policy', name, `^${qname}$`, '{"max-length":5}', '--apply-to', 'queues', '--priority', '3'])
    expect(r).toEqual({ code: 0, out: `set operator policy '${name}' in vhost '/'\n`, err: '' })
    expect((await api().get(`/api/operator-policies/%2F/${name}`)).body).toEqual({
      vhost: '/', name, pattern: `^${qname}$`, 'apply-to': 'queues', definition: { 'max-length': 5 }, priority: 3,
    })
    expect(tableRows((await ctl(['list', 'operator-policies', '--vhost', '/'])).out)).toContainEqual(['/', name, `^${qname}$`, 'queues', '3', '{"max-length":5}'])
    const { ch } = await s.amqplibChannel()
    await ch.assertQueue(qname, { durable: false })
    expect((await api().get(`/api/queues/%2F/${qname}`)).body).toMatchObject({ operator_policy: name, effective_policy_definition: { 'max-length': 5 } })
    // only operator policy keys: the API's refusal
    const bad = await ctl(['set', 'operator-policy', name, '.*', '{"dead-letter-exchange":"x"}'])
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/^warren ctl: set operator-policy .+ \(HTTP 400 bad_request\)\n$/)
    expect(await ctl(['clear', 'operator-policy', name])).toEqual({ code: 0, out: `cleared operator policy '${name}' in vhost '/'\n`, err: '' })
    expect((await api().get(`/api/operator-policies/%2F/${name}`)).status).toBe(404)
    expect((await ctl(['clear', 'operator-policy', name])).err).toContain('HTTP 404')
    await ch.deleteQueue(qname)
  })

  it('set/list/clear vhost-limit; max-queues refuses a queue.declare with RabbitMQ\'s 406', async () => {
    const v = s.uniq('lim')
    expect((await ctl(['add', 'vhost', v])).code).toBe(0)
    const r = await ctl(['set', 'vhost-limit', 'max-queues', '1', '--vhost', v])
    expect(r).toEqual({ code: 0, out: `set limit 'max-queues' of vhost '${v}' to 1\n`, err: '' })
    expect((await ctl(['set', 'vhost-limit', 'max-connections', '-1', '--vhost', v])).code).toBe(0)
    expect((await api().get(`/api/vhost-limits/${v}`)).body).toEqual([{ vhost: v, value: { 'max-queues': 1, 'max-connections': -1 } }])
    expect(JSON.parse((await ctl(['list', 'vhost-limits', '--format', 'json'])).out)).toContainEqual({ vhost: v, value: { 'max-queues': 1, 'max-connections': -1 } })
    expect(tableRows((await ctl(['list', 'vhost-limits', '--vhost', v])).out)).toEqual([['vhost', 'value'], [v, '{"max-queues":1,"max-connections":-1}']])

    const conn = await amqp.connect(`${s.b.url}/${encodeURIComponent(v)}`)
    s.cleanups.push(() => conn.close())
    const ch = await conn.createChannel()
    await ch.assertQueue('first')
    const err = await channelError(conn, (c) => c.assertQueue('second'))
    expect(err.code).toBe(406)
    expect(replyText(err)).toBe(`PRECONDITION_FAILED - cannot declare queue 'second': queue limit in vhost '${v}' (1) is reached`)

    const unknown = await ctl(['set', 'vhost-limit', 'max-bananas', '1', '--vhost', v])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('max-bananas')
    expect(await ctl(['clear', 'vhost-limit', 'max-queues', '--vhost', v])).toEqual({ code: 0, out: `cleared limit 'max-queues' of vhost '${v}'\n`, err: '' })
    await ch.assertQueue('second')
    expect((await ctl(['clear', 'vhost-limit', 'max-queues', '--vhost', v])).err).toContain('HTTP 404')
    await ctl(['delete', 'vhost', v])
  })

  it('set/list/clear user-limit; max-channels refuses a channel.open', async () => {
    const u = s.uniq('ul')
    await ctl(['add', 'user', u, '--password', 'p'])
    await ctl(['set', 'permissions', u, '--configure', '.*', '--write', '.*', '--read', '.*'])
    expect(await ctl(['set', 'user-limit', u, 'max-channels', '1'])).toEqual({ code: 0, out: `set limit 'max-channels' of user '${u}' to 1\n`, err: '' })
    expect((await api().get(`/api/user-limits/${u}`)).body).toEqual([{ user: u, value: { 'max-channels': 1 } }])
    expect(tableRows((await ctl(['list', 'user-limits'])).out)).toContainEqual([u, '{"max-channels":1}'])

    const conn = await amqp.connect(s.b.url.replace('guest:guest', `${u}:p`))
    conn.on('error', () => undefined)
    const closed = new Promise<Error>((resolve) => conn.on('close', resolve))
    await conn.createChannel()
    await expect(conn.createChannel()).rejects.toThrow()
    expect((await closed).message).toContain(`530 (NOT-ALLOWED) with message "NOT_ALLOWED - number of channels opened for user '${u}' has reached the maximum allowed user limit of (1)"`)
    expect(await ctl(['clear', 'user-limit', u, 'max-channels'])).toEqual({ code: 0, out: `cleared limit 'max-channels' of user '${u}'\n`, err: '' })
    expect((await api().get(`/api/user-limits/${u}`)).body).toEqual([])
    expect((await ctl(['set', 'user-limit', 'no-such-user', 'max-channels', '1'])).err).toContain('HTTP 404')
    await ctl(['delete', 'user', u])
  })

  it('set/list/clear topic-permissions; a publish with a key outside --write is refused', async () => {
    const u = s.uniq('tp')
    await ctl(['add', 'user', u, '--password', 'p'])
    await ctl(['set', 'permissions', u, '--configure', '.*', '--write', '.*', '--read', '.*'])
    const set = await ctl(['set', 'topic-permissions', u, '--exchange', 'amq.topic', '--write', '^ok\\.', '--read', '.*'])
    expect(set).toEqual({ code: 0, out: `set topic permissions of user '${u}' on exchange 'amq.topic' in vhost '/'\n`, err: '' })
    expect((await ctl(['set', 'topic-permissions', u, '--exchange', 'other', '--write', '.*', '--read', '.*'])).code).toBe(0)
    expect((await api().get(`/api/topic-permissions/%2F/${u}`)).body).toEqual([
      { user: u, vhost: '/', exchange: 'amq.topic', write: '^ok\\.', read: '.*' },
      { user: u, vhost: '/', exchange: 'other', write: '.*', read: '.*' },
    ])
    expect(tableRows((await ctl(['list', 'topic-permissions', '--vhost', '/'])).out)).toContainEqual([u, '/', 'amq.topic', '^ok\\.', '.*'])

    const conn = await amqp.connect(s.b.url.replace('guest:guest', `${u}:p`))
    s.cleanups.push(() => conn.close())
    const err = await channelError(conn, (ch) => {
      ch.publish('amq.topic', 'bad.key', Buffer.from('x'))
      return ch.checkExchange('amq.topic')
    })
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe(`ACCESS_REFUSED - access to topic 'bad.key' in exchange 'amq.topic' in vhost '/' refused for user '${u}'`)

    const bad = await ctl(['set', 'topic-permissions', u, '--exchange', 'amq.topic', '--write', '(', '--read', ''])
    expect(bad.err).toContain('HTTP 400')
    expect((await ctl(['clear', 'topic-permissions', u, '--exchange', 'other'])).out).toBe(`cleared topic permissions of user '${u}' on exchange 'other' in vhost '/'\n`)
    expect(((await api().get(`/api/topic-permissions/%2F/${u}`)).body as any[]).map((p) => p.exchange)).toEqual(['amq.topic'])
    expect((await ctl(['clear', 'topic-permissions', u])).code).toBe(0)
    expect((await api().get(`/api/topic-permissions/%2F/${u}`)).status).toBe(404)
    expect((await ctl(['clear', 'topic-permissions', u])).err).toContain('HTTP 404')
    await ctl(['delete', 'user', u])
  })

  it('set/list/clear parameter with any JSON value; components with their own endpoint are refused', async () => {
    const name = s.uniq('up')
    const value = { uri: 'amqp://127.0.0.1', 'prefetch-count': 10 }
    const r = await ctl(['set', 'parameter', 'federation-upstream', name, JSON.stringify(value)])
    expect(r).toEqual({ code: 0, out: `set parameter '${name}' of component 'federation-upstream' in vhost '/'\n`, err: '' })
    expect((await api().get(`/api/parameters/federation-upstream/%2F/${name}`)).body).toEqual({ value, vhost: '/', component: 'federation-upstream', name })
    expect((await ctl(['set', 'parameter', 'my-component', name, '42'])).code).toBe(0)
    expect((await api().get(`/api/parameters/my-component/%2F/${name}`)).body).toMatchObject({ value: 42 })
    expect(tableRows((await ctl(['list', 'parameters'])).out)).toContainEqual(['/', 'federation-upstream', name, JSON.stringify(value)])
    const reserved = await ctl(['set', 'parameter', 'vhost-limits', 'limits', '{}'])
    expect(reserved.code).toBe(1)
    expect(reserved.err).toContain('has its own endpoint')
    expect(await ctl(['clear', 'parameter', 'federation-upstream', name])).toEqual({ code: 0, out: `cleared parameter '${name}' of component 'federation-upstream' in vhost '/'\n`, err: '' })
    expect((await api().get(`/api/parameters/federation-upstream/%2F/${name}`)).status).toBe(404)
    expect((await ctl(['clear', 'parameter', 'federation-upstream', name])).err).toContain('HTTP 404')
    await ctl(['clear', 'parameter', 'my-component', name])
  })
})

describe('definitions', () => {
  it('export to a file and to stdout, import from a file and from stdin, per vhost with --vhost', async () => {
    const { ch } = await s.amqplibChannel()
    const qname = s.uniq('defq')
    await ch.assertQueue(qname, { durable: true })
    const file = path.join(dir, 'defs.json')
    expect((await ctl(['export', 'definitions', file])).out).toBe(`exported definitions to '${file}'\n`)
    // it holds password hashes: owner-only
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const defs = JSON.parse(readFileSync(file, 'utf8'))
    expect(defs.queues.map((q: any) => q.name)).toContain(qname)
    expect(defs.users.map((u: any) => u.name)).toContain('guest')
    const stdout = await ctl(['export', 'definitions', '-', '--vhost', '/'])
    const perVHost = JSON.parse(stdout.out)
    expect(perVHost.users).toBeUndefined()
    expect(perVHost.queues.map((q: any) => q.name)).toContain(qname)

    await ch.deleteQueue(qname)
    expect(await ctl(['import', 'definitions', file])).toEqual({ code: 0, out: `imported definitions from '${file}'\n`, err: '' })
    await waitFor(() => s.maybeQueue(qname))
    await ch.deleteQueue(qname)
    expect((await ctl(['import', 'definitions', '-', '--vhost', '/'], { stdin: stdout.out })).code).toBe(0)
    await waitFor(() => s.maybeQueue(qname))
    await ch.deleteQueue(qname)

    const missing = await ctl(['import', 'definitions', path.join(dir, 'none.json')])
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('no such file')
    writeFileSync(path.join(dir, 'bad.json'), '{"queues": [')
    const notJson = await ctl(['import', 'definitions', path.join(dir, 'bad.json')])
    expect(notJson.code).toBe(1)
    expect(notJson.err).toMatch(/bad\.json' is not JSON/)
    const refused = await ctl(['import', 'definitions', '-'], { stdin: '{"queues": [{"name": 5}]}' })
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(/^warren ctl: import definitions '-': .+ \(HTTP 400 bad_request\)\n$/)
  })
})

describe('objects and actions', () => {
  it('lists queues, exchanges, bindings, consumers and connections as aligned tables; --columns and --vhost', async () => {
    const conn = await amqp.connect(s.b.url, { clientProperties: { connection_name: 'ctl-probe' } })
    s.cleanups.push(() => conn.close())
    const ch = await conn.createChannel()
    const qname = s.uniq('lq')
    await ch.assertQueue(qname, { durable: false })
    await ch.bindQueue(qname, 'amq.topic', 'a.#')
    ch.sendToQueue(qname, Buffer.from('x'))
    await ch.consume(qname, () => undefined, { consumerTag: 'ctl-tag', noAck: false })

    const queues = await ctl(['list', 'queues'])
    const lines = queues.out.trimEnd().split('\n')
    const header = lines[0]
    expect(header).toMatch(/^vhost\s+name\s+type\s+durable\s+state\s+messages\s+messages_ready\s+messages_unacknowledged\s+consumers$/)
    const row = lines.find((l) => l.includes(qname))!
    expect(row.split(/\s+/)).toEqual(['/', qname, 'classic', 'false', 'running', '1', '0', '1', '1'])
    // aligned: every column starts where its header does (numbers end where theirs does)
    expect(row.indexOf(qname)).toBe(header.indexOf('name'))
    expect(row.length).toBe(header.length)

    expect(tableRows((await ctl(['list', 'queues', '--columns', 'name,messages_unacknowledged'])).out)).toContainEqual([qname, '1'])
    expect(JSON.parse((await ctl(['list', 'queues', '--columns', 'name,consumers', '--format', 'json'])).out)).toContainEqual({ name: qname, consumers: 1 })
    expect(tableRows((await ctl(['list', 'bindings'])).out)).toContainEqual(['/', 'amq.topic', qname, 'queue', 'a.#', '{}'])
    expect(tableRows((await ctl(['list', 'exchanges'])).out)).toContainEqual(['/', 'amq.topic', 'topic', 'true', 'false', 'false'])
    const consumers = tableRows((await ctl(['list', 'consumers'])).out)
    expect(consumers.find((r) => r[1] === qname)?.slice(0, 3)).toEqual(['/', qname, 'ctl-tag'])
    const conns = JSON.parse((await ctl(['list', 'connections', '--format', 'json'])).out)
    expect(conns.find((c: any) => c.client_properties?.connection_name === 'ctl-probe')).toMatchObject({ user: 'guest', vhost: '/' })

    const other = s.uniq('ov')
    await ctl(['add', 'vhost', other])
    expect((await ctl(['list', 'queues', '--vhost', other])).out.trimEnd().split('\n')).toHaveLength(1)
    expect((await ctl(['list', 'connections', '--vhost', other])).out.trimEnd().split('\n')).toHaveLength(1)
    await ctl(['delete', 'vhost', other])
    const none = await ctl(['list', 'queues', '--vhost', 'no-such-vhost'])
    expect(none).toEqual({ code: 1, out: '', err: "warren ctl: list queues in vhost 'no-such-vhost': Not Found (HTTP 404 Object Not Found)\n" })
  })

  it('escapes control characters in names', async () => {
    const { ch } = await s.amqplibChannel()
    const qname = `${s.uniq('esc')}\u001b[31mred\u0007`
    await ch.assertQueue(qname, { durable: false })
    const out = (await ctl(['list', 'queues', '--columns', 'name'])).out
    expect(out).not.toContain('\u001b')
    expect(out).toContain('\\x1b[31mred\\x07')
    await ch.deleteQueue(qname)
  })

  it('purge queue removes the ready messages; an unknown queue is the API 404', async () => {
    const { ch } = await s.amqplibChannel()
    const qname = s.uniq('pq')
    await ch.assertQueue(qname, { durable: false })
    for (let i = 0; i < 3; i++) ch.sendToQueue(qname, Buffer.from(String(i)))
    await waitFor(() => s.queue(qname).messageCount === 3)
    expect(await ctl(['purge', 'queue', qname])).toEqual({ code: 0, out: `purged queue '${qname}' in vhost '/'\n`, err: '' })
    expect(s.queue(qname).messageCount).toBe(0)
    const missing = await ctl(['purge', 'queue', 'no-such-q'])
    expect(missing.code).toBe(1)
    expect(missing.err).toContain("purge queue 'no-such-q' in vhost '/': ")
    expect(missing.err).toContain('HTTP 404')
  })

  it('close connection closes it with 320 and the reason', async () => {
    const conn = await amqp.connect(s.b.url, { clientProperties: { connection_name: 'ctl-close' } })
    const closed = new Promise<Error>((resolve) => conn.on('close', resolve))
    conn.on('error', () => undefined)
    const c = await waitFor(async () => JSON.parse((await ctl(['list', 'connections', '--format', 'json'])).out).find((x: any) => x.client_properties?.connection_name === 'ctl-close'))
    const r = await ctl(['close', 'connection', c.name, '--reason', 'maintenance window'])
    expect(r).toEqual({ code: 0, out: `closed connection '${c.name}'\n`, err: '' })
    const err = await closed
    expect(err.message).toContain('320')
    expect(err.message).toContain('maintenance window')
    const again = await ctl(['close', 'connection', c.name])
    expect(again.code).toBe(1)
    expect(again.err).toContain('HTTP 404')
  })
})

describe('status', () => {
  it('shows version, uptime, listeners, alarms, memory, fds and disk; exit 0 without alarms', async () => {
    const r = await ctl(['status'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^node\s+\S+@\S+$/m)
    expect(r.out).toMatch(/^version\s+Warren \S+ \(RabbitMQ 3\.10\.8 API\)$/m)
    expect(r.out).toMatch(/^uptime\s+\d+m \d\ds$/m)
    expect(r.out).toContain(`amqp 127.0.0.1:${s.b.amqpPort}`)
    expect(r.out).toContain(`http 127.0.0.1:${s.b.httpPort}`)
    expect(r.out).toMatch(/^alarms\s+none$/m)
    expect(r.out).toMatch(/^memory\s+\d+\.\d MiB used/m)
    expect(r.out).toMatch(/^file descriptors\s+\d+ used of \d+$/m)
    expect(r.out).toMatch(/^disk free\s+\d/m)
    const json = JSON.parse((await ctl(['status', '--format', 'json'])).out)
    expect(json).toMatchObject({ product: 'Warren', rabbitmq_version: '3.10.8', alarms: [] })
    expect(json.listeners).toContainEqual({ protocol: 'amqp', ip_address: '127.0.0.1', port: s.b.amqpPort })
    expect(json.memory.used).toBeGreaterThan(0)
    expect(json.file_descriptors.used).toBeGreaterThan(0)
    expect(json.disk.free).toBeGreaterThan(0)
  })

  it('exits 3 and names the alarm while one is in effect (a disk alarm)', async () => {
    // the disk reading is the broker's own seam (as in disk.test.ts): 1 byte free, far below the limit
    const b = await startTestBroker({ freeDiskBytes: () => 1, diskFreeLimit: 50e6, diskCheckIntervalMs: 20 })
    try {
      const env = { WARREN_URL: `http://127.0.0.1:${b.httpPort}` }
      const r = await waitFor(async () => {
        const x = await ctl(['status'], { env })
        return x.code === 3 ? x : undefined
      })
      expect(r.out).toMatch(/^alarms\s+ALARM: disk$/m)
      const json = await ctl(['status', '--format', 'json'], { env })
      expect(json.code).toBe(3)
      expect(JSON.parse(json.out).alarms).toEqual(['disk'])
    } finally {
      await b.stop()
    }
  })
})

describe('the warren bin (built)', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> =>
    new Promise((resolve) => {
      const clean: NodeJS.ProcessEnv = {}
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WARREN_')) clean[k] = v
      execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, timeout: 15_000 }, (err, out, errOut) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out, err: errOut })
      })
    })

  it('`warren ctl` reads WARREN_URL, exits with its codes, and ends quietly when its reader closes the pipe (`| head`)', async () => {
    const v = s.uniq('bin')
    await ctl(['add', 'vhost', v])
    const queues = Array.from({ length: 200 }, (_, i) => ({ name: `q${i}`, vhost: v, durable: false, auto_delete: false, arguments: {} }))
    expect((await ctl(['import', 'definitions', '-'], { stdin: JSON.stringify({ queues }) })).code).toBe(0)
    const child = spawn(process.execPath, [BIN, 'ctl', 'list', 'queues', '--vhost', v, '--format', 'json'], { env: { ...process.env, WARREN_URL: url() } })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    // the output (~400 KB) is far over a pipe's buffer: the tool is still writing when the pipe goes
    let first = ''
    child.stdout.once('data', (d: Buffer) => {
      first = d.toString('utf8')
      child.stdout.destroy()
    })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect({ code, stderr, first: first.slice(0, 5) }).toEqual({ code: 0, stderr: '', first: '[\n  {' })
    await ctl(['delete', 'vhost', v])
    const usage = await run(['ctl', 'nonsense'])
    expect(usage.code).toBe(2)
    expect(usage.err).toContain("unknown command 'nonsense'")
  })

  it('`warren` without ctl is the broker (its --help)', async () => {
    const r = await run(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('--amqp-port')
  })
})
