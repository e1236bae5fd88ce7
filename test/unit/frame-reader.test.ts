/**
 * FrameReader: the same frames come out whatever the chunking of the byte stream; large frames are
 * assembled across chunks; oversized frames and bad frame-end bytes are 501 FRAME_ERROR; and a
 * seeded fuzz shows that arbitrary bytes only ever yield frames or a ConnectionError (never a
 * TypeError/RangeError, never a hang).
 */
import { describe, expect, it } from 'vitest'
import { AmqpError, ConnectionError, ReplyCode } from '../../core/errors.js'
import { FRAME_END, FRAME_OVERHEAD } from '../../transport/codec/constants.js'
import { FrameError, FrameReader } from '../../transport/codec/frame-reader.js'

interface Frame {
  type: number
  channel: number
  payload: Buffer
}

/** mulberry32: small, fast, seeded */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const randInt = (rnd: () => number, n: number): number => Math.floor(rnd() * n)

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = randInt(rnd, 256)
  return b
}

function encodeFrame(f: Frame, end = FRAME_END): Buffer {
  const b = Buffer.alloc(f.payload.length + FRAME_OVERHEAD)
  b[0] = f.type
  b.writeUInt16BE(f.channel, 1)
  b.writeUInt32BE(f.payload.length, 3)
  f.payload.copy(b, 7)
  b[b.length - 1] = end
  return b
}

/** A reader that records copies of every frame it yields. */
function collector(maxFrameSize: number): { reader: FrameReader; frames: Frame[] } {
  const frames: Frame[] = []
  const reader = new FrameReader(
    {
      onFrame(type, channel, buf, start, end) {
        // plain checks: expect() per frame would dominate the run time
        if (!(start >= 0 && start <= end && end <= buf.length)) throw new Error(`bad frame bounds ${start}..${end} of ${buf.length}`)
        frames.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) })
      },
    },
    maxFrameSize,
  )
  return { reader, frames }
}

function feed(chunks: readonly Buffer[], maxFrameSize = 131072): Frame[] {
  const { reader, frames } = collector(maxFrameSize)
  for (const c of chunks) reader.push(c)
  return frames
}

/** Cuts `buf` at the given ascending positions. Each chunk is a fresh copy (chunks are never reused). */
function cut(buf: Buffer, at: readonly number[]): Buffer[] {
  const out: Buffer[] = []
  let prev = 0
  for (const p of [...at, buf.length]) {
    out.push(Buffer.from(buf.subarray(prev, p)))
    prev = p
  }
  return out
}

function randomChunking(rnd: () => number, buf: Buffer, maxChunk: number): Buffer[] {
  const at: number[] = []
  let p = 0
  for (;;) {
    p += randInt(rnd, maxChunk + 1) // 0 allowed: empty chunks must be harmless
    if (p >= buf.length) break
    at.push(p)
  }
  return cut(buf, at)
}

/** Many frames of assorted types, channels and sizes (including empty payloads). */
function frameSet(rnd: () => number, count: number, maxPayload: number): Frame[] {
  const frames: Frame[] = []
  const types = [1, 2, 3, 8]
  for (let i = 0; i < count; i++) {
    const size = i % 7 === 0 ? 0 : randInt(rnd, maxPayload)
    frames.push({ type: types[i % 4], channel: i % 5 === 0 ? 0 : randInt(rnd, 65536), payload: randomBytes(rnd, size) })
  }
  return frames
}

const streamOf = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.map((f) => encodeFrame(f)))

function expectSameFrames(got: readonly Frame[], want: readonly Frame[]): void {
  expect(got.length).toBe(want.length)
  for (let i = 0; i < want.length; i++) {
    if (got[i].type !== want[i].type || got[i].channel !== want[i].channel || !got[i].payload.equals(want[i].payload)) {
      // only build the (expensive) diff on failure
      expect({ i, ...got[i] }).toEqual({ i, ...want[i] })
    }
  }
}

