/**
 * DefinitionsLog (durable key → JSON log: replay, idempotent puts, compaction by atomic rename,
 * torn tail, bad CRC) and the Warren definitions on top of it (exchanges, queues, bindings with
 * exact AMQP arguments, cascading deletes, replay order).
 */
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { DefinitionsLog } from '../../core/store/definitions-log.js'
import {
  decodeArguments,
  deleteExchange,
  deleteQueue,
  encodeArguments,
  putBinding,
  putExchange,
  putQueue,
  splitDefinitions,
  type BindingDefinition,
} from '../../core/store/definitions.js'
import { newLogStats } from '../../core/store/segment-log.js'
import { Decimal, encodeTable, type FieldTable } from '../../core/wire/field-table.js'
import { captureLogger, tempDir } from './store-helpers.js'

function open(file: string, opts: { compactMinBytes?: number; compactRatio?: number } = {}) {
  const cap = captureLogger()
  const stats = newLogStats()
  const d = DefinitionsLog.open({ file, log: cap.log, stats, ...opts })
  return { d, stats, ...cap }
}

describe('DefinitionsLog', () => {
  test('put, delete and get survive a reopen; unchanged puts write nothing', () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d, stats } = open(file)
    expect(d.put('a', { n: 1 })).toBe(true)
    expect(d.put('b', { n: 2 })).toBe(true)
    expect(d.put('a', { n: 1 })).toBe(false)
    expect(d.put('a', { n: 3 })).toBe(true)
    expect(d.delete('b')).toBe(true)
    expect(d.delete('b')).toBe(false)
    expect(stats.appends).toBe(4)
    d.close()
    const { d: d2 } = open(file)
    expect([...d2.entries()]).toEqual([['a', { n: 3 }]])
    expect(d2.get('a')).toEqual({ n: 3 })
    expect(d2.get('b')).toBeUndefined()
    expect(d2.recovery).toMatchObject({ records: 4, live: 1 })
    d2.close()
  })

  test('changes of one turn share one fdatasync', async () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d, stats } = open(file)
    const before = stats.syncs
    for (let i = 0; i < 100; i++) d.put(`k${i}`, i)
    await new Promise((r) => setImmediate(r))
    expect(stats.syncs - before).toBe(1)
    d.close()
  })

  test('compacts (rewrite + atomic rename) once mostly dead, at runtime and at open', () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d, lines } = open(file, { compactMinBytes: 4096, compactRatio: 2 })
    d.put('keep', { big: 'x'.repeat(100) })
    for (let i = 0; i < 200; i++) d.put('churn', { i })
    expect(lines.some((l) => /compacted/.test(l.msg))).toBe(true)
    expect(d.bytes).toBeLessThanOrEqual(2 * d.liveBytes + 4096)
    expect(existsSync(`${file}.compact`)).toBe(false)
    d.close()
    // a log left uncompacted (e.g. written with a high ratio) is compacted when opened
    const { d: d1 } = open(file, { compactMinBytes: 1 << 30 })
    for (let i = 0; i < 300; i++) d1.put('churn', { i })
    d1.close()
    const big = statSync(file).size
    const { d: d2 } = open(file, { compactMinBytes: 1024 })
    expect(d2.recovery.compacted).toBe(true)
    expect(statSync(file).size).toBeLessThan(big / 10)
    expect([...d2.entries()]).toEqual([
      ['keep', { big: 'x'.repeat(100) }],
      ['churn', { i: 299 }],
    ])
    d2.close()
  })

  test('a torn tail is truncated with a warning; earlier changes are kept', () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d } = open(file)
    d.put('a', 1)
    d.put('b', 2)
    d.close()
    const size = statSync(file).size
    truncateSync(file, size - 2)
    appendFileSync(file, Buffer.alloc(100))
    const { d: d2, warnings } = open(file)
    expect([...d2.entries()]).toEqual([['a', 1]])
    expect(warnings().some((w) => /torn tail/.test(w.msg))).toBe(true)
    d2.put('c', 3)
    d2.close()
    const { d: d3 } = open(file)
    expect([...d3.keys()]).toEqual(['a', 'c'])
    d3.close()
  })

  test('a bad CRC in the middle skips that record only, with a warning', () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d } = open(file)
    d.put('a', 'first')
    d.put('b', 'second')
    d.put('c', 'third')
    d.close()
    const data = readFileSync(file)
    const at = data.indexOf('second')
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.from('S'), 0, 1, at)
    closeSync(fd)
    const { d: d2, warnings } = open(file)
    expect([...d2.entries()]).toEqual([
      ['a', 'first'],
      ['c', 'third'],
    ])
    expect(d2.recovery.damagedRanges).toBe(1)
    expect(warnings().some((w) => /damaged/.test(w.msg))).toBe(true)
    d2.close()
  })

  test('a file that is not a definitions log is refused with a clear error', () => {
    const file = path.join(tempDir(), 'definitions.log')
    appendFileSync(file, 'something else entirely')
    expect(() => open(file)).toThrow(/not a Warren definitions log/)
  })
})

