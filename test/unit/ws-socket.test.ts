/**
 * WsSocket against a fake ws WebSocket: corked writes become fragments of one message, the drain
 * owed after write() returned false is never missed, and text messages close with 1003.
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { WebSocket } from 'ws'
import { WS_HIGH_WATER_MARK, WS_LOW_WATER_MARK, WsSocket } from '../../transport/ws-socket.js'

interface Sent {
  chunk: Buffer
  fin: boolean
  cb: ((err?: Error) => void) | undefined
}

/** The parts of ws.WebSocket that WsSocket uses; bufferedAmount is set by the test. */
class FakeWs extends EventEmitter {
  readyState = 1
  bufferedAmount = 0
  binaryType = 'nodebuffer'
  paused = false
  readonly sent: Sent[] = []
  closedWith: [number, string] | null = null
  terminated = false

  send(chunk: Buffer, opts: { fin: boolean }, cb?: (err?: Error) => void): void {
    this.sent.push({ chunk, fin: opts.fin, cb })
    this.bufferedAmount += chunk.length
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason]
    this.readyState = 2
  }
  terminate(): void {
    this.terminated = true
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
  }
}

function make(): { fake: FakeWs; sock: WsSocket } {
  const fake = new FakeWs()
  const req = { socket: { remoteAddress: '127.0.0.1', remotePort: 5000, localAddress: '127.0.0.1', localPort: 15672 } }
  const sock = new WsSocket(fake as unknown as WebSocket, req as unknown as IncomingMessage, pino({ level: 'silent' }))
  return { fake, sock }
}

const buf = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill)

describe('WsSocket', () => {
  it('takes the peer address from the upgrade request socket', () => {
    const { sock } = make()
    expect([sock.remoteAddress, sock.remotePort, sock.localPort]).toEqual(['127.0.0.1', 5000, 15672])
  })

  it('sends an uncorked write as one whole message', () => {
    const { fake, sock } = make()
    expect(sock.write(buf(10))).toBe(true)
    expect(fake.sent.map((s) => s.fin)).toEqual([true])
  })

  it('sends writes between cork and uncork as fragments of one message, the last with fin', () => {
    const { fake, sock } = make()
    const a = buf(3, 1)
    const b = buf(4, 2)
    const c = buf(5, 3)
    sock.cork()
    sock.write(a)
    sock.write(b)
    sock.write(c)
    expect(fake.sent.map((s) => s.fin)).toEqual([false, false]) // the last one is held until uncork
    sock.uncork()
    expect(fake.sent.map((s) => [s.chunk, s.fin])).toEqual([
      [a, false],
      [b, false],
      [c, true],
    ])
  })

  it('returns false past the high-water mark and emits drain once below the low-water mark', () => {
    const { fake, sock } = make()
    let drains = 0
    sock.on('drain', () => drains++)
    fake.bufferedAmount = WS_HIGH_WATER_MARK
    expect(sock.write(buf(100))).toBe(false)
    expect(sock.write(buf(100))).toBe(false)
    // both sends carry the callback; the first completing leaves too much queued
    fake.bufferedAmount = WS_LOW_WATER_MARK + 1
    fake.sent[0].cb!()
    expect(drains).toBe(0)
    fake.bufferedAmount = 0
    fake.sent[1].cb!()
    expect(drains).toBe(1)
    expect(sock.write(buf(100))).toBe(true)
    expect(fake.sent[2].cb).toBeUndefined() // no callbacks while nothing is owed
  })

  it('counts a held corked chunk towards the high-water mark', () => {
    const { fake, sock } = make()
    let drains = 0
    sock.on('drain', () => drains++)
    sock.cork()
    expect(sock.write(buf(WS_HIGH_WATER_MARK / 2))).toBe(true)
    expect(sock.write(buf(WS_HIGH_WATER_MARK / 2 + 1))).toBe(false)
    sock.uncork()
    expect(fake.sent[1].cb).toBeDefined() // the final fragment carries the drain callback
    fake.bufferedAmount = 0
    fake.sent[1].cb!()
    expect(drains).toBe(1)
  })

  it('ignores a send callback with an error (the socket closed)', () => {
    const { fake, sock } = make()
    let drains = 0
    sock.on('drain', () => drains++)
    fake.bufferedAmount = WS_HIGH_WATER_MARK
    sock.write(buf(1))
    fake.bufferedAmount = 0
    fake.sent[0].cb!(new Error('closed'))
    expect(drains).toBe(0)
  })

  it('emits binary messages as data and closes with 1003 on a text message', () => {
    const { fake, sock } = make()
    const data: Buffer[] = []
    sock.on('data', (d) => data.push(d))
    fake.emit('message', buf(4), true)
    fake.emit('message', Buffer.from('hi'), false)
    fake.emit('message', buf(4), true) // after the close started: ignored
    expect(data.length).toBe(1)
    expect(fake.closedWith?.[0]).toBe(1003)
  })

  it('end() and destroy() close the WebSocket once, then drop writes', () => {
    const { fake, sock } = make()
    sock.end()
    sock.destroy()
    expect(fake.closedWith).toEqual([1000, ''])
    expect(sock.write(buf(1))).toBe(true)
    expect(fake.sent.length).toBe(0)
  })

  it('turns the WebSocket close into end and close', () => {
    const { fake, sock } = make()
    const events: string[] = []
    sock.on('end', () => events.push('end'))
    sock.on('close', () => events.push('close'))
    fake.emit('close', 1006, Buffer.alloc(0))
    expect(events).toEqual(['end', 'close'])
  })

  it('pause and resume reach the WebSocket (flow control)', () => {
    const { fake, sock } = make()
    sock.pause()
    expect(fake.paused).toBe(true)
    sock.resume()
    expect(fake.paused).toBe(false)
  })
})
