/**
 * Publisher confirms and transactions over real TCP (amqplib confirm channels, @cloudamqp/amqp-client
 * confirms and tx). Confirm ack frames are counted through the clients' ack events; broker state
 * (queue counts, channel modes) is checked directly.
 */
import type net from 'node:net'
import amqp, { type ConfirmChannel } from 'amqplib'
import type { AMQPBaseClient, AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'
import type { ChannelInfo } from '../../core/connections.js'

const s = brokerSuite('txc')
const { uniq, queue, amqplibConn, clientConn } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})

/** The broker's view of channel `id` of an amqp-client connection. */
function brokerChannel(conn: AMQPBaseClient, id: number): ChannelInfo {
  const port = (conn as unknown as { socket: net.Socket }).socket.localPort
  const c = [...b.broker.connections].find((x) => x.peerPort === port)
  const ch = c && [...c.channels()].find((x) => x.id === id)
  if (ch === undefined) throw new Error(`no broker channel ${id}`)
  return ch
}

interface AckFrame {
  tag: number
  multiple: boolean
  nack: boolean
}

/** Records every basic.ack / basic.nack frame amqp-client receives on `ch`. */
function recordConfirms(ch: AMQPChannel): AckFrame[] {
  const frames: AckFrame[] = []
  const orig = ch.publishConfirmed.bind(ch)
  ch.publishConfirmed = (tag: number, multiple: boolean, nack: boolean) => {
    frames.push({ tag, multiple, nack })
    orig(tag, multiple, nack)
  }
  return frames
}

describe('publisher confirms', () => {
  it('amqplib: 1000 publishes are all confirmed, in order, with coalesced multiple acks', async () => {
    const conn = await amqplibConn()
    const ch: ConfirmChannel = await conn.createConfirmChannel()
    const qn = uniq('confirm-many')
    await ch.assertQueue(qn)
    const acks: { deliveryTag: number; multiple: boolean }[] = []
    let nacks = 0
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => acks.push(f))
    ch.on('nack', () => nacks++)
    const N = 1000
    const confirmed: number[] = []
    for (let i = 0; i < N; i++) {
      ch.sendToQueue(qn, Buffer.from(`m${i}`), {}, (err) => {
        expect(err).toBeNull()
        confirmed.push(i)
      })
    }
    await ch.waitForConfirms()
    expect(confirmed).toHaveLength(N)
    expect(confirmed).toEqual([...Array(N).keys()]) // callbacks fire in publish order
    expect(nacks).toBe(0)
    // ack frames: strictly increasing tags ending at N, far fewer frames than publishes
    const tags = acks.map((a) => a.deliveryTag)
    expect(tags.at(-1)).toBe(N)
    for (let i = 1; i < tags.length; i++) expect(tags[i]).toBeGreaterThan(tags[i - 1])
    expect(acks.length).toBeLessThan(N / 10)
    expect(acks.some((a) => a.multiple)).toBe(true)
    expect(queue(qn).messageCount).toBe(N)
  })

  it('amqp-client: basicPublish resolves with the publish sequence number once acked', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const frames = recordConfirms(ch)
    await ch.confirmSelect()
    expect(brokerChannel(conn, ch.id).confirm).toBe(true)
    const qn = uniq('confirm-seq')
    await ch.queueDeclare(qn, { durable: false })
    // one at a time: one ack each, multiple=false (RabbitMQ sends a lone confirm as a single ack)
    for (let i = 1; i <= 3; i++) expect(await ch.basicPublish('', qn, `s${i}`)).toBe(i)
    expect(frames).toEqual([
      { tag: 1, multiple: false, nack: false },
      { tag: 2, multiple: false, nack: false },
      { tag: 3, multiple: false, nack: false },
    ])
    // a burst: every promise resolves with its own sequence number, acks coalesced
    const N = 500
    const seqs = await Promise.all(Array.from({ length: N }, (_, i) => ch.basicPublish('', qn, `b${i}`)))
    expect(seqs).toEqual(Array.from({ length: N }, (_, i) => i + 4))
    const burst = frames.slice(3)
    expect(burst.length).toBeLessThan(N / 5)
    expect(burst.at(-1)).toEqual({ tag: N + 3, multiple: true, nack: false })
    expect(burst.every((f) => !f.nack)).toBe(true)
    expect(queue(qn).messageCount).toBe(N + 3)
  })

  it('unroutable messages are confirmed too; mandatory ones get basic.return BEFORE the ack (amqplib)', async () => {
    const conn = await amqplibConn()
    const ch = await conn.createConfirmChannel()
    await ch.assertExchange('txc.nowhere', 'direct', { durable: false })
    const events: string[] = []
    ch.on('return', (m: amqp.Message) => events.push(`return:${m.content.toString()}:${(m.fields as unknown as { replyCode: number }).replyCode}`))
    ch.on('ack', (f: { deliveryTag: number }) => events.push(`ack:${f.deliveryTag}`))
    await new Promise<void>((resolve, reject) =>
      ch.publish('txc.nowhere', 'rk', Buffer.from('plain'), {}, (err) => (err ? reject(err) : resolve())),
    )
    await new Promise<void>((resolve, reject) =>
      ch.publish('txc.nowhere', 'rk', Buffer.from('mand'), { mandatory: true }, (err) => (err ? reject(err) : resolve())),
    )
    expect(events).toEqual(['ack:1', 'return:mand:312', 'ack:2'])
  })

  it('mandatory unroutable: basic.return arrives before basicPublish resolves (amqp-client)', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    await ch.confirmSelect()
    const events: string[] = []
    ch.onReturn = (m: AMQPMessage) => void events.push(`return:${m.replyCode}:${m.replyText}:${m.bodyToString()}`)
    const frames = recordConfirms(ch)
    const n = await ch.basicPublish('', uniq('no-such-queue'), 'lost', {}, true)
    events.push(`confirmed:${n}`)
    expect(events).toEqual(['return:312:NO_ROUTE:lost', 'confirmed:1'])
    expect(frames).toEqual([{ tag: 1, multiple: false, nack: false }])
  })

  it('confirm.select on a transactional channel is a 406, and tx.select on a confirm channel too', async () => {
    const conn = await clientConn()
    const ch = await conn.channel()
    const errors: string[] = []
    ch.onerror = (r) => errors.push(r)
    await ch.txSelect()
    await expect(ch.confirmSelect()).rejects.toThrow()
    expect(errors[0]).toContain('PRECONDITION_FAILED - cannot switch from tx to confirm mode (406)')
    const ch2 = await conn.channel()
    ch2.onerror = (r) => errors.push(r)
    await ch2.confirmSelect()
    await expect(ch2.txSelect()).rejects.toThrow()
    expect(errors[1]).toContain('PRECONDITION_FAILED - cannot switch from confirm to tx mode (406)')
    expect(conn.closed).toBe(false)
  })
})

