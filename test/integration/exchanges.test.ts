/**
 * Exchanges over real TCP with amqplib and @cloudamqp/amqp-client: declare/redeclare/delete rules with
 * RabbitMQ's reply codes and texts, auto-delete and internal exchanges, exchange-to-exchange bindings,
 * routing for every built-in type, and alternate exchanges. Assertions go through the clients and the
 * broker's state (`b.broker.vhost('/')`).
 */
import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib'
import { beforeAll, describe, expect, it } from 'vitest'
import { waitFor, type TestBroker } from '../helpers/broker.js'
import { brokerSuite, channelError, replyText, type AmqpError } from '../helpers/suite.js'
import type { Exchange } from '../../core/exchange.js'
import type { Queue } from '../../core/queue.js'
import type { VHost } from '../../core/vhost.js'

const s = brokerSuite('xt')
const { uniq, confirmChannel, amqplibConn: conn, clientConn: client } = s
let b: TestBroker
beforeAll(() => {
  b = s.b
})

const vhost = (): VHost => b.broker.vhost('/')!
const exchange = (name: string): Exchange | undefined => vhost().exchanges.get(name)
const queue = (name: string): Queue | undefined => vhost().queues.get(name)

/** The client-side TCP port of an amqplib connection (the broker's peerPort). */
function localPort(c: ChannelModel): number {
  return (c as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort
}

/** Every message in a queue, in order, taken with basic.get. */
async function drain(ch: Channel, q: string): Promise<GetMessage[]> {
  const out: GetMessage[] = []
  for (;;) {
    const m = await ch.get(q, { noAck: true })
    if (m === false) return out
    out.push(m)
  }
}

const keysOf = (ms: GetMessage[]): string[] => ms.map((m) => m.fields.routingKey)
const bodiesOf = (ms: GetMessage[]): string[] => ms.map((m) => m.content.toString())

describe('exchange.declare', () => {
  it('every vhost has the default exchange, amq.direct/fanout/topic/headers/match and the internal amq.rabbitmq.trace', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const expected: [string, string, boolean][] = [
      ['amq.direct', 'direct', false],
      ['amq.fanout', 'fanout', false],
      ['amq.topic', 'topic', false],
      ['amq.headers', 'headers', false],
      ['amq.match', 'headers', false],
      ['amq.rabbitmq.trace', 'topic', true],
    ]
    for (const [name, type, internal] of expected) {
      await ch.checkExchange(name)
      const x = exchange(name)!
      expect(x.type).toBe(type)
      expect(x.durable).toBe(true)
      expect(x.autoDelete).toBe(false)
      expect(x.internal).toBe(internal)
    }
    expect(exchange('')!.type).toBe('direct')
    // RabbitMQ: 7 exchanges in a fresh vhost
    const v = b.broker.addVHost(uniq('vh'))
    expect([...v.exchanges.keys()].sort()).toEqual(['', ...expected.map(([n]) => n)].sort())
  })

  it('amq.rabbitmq.trace: publishing 403, deleting 403, redeclaring non-internal 406, an equivalent redeclare is fine', async () => {
    const c = await conn()
    const pub = await channelError(c, (ch) => ch.publish('amq.rabbitmq.trace', 'publish.x', Buffer.from('x')))
    expect(pub.code).toBe(403)
    expect(replyText(pub)).toBe("ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'")
    const del = await channelError(c, (ch) => ch.deleteExchange('amq.rabbitmq.trace'))
    expect(del.code).toBe(403)
    expect(replyText(del)).toBe("ACCESS_REFUSED - deletion of system exchange 'amq.rabbitmq.trace' in vhost '/' not allowed")
    const redeclare = await channelError(c, (ch) => ch.assertExchange('amq.rabbitmq.trace', 'topic', { durable: true }))
    expect(redeclare.code).toBe(406)
    expect(replyText(redeclare)).toBe(
      "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange 'amq.rabbitmq.trace' in vhost '/': received 'false' but current is 'true'",
    )
    const ch = await c.createChannel()
    await expect(ch.assertExchange('amq.rabbitmq.trace', 'topic', { durable: true, internal: true })).resolves.toEqual({ exchange: 'amq.rabbitmq.trace' })
    expect(exchange('amq.rabbitmq.trace')!.internal).toBe(true)
  })

  it('passive declare of a missing exchange: 404 NOT_FOUND, nothing created', async () => {
    const c = await conn()
    const name = uniq('missing')
    const err = await channelError(c, (ch) => ch.checkExchange(name))
    expect(err.code).toBe(404)
    expect(replyText(err)).toBe(`NOT_FOUND - no exchange '${name}' in vhost '/'`)
    expect([err.classId, err.methodId]).toEqual([40, 10])
    expect(exchange(name)).toBeUndefined()
  })

  it('passive declare of an existing exchange succeeds with either client', async () => {
    const name = uniq('exists')
    const cl = await client()
    const cch = await cl.channel()
    await cch.exchangeDeclare(name, 'fanout', { durable: false })
    await cch.exchangeDeclare(name, 'fanout', { passive: true })
    const c = await conn()
    const ch = await c.createChannel()
    await expect(ch.checkExchange(name)).resolves.toBeDefined()
  })

  it('the default exchange cannot be declared or checked: 403', async () => {
    const c = await conn()
    const err = await channelError(c, (ch) => ch.assertExchange('', 'direct'))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe('ACCESS_REFUSED - operation not permitted on the default exchange')
    const err2 = await channelError(c, (ch) => ch.checkExchange(''))
    expect(err2.code).toBe(403)
    expect(replyText(err2)).toBe('ACCESS_REFUSED - operation not permitted on the default exchange')
  })

  it('durable, auto-delete and internal flags and arguments are stored as declared', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const d = uniq('durable')
    const t = uniq('transient')
    await ch.assertExchange(d, 'direct', { durable: true })
    await ch.assertExchange(t, 'topic', { durable: false, autoDelete: true, internal: true, arguments: { foo: 'bar' } })
    expect(exchange(d)).toMatchObject({ type: 'direct', durable: true, autoDelete: false, internal: false })
    expect(exchange(t)).toMatchObject({ type: 'topic', durable: false, autoDelete: true, internal: true })
    expect(exchange(t)!.arguments).toEqual({ foo: 'bar' })
  })

  it('redeclaring with another type, durable, auto_delete or internal: 406 with RabbitMQ’s text', async () => {
    const c = await conn()
    const name = uniq('equiv')
    const ch = await c.createChannel()
    await ch.assertExchange(name, 'direct', { durable: false })
    const where = `for exchange '${name}' in vhost '/'`

    const typeErr = await channelError(c, (x) => x.assertExchange(name, 'fanout', { durable: false }))
    expect(typeErr.code).toBe(406)
    expect(replyText(typeErr)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'type' ${where}: received 'fanout' but current is 'direct'`,
    )
    const durErr = await channelError(c, (x) => x.assertExchange(name, 'direct', { durable: true }))
    expect(replyText(durErr)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'durable' ${where}: received 'true' but current is 'false'`,
    )
    const adErr = await channelError(c, (x) => x.assertExchange(name, 'direct', { durable: false, autoDelete: true }))
    expect(replyText(adErr)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'auto_delete' ${where}: received 'true' but current is 'false'`,
    )
    const intErr = await channelError(c, (x) => x.assertExchange(name, 'direct', { durable: false, internal: true }))
    expect(replyText(intErr)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'internal' ${where}: received 'true' but current is 'false'`,
    )
    // the exchange is unchanged and an equivalent redeclare still works
    expect(exchange(name)).toMatchObject({ type: 'direct', durable: false, autoDelete: false, internal: false })
    const ch2 = await c.createChannel()
    await expect(ch2.assertExchange(name, 'direct', { durable: false })).resolves.toEqual({ exchange: name })
  })

  it('redeclaring with another alternate-exchange: 406; other arguments are not compared', async () => {
    const c = await conn()
    const name = uniq('ae-equiv')
    const ch = await c.createChannel()
    await ch.assertExchange(name, 'direct', { alternateExchange: 'ae1', arguments: { other: 1 } })
    const where = `for exchange '${name}' in vhost '/'`

    const otherAe = await channelError(c, (x) => x.assertExchange(name, 'direct', { alternateExchange: 'ae2' }))
    expect(otherAe.code).toBe(406)
    expect(replyText(otherAe)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' ${where}: ` +
        `received 'ae2' but current is 'ae1'`,
    )
    const noAe = await channelError(c, (x) => x.assertExchange(name, 'direct'))
    expect(replyText(noAe)).toBe(
      `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' ${where}: ` +
        `received none but current is the value 'ae1' of type 'longstr'`,
    )
    // RabbitMQ only compares alternate-exchange: a different unrelated argument is fine
    const ch2 = await c.createChannel()
    await ch2.assertExchange(name, 'direct', { alternateExchange: 'ae1', arguments: { other: 2 } })
    expect(exchange(name)!.arguments.other).toBe(1)
  })

  it('an unknown exchange type closes the connection with 503 COMMAND_INVALID; other connections carry on', async () => {
    const bystander = await conn()
    const bch = await bystander.createChannel()
    const c = await amqp.connect(b.url)
    const closed = new Promise<Required<AmqpError>>((resolve) => c.once('error', resolve))
    const ch = await c.createChannel()
    ch.on('error', () => undefined)
    const name = uniq('badtype')
    await expect(ch.assertExchange(name, 'x-no-such-type')).rejects.toThrow()
    const err = await closed
    expect(err.code).toBe(503)
    expect(replyText(err)).toBe("COMMAND_INVALID - unknown exchange type 'x-no-such-type'")
    expect(exchange(name)).toBeUndefined()
    const port = localPort(c)
    await waitFor(() => ![...b.broker.connections].some((x) => x.peerPort === port), 5000, 'the failed connection to go')
    await expect(bch.checkExchange('amq.direct')).resolves.toBeDefined()
  })

  it("declaring a new 'amq.' exchange: 403; an equivalent redeclare of amq.direct is fine", async () => {
    const c = await conn()
    const err = await channelError(c, (ch) => ch.assertExchange('amq.foo', 'direct'))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe("ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'")
    expect(exchange('amq.foo')).toBeUndefined()

    const ch = await c.createChannel()
    await expect(ch.assertExchange('amq.direct', 'direct', { durable: true })).resolves.toEqual({ exchange: 'amq.direct' })
    const cl = await client()
    const cch = await cl.channel()
    await cch.exchangeDeclare('amq.topic', 'topic', { durable: true })
    // a non-equivalent redeclare of a built-in is a plain 406
    const bad = await channelError(c, (x) => x.assertExchange('amq.direct', 'fanout'))
    expect(bad.code).toBe(406)
    expect(exchange('amq.direct')!.type).toBe('direct')
  })
})

