/**
 * Queues over real TCP with amqplib and @cloudamqp/amqp-client: declare-ok counts, server-named queues,
 * reserved names, equivalence on redeclare, exclusive and auto-delete lifecycles, purge and delete
 * (with if-unused / if-empty), queue types, bindings to missing entities, the '' shortcut for the last
 * declared queue and argument validation — with RabbitMQ's reply codes and texts, checked through the
 * clients and the broker's state (`b.broker.vhost('/')`).
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite, channelError, replyText, type AmqpError } from '../helpers/suite.js'
import type { Queue } from '../../core/queue.js'
import type { VHost } from '../../core/vhost.js'

const s = brokerSuite('qt')
const { uniq, confirmChannel, amqplibConn: conn, clientConn: client } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})

const vhost = (): VHost => b.broker.vhost('/')!
const queue = (name: string): Queue | undefined => vhost().queues.get(name)

async function channel(c?: ChannelModel): Promise<Channel> {
  const ch = await (c ?? (await conn())).createChannel()
  ch.on('error', () => undefined)
  return ch
}

async function publishTo(q: string, bodies: string[]): Promise<void> {
  const pub = await confirmChannel()
  for (const body of bodies) pub.sendToQueue(q, Buffer.from(body))
  await pub.waitForConfirms()
}

/** Starts an amqplib consumer that collects what it receives (null = cancelled by the server). */
async function collect(ch: Channel, q: string, noAck = false): Promise<{ tag: string; got: (ConsumeMessage | null)[] }> {
  const got: (ConsumeMessage | null)[] = []
  const { consumerTag } = await ch.consume(q, (m) => got.push(m), { noAck })
  return { tag: consumerTag, got }
}

const LOCKED = (q: string): string =>
  `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. It could be ` +
  'originally declared on another connection or the exclusive property value does not match that of the ' +
  'original declaration.'