describe('transactions', () => {
  async function txChannel(): Promise<{ conn: AMQPBaseClient; ch: AMQPChannel; qn: string }> {
    const conn = await clientConn()
    const ch = await conn.channel()
    const qn = uniq('tx')
    await ch.queueDeclare(qn, { durable: false })
    await ch.txSelect()
    expect(brokerChannel(conn, ch.id).transactional).toBe(true)
    return { conn, ch, qn }
  }

  /** queue.declare passive on the same channel: a round trip that also reports the ready count. */
  const count = async (ch: AMQPChannel, qn: string): Promise<number> => (await ch.queueDeclare(qn, { passive: true })).messageCount

  it('published messages are invisible until commit, then all visible in order', async () => {
    const { ch, qn } = await txChannel()
    const other = await (await clientConn()).channel()
    const seen: string[] = []
    await other.basicConsume(qn, { noAck: true }, (m) => void seen.push(m.bodyToString()!))
    for (let i = 0; i < 3; i++) await ch.basicPublish('', qn, `t${i}`)
    expect(await count(ch, qn)).toBe(0)
    expect(queue(qn).messageCount).toBe(0)
    expect(queue(qn).stats.publish).toBe(0)
    expect(seen).toEqual([])
    await ch.txCommit()
    await waitFor(() => seen.length === 3, 5000, 'committed messages delivered')
    expect(seen).toEqual(['t0', 't1', 't2'])
    // the channel stays transactional: the next publishes wait for the next commit
    await ch.basicPublish('', qn, 't3')
    expect(queue(qn).stats.publish).toBe(3)
    await ch.txCommit()
    await waitFor(() => seen.length === 4)
  })

  it('rollback discards the published messages; later commits do not bring them back', async () => {
    const { ch, qn } = await txChannel()
    await ch.basicPublish('', qn, 'r0')
    await ch.basicPublish('', qn, 'r1')
    await ch.txRollback()
    expect(await count(ch, qn)).toBe(0)
    await ch.basicPublish('', qn, 'kept')
    await ch.txCommit()
    expect(await count(ch, qn)).toBe(1)
    expect(queue(qn).messageCount).toBe(1)
    const g = await ch.basicGet(qn, { noAck: true })
    expect(g!.bodyToString()).toBe('kept')
  })

  it('uncommitted publishes are dropped when the channel closes', async () => {
    const { conn, ch, qn } = await txChannel()
    await ch.basicPublish('', qn, 'never')
    await ch.close()
    const ch2 = await conn.channel()
    expect(await count(ch2, qn)).toBe(0)
    expect(queue(qn).messageCount).toBe(0)
  })

  it('an ack inside a transaction takes effect only on commit', async () => {
    const { ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    await pub.basicPublish('', qn, 'a0')
    await pub.basicPublish('', qn, 'a1')
    await waitFor(() => queue(qn).messageCount === 2)
    const m0 = (await ch.basicGet(qn, { noAck: false }))!
    const m1 = (await ch.basicGet(qn, { noAck: false }))!
    expect(queue(qn).unackedCount).toBe(2)
    await m0.ack()
    await m1.ack()
    await count(ch, qn) // round trip: the acks have been processed
    expect(queue(qn).unackedCount).toBe(2)
    await ch.txCommit()
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(0)
  })

  it('an ack rolled back leaves the message unacked; closing the channel then requeues it', async () => {
    const { conn, ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    await pub.basicPublish('', qn, 'keep-me')
    await waitFor(() => queue(qn).messageCount === 1)
    const m = (await ch.basicGet(qn, { noAck: false }))!
    await m.ack()
    await ch.txRollback()
    expect(queue(qn).unackedCount).toBe(1)
    expect(queue(qn).messageCount).toBe(0)
    await ch.txCommit() // nothing left in the transaction: the ack stays undone
    expect(queue(qn).unackedCount).toBe(1)
    await ch.close()
    expect(queue(qn).unackedCount).toBe(0)
    expect(queue(qn).messageCount).toBe(1)
    const ch2 = await conn.channel()
    const again = (await ch2.basicGet(qn, { noAck: true }))!
    expect(again.bodyToString()).toBe('keep-me')
    expect(again.redelivered).toBe(true)
  })

  it('after a rollback the delivery tag is valid again and can be acked in the next transaction', async () => {
    const { ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    await pub.basicPublish('', qn, 'x')
    await waitFor(() => queue(qn).messageCount === 1)
    const m = (await ch.basicGet(qn, { noAck: false }))!
    await m.ack()
    await ch.txRollback()
    await ch.basicAck(m.deliveryTag)
    await ch.txCommit()
    expect(queue(qn).unackedCount).toBe(0)
    expect(ch.closed).toBe(false)
  })

  it('a nack with requeue inside a transaction requeues only on commit', async () => {
    const { ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    await pub.basicPublish('', qn, 'n0')
    await waitFor(() => queue(qn).messageCount === 1)
    const m = (await ch.basicGet(qn, { noAck: false }))!
    await m.nack(true)
    expect(await count(ch, qn)).toBe(0)
    expect(queue(qn).unackedCount).toBe(1)
    await ch.txCommit()
    expect(queue(qn).unackedCount).toBe(0)
    expect(await count(ch, qn)).toBe(1)
    const again = (await ch.basicGet(qn, { noAck: true }))!
    expect(again.redelivered).toBe(true)
  })

  it('a mandatory unroutable publish in a transaction is returned at commit, before commit-ok', async () => {
    const { ch, qn } = await txChannel()
    const returns: string[] = []
    ch.onReturn = (m: AMQPMessage) => void returns.push(`${m.replyCode}:${m.bodyToString()}`)
    await ch.basicPublish('', uniq('nowhere'), 'back', {}, true)
    await count(ch, qn)
    expect(returns).toEqual([])
    await ch.txCommit()
    expect(returns).toEqual(['312:back'])
  })

  it('a consumer acking inside a transaction keeps its prefetch window full until commit', async () => {
    const { ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    for (let i = 0; i < 4; i++) await pub.basicPublish('', qn, `c${i}`)
    await waitFor(() => queue(qn).messageCount === 4)
    await ch.basicQos(2)
    const got: AMQPMessage[] = []
    await ch.basicConsume(qn, { noAck: false }, (m) => void got.push(m))
    await waitFor(() => got.length === 2)
    await got[0].ack()
    await got[1].ack()
    await count(ch, qn)
    expect(got).toHaveLength(2)
    expect(queue(qn).unackedCount).toBe(2)
    await ch.txCommit()
    await waitFor(() => got.length === 4, 5000, 'window refilled after commit')
    expect(got.map((m) => m.bodyToString())).toEqual(['c0', 'c1', 'c2', 'c3'])
  })

  it('with a global (channel) prefetch, acks held in a transaction still occupy the window until commit', async () => {
    const { ch, qn } = await txChannel()
    const pub = await (await clientConn()).channel()
    await ch.basicQos(2, 0, true)
    const got: AMQPMessage[] = []
    await ch.basicConsume(qn, { noAck: false }, (m) => void got.push(m))
    await pub.basicPublish('', qn, 'g0')
    await pub.basicPublish('', qn, 'g1')
    await waitFor(() => got.length === 2)
    await got[0].ack()
    await got[1].ack()
    await count(ch, qn)
    await pub.basicPublish('', qn, 'g2')
    await pub.basicPublish('', qn, 'g3')
    await waitFor(() => queue(qn).messageCount === 2, 5000, 'new messages wait in the queue')
    await count(ch, qn)
    expect(got).toHaveLength(2)
    await ch.txCommit()
    await waitFor(() => got.length === 4, 5000, 'window refilled after commit')
    expect(got.map((m) => m.bodyToString())).toEqual(['g0', 'g1', 'g2', 'g3'])
  })

  it('tx.commit and tx.rollback on a non-transactional channel are 406', async () => {
    const conn = await clientConn()
    const errors: string[] = []
    const ch = await conn.channel()
    ch.onerror = (r) => errors.push(r)
    await expect(ch.txCommit()).rejects.toThrow()
    expect(errors[0]).toContain('PRECONDITION_FAILED - channel is not transactional (406)')
    const ch2 = await conn.channel()
    ch2.onerror = (r) => errors.push(r)
    await expect(ch2.txRollback()).rejects.toThrow()
    expect(errors[1]).toContain('PRECONDITION_FAILED - channel is not transactional (406)')
  })
})