function catchError(fn: () => void): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function expectFrameError(err: unknown, pattern?: RegExp): void {
  expect(err).toBeInstanceOf(FrameError)
  expect(err).toBeInstanceOf(ConnectionError)
  const e = err as ConnectionError
  expect(e.code).toBe(ReplyCode.FRAME_ERROR)
  expect(e.hard).toBe(true)
  expect(e.replyText).toMatch(/^FRAME_ERROR - /)
  if (pattern) expect(e.message).toMatch(pattern)
}

describe('FrameReader: chunking does not matter', () => {
  const rnd = prng(1)
  const frames = frameSet(rnd, 60, 60)
  const stream = streamOf(frames)

  it('one chunk', () => {
    expectSameFrames(feed([stream]), frames)
  })

  it('one byte at a time', () => {
    const at = Array.from({ length: stream.length - 1 }, (_, i) => i + 1)
    expectSameFrames(feed(cut(stream, at)), frames)
  })

  it(`split in two at every byte position (${stream.length + 1} splits)`, () => {
    for (let p = 0; p <= stream.length; p++) expectSameFrames(feed(cut(stream, [p])), frames)
  })

  it('split in three at every pair of positions within the first frames', () => {
    const small = frames.slice(0, 6)
    const s = streamOf(small)
    const limit = Math.min(s.length, 120)
    for (let p = 0; p <= limit; p++) {
      for (let q = p; q <= limit; q++) expectSameFrames(feed(cut(s, [p, q])), small)
    }
  })

  it('500 random chunkings (including empty chunks)', () => {
    const r = prng(2)
    for (let i = 0; i < 500; i++) {
      const maxChunk = [1, 3, 8, 16, 64, 300, 2000][i % 7]
      expectSameFrames(feed(randomChunking(r, stream, maxChunk)), frames)
    }
  })

  it('a larger stream of bigger frames in random chunks', () => {
    const r = prng(3)
    const big = frameSet(r, 150, 5000)
    const s = streamOf(big)
    for (let i = 0; i < 50; i++) expectSameFrames(feed(randomChunking(r, s, [7, 100, 4096, 70000][i % 4])), big)
  })

  it('the frame-end-only and header-only splits', () => {
    const f = { type: 1, channel: 7, payload: Buffer.from('hello') }
    const b = encodeFrame(f)
    // header in pieces, then payload, then the frame-end byte alone
    expectSameFrames(feed(cut(b, [1, 2, 3, 5, 7, 12])), [f])
    // a chunk ending exactly before the frame-end byte
    expectSameFrames(feed(cut(b, [b.length - 1])), [f])
  })

  it('an empty push changes nothing', () => {
    const { reader, frames: got } = collector(4096)
    reader.push(Buffer.alloc(0))
    const f = { type: 3, channel: 1, payload: Buffer.from('x') }
    const b = encodeFrame(f)
    reader.push(b.subarray(0, 3))
    reader.push(Buffer.alloc(0))
    reader.push(b.subarray(3, 9))
    reader.push(Buffer.alloc(0))
    reader.push(b.subarray(9))
    reader.push(Buffer.alloc(0))
    expectSameFrames(got, [f])
  })
})

describe('FrameReader: big frames', () => {
  it('a 1 MiB frame assembled from 1000-byte chunks and from one huge chunk', () => {
    const rnd = prng(4)
    const f = { type: 3, channel: 1, payload: randomBytes(rnd, 1 << 20) }
    const b = encodeFrame(f)
    const max = (1 << 20) + FRAME_OVERHEAD
    const at: number[] = []
    for (let p = 1000; p < b.length; p += 1000) at.push(p)
    expectSameFrames(feed(cut(b, at), max), [f])
    expectSameFrames(feed([b], max), [f])
  })

  it('a 100 KiB frame fed one byte at a time, surrounded by small frames', () => {
    const rnd = prng(5)
    const frames = [
      { type: 1, channel: 1, payload: Buffer.from('before') },
      { type: 3, channel: 1, payload: randomBytes(rnd, 100 * 1024) },
      { type: 8, channel: 0, payload: Buffer.alloc(0) },
    ]
    const s = streamOf(frames)
    const { reader, frames: got } = collector(131072)
    for (let i = 0; i < s.length; i++) reader.push(s.subarray(i, i + 1))
    expectSameFrames(got, frames)
  })

  it('a frame of exactly maxFrameSize is accepted (size + 8 == frame_max)', () => {
    const f = { type: 3, channel: 1, payload: Buffer.alloc(4096 - FRAME_OVERHEAD, 0x61) }
    const b = encodeFrame(f)
    expectSameFrames(feed([b], 4096), [f])
    expectSameFrames(feed(cut(b, [3]), 4096), [f])
    expectSameFrames(feed(cut(b, [100]), 4096), [f])
  })

  it('many big frames split across chunk boundaries', () => {
    const rnd = prng(6)
    const frames = Array.from({ length: 20 }, (_, i) => ({ type: 3, channel: i, payload: randomBytes(rnd, 20000 + i * 777) }))
    const s = streamOf(frames)
    for (const size of [4095, 16384, 65536, 131072]) {
      const at: number[] = []
      for (let p = size; p < s.length; p += size) at.push(p)
      expectSameFrames(feed(cut(s, at)), frames)
    }
  })
})