describe('queue.declare', () => {
  it('declare-ok carries the ready message count and the consumer count (both clients, passive too)', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('counts')
    expect(await ch.assertQueue(q)).toEqual({ queue: q, messageCount: 0, consumerCount: 0 })
    await publishTo(q, ['1', '2', '3', '4', '5'])
    // two consumers each holding one unacked message: 3 ready remain
    const cons = await channel(c)
    await cons.prefetch(1)
    const a = await collect(cons, q)
    const b2 = await collect(cons, q)
    await waitFor(() => a.got.length === 1 && b2.got.length === 1, 5000, 'one delivery per consumer')
    expect(queue(q)).toMatchObject({ messageCount: 3, consumerCount: 2, unackedCount: 2 })

    expect(await ch.assertQueue(q)).toEqual({ queue: q, messageCount: 3, consumerCount: 2 })
    expect(await ch.checkQueue(q)).toEqual({ queue: q, messageCount: 3, consumerCount: 2 })
    const cl = await client()
    const cch = await cl.channel()
    expect(await cch.queueDeclare(q, { durable: true })).toEqual({ name: q, messageCount: 3, consumerCount: 2 })
    expect(await cch.queueDeclare(q, { passive: true })).toEqual({ name: q, messageCount: 3, consumerCount: 2 })
  })

  it("an empty name gets a server-generated 'amq.gen-' name, unique per declare", async () => {
    const ch = await channel()
    const r1 = await ch.assertQueue('', { exclusive: true })
    const r2 = await ch.assertQueue('', { exclusive: true })
    expect(r1.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/)
    expect(r2.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/)
    expect(r1.queue).not.toBe(r2.queue)
    expect(queue(r1.queue)).toBeDefined()
    expect(queue(r2.queue)).toBeDefined()
    const cl = await client()
    const cch = await cl.channel()
    const r3 = await cch.queueDeclare('', { exclusive: true })
    expect(r3.name).toMatch(/^amq\.gen-/)
    expect(queue(r3.name)!.exclusive).toBe(true)
  })

  it('passive declare of a missing queue: 404; of an exclusive queue of another connection: 405', async () => {
    const c = await conn()
    const name = uniq('missing')
    const err = await channelError(c, (ch) => ch.checkQueue(name))
    expect(err.code).toBe(404)
    expect(replyText(err)).toBe(`NOT_FOUND - no queue '${name}' in vhost '/'`)
    expect([err.classId, err.methodId]).toEqual([50, 10])
    expect(queue(name)).toBeUndefined()
    // '' is not expanded to the last declared queue by a declare (RabbitMQ)
    const err2 = await channelError(c, async (ch) => {
      await ch.assertQueue(uniq('last'))
      return ch.checkQueue('')
    })
    expect(replyText(err2)).toBe("NOT_FOUND - no queue '' in vhost '/'")
  })

  it("a name starting with 'amq.' is refused with 403 (also for an existing server-named queue)", async () => {
    const c = await conn()
    const err = await channelError(c, (ch) => ch.assertQueue('amq.foo'))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe("ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'")
    expect(queue('amq.foo')).toBeUndefined()

    const ch = await channel(c)
    const { queue: gen } = await ch.assertQueue('')
    await expect(ch.checkQueue(gen)).resolves.toMatchObject({ queue: gen })
    const err2 = await channelError(c, (x) => x.assertQueue(gen))
    expect(err2.code).toBe(403)
    await ch.deleteQueue(gen)
  })

  it('redeclaring with another durable, auto_delete or argument: 406 with RabbitMQ’s text', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('equiv')
    await ch.assertQueue(q, { durable: true, arguments: { 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' } })
    const where = `for queue '${q}' in vhost '/'`
    const args = { 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' }

    const dur = await channelError(c, (x) => x.assertQueue(q, { durable: false, arguments: args }))
    expect(dur.code).toBe(406)
    expect(replyText(dur)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'durable' ${where}: received 'false' but current is 'true'`,
    )
    const ad = await channelError(c, (x) => x.assertQueue(q, { autoDelete: true, arguments: args }))
    expect(replyText(ad)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'auto_delete' ${where}: received 'true' but current is 'false'`,
    )
    const ttl = await channelError(c, (x) => x.assertQueue(q, { arguments: { ...args, 'x-message-ttl': 2000 } }))
    expect(replyText(ttl)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' ${where}: received '2000' but current is '1000'`,
    )
    const noDlx = await channelError(c, (x) => x.assertQueue(q, { arguments: { 'x-message-ttl': 1000 } }))
    expect(replyText(noDlx)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' ${where}: ` +
        `received none but current is the value 'dlx' of type 'longstr'`,
    )
    const quorum = await channelError(c, (x) => x.assertQueue(q, { arguments: { ...args, 'x-queue-type': 'quorum' } }))
    expect(replyText(quorum)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' ${where}: received 'quorum' but current is 'classic'`,
    )
    // equivalent redeclares: same flags, unrelated extra arguments, and x-queue-type classic
    const ok = await channel(c)
    await ok.assertQueue(q, { arguments: { ...args, 'x-unrelated': 'whatever' } })
    await ok.assertQueue(q, { arguments: { ...args, 'x-queue-type': 'classic' } })
    expect(queue(q)).toMatchObject({ durable: true, autoDelete: false })
  })

  it('invalid arguments are refused with 406 and nothing is created', async () => {
    const c = await conn()
    const cases: [Record<string, unknown>, string][] = [
      [{ 'x-message-ttl': -1 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_negative,-1}"],
      [{ 'x-expires': 0 }, "invalid arg 'x-expires' for queue '%q' in vhost '/': {value_zero_or_less,0}"],
      [{ 'x-max-length': -5 }, "invalid arg 'x-max-length' for queue '%q' in vhost '/': {value_negative,-5}"],
      [{ 'x-message-ttl': 'soon' }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {unacceptable_type,longstr}"],
      [{ 'x-overflow': 'explode' }, "invalid arg 'x-overflow' for queue '%q' in vhost '/': {invalid_value,explode}"],
    ]
    for (const [args, text] of cases) {
      const q = uniq('badarg')
      const err = await channelError(c, (ch) => ch.assertQueue(q, { arguments: args }))
      expect(err.code).toBe(406)
      expect(replyText(err)).toBe(`PRECONDITION_FAILED - ${text.replace('%q', q)}`)
      expect(queue(q)).toBeUndefined()
    }
  })
})

describe('queue types', () => {
  it('x-queue-type quorum is accepted durable, refused non-durable, exclusive, auto-delete or server-named', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('quorum')
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    expect(queue(q)!.arguments['x-queue-type']).toBe('quorum')
    await publishTo(q, ['in-quorum'])
    const m = await ch.get(q, { noAck: true })
    expect(m && m.content.toString()).toBe('in-quorum')

    const nd = uniq('quorum-nd')
    const e1 = await channelError(c, (x) => x.assertQueue(nd, { durable: false, arguments: { 'x-queue-type': 'quorum' } }))
    expect(e1.code).toBe(406)
    expect(replyText(e1)).toBe(`PRECONDITION_FAILED - invalid property 'non-durable' for queue '${nd}' in vhost '/'`)
    expect(queue(nd)).toBeUndefined()
    const ad = uniq('quorum-ad')
    const e2 = await channelError(c, (x) => x.assertQueue(ad, { autoDelete: true, arguments: { 'x-queue-type': 'quorum' } }))
    expect(replyText(e2)).toBe(`PRECONDITION_FAILED - invalid property 'auto-delete' for queue '${ad}' in vhost '/'`)
    const ex = uniq('quorum-ex')
    const e3 = await channelError(c, (x) => x.assertQueue(ex, { exclusive: true, arguments: { 'x-queue-type': 'quorum' } }))
    expect(replyText(e3)).toBe(`PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue '${ex}' in vhost '/'`)
    const e4 = await channelError(c, (x) => x.assertQueue('', { arguments: { 'x-queue-type': 'quorum' } }))
    expect(replyText(e4)).toBe('PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue')
  })

  it('x-queue-type classic and stream are accepted; a non-durable stream is 406 (streams: streams.test.ts)', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('classic')
    await ch.assertQueue(q, { durable: false, arguments: { 'x-queue-type': 'classic' } })
    expect(queue(q)).toBeDefined()
    // a classic queue declared without the argument is equivalent to one declared with it
    await ch.assertQueue(q, { durable: false })
    const s = uniq('stream')
    const err = await channelError(c, (x) => x.assertQueue(s, { durable: false, arguments: { 'x-queue-type': 'stream' } }))
    expect(err.code).toBe(406)
    expect(replyText(err)).toBe(`PRECONDITION_FAILED - invalid property 'non-durable' for queue '${s}' in vhost '/'`)
    expect(queue(s)).toBeUndefined()
    await ch.assertQueue(s, { durable: true, arguments: { 'x-queue-type': 'stream' } })
    expect(queue(s)!.settings.type).toBe('stream')
  })
})

describe('exclusive queues', () => {
  it('another connection gets 405 RESOURCE_LOCKED for every operation; the owner is unaffected', async () => {
    const owner = await conn()
    const och = await channel(owner)
    const q = uniq('excl')
    await och.assertQueue(q, { exclusive: true })
    expect(queue(q)!.exclusive).toBe(true)

    const other = await conn()
    const ops: [string, (ch: Channel) => Promise<unknown>, [number, number]][] = [
      ['declare', (ch) => ch.assertQueue(q, { exclusive: true }), [50, 10]],
      ['declare non-exclusive', (ch) => ch.assertQueue(q), [50, 10]],
      ['passive declare', (ch) => ch.checkQueue(q), [50, 10]],
      ['consume', (ch) => ch.consume(q, () => undefined), [60, 20]],
      ['get', (ch) => ch.get(q), [60, 70]],
      ['purge', (ch) => ch.purgeQueue(q), [50, 30]],
      ['delete', (ch) => ch.deleteQueue(q), [50, 40]],
      ['bind', (ch) => ch.bindQueue(q, 'amq.direct', q), [50, 20]],
    ]
    for (const [what, op, method] of ops) {
      const err = await channelError(other, op)
      expect({ what, code: err.code, text: replyText(err) }).toEqual({ what, code: 405, text: LOCKED(q) })
      expect([err.classId, err.methodId]).toEqual(method)
    }
    expect(queue(q)).toBeDefined()
    await publishTo(q, ['x'])
    const m = await och.get(q, { noAck: true })
    expect(m && m.content.toString()).toBe('x')
  })

  it('redeclaring with a different exclusive flag is 405, even by the owner (RabbitMQ strict check)', async () => {
    const c = await conn()
    const ch = await channel(c)
    const ex = uniq('excl-flag')
    await ch.assertQueue(ex, { exclusive: true })
    const e1 = await channelError(c, (x) => x.assertQueue(ex, { exclusive: false }))
    expect(e1.code).toBe(405)
    expect(replyText(e1)).toBe(LOCKED(ex))
    const shared = uniq('shared')
    await ch.assertQueue(shared)
    const e2 = await channelError(c, (x) => x.assertQueue(shared, { exclusive: true }))
    expect(e2.code).toBe(405)
    expect(queue(shared)!.exclusive).toBe(false)
    // the owner's equivalent redeclare works
    await expect(ch.assertQueue(ex, { exclusive: true })).resolves.toMatchObject({ queue: ex })
  })

  it('an exclusive queue is deleted when its connection closes, cleanly or not', async () => {
    const c1 = await amqp.connect(b.url)
    const ch1 = await c1.createChannel()
    const q1 = uniq('excl-close')
    await ch1.assertQueue(q1, { exclusive: true })
    await ch1.assertQueue(uniq('durable-survivor'), { durable: true })
    expect(queue(q1)).toBeDefined()
    await c1.close()
    await waitFor(() => queue(q1) === undefined, 5000, 'exclusive queue deleted on close')

    const c2 = await amqp.connect(b.url)
    c2.on('error', () => undefined)
    const ch2 = await c2.createChannel()
    const q2 = uniq('excl-drop')
    await ch2.assertQueue(q2, { exclusive: true })
    // the socket goes away without connection.close
    ;(c2 as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    await waitFor(() => queue(q2) === undefined, 5000, 'exclusive queue deleted on socket loss')
    // the name is free again for anyone
    const ch3 = await channel()
    await expect(ch3.assertQueue(q2)).resolves.toMatchObject({ queue: q2 })
  })
})

describe('auto-delete queues', () => {
  it('survives until it has had a consumer, then goes when the last consumer cancels', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('ad')
    await ch.assertQueue(q, { autoDelete: true })
    // never consumed from: publishing, basic.get and declares do not delete it
    await publishTo(q, ['a', 'b'])
    await ch.get(q, { noAck: true })
    await ch.checkQueue(q)
    expect(queue(q)).toBeDefined()

    const c1 = await collect(ch, q, true)
    const ch2 = await channel(c)
    const c2 = await collect(ch2, q, true)
    expect(queue(q)!.consumerCount).toBe(2)
    await ch.cancel(c1.tag)
    expect(queue(q)).toBeDefined()
    await ch.checkQueue(q)
    await ch2.cancel(c2.tag)
    expect(queue(q)).toBeUndefined()
    const err = await channelError(c, (x) => x.checkQueue(q))
    expect(err.code).toBe(404)
  })

  it('goes when the channel holding its last consumer closes', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('ad-close')
    await ch.assertQueue(q, { autoDelete: true })
    const cl = await client()
    const cch = await cl.channel()
    await cch.basicConsume(q, { noAck: true }, () => undefined)
    expect(queue(q)!.consumerCount).toBe(1)
    await cch.close()
    await waitFor(() => queue(q) === undefined, 5000, 'auto-delete queue deleted')
  })
})

describe('queue.purge and queue.delete', () => {
  it('purge returns the number of ready messages removed; unacked ones stay', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('purge')
    await ch.assertQueue(q)
    await publishTo(q, ['1', '2', '3', '4', '5'])
    const held = await ch.get(q, { noAck: false })
    expect(held).not.toBe(false)
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 4 })
    expect(queue(q)).toMatchObject({ messageCount: 0, unackedCount: 1 })
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 0 })
    const cl = await client()
    const cch = await cl.channel()
    await publishTo(q, ['6', '7'])
    expect(await cch.queuePurge(q)).toEqual({ messageCount: 2 })
  })

  it('delete returns the message count, cancels consumers, and a missing queue deletes fine', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('delete')
    await ch.assertQueue(q)
    await publishTo(q, ['1', '2', '3'])
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 3 })
    expect(queue(q)).toBeUndefined()
    expect(await ch.deleteQueue(uniq('never-existed'))).toEqual({ messageCount: 0 })

    // a consumer of a deleted queue is told (basic.cancel: amqplib calls back with null)
    const q2 = uniq('delete-consumed')
    await ch.assertQueue(q2)
    const cons = await collect(await channel(c), q2, true)
    const cl = await client()
    const cch = await cl.channel()
    expect(await cch.queueDelete(q2)).toEqual({ messageCount: 0 })
    await waitFor(() => cons.got.includes(null), 5000, 'consumer cancelled by the server')
  })

  it('if-unused with a consumer and if-empty with messages: 406, nothing deleted', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('cond')
    await ch.assertQueue(q)
    const consCh = await channel(c)
    const cons = await collect(consCh, q, true)

    const unused = await channelError(c, (x) => x.deleteQueue(q, { ifUnused: true }))
    expect(unused.code).toBe(406)
    expect(replyText(unused)).toBe(`PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`)
    expect([unused.classId, unused.methodId]).toEqual([50, 40])
    expect(queue(q)).toBeDefined()
    // now without the consumer but with a message
    await consCh.cancel(cons.tag)
    await publishTo(q, ['keep'])
    const empty = await channelError(c, (x) => x.deleteQueue(q, { ifEmpty: true }))
    expect(empty.code).toBe(406)
    expect(replyText(empty)).toBe(`PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`)
    expect(queue(q)!.messageCount).toBe(1)

    await ch.get(q, { noAck: true })
    expect(await ch.deleteQueue(q, { ifUnused: true, ifEmpty: true })).toEqual({ messageCount: 0 })
    expect(queue(q)).toBeUndefined()
  })
})