describe('exchange.delete', () => {
  it('deleting amq.direct (or the default exchange) is refused with 403', async () => {
    const c = await conn()
    const err = await channelError(c, (ch) => ch.deleteExchange('amq.direct'))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe("ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed")
    expect(exchange('amq.direct')).toBeDefined()
    const err2 = await channelError(c, (ch) => ch.deleteExchange(''))
    expect(err2.code).toBe(403)
    expect(replyText(err2)).toBe('ACCESS_REFUSED - operation not permitted on the default exchange')
  })

  it('if-unused with bindings: 406 and nothing deleted; without bindings it deletes', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('inuse')
    const q = uniq('inuse-q')
    await ch.assertExchange(x, 'direct')
    await ch.assertQueue(q)
    await ch.bindQueue(q, x, 'k')
    const err = await channelError(c, (c2) => c2.deleteExchange(x, { ifUnused: true }))
    expect(err.code).toBe(406)
    expect(replyText(err)).toBe(`PRECONDITION_FAILED - exchange '${x}' in vhost '/' in use`)
    expect(exchange(x)!.bindings.size).toBe(1)

    await ch.unbindQueue(q, x, 'k')
    await ch.deleteExchange(x, { ifUnused: true })
    expect(exchange(x)).toBeUndefined()
  })

  it('if-unused only looks at bindings from the exchange, not to it (RabbitMQ)', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const src = uniq('src')
    const dst = uniq('dst')
    await ch.assertExchange(src, 'fanout')
    await ch.assertExchange(dst, 'fanout')
    await ch.bindExchange(dst, src, '')
    await ch.deleteExchange(dst, { ifUnused: true })
    expect(exchange(dst)).toBeUndefined()
    // the binding from src went with it
    expect(exchange(src)!.bindings.size).toBe(0)
  })

  it('deleting a missing exchange succeeds; deleting an exchange removes its bindings', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    await expect(ch.deleteExchange(uniq('never'))).resolves.toBeDefined()
    const x = uniq('gone')
    const q = uniq('gone-q')
    await ch.assertExchange(x, 'topic')
    await ch.assertQueue(q)
    await ch.bindQueue(q, x, '#')
    expect(queue(q)!.incoming.size).toBe(1)
    await ch.deleteExchange(x)
    expect(exchange(x)).toBeUndefined()
    expect(queue(q)!.incoming.size).toBe(0)
    const err = await channelError(c, (c2) => c2.checkExchange(x))
    expect(err.code).toBe(404)
  })
})