describe('FrameReader: malformed frames are 501 FRAME_ERROR', () => {
  const oversized = encodeFrame({ type: 1, channel: 1, payload: Buffer.alloc(4096 - FRAME_OVERHEAD + 1) })

  it('a frame one byte larger than maxFrameSize, in one chunk', () => {
    const { reader, frames } = collector(4096)
    expectFrameError(catchError(() => reader.push(oversized)), /exceeds frame_max/)
    expect(frames).toEqual([])
  })

  it('an oversized frame is refused as soon as its header is complete (no body needed)', () => {
    const header = Buffer.from([3, 0, 1, 0x7f, 0xff, 0xff, 0xff]) // 2 GiB announced
    expectFrameError(catchError(() => feed([header], 131072)), /exceeds frame_max/)
    // header split: refused when the 7th byte arrives, before any buffer of that size is allocated
    const { reader } = collector(131072)
    reader.push(header.subarray(0, 4))
    expectFrameError(catchError(() => reader.push(header.subarray(4))))
    // 0xffffffff
    expectFrameError(catchError(() => feed([Buffer.from([1, 0, 0, 0xff, 0xff, 0xff, 0xff])])))
  })

  it('an oversized frame after good frames: the good ones come out first', () => {
    const good = encodeFrame({ type: 1, channel: 1, payload: Buffer.from('ok') })
    for (const at of [[], [good.length], [good.length + 3], [5, good.length + 8]]) {
      const { reader, frames } = collector(4096)
      const err = catchError(() => {
        for (const c of cut(Buffer.concat([good, oversized]), at)) reader.push(c)
      })
      expectFrameError(err)
      expect(frames.length).toBe(1)
    }
  })

  it('the frame limit follows maxFrameSize changes (after tune-ok)', () => {
    const f = encodeFrame({ type: 3, channel: 1, payload: Buffer.alloc(10000) })
    const { reader, frames } = collector(131072)
    reader.push(f)
    expect(frames.length).toBe(1)
    reader.maxFrameSize = 4096
    expectFrameError(catchError(() => reader.push(f)))
  })

  it('a bad frame-end byte, in one chunk and assembled across chunks', () => {
    for (const endByte of [0x00, 0xcd, 0xcf, 0xff]) {
      const bad = encodeFrame({ type: 1, channel: 1, payload: Buffer.from('payload') }, endByte)
      expectFrameError(catchError(() => feed([bad])), /frame end byte/)
      for (let p = 1; p < bad.length; p++) expectFrameError(catchError(() => feed(cut(bad, [p]))), /frame end byte/)
    }
  })

  it('a bad frame-end byte after a good frame: the good one comes out, then 501', () => {
    const good = encodeFrame({ type: 1, channel: 1, payload: Buffer.from('ok') })
    const bad = encodeFrame({ type: 3, channel: 1, payload: Buffer.from('body') }, 0)
    const { reader, frames } = collector(4096)
    expectFrameError(catchError(() => reader.push(Buffer.concat([good, bad]))))
    expect(frames.map((f) => f.payload.toString())).toEqual(['ok'])
  })

  it('an empty frame with a bad end byte (size 0)', () => {
    expectFrameError(catchError(() => feed([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0x00])])))
  })

  it('stopped: the rest of the chunk is not parsed', () => {
    const frames: number[] = []
    const reader: FrameReader = new FrameReader(
      {
        onFrame(_t, channel) {
          frames.push(channel)
          if (channel === 2) reader.stopped = true
        },
      },
      4096,
    )
    const s = streamOf([1, 2, 3, 4].map((channel) => ({ type: 1, channel, payload: Buffer.from('x') })))
    reader.push(s)
    expect(frames).toEqual([1, 2])
  })
})