describe('bindings and the last declared queue', () => {
  it('bind/unbind to a missing queue or exchange: 404 (the exchange is reported first)', async () => {
    const c = await conn()
    const ch = await channel(c)
    const q = uniq('bind-q')
    const x = uniq('bind-x')
    await ch.assertQueue(q)
    await ch.assertExchange(x, 'direct')
    const missingQ = uniq('no-q')
    const missingX = uniq('no-x')
    const cases: [string, (c: Channel) => Promise<unknown>, string][] = [
      ['bind missing queue', (c2) => c2.bindQueue(missingQ, x, 'k'), `no queue '${missingQ}'`],
      ['bind missing exchange', (c2) => c2.bindQueue(q, missingX, 'k'), `no exchange '${missingX}'`],
      ['bind both missing', (c2) => c2.bindQueue(missingQ, missingX, 'k'), `no exchange '${missingX}'`],
      ['unbind missing queue', (c2) => c2.unbindQueue(missingQ, x, 'k'), `no queue '${missingQ}'`],
      ['unbind missing exchange', (c2) => c2.unbindQueue(q, missingX, 'k'), `no exchange '${missingX}'`],
    ]
    for (const [what, op, detail] of cases) {
      const err = await channelError(c, op)
      expect({ what, code: err.code, text: replyText(err) }).toEqual({
        what,
        code: 404,
        text: `NOT_FOUND - ${detail} in vhost '/'`,
      })
    }
    expect(queue(q)!.incoming.size).toBe(0)
    // unbinding a binding that does not exist is fine
    await expect(ch.unbindQueue(q, x, 'never-bound')).resolves.toBeDefined()
  })

  it("queue '' in bind, consume, get, purge and delete means the channel's last declared queue", async () => {
    const c = await conn()
    const ch = await channel(c)
    const other = await channel(c)
    const x = uniq('shortcut-x')
    await ch.assertExchange(x, 'direct')
    const { queue: q } = await ch.assertQueue('', { exclusive: true })
    await other.assertQueue(uniq('other-channel')) // another channel's declare does not count

    await ch.bindQueue('', x, 'k1')
    // queue '' with key '' binds with the queue name as the key (RabbitMQ expand_routing_key_shortcut)
    await ch.bindQueue('', x, '')
    expect([...queue(q)!.incoming.values()].map((bd) => bd.routingKey).sort()).toEqual(['k1', q].sort())

    const pub = await confirmChannel()
    pub.publish(x, 'k1', Buffer.from('one'))
    pub.publish(x, q, Buffer.from('two'))
    pub.publish(x, 'k1', Buffer.from('three'))
    pub.publish(x, 'k1', Buffer.from('four'))
    await pub.waitForConfirms()
    expect(queue(q)!.messageCount).toBe(4)

    const got = await ch.get('', { noAck: true })
    expect(got && got.content.toString()).toBe('one')
    const first = await new Promise<ConsumeMessage>((resolve) => {
      void ch.consume('', (m) => m && resolve(m), { noAck: true, consumerTag: 'shortcut' })
    })
    expect(first.content.toString()).toBe('two')
    await waitFor(() => queue(q)!.messageCount === 0, 5000, 'the rest consumed')
    await ch.cancel('shortcut')
    await publishTo(q, ['five', 'six'])
    expect(await ch.purgeQueue('')).toEqual({ messageCount: 2 })
    await ch.unbindQueue('', x, 'k1')
    expect(queue(q)!.incoming.size).toBe(1)
    await publishTo(q, ['seven'])
    expect(await ch.deleteQueue('')).toEqual({ messageCount: 1 })
    expect(queue(q)).toBeUndefined()
  })

  it("queue '' with nothing declared on the channel: 404 'no previously declared queue'", async () => {
    const c = await conn()
    const ops: [string, (ch: Channel) => Promise<unknown>][] = [
      ['get', (ch) => ch.get('')],
      ['consume', (ch) => ch.consume('', () => undefined)],
      ['bind', (ch) => ch.bindQueue('', 'amq.direct', 'k')],
      ['purge', (ch) => ch.purgeQueue('')],
      ['delete', (ch) => ch.deleteQueue('')],
    ]
    for (const [what, op] of ops) {
      const err = await channelError(c, op)
      expect({ what, code: err.code, text: replyText(err) }).toEqual({
        what,
        code: 404,
        text: 'NOT_FOUND - no previously declared queue',
      })
    }
  })
})