describe('auto-delete and internal exchanges', () => {
  it('an auto-delete exchange lives until its last binding goes, not before it ever had one', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('ad')
    const q1 = uniq('ad-q1')
    const q2 = uniq('ad-q2')
    await ch.assertExchange(x, 'direct', { autoDelete: true })
    await ch.assertQueue(q1)
    await ch.assertQueue(q2)
    // never bound: stays
    await ch.checkExchange(x)
    await ch.bindQueue(q1, x, 'a')
    await ch.bindQueue(q2, x, 'b')
    await ch.unbindQueue(q1, x, 'a')
    expect(exchange(x)).toBeDefined()
    await ch.checkExchange(x)
    await ch.unbindQueue(q2, x, 'b')
    expect(exchange(x)).toBeUndefined()
    const err = await channelError(c, (c2) => c2.checkExchange(x))
    expect(replyText(err)).toBe(`NOT_FOUND - no exchange '${x}' in vhost '/'`)
  })

  it('an auto-delete exchange goes when the last bound queue is deleted', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('ad2')
    const q = uniq('ad2-q')
    await ch.assertExchange(x, 'fanout', { autoDelete: true })
    await ch.assertQueue(q)
    await ch.bindQueue(q, x, '')
    await ch.deleteQueue(q)
    expect(exchange(x)).toBeUndefined()
  })

  it('an auto-delete source exchange goes when its last exchange-to-exchange binding is removed', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const src = uniq('ad-src')
    const dst = uniq('ad-dst')
    await ch.assertExchange(src, 'topic', { autoDelete: true })
    await ch.assertExchange(dst, 'fanout')
    await ch.bindExchange(dst, src, '#')
    await ch.unbindExchange(dst, src, '#')
    expect(exchange(src)).toBeUndefined()
    expect(exchange(dst)).toBeDefined()
  })

  it('publishing to an internal exchange: 403; it still routes what reaches it through a binding', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const internal = uniq('internal')
    const front = uniq('front')
    const q = uniq('internal-q')
    await ch.assertExchange(internal, 'direct', { internal: true })
    await ch.assertExchange(front, 'fanout')
    await ch.assertQueue(q)
    await ch.bindQueue(q, internal, 'k')
    await ch.bindExchange(internal, front, '')

    const err = await channelError(c, (c2) => c2.publish(internal, 'k', Buffer.from('direct')))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe(`ACCESS_REFUSED - cannot publish to internal exchange '${internal}' in vhost '/'`)
    expect([err.classId, err.methodId]).toEqual([60, 40])
    expect(queue(q)!.messageCount).toBe(0)

    const pub = await confirmChannel()
    pub.publish(front, 'k', Buffer.from('via-front'))
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, q))).toEqual(['via-front'])
  })
})

