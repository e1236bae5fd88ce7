/**
 * Methods that finish later hold the channel's later frames (transport/channel-hold.ts): the
 * replies of a channel come in the order its methods were sent. tx.commit is such a method on a
 * single node: commit-ok waits for the committed persistent messages to be on disk, and a method
 * pipelined behind the commit must not be answered first (RabbitMQ answers in order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { frame, methodFrame, RawAmqp } from '../helpers/raw-amqp.js'

let b: TestBroker
beforeAll(async () => {
  b = await startTestBroker()
})
afterAll(async () => b.stop())

/** A content header with delivery-mode 2 (persistent) announcing `size` body bytes. */
function persistentHeader(channel: number, size: number): Buffer {
  const h = Buffer.alloc(15)
  h.writeUInt16BE(60, 0)
  h.writeUInt32BE(size >>> 0, 8)
  h.writeUInt16BE(0x1000, 12)
  h[14] = 2
  return frame(2, channel, h)
}

const declare = (q: string, passive: boolean): Buffer => methodFrame(1, 50, 10, [0, q, passive, true, false, false, false, {}])
const publish = (q: string, body: Buffer): Buffer[] => [methodFrame(1, 60, 40, [0, '', q, false, false]), persistentHeader(1, body.length), frame(3, 1, body)]

describe('a channel answers in order while a method waits', () => {
  it('a passive declare pipelined behind tx.commit is answered after commit-ok, and sees the message', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      const q = 'hold-commit-order'
      c.write(Buffer.concat([methodFrame(1, 90, 10), declare(q, false), ...publish(q, Buffer.from('persisted')), methodFrame(1, 90, 20), declare(q, true)]))
      await c.expectMethod(90, 11)
      await c.expectMethod(50, 11)
      await c.expectMethod(90, 21)
      const passive = await c.expectMethod(50, 11)
      expect(passive.args.messageCount).toBe(1)
    } finally {
      c.destroy()
    }
  })

  it('many pipelined commits with more than a megabyte held behind them are all answered, in order', async () => {
    const c = await RawAmqp.open(b.amqpPort)
    try {
      const q = 'hold-many-commits'
      const body = Buffer.alloc(64 * 1024, 7)
      const burst: Buffer[] = [methodFrame(1, 90, 10), declare(q, false)]
      // 40 × 64 KiB published behind the first commit: more than HOLD_PAUSE_BYTES wait at once
      for (let i = 0; i < 40; i++) burst.push(...publish(q, body), methodFrame(1, 90, 20))
      burst.push(declare(q, true))
      c.write(Buffer.concat(burst))
      await c.expectMethod(90, 11)
      await c.expectMethod(50, 11)
      for (let i = 0; i < 40; i++) await c.expectMethod(90, 21, 10_000)
      const passive = await c.expectMethod(50, 11)
      expect(passive.args.messageCount).toBe(40)
      expect(c.closed).toBe(false)
    } finally {
      c.destroy()
    }
  })
})
