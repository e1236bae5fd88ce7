/**
 * Message TTL and queue expiry over real TCP: x-message-ttl and the expiration property (the lower
 * wins), expiry on time with idle or absent consumers (also behind a long-lived head), requeued
 * messages keeping their expiry, TTL 0, dead-lettering with reason 'expired', the delayed-retry
 * pattern (a TTL counts from when the message entered the queue), x-expires, and invalid values.
 * Timing is observed by polling and by marker messages with short TTLs, never by fixed sleeps.
 */
import type { Channel, ChannelModel, ConsumeMessage, GetMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('ttl')
const { uniq, maybeQueue, queue, amqplibConn, amqplibChannel } = s

type AmqpError = Error & { code?: number }

async function nextMessage(ch: Channel, qn: string, noAck = true, timeout = 3000): Promise<GetMessage> {
  return waitFor(async () => {
    const m = await ch.get(qn, { noAck })
    return m === false ? undefined : m
  }, timeout, `a message in ${qn}`)
}

/** A fanout DLX with a queue whose consumer records each message and when it arrived. */
async function deadLetterSink(ch: Channel): Promise<{ dlx: string; dlq: string; got: { m: ConsumeMessage; at: number }[] }> {
  const dlx = uniq('dlx')
  const dlq = uniq('dlq')
  await ch.assertExchange(dlx, 'fanout', { durable: false })
  await ch.assertQueue(dlq, { durable: false })
  await ch.bindQueue(dlq, dlx, '')
  const got: { m: ConsumeMessage; at: number }[] = []
  await ch.consume(dlq, (m) => void (m && got.push({ m, at: Date.now() })), { noAck: true })
  return { dlx, dlq, got }
}

/** Resolves once `ms` have certainly passed, observed through a marker message expiring in a scratch queue. */
async function markerExpired(ch: Channel, ms: number): Promise<void> {
  const qn = uniq('marker')
  await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': ms } })
  ch.sendToQueue(qn, Buffer.from('tick'))
  await waitFor(() => queue(qn).stats.publish === 1 && queue(qn).messageCount === 0, 5000, `marker of ${ms} ms`)
}

const deathsOf = (m: { properties: { headers?: Record<string, unknown> } }): Record<string, unknown>[] =>
  (m.properties.headers?.['x-death'] ?? []) as unknown as Record<string, unknown>[]

/** Opens a channel expected to be closed by the broker and returns the close error of `fn`. */
async function channelError(conn: ChannelModel, fn: (ch: Channel) => Promise<unknown>): Promise<AmqpError> {
  const ch = await conn.createChannel()
  const closed = new Promise<AmqpError>((resolve) => ch.once('error', resolve))
  await fn(ch).catch(() => undefined)
  return closed
}

describe('x-message-ttl and the expiration property', () => {
  it('a queue TTL dead-letters on time with no consumer, and a consumer attaching late sees only fresh messages', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 150, 'x-dead-letter-exchange': sink.dlx } })
    const t0 = Date.now()
    ch.sendToQueue(qn, Buffer.from('stale'))
    await waitFor(() => sink.got.length === 1, 3000, 'expired message dead-lettered')
    const elapsed = sink.got[0].at - t0
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1150)
    const dead = sink.got[0].m
    expect(dead.content.toString()).toBe('stale')
    expect(deathsOf(dead)[0]).toMatchObject({ reason: 'expired', queue: qn, count: 1, exchange: '', 'routing-keys': [qn] })
    expect(deathsOf(dead)[0]).not.toHaveProperty('original-expiration')
    expect(dead.properties.headers!['x-first-death-reason']).toBe('expired')
    expect(queue(qn).messageCount).toBe(0)
    // a late consumer: the expired message is gone, a fresh one arrives first
    const seen: string[] = []
    await ch.consume(qn, (m) => void (m && seen.push(m.content.toString())), { noAck: true })
    ch.sendToQueue(qn, Buffer.from('fresh'))
    await waitFor(() => seen.length === 1, 3000, 'fresh delivery')
    expect(seen).toEqual(['fresh'])
  })

  it('the lower of queue TTL and message expiration wins, either way round', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const longQueue = uniq('long-q')
    const shortQueue = uniq('short-q')
    await ch.assertQueue(longQueue, { durable: false, arguments: { 'x-message-ttl': 60000, 'x-dead-letter-exchange': sink.dlx } })
    await ch.assertQueue(shortQueue, { durable: false, arguments: { 'x-message-ttl': 100, 'x-dead-letter-exchange': sink.dlx } })
    const t0 = Date.now()
    ch.sendToQueue(longQueue, Buffer.from('message ttl wins'), { expiration: '100' })
    ch.sendToQueue(shortQueue, Buffer.from('queue ttl wins'), { expiration: '60000' })
    await waitFor(() => queue(longQueue).messageCount + queue(shortQueue).messageCount === 2)
    for (const qn of [longQueue, shortQueue]) {
      const env = queue(qn).ready.peek()!
      expect(env.expiresAt - env.message.timestamp).toBeGreaterThanOrEqual(100)
      expect(env.expiresAt - env.message.timestamp).toBeLessThan(150)
    }
    await waitFor(() => sink.got.length === 2, 3000, 'both expired')
    for (const { at } of sink.got) expect(at - t0).toBeLessThan(1100)
    const byBody = new Map(sink.got.map(({ m }) => [m.content.toString(), m]))
    expect(deathsOf(byBody.get('message ttl wins')!)[0]).toMatchObject({ reason: 'expired', queue: longQueue, 'original-expiration': '100' })
    expect(deathsOf(byBody.get('queue ttl wins')!)[0]).toMatchObject({ reason: 'expired', queue: shortQueue, 'original-expiration': '60000' })
    for (const { m } of sink.got) expect(m.properties.expiration).toBeUndefined()
  })

  it('a short per-message expiration behind a long-lived head expires on time; the rest keep their order', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-dead-letter-exchange': sink.dlx } })
    const t0 = Date.now()
    ch.sendToQueue(qn, Buffer.from('head'), { expiration: '60000' })
    ch.sendToQueue(qn, Buffer.from('short'), { expiration: '80' })
    ch.sendToQueue(qn, Buffer.from('forever'))
    await waitFor(() => sink.got.length === 1, 3000, 'the short one expired')
    expect(sink.got[0].m.content.toString()).toBe('short')
    expect(sink.got[0].at - t0).toBeLessThan(1080)
    expect(queue(qn).messageCount).toBe(2)
    expect((await nextMessage(ch, qn)).content.toString()).toBe('head')
    expect((await nextMessage(ch, qn)).content.toString()).toBe('forever')
    expect(await ch.get(qn, { noAck: true })).toBe(false)
  })

  it('the same behind a long queue TTL: a message with its own short expiration does not wait for the head', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 60000, 'x-dead-letter-exchange': sink.dlx } })
    ch.sendToQueue(qn, Buffer.from('head'))
    ch.sendToQueue(qn, Buffer.from('short'), { expiration: '60' })
    await waitFor(() => sink.got.length === 1, 3000, 'the short one expired')
    expect(sink.got[0].m.content.toString()).toBe('short')
    expect(queue(qn).messageCount).toBe(1)
  })

  it('priority queue with a queue TTL: a low-priority message does not wait behind a later, higher-priority head', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('prio')
    await ch.assertQueue(qn, {
      durable: false,
      arguments: { 'x-max-priority': 5, 'x-message-ttl': 300, 'x-dead-letter-exchange': sink.dlx },
    })
    ch.sendToQueue(qn, Buffer.from('low'), { priority: 0 })
    await markerExpired(ch, 150)
    ch.sendToQueue(qn, Buffer.from('high'), { priority: 5 })
    await waitFor(() => queue(qn).messageCount === 2)
    await waitFor(() => sink.got.length >= 1, 3000, 'the low-priority message expired')
    expect(sink.got.map((g) => g.m.content.toString())).toEqual(['low'])
    expect(queue(qn).messageCount).toBe(1) // the head has time left
    await waitFor(() => sink.got.length === 2, 3000, 'the high-priority message expired')
  })

  it('expired messages are never delivered: an idle consumer with a full prefetch window does not stop expiry', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 100, 'x-dead-letter-exchange': sink.dlx } })
    const c = await (await amqplibConn()).createChannel()
    await c.prefetch(1)
    const seen: ConsumeMessage[] = []
    await c.consume(qn, (m) => void (m && seen.push(m)))
    for (let i = 0; i < 4; i++) ch.sendToQueue(qn, Buffer.from(`m${i}`))
    await waitFor(() => sink.got.length === 3, 3000, 'the three waiting messages expired')
    expect(sink.got.map((g) => g.m.content.toString())).toEqual(['m1', 'm2', 'm3'])
    // the held one is acked; nothing else arrives (an expired message would be next)
    c.ack(seen[0])
    ch.sendToQueue(qn, Buffer.from('after'))
    await waitFor(() => seen.length === 2, 3000, 'the next fresh message')
    expect(seen.map((m) => m.content.toString())).toEqual(['m0', 'after'])
  })

  it('a requeued message keeps its original expiry: requeued after it, it is dead-lettered, not redelivered', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 120, 'x-dead-letter-exchange': sink.dlx } })
    const c = await (await amqplibConn()).createChannel()
    await c.prefetch(1)
    const seen: ConsumeMessage[] = []
    await c.consume(qn, (m) => void (m && seen.push(m)))
    ch.sendToQueue(qn, Buffer.from('held'))
    ch.sendToQueue(qn, Buffer.from('waiting')) // published just after: expires just after 'held' would
    await waitFor(() => seen.length === 1 && sink.got.length === 1, 3000, "'waiting' expired while 'held' is unacked")
    expect(sink.got[0].m.content.toString()).toBe('waiting')
    c.nack(seen[0], false, true)
    await waitFor(() => sink.got.length === 2, 3000, "'held' dead-lettered when requeued")
    const held = sink.got[1].m
    expect(held.content.toString()).toBe('held')
    expect(deathsOf(held)[0]).toMatchObject({ reason: 'expired', queue: qn })
    expect(seen).toHaveLength(1)
    expect(queue(qn).messageCount).toBe(0)
    expect(queue(qn).unackedCount).toBe(0)
  })

  it('a requeued message that has time left is redelivered with its original expiry time', async () => {
    const { ch } = await amqplibChannel()
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 60000 } })
    ch.sendToQueue(qn, Buffer.from('back'))
    await waitFor(() => queue(qn).messageCount === 1)
    const expiresAt = queue(qn).ready.peek()!.expiresAt
    const m = await nextMessage(ch, qn, false)
    await markerExpired(ch, 20)
    ch.nack(m, false, true)
    await waitFor(() => queue(qn).messageCount === 1)
    expect(queue(qn).ready.peek()!.expiresAt).toBe(expiresAt)
    const again = await nextMessage(ch, qn)
    expect(again.fields.redelivered).toBe(true)
  })

  it('TTL 0: delivered when a consumer is ready, expired at once otherwise (queue TTL and expiration "0")', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('zero')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': 0, 'x-dead-letter-exchange': sink.dlx } })
    const plain = uniq('zero-msg')
    await ch.assertQueue(plain, { durable: false, arguments: { 'x-dead-letter-exchange': sink.dlx } })
    // no consumer: both expire straight away
    ch.sendToQueue(qn, Buffer.from('nobody'))
    ch.sendToQueue(plain, Buffer.from('nobody either'), { expiration: '0' })
    await waitFor(() => sink.got.length === 2, 3000, 'both expired')
    expect(sink.got.map((g) => deathsOf(g.m)[0].reason)).toEqual(['expired', 'expired'])
    // a consumer with room: every message is delivered, none expires
    const c = await (await amqplibConn()).createChannel()
    const seen: string[] = []
    await c.consume(qn, (m) => void (m && seen.push(m.content.toString())), { noAck: true })
    await c.consume(plain, (m) => void (m && seen.push(m.content.toString())), { noAck: true })
    for (let i = 0; i < 100; i++) {
      ch.sendToQueue(qn, Buffer.from(`q${i}`))
      ch.sendToQueue(plain, Buffer.from(`p${i}`), { expiration: '0' })
    }
    await waitFor(() => seen.length === 200, 5000, '200 deliveries')
    expect(sink.got).toHaveLength(2)
  })
})