describe('exchange-to-exchange bindings', () => {
  it('bind routes through the destination exchange; unbind stops it', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const src = uniq('e2e-src')
    const dst = uniq('e2e-dst')
    const q = uniq('e2e-q')
    await ch.assertExchange(src, 'topic')
    await ch.assertExchange(dst, 'direct')
    await ch.assertQueue(q)
    await ch.bindQueue(q, dst, 'orders.eu')
    await ch.bindExchange(dst, src, 'orders.*')
    expect([...exchange(src)!.bindings.values()].map((x) => x.destination.name)).toEqual([dst])
    expect(exchange(dst)!.incoming.size).toBe(1)

    const pub = await confirmChannel()
    pub.publish(src, 'orders.eu', Buffer.from('1')) // src → dst → q
    pub.publish(src, 'orders.us', Buffer.from('2')) // src → dst, dst has no binding for it
    pub.publish(src, 'other.eu', Buffer.from('3')) // src routes nowhere
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, q))).toEqual(['1'])

    await ch.unbindExchange(dst, src, 'orders.*')
    expect(exchange(src)!.bindings.size).toBe(0)
    expect(exchange(dst)!.incoming.size).toBe(0)
    pub.publish(src, 'orders.eu', Buffer.from('4'))
    await pub.waitForConfirms()
    expect(queue(q)!.messageCount).toBe(0)
  })

  it('@cloudamqp/amqp-client: exchangeBind/exchangeUnbind', async () => {
    const cl = await client()
    const ch = await cl.channel()
    const src = uniq('cl-src')
    const dst = uniq('cl-dst')
    const q = uniq('cl-q')
    await ch.exchangeDeclare(src, 'fanout')
    await ch.exchangeDeclare(dst, 'fanout')
    await ch.queueDeclare(q)
    await ch.queueBind(q, dst, '')
    await ch.exchangeBind(dst, src, '')
    await ch.confirmSelect()
    await ch.basicPublish(src, 'any', 'hello')
    expect(queue(q)!.messageCount).toBe(1)
    const m = await ch.basicGet(q, { noAck: true })
    expect(m?.bodyToString()).toBe('hello')
    expect(m?.exchange).toBe(src)
    await ch.exchangeUnbind(dst, src, '')
    await ch.basicPublish(src, 'any', 'dropped')
    expect(queue(q)!.messageCount).toBe(0)
  })

  it('a message reaching one queue by several paths is delivered once', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const src = uniq('paths-src')
    const mid = uniq('paths-mid')
    const q = uniq('paths-q')
    await ch.assertExchange(src, 'topic')
    await ch.assertExchange(mid, 'fanout')
    await ch.assertQueue(q)
    await ch.bindQueue(q, src, 'a.*') // direct path, twice with different patterns
    await ch.bindQueue(q, src, '#')
    await ch.bindExchange(mid, src, 'a.b') // and via another exchange
    await ch.bindQueue(q, mid, '')
    await ch.bindExchange(src, mid, '') // a cycle src → mid → src must terminate
    const pub = await confirmChannel()
    pub.publish(src, 'a.b', Buffer.from('once'))
    await pub.waitForConfirms()
    expect(queue(q)!.messageCount).toBe(1)
    const got = await drain(ch, q)
    expect(bodiesOf(got)).toEqual(['once'])
  })

  it('bind/unbind with a missing source or destination: 404; with the default exchange: 403', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('e2e-present')
    const missing = uniq('e2e-missing')
    await ch.assertExchange(x, 'fanout')
    const e1 = await channelError(c, (c2) => c2.bindExchange(x, missing, ''))
    expect(e1.code).toBe(404)
    expect(replyText(e1)).toBe(`NOT_FOUND - no exchange '${missing}' in vhost '/'`)
    const e2 = await channelError(c, (c2) => c2.bindExchange(missing, x, ''))
    expect(replyText(e2)).toBe(`NOT_FOUND - no exchange '${missing}' in vhost '/'`)
    const e3 = await channelError(c, (c2) => c2.unbindExchange(missing, x, ''))
    expect(e3.code).toBe(404)
    // both missing: RabbitMQ names the source
    const missingDst = uniq('e2e-missing-dst')
    const both = await channelError(c, (c2) => c2.bindExchange(missingDst, missing, ''))
    expect(replyText(both)).toBe(`NOT_FOUND - no exchange '${missing}' in vhost '/'`)
    const e4 = await channelError(c, (c2) => c2.bindExchange(x, '', ''))
    expect(e4.code).toBe(403)
    expect(replyText(e4)).toBe('ACCESS_REFUSED - operation not permitted on the default exchange')
    const e5 = await channelError(c, (c2) => c2.bindExchange('', x, ''))
    expect(e5.code).toBe(403)
    expect(exchange(x)!.bindings.size + exchange(x)!.incoming.size).toBe(0)
  })
})