describe('FrameReader: fuzz (seeded)', () => {
  /**
   * Feeds `stream` in random chunks. Returns the frames and the error, if any. Any thrown error other
   * than an AmqpError (ConnectionError) fails the test.
   */
  function fuzzFeed(rnd: () => number, stream: Buffer, maxFrameSize: number): { frames: Frame[]; err?: ConnectionError } {
    const { reader, frames } = collector(maxFrameSize)
    const chunks = randomChunking(rnd, stream, [1, 5, 13, 100, 1000, 100000][randInt(rnd, 6)])
    for (const c of chunks) {
      try {
        reader.push(c)
      } catch (err) {
        if (!(err instanceof AmqpError)) {
          throw new Error(`non-protocol error from FrameReader: ${(err as Error)?.stack ?? String(err)}`)
        }
        expect(err).toBeInstanceOf(ConnectionError)
        expect(err.code).toBe(ReplyCode.FRAME_ERROR)
        return { frames, err: err as ConnectionError }
      }
    }
    return { frames }
  }

  /** Reference parser: the frames a correct reader yields from the whole stream, and whether it fails. */
  function reference(stream: Buffer, maxFrameSize: number): { frames: Frame[]; fails: boolean } {
    const frames: Frame[] = []
    let p = 0
    while (p + 7 <= stream.length) {
      const size = stream.readUInt32BE(p + 3)
      if (size + 8 > maxFrameSize) return { frames, fails: true }
      if (p + size + 8 > stream.length) break
      if (stream[p + 7 + size] !== FRAME_END) return { frames, fails: true }
      frames.push({ type: stream[p], channel: stream.readUInt16BE(p + 1), payload: stream.subarray(p + 7, p + 7 + size) })
      p += size + 8
    }
    return { frames, fails: false }
  }

  function check(rnd: () => number, stream: Buffer, maxFrameSize: number): void {
    const want = reference(stream, maxFrameSize)
    const got = fuzzFeed(rnd, stream, maxFrameSize)
    expect(got.err !== undefined).toBe(want.fails)
    expectSameFrames(got.frames, want.frames)
  }

  it('3000 random byte streams in random chunks yield frames or a 501, never anything else', () => {
    const rnd = prng(42)
    for (let i = 0; i < 3000; i++) {
      const stream = randomBytes(rnd, randInt(rnd, 300))
      // make small sizes likely so that some random streams contain whole frames
      if (stream.length >= 7 && rnd() < 0.5) stream.writeUInt32BE(randInt(rnd, 40), 3)
      check(rnd, stream, [4096, 131072, 8, 9, 1 << 30][i % 5])
    }
  })

  it('3000 mutations of valid streams in random chunks', () => {
    const rnd = prng(7)
    for (let i = 0; i < 3000; i++) {
      const stream = Buffer.from(streamOf(frameSet(rnd, 1 + randInt(rnd, 8), 200)))
      const mutations = 1 + randInt(rnd, 4)
      for (let m = 0; m < mutations; m++) {
        const p = randInt(rnd, stream.length)
        switch (randInt(rnd, 4)) {
          case 0: // flip a byte
            stream[p] = randInt(rnd, 256)
            break
          case 1: // corrupt a size field's high byte
            stream[p] ^= 1 << randInt(rnd, 8)
            break
          case 2: // off-by-one sizes are the classic bug
            if (p + 7 <= stream.length) stream.writeUInt32BE(Math.max(0, stream.readUInt32BE(p + 3) + (rnd() < 0.5 ? 1 : -1)) >>> 0, p + 3)
            break
          default: // flip a frame-end
            if (stream[p] === FRAME_END) stream[p] = 0
        }
      }
      // and sometimes truncate the stream
      const s = rnd() < 0.3 ? stream.subarray(0, randInt(rnd, stream.length + 1)) : stream
      check(rnd, s, [131072, 4096, 100][i % 3])
    }
  })

  it('pushing after an error does not throw anything but protocol errors either', () => {
    const rnd = prng(9)
    for (let i = 0; i < 500; i++) {
      const { reader } = collector(512)
      for (let j = 0; j < 20; j++) {
        try {
          reader.push(randomBytes(rnd, randInt(rnd, 64)))
        } catch (err) {
          expect(err).toBeInstanceOf(ConnectionError)
        }
      }
    }
  })

  it('finishes quickly (no pathological slow path)', () => {
    const rnd = prng(11)
    const stream = streamOf(frameSet(rnd, 2000, 100))
    const t0 = performance.now()
    for (let i = 0; i < 20; i++) feed(randomChunking(rnd, stream, 50))
    expect(performance.now() - t0).toBeLessThan(5000)
  })
})