describe('Warren definitions', () => {
  test('arguments keep their exact AMQP types', () => {
    const args: FieldTable = {
      'x-max-length': 10,
      'x-message-ttl': 3_000_000_000,
      'x-dead-letter-exchange': 'dlx',
      bytes: Buffer.from([1, 2, 3]),
      dec: new Decimal(2, 12345),
      big: 2n ** 40n,
      nested: { a: [true, 1.5, 'x'] },
    }
    const back = decodeArguments(encodeArguments(args))
    // re-encoding gives the same bytes: every field kept its wire type
    expect(encodeTable(back).equals(encodeTable(args))).toBe(true)
    expect(back['x-message-ttl']).toBe(3_000_000_000)
    expect(Buffer.isBuffer(back.bytes)).toBe(true)
    expect(back.dec).toBeInstanceOf(Decimal)
    expect(encodeArguments({})).toBe('')
    expect(decodeArguments('')).toEqual({})
  })

  test('replay gives exchanges, queues, then bindings; deletes cascade to bindings', () => {
    const file = path.join(tempDir(), 'definitions.log')
    const { d } = open(file)
    const bind = (source: string, destination: string, destinationType: 'queue' | 'exchange', rk: string): BindingDefinition => ({
      vhost: '/', source, destination, destinationType, routingKey: rk, arguments: '',
    })
    putQueue(d, { vhost: '/', name: 'q1', autoDelete: false, arguments: encodeArguments({ 'x-max-length': 5 }) })
    putExchange(d, { vhost: '/', name: 'x1', type: 'topic', autoDelete: false, internal: false, arguments: '' })
    putBinding(d, bind('x1', 'q1', 'queue', 'a.#'))
    putQueue(d, { vhost: '/', name: 'q2', autoDelete: false, arguments: '' })
    putBinding(d, bind('x1', 'q2', 'queue', 'b.*'))
    putExchange(d, { vhost: '/', name: 'x2', type: 'fanout', autoDelete: false, internal: false, arguments: '' })
    putBinding(d, bind('x2', 'x1', 'exchange', ''))
    putQueue(d, { vhost: 'other', name: 'q1', autoDelete: false, arguments: '' })
    putBinding(d, { ...bind('x1', 'q1', 'queue', 'a.#'), vhost: 'other' })
    deleteQueue(d, '/', 'q2')
    d.close()
    const { d: d2 } = open(file)
    const s = splitDefinitions(d2)
    expect(s.exchanges.map((x) => x.name)).toEqual(['x1', 'x2'])
    expect(s.queues.map((q) => `${q.vhost}${q.name}`)).toEqual(['/q1', 'otherq1'])
    expect(decodeArguments(s.queues[0].arguments)).toEqual({ 'x-max-length': 5 })
    expect(s.bindings.map((b) => `${b.vhost}:${b.source}->${b.destination}`)).toEqual(['/:x1->q1', '/:x2->x1', 'other:x1->q1'])
    // deleting an exchange removes bindings from it and to it, in its vhost only
    deleteExchange(d2, '/', 'x1')
    const t = splitDefinitions(d2)
    expect(t.exchanges.map((x) => x.name)).toEqual(['x2'])
    expect(t.bindings.map((b) => `${b.vhost}:${b.source}->${b.destination}`)).toEqual(['other:x1->q1'])
    d2.close()
  })
})
