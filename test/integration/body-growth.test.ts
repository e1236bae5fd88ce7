/**
 * Message blocks grow with the body that has arrived (issue 10, hole 14): a content header that
 * announces 128 MiB followed by one body byte must not allocate 128 MiB per channel; bodies over
 * many frames, split anywhere across socket chunks, still arrive intact.
 */
import { randomBytes } from 'node:crypto'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { contentHeader, frame, methodFrame, RawAmqp } from '../helpers/raw-amqp.js'

let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker()
})
afterAll(async () => b.stop())

describe('message blocks grow as the body arrives', () => {
  it('16 channels announcing 128 MiB bodies and sending one byte cost kilobytes, not 2 GiB', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      for (let ch = 2; ch <= 17; ch++) {
        c.write(methodFrame(ch, 20, 10, ['']))
        await c.expectMethod(20, 11)
      }
      const before = process.memoryUsage().arrayBuffers
      const burst: Buffer[] = []
      for (let ch = 2; ch <= 17; ch++) {
        burst.push(methodFrame(ch, 60, 40, [0, 'amq.direct', 'nowhere', false, false]), contentHeader(ch, 128 * 1024 * 1024), frame(3, ch, Buffer.from('x')))
      }
      c.write(Buffer.concat(burst))
      // a synchronous method on channel 1 after the burst: once it is answered, the burst was processed
      c.write(methodFrame(1, 50, 10, [0, '', false, false, true, true, false, {}]))
      await c.expectMethod(50, 11)
      const grown = process.memoryUsage().arrayBuffers - before
      expect(grown).toBeLessThan(16 * 1024 * 1024)
    } finally {
      c.destroy()
    }
  })

  it('bodies over many frames arrive intact (amqplib, 128 KiB frames, 3 MB and 300 kB bodies)', async () => {
    const conn = await amqp.connect(b.url)
    try {
      const ch = await conn.createChannel()
      const { queue } = await ch.assertQueue('', { exclusive: true })
      const bodies = [randomBytes(3_000_000), randomBytes(300_000), randomBytes(131_073)]
      for (const body of bodies) ch.sendToQueue(queue, body)
      for (const body of bodies) {
        const m = await waitFor(() => ch.get(queue, { noAck: true }), 5000, 'a message')
        expect(m.content.equals(body)).toBe(true)
      }
    } finally {
      await conn.close()
    }
  })

  it('a body in 4 kB frames written a few bytes at a time arrives intact', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      c.write(methodFrame(1, 50, 10, [0, 'growth-small-frames', false, false, false, true, false, {}]))
      await c.expectMethod(50, 11)
      const body = randomBytes(100_000)
      const parts = [methodFrame(1, 60, 40, [0, '', 'growth-small-frames', false, false]), contentHeader(1, body.length)]
      for (let p = 0; p < body.length; p += 4000) parts.push(frame(3, 1, body.subarray(p, p + 4000)))
      const all = Buffer.concat(parts)
      for (let p = 0; p < all.length; p += 1500) c.write(all.subarray(p, p + 1500))
      const q = await waitFor(() => b.broker.vhost('/')!.queues.get('growth-small-frames')?.messageCount === 1 && b.broker.vhost('/')!.queues.get('growth-small-frames'), 5000, 'the message')
      expect(q.messageCount).toBe(1)
      const conn = await amqp.connect(b.url)
      try {
        const ch = await conn.createChannel()
        const m = await ch.get('growth-small-frames', { noAck: true })
        expect(m && m.content.equals(body)).toBe(true)
      } finally {
        await conn.close()
      }
    } finally {
      c.destroy()
    }
  })
})