describe('routing by exchange type', () => {
  it('direct: exact routing key match, one queue per key and several queues per key', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('direct')
    const [red, green, both] = [uniq('red'), uniq('green'), uniq('both')]
    await ch.assertExchange(x, 'direct')
    for (const q of [red, green, both]) await ch.assertQueue(q)
    await ch.bindQueue(red, x, 'red')
    await ch.bindQueue(green, x, 'green')
    await ch.bindQueue(both, x, 'red')
    await ch.bindQueue(both, x, 'green')
    const pub = await confirmChannel()
    for (const k of ['red', 'green', 'blue', 'Red', 'red.x', '']) pub.publish(x, k, Buffer.from(k))
    await pub.waitForConfirms()
    expect(keysOf(await drain(ch, red))).toEqual(['red'])
    expect(keysOf(await drain(ch, green))).toEqual(['green'])
    expect(keysOf(await drain(ch, both))).toEqual(['red', 'green'])
  })

  it('fanout: every bound queue gets every message whatever the key', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('fanout')
    const qs = [uniq('f1'), uniq('f2'), uniq('f3')]
    await ch.assertExchange(x, 'fanout')
    for (const q of qs) {
      await ch.assertQueue(q)
      await ch.bindQueue(q, x, `ignored-${q}`)
    }
    const pub = await confirmChannel()
    pub.publish(x, 'a', Buffer.from('1'))
    pub.publish(x, '', Buffer.from('2'))
    await pub.waitForConfirms()
    for (const q of qs) expect(bodiesOf(await drain(ch, q))).toEqual(['1', '2'])
  })

  it('topic: * matches exactly one word, # zero or more', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('topic')
    await ch.assertExchange(x, 'topic')
    const patterns: Record<string, string[]> = {
      'a.*.c': ['a.b.c'],
      'a.#': ['a.b.c', 'a.b', 'a', 'a.b.c.d'],
      '*.b.*': ['a.b.c', 'x.b.y'],
      '#.c': ['a.b.c', 'c'],
      '#': ['a.b.c', 'a.b', 'a', 'x.b.y', 'a.b.c.d', 'c', ''],
      'a.*': ['a.b'],
      'a.b': ['a.b'],
      '*': ['a', 'c'],
      '#.b.#': ['a.b.c', 'a.b', 'x.b.y', 'a.b.c.d'],
    }
    const qs = new Map<string, string>()
    for (const p of Object.keys(patterns)) {
      const q = uniq('topic-q')
      qs.set(p, q)
      await ch.assertQueue(q)
      await ch.bindQueue(q, x, p)
    }
    const pub = await confirmChannel()
    for (const k of ['a.b.c', 'a.b', 'a', 'x.b.y', 'a.b.c.d', 'c', '']) pub.publish(x, k, Buffer.from(k))
    await pub.waitForConfirms()
    for (const [p, want] of Object.entries(patterns)) {
      expect({ pattern: p, got: keysOf(await drain(ch, qs.get(p)!)) }).toEqual({ pattern: p, got: want })
    }
  })

  it('headers: x-match all, any, all-with-x, any-with-x; x- arguments ignored by all/any', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const x = uniq('headers')
    await ch.assertExchange(x, 'headers')
    const bindings: Record<string, Record<string, unknown>> = {
      all: { 'x-match': 'all', format: 'pdf', type: 'report' },
      any: { 'x-match': 'any', format: 'pdf', type: 'report' },
      implicitAll: { format: 'pdf' },
      allWithX: { 'x-match': 'all-with-x', 'x-tenant': 't1', format: 'pdf' },
      anyWithX: { 'x-match': 'any-with-x', 'x-tenant': 't1' },
      allIgnoresX: { 'x-match': 'all', 'x-tenant': 't1', format: 'pdf' },
      anyOnlyX: { 'x-match': 'any', 'x-tenant': 't1' },
    }
    const qs = new Map<string, string>()
    for (const [name, args] of Object.entries(bindings)) {
      const q = uniq(`hdr-${name}`)
      qs.set(name, q)
      await ch.assertQueue(q)
      await ch.bindQueue(q, x, 'key-is-ignored', args)
    }
    const messages: [string, Record<string, unknown> | undefined][] = [
      ['m1', { format: 'pdf', type: 'report' }],
      ['m2', { format: 'pdf' }],
      ['m3', { type: 'report', 'x-tenant': 't1' }],
      ['m4', { format: 'pdf', 'x-tenant': 't1' }],
      ['m5', { format: 'doc' }],
      ['m6', undefined],
    ]
    const pub = await confirmChannel()
    for (const [body, headers] of messages) pub.publish(x, 'whatever', Buffer.from(body), { headers })
    await pub.waitForConfirms()
    const expected: Record<string, string[]> = {
      all: ['m1'],
      any: ['m1', 'm2', 'm3', 'm4'],
      implicitAll: ['m1', 'm2', 'm4'],
      allWithX: ['m4'],
      anyWithX: ['m3', 'm4'],
      allIgnoresX: ['m1', 'm2', 'm4'],
      anyOnlyX: [],
    }
    for (const [name, want] of Object.entries(expected)) {
      expect({ binding: name, got: bodiesOf(await drain(ch, qs.get(name)!)) }).toEqual({ binding: name, got: want })
    }
  })

  it('the built-in amq.* exchanges route like their types', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const q = uniq('builtin-q')
    await ch.assertQueue(q)
    const rk = uniq('rk')
    await ch.bindQueue(q, 'amq.direct', rk)
    await ch.bindQueue(q, 'amq.fanout', '')
    await ch.bindQueue(q, 'amq.topic', `${rk}.*`)
    await ch.bindQueue(q, 'amq.headers', '', { 'x-match': 'all', dest: q })
    await ch.bindQueue(q, 'amq.match', '', { 'x-match': 'any', dest2: q })
    const pub = await confirmChannel()
    pub.publish('amq.direct', rk, Buffer.from('direct'))
    pub.publish('amq.fanout', 'any', Buffer.from('fanout'))
    pub.publish('amq.topic', `${rk}.x`, Buffer.from('topic'))
    pub.publish('amq.headers', '', Buffer.from('headers'), { headers: { dest: q } })
    pub.publish('amq.match', '', Buffer.from('match'), { headers: { dest2: q } })
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, q))).toEqual(['direct', 'fanout', 'topic', 'headers', 'match'])
    // amq.fanout is shared by the whole vhost: leave it as found
    await ch.unbindQueue(q, 'amq.fanout', '')
    expect([...exchange('amq.fanout')!.bindings.values()].some((x) => x.destination.name === q)).toBe(false)
  })

  it('the default exchange routes by queue name and refuses bindings with 403', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const q = uniq('dflt')
    await ch.assertQueue(q)
    const pub = await confirmChannel()
    pub.sendToQueue(q, Buffer.from('by-name'))
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, q))).toEqual(['by-name'])

    const err = await channelError(c, (c2) => c2.bindQueue(q, '', q))
    expect(err.code).toBe(403)
    expect(replyText(err)).toBe('ACCESS_REFUSED - operation not permitted on the default exchange')
    expect([err.classId, err.methodId]).toEqual([50, 20])
    const err2 = await channelError(c, (c2) => c2.unbindQueue(q, '', q))
    expect(err2.code).toBe(403)
    // a missing queue does not change the answer: the default exchange is checked first (RabbitMQ)
    const err3 = await channelError(c, (c2) => c2.bindQueue(uniq('nope'), '', 'k'))
    expect(err3.code).toBe(403)
    expect(exchange('')!.bindings.size).toBe(0)
  })
})