describe('expiry bookkeeping', () => {
  it('consumed messages with a long expiration are not kept alive until they would have expired', async () => {
    const { ch } = await amqplibChannel()
    const plain = uniq('long-exp')
    const prio = uniq('long-ttl-prio')
    await ch.assertQueue(plain, { durable: false })
    await ch.assertQueue(prio, { durable: false, arguments: { 'x-max-priority': 3, 'x-message-ttl': 3_600_000 } })
    const c = await (await amqplibConn()).createChannel()
    let got = 0
    for (const qn of [plain, prio]) await c.consume(qn, () => void got++, { noAck: true })
    const n = 5000
    for (let i = 0; i < n; i++) {
      ch.sendToQueue(plain, Buffer.alloc(100), { expiration: '3600000' })
      ch.sendToQueue(prio, Buffer.alloc(100), { priority: i % 4 })
    }
    await waitFor(() => got === 2 * n, 5000, 'all consumed')
    // the expiry heap holds (and so keeps in memory) only a bounded number of settled messages
    for (const qn of [plain, prio]) {
      const heap = (queue(qn) as unknown as { expiry: { length: number } }).expiry
      expect(heap.length, qn).toBeLessThan(n / 2)
    }
  })
})

describe('delayed retry: a TTL counts from when the message entered the queue', () => {
  it('work → reject → wait queue (TTL) → back to work, the wait lasting the full TTL even for an old message', async () => {
    const { ch } = await amqplibChannel()
    const work = uniq('work')
    const wait = uniq('wait')
    await ch.assertQueue(work, {
      durable: false,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': wait },
    })
    await ch.assertQueue(wait, {
      durable: false,
      arguments: { 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': work },
    })
    ch.sendToQueue(work, Buffer.from('job'))
    await markerExpired(ch, 250) // the message is now older than the wait queue's TTL
    const m = await nextMessage(ch, work, false)
    const rejectedAt = Date.now()
    ch.reject(m, false)
    await waitFor(() => queue(wait).messageCount === 1, 3000, 'the job in the wait queue')
    expect(queue(wait).ready.peek()!.expiresAt).toBeGreaterThanOrEqual(rejectedAt + 200)
    const back = await nextMessage(ch, work, true, 3000)
    expect(Date.now() - rejectedAt).toBeGreaterThanOrEqual(195)
    expect(deathsOf(back).map((d) => [d.queue, d.reason])).toEqual([
      [wait, 'expired'],
      [work, 'rejected'],
    ])
  })
})

describe('x-expires', () => {
  it('an unused queue is deleted; one with a consumer is not, until the consumer goes', async () => {
    const { ch } = await amqplibChannel()
    const unused = uniq('unused')
    const consumed = uniq('consumed')
    const args = { arguments: { 'x-expires': 150 }, durable: false }
    await ch.assertQueue(unused, args)
    await ch.assertQueue(consumed, args)
    const c = await (await amqplibConn()).createChannel()
    const { consumerTag } = await c.consume(consumed, () => undefined)
    await waitFor(() => maybeQueue(unused) === undefined, 3000, 'the unused queue deleted')
    // a second lease period for good measure: the consumed queue stays
    const later = uniq('later')
    await ch.assertQueue(later, args)
    await waitFor(() => maybeQueue(later) === undefined, 3000, 'the later queue deleted')
    expect(maybeQueue(consumed)).toBeDefined()
    await c.cancel(consumerTag)
    await waitFor(() => maybeQueue(consumed) === undefined, 3000, 'deleted after the consumer went')
    // the client sees it gone too
    const conn = await amqplibConn()
    const err = await channelError(conn, (x) => x.checkQueue(consumed))
    expect(err.code).toBe(404)
  })

  it('basic.get and redeclaring renew the lease', async () => {
    const { ch } = await amqplibChannel()
    const args = { arguments: { 'x-expires': 200 }, durable: false }
    const polled = uniq('polled')
    const redeclared = uniq('redeclared')
    const reference = uniq('reference')
    await ch.assertQueue(polled, args)
    await ch.assertQueue(redeclared, args)
    await ch.assertQueue(reference, args)
    // keep using two of them until the untouched reference has expired (and a bit beyond)
    await waitFor(async () => {
      await ch.get(polled)
      await ch.assertQueue(redeclared, args)
      return maybeQueue(reference) === undefined
    }, 3000, 'the reference queue deleted')
    const second = uniq('reference2')
    await ch.assertQueue(second, args)
    await waitFor(async () => {
      await ch.get(polled)
      await ch.assertQueue(redeclared, args)
      return maybeQueue(second) === undefined
    }, 3000, 'the second reference queue deleted')
    expect(maybeQueue(polled)).toBeDefined()
    expect(maybeQueue(redeclared)).toBeDefined()
    // left alone, they go too
    await waitFor(() => maybeQueue(polled) === undefined && maybeQueue(redeclared) === undefined, 3000, 'both deleted')
  })

  it('messages of an expired queue are not dead-lettered', async () => {
    const { ch } = await amqplibChannel()
    const sink = await deadLetterSink(ch)
    const qn = uniq('q')
    await ch.assertQueue(qn, { durable: false, arguments: { 'x-expires': 100, 'x-dead-letter-exchange': sink.dlx } })
    ch.sendToQueue(qn, Buffer.from('left behind'))
    await waitFor(() => maybeQueue(qn) === undefined, 3000, 'queue deleted')
    await markerExpired(ch, 20) // a round of the event loop and more
    expect(sink.got).toHaveLength(0)
    expect(queue(sink.dlq).messageCount).toBe(0)
  })
})

describe('long TTLs', () => {
  it('TTLs and x-expires beyond a Node timer (2^31-1 ms, about 24.8 days) are accepted and arm no 1 ms timer loop', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    try {
      const { ch } = await amqplibChannel()
      const thirtyDays = 30 * 24 * 3600 * 1000 // 2592000000: valid in RabbitMQ (at most 4294967295)
      const qn = uniq('month')
      await ch.assertQueue(qn, { durable: false, arguments: { 'x-message-ttl': thirtyDays, 'x-expires': thirtyDays } })
      const other = uniq('month-msg')
      await ch.assertQueue(other, { durable: false })
      ch.sendToQueue(qn, Buffer.from('patient'))
      ch.sendToQueue(other, Buffer.from('patient too'), { expiration: String(thirtyDays) })
      await waitFor(() => queue(qn).messageCount === 1 && queue(other).messageCount === 1)
      await markerExpired(ch, 30) // timers that overflowed would have fired (after 1 ms) by now
      expect(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning'))).toEqual([])
      expect(queue(qn).messageCount).toBe(1)
      expect(queue(other).messageCount).toBe(1)
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('invalid values', () => {
  it('x-message-ttl and x-expires: negative, non-integer and string values are 406 and create nothing', async () => {
    const conn = await amqplibConn()
    const cases: [Record<string, unknown>, string | RegExp][] = [
      [{ 'x-message-ttl': -1 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_negative,-1}"],
      [{ 'x-message-ttl': 1.5 }, /^invalid arg 'x-message-ttl' for queue '%q' in vhost '\/': .*double/],
      [{ 'x-message-ttl': 'soon' }, /^invalid arg 'x-message-ttl' for queue '%q' in vhost '\/': .*longstr/],
      [{ 'x-message-ttl': 4294967296 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_too_big,4294967296}"],
      [{ 'x-expires': 4294967296 }, "invalid arg 'x-expires' for queue '%q' in vhost '/': {value_too_big,4294967296}"],
      [{ 'x-expires': -5 }, /^invalid arg 'x-expires' for queue '%q' in vhost '\/': /],
      [{ 'x-expires': 0 }, /^invalid arg 'x-expires' for queue '%q' in vhost '\/': /],
      [{ 'x-expires': 2.5 }, /^invalid arg 'x-expires' for queue '%q' in vhost '\/': .*double/],
      [{ 'x-expires': 'later' }, /^invalid arg 'x-expires' for queue '%q' in vhost '\/': .*longstr/],
    ]
    for (const [args, text] of cases) {
      const qn = uniq('bad')
      const err = await channelError(conn, (ch) => ch.assertQueue(qn, { durable: false, arguments: args }))
      expect(err.code, JSON.stringify(args)).toBe(406)
      const reply = /with message "(.*)"$/s.exec(err.message)?.[1] ?? err.message
      expect(reply.startsWith('PRECONDITION_FAILED - ')).toBe(true)
      const body = reply.slice('PRECONDITION_FAILED - '.length)
      if (typeof text === 'string') expect(body).toBe(text.replace('%q', qn))
      else expect(body).toMatch(new RegExp(text.source.replace('%q', qn)))
      expect(maybeQueue(qn)).toBeUndefined()
    }
  })

  it('an invalid expiration property closes the channel with 406 and nothing is enqueued', async () => {
    const conn = await amqplibConn()
    const qn = uniq('q')
    const { ch } = await amqplibChannel()
    await ch.assertQueue(qn, { durable: false })
    // RabbitMQ's texts (rabbit_channel check_expiration_header / rabbit_basic:parse_expiration)
    const cases: [string, string][] = [
      ['-1', '{value_negative,-1}'],
      ['soon', 'no_integer'],
      ['1.5', '{leftover_string,".5"}'],
      ['4294967296', '{value_too_big,4294967296}'],
    ]
    for (const [expiration, problem] of cases) {
      const err = await channelError(conn, async (x) => {
        x.sendToQueue(qn, Buffer.from('bad'), { expiration })
        await x.checkQueue(qn)
      })
      expect(err.code).toBe(406)
      expect(/with message "(.*)"$/s.exec(err.message)?.[1]).toBe(
        `PRECONDITION_FAILED - invalid expiration '${expiration}': ${problem}`,
      )
    }
    // the largest accepted value, and a leading '+' (Erlang's string:to_integer takes it)
    ch.sendToQueue(qn, Buffer.from('max'), { expiration: '4294967295' })
    ch.sendToQueue(qn, Buffer.from('plus'), { expiration: '+60000' })
    await waitFor(() => queue(qn).messageCount === 2)
    expect([...queue(qn).ready].map((e) => e.message.ttl)).toEqual([4294967295, 60000])
    await ch.purgeQueue(qn)
    expect(queue(qn).messageCount).toBe(0)
    expect(queue(qn).stats.publish).toBe(2)
  })
})