describe('FrameReader: bodyTarget (large body frames copied straight to the handler’s buffer)', () => {
  /** A handler that takes every split body frame into its own block, like Channel does with the message block. */
  function targetCollector(maxFrameSize: number, accept: (channel: number, size: number) => boolean) {
    const frames: Frame[] = []
    let targeted = 0
    let pending: { buf: Buffer; offset: number; size: number } | null = null
    const reader = new FrameReader(
      {
        onFrame(type, channel, buf, start, end) {
          if (pending !== null) {
            // the frame named by the last bodyTarget comes back in place, complete
            expect(type).toBe(3)
            expect(buf).toBe(pending.buf)
            expect([start, end]).toEqual([pending.offset, pending.offset + pending.size])
            pending = null
          }
          frames.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) })
        },
        bodyTarget(channel, size) {
          if (!accept(channel, size)) return null
          targeted++
          const offset = 5
          pending = { buf: Buffer.alloc(offset + size + 3), offset, size }
          return { buf: pending.buf, offset }
        },
      },
      maxFrameSize,
    )
    return { reader, frames, targeted: () => targeted }
  }

  it('same frames whatever the chunking, with large split body frames targeted', () => {
    const rnd = prng(21)
    const frames = [
      ...frameSet(rnd, 40, 3000),
      ...Array.from({ length: 8 }, (_, i) => ({ type: 3, channel: 1 + (i % 2), payload: randomBytes(rnd, 2000 + i * 5000) })),
      ...frameSet(rnd, 20, 200),
    ]
    const s = streamOf(frames)
    let total = 0
    for (let i = 0; i < 60; i++) {
      const { reader, frames: got, targeted } = targetCollector(131072, () => true)
      for (const c of randomChunking(rnd, s, [1, 7, 100, 1500, 4096, 70000][i % 6])) reader.push(c)
      expectSameFrames(got, frames)
      total += targeted()
    }
    expect(total).toBeGreaterThan(0)
  })

  it('declined targets fall back to assembly', () => {
    const rnd = prng(22)
    const frames = Array.from({ length: 10 }, (_, i) => ({ type: 3, channel: i, payload: randomBytes(rnd, 3000 + i * 1000) }))
    const s = streamOf(frames)
    const { reader, frames: got, targeted } = targetCollector(131072, (channel) => channel % 2 === 0)
    for (const c of cut(s, Array.from({ length: Math.floor(s.length / 1000) }, (_, i) => (i + 1) * 1000))) reader.push(c)
    expectSameFrames(got, frames)
    expect(targeted()).toBeGreaterThan(0)
  })

  it('a bad frame-end byte after a targeted payload is 501, and the frame is not handed over', () => {
    const bad = encodeFrame({ type: 3, channel: 1, payload: Buffer.alloc(5000, 7) }, 0)
    for (const at of [[100], [100, 5007], [3, 4000]]) {
      const { reader, frames, targeted } = targetCollector(131072, () => true)
      expectFrameError(catchError(() => {
        for (const c of cut(bad, at)) reader.push(c)
      }), /frame end byte/)
      expect(frames).toEqual([])
      expect(targeted()).toBe(1)
    }
  })
})