describe('alternate exchanges', () => {
  it('unroutable messages go to the alternate exchange, routable ones do not; mandatory is satisfied', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const ae = uniq('ae')
    const x = uniq('with-ae')
    const q = uniq('ae-main')
    const aq = uniq('ae-q')
    await ch.assertExchange(ae, 'fanout')
    await ch.assertExchange(x, 'direct', { alternateExchange: ae })
    expect(exchange(x)!.arguments['alternate-exchange']).toBe(ae)
    await ch.assertQueue(q)
    await ch.assertQueue(aq)
    await ch.bindQueue(q, x, 'known')
    await ch.bindQueue(aq, ae, '')
    const pub = await confirmChannel()
    const returned: string[] = []
    pub.on('return', (m: { content: Buffer }) => returned.push(m.content.toString()))
    pub.publish(x, 'known', Buffer.from('routed'), { mandatory: true })
    pub.publish(x, 'unknown', Buffer.from('alternate'), { mandatory: true })
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, q))).toEqual(['routed'])
    const alt = await drain(ch, aq)
    expect(bodiesOf(alt)).toEqual(['alternate'])
    // the message keeps its original exchange and routing key
    expect(alt[0].fields.exchange).toBe(x)
    expect(alt[0].fields.routingKey).toBe('unknown')
    expect(returned).toEqual([])
  })

  it('alternate exchanges chain; a missing alternate exchange drops (and returns a mandatory message)', async () => {
    const c = await conn()
    const ch = await c.createChannel()
    const ae2 = uniq('ae2')
    const ae1 = uniq('ae1')
    const x = uniq('chain')
    const aq = uniq('chain-q')
    await ch.assertExchange(ae2, 'fanout')
    await ch.assertExchange(ae1, 'direct', { alternateExchange: ae2 })
    await ch.assertExchange(x, 'direct', { alternateExchange: ae1 })
    await ch.assertQueue(aq)
    await ch.bindQueue(aq, ae2, '')
    const lonely = uniq('ae-missing')
    await ch.assertExchange(lonely, 'direct', { alternateExchange: uniq('does-not-exist') })

    const pub = await confirmChannel()
    const returned: string[] = []
    pub.on('return', (m: { content: Buffer }) => returned.push(m.content.toString()))
    pub.publish(x, 'nowhere', Buffer.from('chained'))
    pub.publish(lonely, 'nowhere', Buffer.from('lost'), { mandatory: true })
    await pub.waitForConfirms()
    expect(bodiesOf(await drain(ch, aq))).toEqual(['chained'])
    await waitFor(() => returned.length === 1, 2000, 'basic.return')
    expect(returned).toEqual(['lost'])
  })
})
