/**
 * SegmentLog: append/read (buffered and from the file), group commit (many appends, few
 * fdatasyncs, one listener call per batch), segment rolling, recovery after reopen, torn tails,
 * bad CRCs in the middle, corruption detected on read, segment deletion.
 */
import { appendFileSync, existsSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { RECORD_HEADER } from '../../core/store/record-format.js'
import { fdatasync } from 'node:fs'
import {
  CorruptRecordError,
  NODE_IO,
  SEGMENT_HEADER,
  SegmentLog,
  locOf,
  locOffset,
  locSegment,
  newLogStats,
  segmentFileName,
  type BatchIo,
  type LogRecordVisitor,
  type SegmentLogListener,
} from '../../core/store/segment-log.js'
import { captureLogger, settle, tempDir } from './store-helpers.js'

class Collector implements LogRecordVisitor {
  readonly locs: number[] = []
  readonly payloads: string[] = []
  record(loc: number, buf: Buffer, start: number, len: number): void {
    this.locs.push(loc)
    this.payloads.push(buf.toString('utf8', start, start + len))
  }
}

class Listener implements SegmentLogListener {
  readonly calls: number[] = []
  readonly errors: Error[] = []
  logDurable(seq: number): void {
    this.calls.push(seq)
  }
  logFailed(err: Error): void {
    this.errors.push(err)
  }
}

function reopen(dir: string, opts: { segmentSize?: number } = {}) {
  const { log, warnings } = captureLogger()
  const c = new Collector()
  const l = SegmentLog.open({ dir, log, ...opts }, c)
  return { l, c, warnings }
}

describe('locations', () => {
  test('pack segment id and offset into one exact number', () => {
    const loc = locOf(123456, 4_000_000_000)
    expect(locSegment(loc)).toBe(123456)
    expect(locOffset(loc)).toBe(4_000_000_000)
    expect(locOf(2, 8)).toBeGreaterThan(locOf(1, 2 ** 31))
  })
})

describe('SegmentLog', () => {
  test('append returns locations in order; records read back before and after the write', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    const a = l.append(Buffer.from('first'))
    const b = l.append(Buffer.from('second'))
    expect(b).toBeGreaterThan(a)
    expect(locOffset(a)).toBe(SEGMENT_HEADER)
    expect(locOffset(b)).toBe(SEGMENT_HEADER + RECORD_HEADER + 5)
    // still in the batch buffer
    expect(l.view(a).toString()).toBe('first')
    expect(l.appendSeq).toBe(2)
    expect(l.durableSeq).toBe(0)
    await settle(() => l.durableSeq === 2)
    // now from the file (read-ahead block)
    expect(l.view(b).toString()).toBe('second')
    expect(l.view(a).toString()).toBe('first')
    expect(() => l.view(locOf(99, 8))).toThrow(RangeError)
    await l.close()
  })

  test('group commit: 10,000 appends in one turn share one write and one fdatasync', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const stats = newLogStats()
    const l = SegmentLog.open({ dir, log, stats, batchBytes: 64 * 1024 * 1024 })
    const listener = new Listener()
    l.setListener(listener)
    const payload = Buffer.alloc(16, 7)
    for (let i = 0; i < 10_000; i++) l.append(payload)
    expect(stats.syncs).toBe(0)
    await settle(() => l.durableSeq === 10_000)
    expect(stats.syncs).toBe(1)
    expect(stats.writes).toBeLessThanOrEqual(8) // chunks grow 16 KiB → … while the turn fills them
    expect(listener.calls).toEqual([10_000])
    await l.close()
  })

  test('appends made while a sync is in flight form the next batch', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const stats = newLogStats()
    const l = SegmentLog.open({ dir, log, stats })
    const listener = new Listener()
    l.setListener(listener)
    let n = 0
    // 50 turns of 200 appends each, without waiting for the disk
    for (let turn = 0; turn < 50; turn++) {
      for (let i = 0; i < 200; i++) l.append(Buffer.from(`m${n++}`))
      await new Promise((r) => setImmediate(r))
    }
    await settle(() => l.durableSeq === n)
    expect(stats.syncs).toBeLessThanOrEqual(50)
    expect(stats.syncs).toBe(listener.calls.length)
    // durable positions only go up, and end at the last append
    expect([...listener.calls].sort((x, y) => x - y)).toEqual(listener.calls)
    expect(listener.calls.at(-1)).toBe(n)
    await l.close()
  })

  test('records that need no sync are written without fdatasync', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const stats = newLogStats()
    const l = SegmentLog.open({ dir, log, stats })
    for (let i = 0; i < 100; i++) l.append(Buffer.from('transient'), false)
    await settle(() => l.durableSeq === 100)
    expect(stats.syncs).toBe(0)
    expect(stats.writes).toBeGreaterThan(0)
    await l.close()
  })

  test('rolls to a new segment at segmentSize and recovers all segments in order', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log, segmentSize: 4096 })
    const locs: number[] = []
    for (let i = 0; i < 300; i++) locs.push(l.append(Buffer.from(`record-${i}-`.padEnd(40, 'x'))))
    await l.close()
    const files = readdirSync(dir).filter((f) => f.startsWith('msgs.')).sort()
    expect(files.length).toBeGreaterThan(3)
    for (const f of files) expect(statSync(path.join(dir, f)).size).toBeLessThanOrEqual(4096)
    const { l: l2, c } = reopen(dir, { segmentSize: 4096 })
    expect(c.locs).toEqual(locs)
    expect(c.payloads[299]).toBe('record-299-'.padEnd(40, 'x'))
    expect(l2.recovery.records).toBe(300)
    // reads work on recovered (lazily reopened) segments
    expect(l2.view(locs[150]).toString()).toBe('record-150-'.padEnd(40, 'x'))
    // new appends go to a fresh segment after the recovered ones
    const next = l2.append(Buffer.from('after restart'))
    expect(locSegment(next)).toBe(locSegment(locs[299]) + 1)
    await l2.close()
  })

  test('a record larger than the segment size gets a segment of its own', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log, segmentSize: 1024, readBlock: 256 })
    const small = l.append(Buffer.from('small'))
    const big = l.append(Buffer.alloc(5000, 0x61))
    const after = l.append(Buffer.from('after'))
    expect(locSegment(big)).toBe(locSegment(small) + 1)
    expect(locSegment(after)).toBe(locSegment(big) + 1)
    await settle(() => l.durableSeq === 3)
    expect(l.view(big).length).toBe(5000) // bigger than the read-ahead block
    await l.close()
  })

  test('torn tail: a record cut mid-way is truncated on recovery, with a warning', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    for (let i = 0; i < 10; i++) l.append(Buffer.from(`payload ${i}`))
    await l.close()
    const file = path.join(dir, segmentFileName(1))
    const size = statSync(file).size
    truncateSync(file, size - 4) // the crash cut the last record
    const { l: l2, c, warnings } = reopen(dir)
    expect(c.payloads).toEqual(Array.from({ length: 9 }, (_, i) => `payload ${i}`))
    expect(l2.recovery.truncatedBytes).toBe(RECORD_HEADER + 9 - 4)
    expect(statSync(file).size).toBe(size - RECORD_HEADER - 9)
    expect(warnings().some((w) => /torn tail/.test(w.msg))).toBe(true)
    await l2.close()
  })

  test('torn tail: garbage and zeros after the last record are dropped', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    for (let i = 0; i < 10; i++) l.append(Buffer.from(`payload ${i}`))
    await l.close()
    const file = path.join(dir, segmentFileName(1))
    const good = statSync(file).size
    appendFileSync(file, Buffer.concat([Buffer.from([0x20, 0, 0, 0, 1, 2, 3, 4]), Buffer.from('half a record'), Buffer.alloc(512)]))
    const { l: l2, c } = reopen(dir)
    expect(c.payloads).toHaveLength(10)
    expect(statSync(file).size).toBe(good)
    // and it is a usable log again: reopen once more, nothing is lost or doubled
    const x = l2.append(Buffer.from('new'))
    await l2.close()
    const { l: l3, c: c3 } = reopen(dir)
    expect(c3.payloads).toEqual([...c.payloads, 'new'])
    expect(c3.locs.at(-1)).toBe(x)
    await l3.close()
  })

  test('a bad CRC in the middle skips that record, warns, and recovers the rest', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    const locs: number[] = []
    for (let i = 0; i < 20; i++) locs.push(l.append(Buffer.from(`payload number ${i}`)))
    await l.close()
    const file = path.join(dir, segmentFileName(1))
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.from('X'), 0, 1, locOffset(locs[7]) + RECORD_HEADER + 3) // flip payload bytes
    closeSync(fd)
    const { l: l2, c, warnings } = reopen(dir)
    expect(c.payloads).toHaveLength(19)
    expect(c.payloads).not.toContain('payload number 7')
    expect(c.payloads.at(-1)).toBe('payload number 19')
    expect(l2.recovery.damagedRanges).toBe(1)
    const w = warnings().find((x) => /damaged/.test(x.msg))
    expect(w).toMatchObject({ from: locOffset(locs[7]), to: locOffset(locs[8]) })
    // reading the damaged record back fails loudly instead of returning garbage
    expect(() => l2.view(locs[7])).toThrow(CorruptRecordError)
    expect(l2.view(locs[8]).toString()).toBe('payload number 8')
    await l2.close()
  })

  test('a foreign file with a segment name is skipped with a warning, not deleted', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    l.append(Buffer.from('ok'))
    await l.close()
    const bogus = path.join(dir, segmentFileName(2))
    appendFileSync(bogus, 'this is not a segment file')
    const { l: l2, c, warnings } = reopen(dir)
    expect(c.payloads).toEqual(['ok'])
    expect(existsSync(bogus)).toBe(true)
    expect(warnings().some((w) => /bad header/.test(w.msg))).toBe(true)
    expect(locSegment(l2.append(Buffer.from('x')))).toBe(3)
    await l2.close()
  })

  test('deleteSegment removes a sealed segment file but not the active one', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log, segmentSize: 256 })
    const locs: number[] = []
    for (let i = 0; i < 30; i++) locs.push(l.append(Buffer.alloc(40, i)))
    await settle(() => l.durableSeq === 30)
    const first = locSegment(locs[0])
    expect(l.deleteSegment(l.activeSegment)).toBe(false)
    expect(l.deleteSegment(first)).toBe(true)
    expect(existsSync(path.join(dir, segmentFileName(first)))).toBe(false)
    expect(() => l.view(locs[0])).toThrow(RangeError)
    expect(l.segmentIds()).not.toContain(first)
    await l.close()
  })

  test('close waits for the batch in flight and writes the rest', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    for (let i = 0; i < 1000; i++) l.append(Buffer.from(`r${i}`))
    l.flush() // a batch in flight
    for (let i = 1000; i < 2000; i++) l.append(Buffer.from(`r${i}`))
    await l.close()
    expect(l.durableSeq).toBe(2000)
    expect(() => l.append(Buffer.from('late'))).toThrow(/closed/)
    const { l: l2, c } = reopen(dir)
    expect(c.payloads).toHaveLength(2000)
    expect(c.payloads[1999]).toBe('r1999')
    await l2.close()
  })

  test('a zero-length or oversize record is refused', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log, maxRecordSize: 100 })
    expect(() => l.append(Buffer.alloc(0))).toThrow(RangeError)
    expect(() => l.append(Buffer.alloc(101))).toThrow(RangeError)
    expect(l.appendSeq).toBe(0)
    await l.close()
  })

  test('an empty segment left by a crash right after creation is removed', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const l = SegmentLog.open({ dir, log })
    l.append(Buffer.from('a'))
    await l.close()
    const empty = path.join(dir, segmentFileName(2))
    appendFileSync(empty, readFileSync(path.join(dir, segmentFileName(1))).subarray(0, SEGMENT_HEADER))
    const { l: l2, c } = reopen(dir)
    expect(c.payloads).toEqual(['a'])
    expect(existsSync(empty)).toBe(false)
    await l2.close()
  })

  test('a failed fdatasync stops the log: nothing more is reported durable, appends throw', async () => {
    const dir = tempDir()
    const { log, lines } = captureLogger()
    let failNext = false
    const io: BatchIo = {
      write: NODE_IO.write,
      fdatasync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        if (!failNext) return fdatasync(fd, cb)
        const err: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync')
        err.code = 'EIO'
        setImmediate(() => cb(err))
      }) as BatchIo['fdatasync'],
    }
    const l = SegmentLog.open({ dir, log, io })
    const listener = new Listener()
    l.setListener(listener)
    l.append(Buffer.from('one'))
    await settle(() => l.durableSeq === 1)
    failNext = true
    l.append(Buffer.from('two'))
    await settle(() => listener.errors.length === 1)
    expect(listener.errors[0].message).toMatch(/EIO/)
    expect(l.durableSeq).toBe(1) // "two" was never confirmed
    expect(l.failure).toBe(listener.errors[0])
    expect(() => l.append(Buffer.from('three'))).toThrow(/EIO/)
    expect(lines.some((x) => x.level === 50 && /write failed/.test(x.msg))).toBe(true)
    await l.close()
  })

  test('a failed write stops the log the same way', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    const io: BatchIo = {
      write: ((_fd: number, _b: Buffer, _o: number, _l: number, _p: number, cb: (err: Error | null, n: number) => void) => {
        const err: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write')
        err.code = 'ENOSPC'
        setImmediate(() => cb(err, 0))
      }) as unknown as BatchIo['write'],
      fdatasync: NODE_IO.fdatasync,
    }
    const l = SegmentLog.open({ dir, log, io })
    const listener = new Listener()
    l.setListener(listener)
    l.append(Buffer.from('one'))
    await settle(() => listener.errors.length === 1)
    expect(l.durableSeq).toBe(0)
    expect(listener.calls).toEqual([])
    await l.close()
  })

  test('recover() after a torn failed write: the tail is cut back, appends resume in a new segment', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    let torn = false
    const io: BatchIo = {
      // a full disk in the middle of a batch: a few bytes reach the file, then ENOSPC
      write: ((fd: number, b: Buffer, o: number, len: number, pos: number, cb: (err: Error | null, n: number) => void) => {
        if (!torn) return NODE_IO.write(fd, b, o, len, pos, cb)
        torn = false
        writeSync(fd, b, o, 10, pos) // a partial record: torn
        const err: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write')
        err.code = 'ENOSPC'
        setImmediate(() => cb(err, 0))
      }) as unknown as BatchIo['write'],
      fdatasync: NODE_IO.fdatasync,
    }
    const l = SegmentLog.open({ dir, log, io })
    const listener = new Listener()
    l.setListener(listener)
    l.append(Buffer.from('one'))
    await settle(() => l.durableSeq === 1)
    torn = true
    const lost = l.append(Buffer.from('two-'.repeat(100)))
    l.append(Buffer.from('three-'.repeat(100)))
    await settle(() => listener.errors.length === 1)
    expect(l.recover()).toBe(true)
    expect(l.failure).toBeNull()
    expect(() => l.view(lost)).toThrow(RangeError) // never readable as some other record
    const after = l.append(Buffer.from('four'))
    expect(locSegment(after)).toBe(locSegment(lost) + 1)
    await settle(() => l.durableSeq === l.appendSeq)
    expect(l.view(after).toString()).toBe('four')
    await l.close()
    const { l: l2, c } = reopen(dir)
    expect(c.payloads).toEqual(['one', 'four'])
    expect(l2.recovery.truncatedBytes).toBe(0) // cut at recover(), not left for the next boot
    await l2.close()
  })

  test('a new segment that cannot be created during a batch: that batch completes, what waits behind it fails', async () => {
    const dir = tempDir()
    const { log } = captureLogger()
    let held: (() => void) | null = null
    const io: BatchIo = {
      write: ((fd: number, b: Buffer, o: number, len: number, pos: number, cb: (err: Error | null, n: number) => void) => {
        held = () => NODE_IO.write(fd, b, o, len, pos, cb)
      }) as unknown as BatchIo['write'],
      fdatasync: NODE_IO.fdatasync,
    }
    const l = SegmentLog.open({ dir, log, io, segmentSize: SEGMENT_HEADER + 2 * (RECORD_HEADER + 4) })
    const listener = new Listener()
    l.setListener(listener)
    l.append(Buffer.from('aaaa'))
    await settle(() => held !== null) // the first batch is being written
    l.append(Buffer.from('bbbb')) // fits: waits behind it
    rmSync(dir, { recursive: true, force: true }) // the next segment cannot be created
    expect(() => l.append(Buffer.from('cccc'))).toThrow(/ENOENT/)
    held!()
    await settle(() => listener.errors.length === 1)
    expect(listener.calls).toEqual([1]) // "aaaa" was written before the failure
    expect(l.durableSeq).toBe(1) // "bbbb" never reported durable
    expect(l.failure).not.toBeNull()
    await l.close()
  })
})
