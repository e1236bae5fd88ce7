/**
 * x-stream-offset and interval parsing (core/stream/offset-spec.ts), against RabbitMQ's
 * rabbit_stream_queue:parse_offset_arg and rabbit_amqqueue:check_max_age; the sparse index lookup.
 */
import { describe, expect, it } from 'vitest'
import { parseInterval, parseOffsetSpec } from '../../core/stream/offset-spec.js'
import { ENTRY, findEntry } from '../../core/stream/sparse-index.js'

describe('parseInterval', () => {
  it('takes digits and one unit of Y M D h m s', () => {
    expect(parseInterval('30s')).toBe(30_000)
    expect(parseInterval('15m')).toBe(900_000)
    expect(parseInterval('1h')).toBe(3_600_000)
    expect(parseInterval('7D')).toBe(7 * 86_400_000)
    expect(parseInterval('1M')).toBe(30 * 86_400_000)
    expect(parseInterval('2Y')).toBe(2 * 365 * 86_400_000)
  })
  it('refuses zero, no unit, unknown or extra units, signs and blanks (invalid_max_age)', () => {
    for (const bad of ['0s', '10', 's', '1d', '1H', '1hh', '-1h', '+1h', ' 1h', '1h ', '', '1.5h', 'toString']) expect(parseInterval(bad)).toBe(-1)
  })
})

describe('parseOffsetSpec', () => {
  const now = 1_700_000_000_000
  it('reads the named specs, offsets, timestamps and intervals', () => {
    expect(parseOffsetSpec(undefined, now)).toEqual({ kind: 'next' })
    expect(parseOffsetSpec('first', now)).toEqual({ kind: 'first' })
    expect(parseOffsetSpec('last', now)).toEqual({ kind: 'last' })
    expect(parseOffsetSpec('next', now)).toEqual({ kind: 'next' })
    expect(parseOffsetSpec(42, now)).toEqual({ kind: 'offset', offset: 42 })
    expect(parseOffsetSpec(42n, now)).toEqual({ kind: 'offset', offset: 42 })
    expect(parseOffsetSpec(new Date(now - 5000), now)).toEqual({ kind: 'timestamp', ms: now - 5000 })
    expect(parseOffsetSpec('1h', now)).toEqual({ kind: 'timestamp', ms: now - 3_600_000 })
  })
  it('describes bad values as RabbitMQ prints them', () => {
    expect(parseOffsetSpec('later', now)).toBe('{invalid_stream_offset_arg,{longstr,<<"later">>}}')
    expect(parseOffsetSpec(-1, now)).toBe('{invalid_stream_offset_arg,{long,-1}}')
    expect(parseOffsetSpec(1.5, now)).toBe('{invalid_stream_offset_arg,{double,1.5}}')
    expect(parseOffsetSpec(true, now)).toBe('{invalid_stream_offset_arg,{bool,true}}')
  })
})

describe('findEntry', () => {
  // entries: (relative offset, position, timestamp)
  const rows = [
    [0, 8, 100],
    [50, 4100, 200],
    [120, 8300, 300],
  ]
  const idx = Buffer.alloc(rows.length * ENTRY)
  rows.forEach(([rel, pos, ts], i) => {
    idx.writeUInt32LE(rel, i * ENTRY)
    idx.writeUInt32LE(pos, i * ENTRY + 4)
    idx.writeDoubleLE(ts, i * ENTRY + 8)
  })
  it('finds the last entry at or before an offset', () => {
    expect(findEntry(idx, 0, false)).toBe(8)
    expect(findEntry(idx, 49, false)).toBe(8)
    expect(findEntry(idx, 50, false)).toBe(4100)
    expect(findEntry(idx, 10_000, false)).toBe(8300)
    expect(findEntry(Buffer.alloc(0), 5, false)).toBe(-1)
  })
  it('finds the last entry strictly before a time', () => {
    expect(findEntry(idx, 100, true)).toBe(-1)
    expect(findEntry(idx, 201, true)).toBe(4100)
    expect(findEntry(idx, 300, true)).toBe(4100)
  })
})
