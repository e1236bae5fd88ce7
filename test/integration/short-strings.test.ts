/**
 * Names are byte strings in AMQP (issue 10, hole 11). Warren keeps them as UTF-8 strings, so a name
 * that is not UTF-8 is refused cleanly (406 on its channel, 501 for connection.open) instead of
 * being decoded lossily: no 541, no two names collapsing into one, nothing stored that cannot be
 * encoded back. Valid UTF-8, a literal U+FFFD and 255-byte names work as before.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ReplyCode } from '../../core/errors.js'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'
import { frame, methodFrame, RawAmqp, shortBytes } from '../helpers/raw-amqp.js'

let b: TestBroker
const raws: RawAmqp[] = []
beforeAll(async () => {
  b = await startTestBroker()
})
afterEach(() => {
  for (const c of raws.splice(0)) c.destroy()
})
afterAll(async () => b.stop())

async function open(): Promise<RawAmqp> {
  const c = await RawAmqp.open(b.amqpPort)
  raws.push(c)
  return c
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])
const EMPTY_TABLE = Buffer.alloc(4)

/** queue.declare (non-durable, auto-delete) of a name given as raw bytes, on channel 1. */
const queueDeclare = (name: Buffer): Buffer =>
  frame(1, 1, Buffer.concat([u16(50), u16(10), u16(0), shortBytes(name), Buffer.from([0b01000]), EMPTY_TABLE]))

const exchangeDeclare = (name: Buffer): Buffer =>
  frame(1, 1, Buffer.concat([u16(40), u16(10), u16(0), shortBytes(name), shortBytes(Buffer.from('direct')), Buffer.from([0b00100]), EMPTY_TABLE]))

async function expectChannelClose(c: RawAmqp, text: RegExp): Promise<void> {
  const close = await c.expectMethod(20, 40)
  expect(close.args.replyCode).toBe(ReplyCode.PRECONDITION_FAILED)
  expect(close.args.replyText).toMatch(text)
  c.write(methodFrame(1, 20, 41))
}

describe('names that are not UTF-8', () => {
  it('a queue name of 255 × 0xFF is refused with 406, and the connection goes on', async () => {
    const c = await open()
    c.write(queueDeclare(Buffer.alloc(255, 0xff)))
    await expectChannelClose(c, /^PRECONDITION_FAILED - queue in queue\.declare is not valid UTF-8$/)
    expect([...b.broker.vhost('/')!.queues.keys()].filter((n) => n.includes('\uFFFD'))).toEqual([])
    // the same connection still works: reopen channel 1 and declare a good queue
    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectMethod(20, 11)
    c.write(queueDeclare(Buffer.from('after-bad-name')))
    const ok = await c.expectMethod(50, 11)
    expect(ok.args.queue).toBe('after-bad-name')
  })

  it('a\\xFE and a\\xFF do not collide: both are refused', async () => {
    for (const name of [Buffer.from([0x61, 0xfe]), Buffer.from([0x61, 0xff])]) {
      const c = await open()
      c.write(queueDeclare(name))
      await expectChannelClose(c, /not valid UTF-8/)
    }
    expect(b.broker.vhost('/')!.queues.has('a\uFFFD')).toBe(false)
  })

  it('an exchange name and a publish routing key that are not UTF-8 are refused with 406', async () => {
    const c = await open()
    c.write(exchangeDeclare(Buffer.from([0x78, 0xc3])))
    await expectChannelClose(c, /^PRECONDITION_FAILED - exchange in exchange\.declare is not valid UTF-8$/)

    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectMethod(20, 11)
    const publish = frame(1, 1, Buffer.concat([u16(60), u16(40), u16(0), shortBytes(Buffer.alloc(0)), shortBytes(Buffer.alloc(255, 0xff)), Buffer.from([0])]))
    const header = Buffer.alloc(14)
    header.writeUInt16BE(60, 0)
    header.writeUInt32BE(3, 8)
    c.write(Buffer.concat([publish, frame(2, 1, header), frame(3, 1, Buffer.from('abc'))]))
    await expectChannelClose(c, /^PRECONDITION_FAILED - routing-key in basic\.publish is not valid UTF-8$/)
    // the content frames after the refused publish were discarded, not a 505
    c.write(methodFrame(1, 20, 10, ['']))
    await c.expectMethod(20, 11)
  })

  it('connection.open with a virtual host that is not UTF-8 is 501', async () => {
    const c = await RawAmqp.started(b.amqpPort)
    raws.push(c)
    c.write(methodFrame(0, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US']))
    await c.expectMethod(10, 30)
    c.write(methodFrame(0, 10, 31, [0, 131072, 0]))
    c.write(frame(1, 0, Buffer.concat([u16(10), u16(40), shortBytes(Buffer.from([0x2f, 0xff])), shortBytes(Buffer.alloc(0)), Buffer.from([0])])))
    const close = await c.expectMethod(10, 50)
    expect(close.args.replyCode).toBe(ReplyCode.FRAME_ERROR)
    expect(close.args.replyText).toBe('FRAME_ERROR - virtual-host in connection.open is not valid UTF-8')
  })
})

describe('UTF-8 names still work', () => {
  it('a literal U+FFFD and a 255-byte multi-byte name are accepted and echoed exactly', async () => {
    const c = await open()
    for (const name of ['x\uFFFDy', '€'.repeat(85)]) {
      expect(Buffer.byteLength(name) <= 255).toBe(true)
      c.write(queueDeclare(Buffer.from(name)))
      const ok = await c.expectMethod(50, 11)
      expect(ok.args.queue).toBe(name)
      expect(b.broker.vhost('/')!.queues.has(name)).toBe(true)
    }
  })
})
