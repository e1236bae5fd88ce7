/**
 * Direct reads (transport/direct-read.ts): a plain TCP connection reads a large body frame straight
 * into its message block. Bodies of every size, interleaved on channels and with other frames
 * between their body frames, arrive intact; a bad frame-end byte after such a payload is still 501.
 */
import { randomBytes } from 'node:crypto'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { contentHeader, frame, methodFrame, RawAmqp } from '../helpers/raw-amqp.js'
import type { Connection } from '../../transport/connection.js'

let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker()
})
afterAll(async () => b.stop())

const brokerConnections = (): Connection[] => [...b.broker.connections.values()] as Connection[]

describe('direct reads', () => {
  it('bodies of every size on two channels arrive intact, read straight into their blocks (amqplib)', async () => {
    const conn = await amqp.connect(b.url)
    try {
      expect(brokerConnections().length).toBeGreaterThan(0)
      expect(brokerConnections().every((c) => c.directReads)).toBe(true)
      const [ch1, ch2] = [await conn.createChannel(), await conn.createChannel()]
      const { queue } = await ch1.assertQueue('', { exclusive: true })
      const sizes = [1_048_576, 16, 3_000_000, 131_064, 131_073, 0, 1_048_576 + 7, 5000, 262_128]
      const bodies = sizes.map((n) => randomBytes(n))
      bodies.forEach((body, i) => (i % 2 === 0 ? ch1 : ch2).sendToQueue(queue, body, { headers: { i } }))
      const got = new Map<number, Buffer>()
      await ch1.consume(queue, (m) => m && got.set(m.properties.headers!.i as number, m.content), { noAck: true })
      await waitFor(() => got.size === bodies.length, 10000, 'every message')
      bodies.forEach((body, i) => expect(got.get(i)!.equals(body), `body ${i} (${body.length} bytes)`).toBe(true))
    } finally {
      await conn.close()
    }
  })

  it('a heartbeat and another channel’s frames between large body frames, written in odd pieces', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      c.write(methodFrame(1, 50, 10, [0, 'direct-read-mixed', false, false, false, true, false, {}]))
      await c.expectMethod(50, 11)
      const body = randomBytes(600_000)
      const parts = [methodFrame(1, 60, 40, [0, '', 'direct-read-mixed', false, false]), contentHeader(1, body.length)]
      for (let p = 0, i = 0; p < body.length; p += 131_064, i++) {
        parts.push(frame(3, 1, body.subarray(p, p + 131_064)))
        if (i === 1) parts.push(frame(8, 0, Buffer.alloc(0)))
        if (i === 2) parts.push(methodFrame(2, 20, 10, ['']))
      }
      const all = Buffer.concat(parts)
      for (let p = 0, n = 1; p < all.length; p += n, n = (n * 7 + 3) % 90_000) c.write(all.subarray(p, p + n))
      await c.expectMethod(20, 11)
      const q = await waitFor(() => b.broker.vhost('/')!.queues.get('direct-read-mixed')?.messageCount === 1, 5000, 'the message')
      expect(q).toBe(true)
      const conn = await amqp.connect(b.url)
      try {
        const ch = await conn.createChannel()
        const m = await ch.get('direct-read-mixed', { noAck: true })
        expect(m && m.content.equals(body)).toBe(true)
      } finally {
        await conn.close()
      }
    } finally {
      c.destroy()
    }
  })

  it('a bad frame-end byte after a large payload is 501 FRAME_ERROR', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      const body = Buffer.alloc(200_000, 1)
      const bad = frame(3, 1, body.subarray(0, 131_064))
      bad[bad.length - 1] = 0
      // the frame's start arrives with the header; the rest of its payload is a read target
      c.write(Buffer.concat([methodFrame(1, 60, 40, [0, 'amq.direct', 'nowhere', false, false]), contentHeader(1, body.length), bad]))
      const close = await c.expectMethod(10, 50)
      expect(close.args.replyCode).toBe(501)
      expect(close.args.replyText).toMatch(/^FRAME_ERROR - frame end byte 0x0 is not 0xce/)
      await c.waitClosed()
    } finally {
      c.destroy()
    }
  })
})