describe('FrameReader: direct reads (readTarget/targetFilled, transport/direct-read.ts)', () => {
  /**
   * Like Channel's content assembly: each channel's body frames go one after another into that
   * channel's block (targeted frames in place, the others copied there), so the 8 bytes a read may
   * carry past a targeted payload fall on payload still to come, as in a message block.
   */
  function assembler(frames: readonly Frame[]) {
    const blocks = new Map<number, { buf: Buffer; filled: number }>()
    for (const f of frames) {
      if (f.type !== 3) continue
      const b = blocks.get(f.channel) ?? { buf: Buffer.alloc(0), filled: 0 }
      b.buf = Buffer.alloc(b.buf.length + f.payload.length, 0xee)
      blocks.set(f.channel, b)
    }
    const got: Frame[] = []
    let inPlace = 0
    const reader = new FrameReader(
      {
        onFrame(type, channel, buf, start, end) {
          got.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) })
          if (type !== 3) return
          const b = blocks.get(channel)!
          if (buf === b.buf) {
            expect(start).toBe(b.filled)
            inPlace++
          } else buf.copy(b.buf, b.filled, start, end)
          b.filled += end - start
        },
        bodyTarget(channel) {
          const b = blocks.get(channel)!
          return { buf: b.buf, offset: b.filled }
        },
      },
      131072,
    )
    return { reader, got, blocks, inPlace: () => inPlace }
  }

  /** Reads s as the socket would: into readTarget() when there is one, else into a fresh chunk. */
  function directReads(reader: FrameReader, s: Buffer, rnd: () => number, maxRead: number): number {
    let pos = 0
    let targeted = 0
    while (pos < s.length) {
      const want = 1 + randInt(rnd, maxRead)
      const t = reader.readTarget()
      if (t !== null) {
        const n = Math.min(t.length, want, s.length - pos)
        s.copy(t, 0, pos, pos + n)
        pos += n
        targeted += n
        reader.targetFilled(n)
      } else {
        const n = Math.min(want, s.length - pos)
        reader.push(Buffer.from(s.subarray(pos, pos + n)))
        pos += n
      }
    }
    return targeted
  }

  it('same frames and the same assembled bodies whatever the read sizes', () => {
    const rnd = prng(31)
    const frames: Frame[] = []
    for (let m = 0; m < 6; m++) {
      frames.push(...frameSet(rnd, 5, 300))
      // a large message over several frames, a heartbeat-sized frame between two of them
      for (let i = 0; i < 5; i++) {
        frames.push({ type: 3, channel: 1 + (m % 3), payload: randomBytes(rnd, i === 4 ? 64 : 20000 + i * 3) })
        if (i === 2) frames.push({ type: 8, channel: 0, payload: Buffer.alloc(0) })
      }
    }
    const s = streamOf(frames)
    let targeted = 0
    for (const maxRead of [1, 9, 100, 4096, 30000, 300000]) {
      const { reader, got, blocks, inPlace } = assembler(frames)
      targeted += directReads(reader, s, rnd, maxRead)
      expectSameFrames(got, frames)
      for (const [channel, b] of blocks) {
        const want = Buffer.concat(frames.filter((f) => f.type === 3 && f.channel === channel).map((f) => f.payload))
        expect(b.buf.equals(want)).toBe(true)
      }
      if (maxRead >= 4096) expect(inPlace()).toBeGreaterThan(0)
    }
    expect(targeted).toBeGreaterThan(s.length)
  })

  it('a bad frame-end byte read past a targeted payload is 501, and the frame is not handed over', () => {
    const frames = [{ type: 3, channel: 1, payload: Buffer.alloc(5000, 7) }, { type: 3, channel: 1, payload: Buffer.alloc(5000, 8) }]
    const s = streamOf(frames)
    s[7 + 5000] = 0x00
    const { reader, got } = assembler(frames)
    expectFrameError(catchError(() => directReads(reader, s, prng(5), 6000)), /frame end byte/)
    expect(got).toEqual([])
  })
})
