/**
 * The pieces of `warren ctl` that need no broker: argument parsing and flag assignment, base URL
 * parsing, the table formatter and its escaping, and the status formatting of sizes and durations.
 */
import { describe, expect, it } from 'vitest'
import { assignFlags, parseArgs, UsageError } from '../../admin-ui/ctl/args.js'
import { parseBaseUrl } from '../../admin-ui/ctl/client.js'
import { bytes, duration } from '../../admin-ui/ctl/status.js'
import { cellText, formatTable, pick, projectRows } from '../../admin-ui/ctl/table.js'

describe('parseArgs', () => {
  it('splits words and flags in any order, --flag=value, -h, -- and - as a word', () => {
    const r = parseArgs(['--url=http://x', 'add', 'user', '-h', 'bob', '--tags', 'a,b', '--', '--odd', '-'])
    expect(r.words).toEqual(['add', 'user', 'bob', '--odd', '-'])
    expect(r.flags).toEqual([
      { name: 'url', value: 'http://x', afterWord: false },
      { name: 'help', value: 'true', afterWord: true },
      { name: 'tags', value: 'a,b', afterWord: true },
    ])
    expect(parseArgs(['export', 'definitions', '-']).words).toEqual(['export', 'definitions', '-'])
    expect(parseArgs(['--password', '', 'status']).flags[0].value).toBe('')
  })

  it('refuses unknown options, missing values and values on switches', () => {
    expect(() => parseArgs(['--nope'])).toThrow(new UsageError("unknown option '--nope'"))
    expect(() => parseArgs(['-x'])).toThrow(/unknown option '-x'/)
    expect(() => parseArgs(['status', '--url'])).toThrow(/option '--url' needs a value/)
    expect(() => parseArgs(['--help=yes'])).toThrow(/takes no value/)
  })
})

describe('assignFlags', () => {
  it("gives a command its own flags after the words, the global ones otherwise; the last use wins", () => {
    const { flags } = parseArgs(['--password', 'admin', 'add', 'user', 'bob', '--password', 'b1', '--password', 'b2', '--vhost', 'v'])
    const r = assignFlags(flags, ['password', 'tags'], 'add user')
    expect(r.own).toEqual(new Map([['password', 'b2']]))
    expect(r.global).toEqual(new Map([['password', 'admin'], ['vhost', 'v']]))
  })

  it('a command-only flag before the words still goes to the command; a foreign one is refused', () => {
    expect(assignFlags(parseArgs(['--tags', 'x', 'add', 'user', 'b']).flags, ['password', 'tags'], 'add user').own.get('tags')).toBe('x')
    expect(() => assignFlags(parseArgs(['add', 'vhost', 'v', '--reason', 'x']).flags, ['description'], 'add vhost')).toThrow(
      "'add vhost' takes no option '--reason'",
    )
  })
})

describe('parseBaseUrl', () => {
  it('keeps http(s) base URLs without a trailing slash, takes credentials out, refuses others', () => {
    expect(parseBaseUrl('http://localhost:15672/')).toEqual({ base: 'http://localhost:15672', user: undefined, password: undefined })
    expect(parseBaseUrl('https://a%40b:p%3Aw@h:15671/prefix/?x=1#y')).toEqual({ base: 'https://h:15671/prefix', user: 'a@b', password: 'p:w' })
    expect(parseBaseUrl('ftp://h')).toBeNull()
    expect(parseBaseUrl('localhost:15672')).toBeNull()
    expect(parseBaseUrl('not a url')).toBeNull()
  })
})

describe('table', () => {
  it('aligns columns, right-aligns numeric ones, joins string lists, shows objects as JSON', () => {
    const rows = [
      { name: 'a', n: 1, tags: ['x', 'y'], args: { k: 1 }, q: { name: 'deep' } },
      { name: 'longer-name', n: 1234, tags: [], args: {}, q: {} },
    ]
    expect(formatTable(rows, ['name', 'n', 'tags', 'args', 'q.name'])).toBe(
      ['name            n  tags  args     q.name', 'a               1  x,y   {"k":1}  deep', 'longer-name  1234        {}'].join('\n') + '\n',
    )
    expect(formatTable([], ['name', 'messages'])).toBe('name  messages\n')
  })

  it('escapes control characters so names cannot drive the terminal', () => {
    expect(cellText('a\u001b[2Jb\r\n\u009b\u2028')).toBe('a\\x1b[2Jb\\x0d\\x0a\\x9b\\u2028')
    expect(cellText(['\u0007'])).toBe('\\x07')
    expect(cellText({ k: '\u001b' })).toBe('{"k":"\\u001b"}')
  })

  it('picks dotted paths (and keys that contain dots), projects rows for JSON', () => {
    expect(pick({ 'apply-to': 'all', a: { b: { c: 3 } }, 'x.y': 1 }, 'a.b.c')).toBe(3)
    expect(pick({ 'x.y': 1 }, 'x.y')).toBe(1)
    expect(pick({ a: 1 }, 'a.b')).toBeUndefined()
    expect(pick({}, 'constructor')).toBeUndefined()
    expect(projectRows([{ name: 'q', m: { p: 2 } }], ['name', 'm.p', 'none'])).toEqual([{ name: 'q', 'm.p': 2, none: null }])
  })
})

describe('status formatting', () => {
  it('sizes in binary units, durations in d/h/m/s', () => {
    expect(bytes(512)).toBe('512 B')
    expect(bytes(1536)).toBe('1.5 KiB')
    expect(bytes(50e6)).toBe('47.7 MiB')
    expect(bytes(undefined)).toBe('?')
    expect(duration(65_000)).toBe('1m 05s')
    expect(duration(3_723_000)).toBe('1h 02m 03s')
    expect(duration(90_061_000)).toBe('1d 1h 01m')
  })
})
