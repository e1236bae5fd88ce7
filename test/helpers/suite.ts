/**
 * The shared set-up of an integration test file: one broker for the file, clients that are closed
 * after each test, unique names, and a lookup of a queue's broker-side state.
 *
 *   const s = brokerSuite('con')
 *   it('…', async () => { const { ch } = await s.amqplibChannel(); … s.queue(name).messageCount … })
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib'
import { AMQPClient, type AMQPBaseClient } from '@cloudamqp/amqp-client'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { Queue } from '../../core/queue.js'
import type { StartOptions } from '../../transport/server.js'
import { startTestBroker, type TestBroker } from './broker.js'

/** An amqplib or amqp-client error as the clients raise them. */
export type AmqpError = Error & { code?: number; classId?: number; methodId?: number }

export interface BrokerSuite {
  /** the file's broker (set in beforeAll) */
  readonly b: TestBroker
  /** registers something to close after the current test */
  cleanups: (() => Promise<unknown>)[]
  /** a name unique within the file: `${prefix}-${base}-${n}` */
  uniq(base: string): string
  maybeQueue(name: string, broker?: TestBroker): Queue | undefined
  /** broker-side state of a queue in vhost '/', or a thrown error when there is none */
  queue(name: string, broker?: TestBroker): Queue
  amqplibConn(broker?: TestBroker): Promise<ChannelModel>
  amqplibChannel(broker?: TestBroker): Promise<{ conn: ChannelModel; ch: Channel }>
  confirmChannel(broker?: TestBroker): Promise<ConfirmChannel>
  clientConn(broker?: TestBroker, query?: string): Promise<AMQPBaseClient>
}

/** Registers the file's hooks (start the broker, close clients after each test, stop the broker). */
export function brokerSuite(prefix: string, options: StartOptions = {}): BrokerSuite {
  let broker: TestBroker | undefined
  let seq = 0
  const cleanups: (() => Promise<unknown>)[] = []
  beforeAll(async () => {
    broker = await startTestBroker(options)
  })
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
  })
  afterAll(async () => broker?.stop())

  const suite: BrokerSuite = {
    get b(): TestBroker {
      if (broker === undefined) throw new Error('the suite broker is not started yet')
      return broker
    },
    cleanups,
    uniq: (base) => `${prefix}-${base}-${++seq}`,
    maybeQueue: (name, on = suite.b) => on.broker.vhost('/')!.queues.get(name),
    queue(name, on = suite.b) {
      const q = suite.maybeQueue(name, on)
      if (q === undefined) throw new Error(`no queue ${name} on the broker`)
      return q
    },
    async amqplibConn(on = suite.b) {
      const conn = await amqp.connect(on.url)
      conn.on('error', () => undefined)
      cleanups.push(() => conn.close())
      return conn
    },
    async amqplibChannel(on = suite.b) {
      const conn = await suite.amqplibConn(on)
      const ch = await conn.createChannel()
      ch.on('error', () => undefined)
      return { conn, ch }
    },
    async confirmChannel(on = suite.b) {
      const conn = await suite.amqplibConn(on)
      const ch = await conn.createConfirmChannel()
      ch.on('error', () => undefined)
      return ch
    },
    async clientConn(on = suite.b, query = '') {
      const conn = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${on.amqpPort}${query}`).connect()
      conn.onerror = () => undefined
      cleanups.push(() => conn.close())
      return conn
    },
  }
  return suite
}

/** The reply text inside an amqplib error message (`… with message "TEXT"`). */
export function replyText(err: Error): string {
  const m = /with message "(.*)"$/s.exec(err.message)
  if (m === null) throw new Error(`no reply text in: ${err.message}`)
  return m[1]
}

/**
 * Runs `fn` on a fresh amqplib channel and returns the channel.close the server answered with. Fails
 * when the channel is not closed by the server, or when the connection did not survive it.
 */
export async function channelError(c: ChannelModel, fn: (ch: Channel) => unknown): Promise<Required<AmqpError>> {
  const ch = await c.createChannel()
  const err = await new Promise<Required<AmqpError>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not close the channel')), 3000)
    ch.once('error', (e: Required<AmqpError>) => {
      clearTimeout(timer)
      resolve(e)
    })
    const r = fn(ch)
    if (r instanceof Promise) {
      r.then(
        () => {
          clearTimeout(timer)
          reject(new Error('the operation succeeded; expected a channel error'))
        },
        () => undefined,
      )
    }
  })
  // the channel is gone; the connection is not
  const probe = await c.createChannel()
  await probe.close()
  return err
}
