/**
 * LinkSession's output batching (transport/cluster/link.ts) over a real loopback socket: a tick's
 * small frames are copied into one block and reach the socket as one write; a large frame is written
 * as it is, after what the block already holds; the peer reads every frame, in order.
 */
import net from 'node:net'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { LinkReader, Out, T } from '../../transport/cluster/link-codec.js'
import { LinkSession, type LinkOwner } from '../../transport/cluster/link.js'
import { waitFor } from '../helpers/broker.js'

const owner: LinkOwner = {
  clusterName: 'c',
  nodeName: 'a',
  secret: Buffer.alloc(32),
  up: () => ({ frame() {}, drained() {} }),
  down() {},
}

describe('LinkSession output', () => {
  const cleanups: (() => void)[] = []
  afterEach(() => {
    for (const c of cleanups.splice(0)) c()
  })

  async function pair(): Promise<{ session: LinkSession; writes: () => number; frames: { type: number; len: number; first: number }[] }> {
    const frames: { type: number; len: number; first: number }[] = []
    const reader = new LinkReader((type, buf, start, end) => frames.push({ type, len: end - start, first: end > start ? buf.readUInt32BE(start) : -1 }))
    reader.maxFrame = 1 << 20
    const server = net.createServer((s) => s.on('data', (c: Buffer) => reader.push(c)))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
    await new Promise<void>((r) => socket.once('connect', r))
    let writes = 0
    const write = socket.write.bind(socket) as (b: Buffer) => boolean
    socket.write = ((b: Buffer) => (writes++, write(b))) as typeof socket.write
    const session = new LinkSession(socket, 'accept', 'b', owner, pino({ level: 'silent' }))
    cleanups.push(() => {
      session.end('test done')
      server.close()
    })
    return { session, writes: () => writes, frames }
  }

  it("a tick's small frames leave in one socket write, in order", async () => {
    const { session, writes, frames } = await pair()
    for (let i = 0; i < 1000; i++) session.send(new Out(T.CREDIT, 8).u32(i).u32(1).buf)
    expect(writes()).toBe(0)
    await waitFor(() => frames.length === 1000, 5000, 'every frame at the peer')
    // 13 bytes each: 13,000 bytes fit one 64 KiB block
    expect(writes()).toBe(1)
    expect(frames.map((f) => f.first)).toEqual([...Array(1000).keys()])
  })

  it('a large frame is written as it is, after the small ones before it; order is kept', async () => {
    const { session, writes, frames } = await pair()
    session.send(new Out(T.CREDIT, 8).u32(1).u32(1).buf)
    const big = new Out(T.ACCEPTED, 64 * 1024)
    big.u32(2)
    session.send(big.buf)
    // a frame in two parts: a small header and a large body
    const head = new Out(T.ACCEPTED, 4, 32 * 1024).u32(3).buf
    session.send2(head, Buffer.alloc(32 * 1024))
    session.send(new Out(T.CREDIT, 8).u32(4).u32(1).buf)
    await waitFor(() => frames.length === 4, 5000, 'every frame at the peer')
    expect(frames.map((f) => f.first)).toEqual([1, 2, 3, 4])
    expect(frames.map((f) => f.len)).toEqual([8, 64 * 1024, 4 + 32 * 1024, 8])
    // [credit 1] [big] [head 3] [body 3] [credit 4]
    expect(writes()).toBe(5)
  })

  it('over many ticks and blocks, every frame arrives once and in order', async () => {
    const { session, frames } = await pair()
    let n = 0
    for (let tick = 0; tick < 20; tick++) {
      // 6,000 frames of 13 bytes: more than one block per tick
      for (let i = 0; i < 6000; i++) session.send(new Out(T.CREDIT, 8).u32(n++).u32(1).buf)
      await new Promise((r) => setImmediate(r))
    }
    await waitFor(() => frames.length === n, 10_000, 'every frame at the peer')
    expect(frames.every((f, i) => f.first === i)).toBe(true)
  })
})
