/**
 * Record framing: CRC-32 (native and table-driven agree, known vector), and the scanner's
 * handling of clean logs, torn tails, zeroed tails, flipped bits and garbage blocks.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { RECORD_HEADER, crc32, crc32Js, isValidRecord, scanRecords, sealRecord, type RecordVisitor } from '../../core/store/record-format.js'

function frame(payloads: Buffer[]): { buf: Buffer; offsets: number[] } {
  const offsets: number[] = []
  const parts: Buffer[] = []
  let at = 0
  for (const p of payloads) {
    const b = Buffer.alloc(RECORD_HEADER + p.length)
    p.copy(b, RECORD_HEADER)
    sealRecord(b, 0, p.length)
    offsets.push(at)
    at += b.length
    parts.push(b)
  }
  return { buf: Buffer.concat(parts), offsets }
}

function collect(buf: Buffer, end = buf.length): { payloads: string[]; at: number[]; res: ReturnType<typeof scanRecords> } {
  const payloads: string[] = []
  const at: number[] = []
  const v: RecordVisitor = {
    record(b, start, len, a) {
      payloads.push(b.toString('utf8', start, start + len))
      at.push(a)
    },
  }
  const res = scanRecords(buf, 0, end, 1 << 20, v)
  return { payloads, at, res }
}

const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo'].map((w) => Buffer.from(w))

describe('crc32', () => {
  test('matches the standard check value; the JS and native versions agree on every length', () => {
    const check = Buffer.from('123456789')
    expect(crc32(check, 0, check.length)).toBe(0xcbf43926)
    expect(crc32Js(check, 0, check.length)).toBe(0xcbf43926)
    for (let i = 0; i < 80; i++) {
      const b = randomBytes(1 + ((i * 37) % 700))
      const s = i % 5
      expect(crc32Js(b, s, b.length)).toBe(crc32(b, s, b.length))
    }
  })
})

describe('scanRecords', () => {
  test('visits every record of a clean log in order', () => {
    const { buf, offsets } = frame(words)
    const { payloads, at, res } = collect(buf)
    expect(payloads).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo'])
    expect(at).toEqual(offsets)
    expect(res).toEqual({ records: 5, damaged: [], tailAt: -1 })
  })

  test('a record cut short at the end is a torn tail', () => {
    const { buf, offsets } = frame(words)
    for (const cut of [1, 4, 7, 9, 11]) {
      const { payloads, res } = collect(buf, offsets[4] + cut)
      expect(payloads).toEqual(['alpha', 'bravo', 'charlie', 'delta'])
      expect(res.tailAt).toBe(offsets[4])
      expect(res.damaged).toEqual([])
    }
  })

  test('a zeroed or garbage tail is a torn tail, never parsed', () => {
    const { buf } = frame(words)
    const zeros = Buffer.concat([buf, Buffer.alloc(4096)])
    expect(collect(zeros).res.tailAt).toBe(buf.length)
    const garbage = Buffer.concat([buf, randomBytes(3000)])
    const g = collect(garbage)
    expect(g.payloads).toHaveLength(5)
    expect(g.res.tailAt).toBe(buf.length)
  })

  test('a flipped payload bit in the middle skips only that record', () => {
    const { buf, offsets } = frame(words)
    buf[offsets[2] + RECORD_HEADER + 1] ^= 0x10
    const { payloads, res } = collect(buf)
    expect(payloads).toEqual(['alpha', 'bravo', 'delta', 'echo'])
    expect(res.damaged).toEqual([[offsets[2], offsets[3]]])
    expect(res.tailAt).toBe(-1)
  })

  test('a corrupt length in the middle resyncs at the next valid record', () => {
    const { buf, offsets } = frame(words)
    buf.writeUInt32LE(0x7fffffff, offsets[1])
    const { payloads, res } = collect(buf)
    expect(payloads).toEqual(['alpha', 'charlie', 'delta', 'echo'])
    expect(res.damaged).toEqual([[offsets[1], offsets[2]]])
  })

  test('a garbage block spanning records resyncs after it', () => {
    const many = Array.from({ length: 200 }, (_, i) => Buffer.from(`message number ${i} `.repeat(3)))
    const { buf, offsets } = frame(many)
    randomBytes(700).copy(buf, offsets[50] + 5)
    const { payloads, res } = collect(buf)
    expect(res.damaged).toHaveLength(1)
    const [from, to] = res.damaged[0]
    expect(from).toBe(offsets[50])
    expect(offsets).toContain(to)
    expect(payloads.length).toBe(200 - offsets.filter((o) => o >= from && o < to).length)
    expect(payloads[payloads.length - 1]).toBe(`message number 199 `.repeat(3))
  })

  test('isValidRecord refuses zero length, oversize and out-of-range records', () => {
    const { buf } = frame([Buffer.from('x')])
    expect(isValidRecord(buf, 0, buf.length, 10)).toBe(true)
    expect(isValidRecord(buf, 0, buf.length - 1, 10)).toBe(false)
    expect(isValidRecord(Buffer.alloc(16), 0, 16, 10)).toBe(false)
    const big = frame([Buffer.alloc(100, 1)]).buf
    expect(isValidRecord(big, 0, big.length, 99)).toBe(false)
  })
})
