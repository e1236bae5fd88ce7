/**
 * Python's pika (BlockingConnection), a third client implementation, against the broker: the script
 * test/integration/pika/client.py declares, publishes with every basic property, gets, consumes
 * with acks, nacks, uses publisher confirms (including a mandatory unroutable publish) and hits a
 * channel error, printing one JSON object per step; test/integration/pika/rpc.py runs pika's direct
 * reply-to RPC recipe (amq.rabbitmq.reply-to) with a responder on a second connection;
 * test/integration/pika/stream.py reads a stream queue and resumes a consumer group. Skipped
 * when no python3 with pika is installed (`apt-get install -y python3-pika` or `pip install pika`;
 * WARREN_PYTHON picks the interpreter).
 */
import { execFile, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, type TestBroker } from '../helpers/broker.js'

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pika', 'client.py')

/** The first python3 that can import pika (pyenv shims may shadow the system python that has it). */
function findPython(): { python: string; version: string } | null {
  const candidates = [process.env.WARREN_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((x): x is string => !!x)
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import pika; print(pika.__version__)'], { encoding: 'utf8', timeout: 10_000 })
    if (r.status === 0) return { python, version: r.stdout.trim() }
  }
  return null
}

const found = findPython()

type Step = Record<string, unknown> & { step: string }

describe.skipIf(found === null)(`pika ${found?.version ?? ''} (BlockingConnection)`, () => {
  let b: TestBroker
  let steps: Map<string, Step>
  let stderr = ''

  beforeAll(async () => {
    b = await startTestBroker()
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(found!.python, [SCRIPT, String(b.amqpPort)], { timeout: 60_000, encoding: 'utf8' }, (err, stdout, se) => {
        stderr = se
        if (err) reject(new Error(`pika script failed (${err.message}):\n${se}\nstdout:\n${stdout}`))
        else resolve({ stdout })
      })
    })
    steps = new Map(
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Step)
        .map((s) => [s.step, s]),
    )
  }, 90_000)
  afterAll(async () => b?.stop())

  const step = (name: string): Step => {
    const s = steps.get(name)
    if (s === undefined) throw new Error(`the pika script printed no '${name}' step; stderr:\n${stderr}`)
    return s
  }

  it('connects and sees the broker capabilities', () => {
    const s = step('connected')
    expect(s.product).toBe('Warren')
    expect(s.capabilities).toEqual(expect.arrayContaining(['publisher_confirms', 'basic.nack', 'consumer_cancel_notify']))
  })

  it('declares exchanges and queues (named and server-named)', () => {
    expect(step('queue_declare')).toMatchObject({ queue: 'pika.q', message_count: 0, consumer_count: 0 })
    expect(step('server_named').queue).toMatch(/^amq\.gen-/)
  })

  it('publishes with every property and reads them back with basic_get', () => {
    expect(step('basic_get')).toEqual({
      step: 'basic_get',
      body: '{"hello": "pika"}',
      exchange: 'pika.x',
      routing_key: 'rk',
      redelivered: false,
      message_count: 0,
      content_type: 'application/json',
      content_encoding: 'utf-8',
      headers: { str: 'v', int: 42, neg: -7, bool: true, nested: { a: 'b' }, list: [1, 'two'] },
      delivery_mode: 2,
      priority: 5,
      correlation_id: 'corr-1',
      reply_to: 'replies',
      expiration: '60000',
      message_id: 'msg-1',
      timestamp: 1700000000,
      type: 'greeting',
      user_id: 'guest',
      app_id: 'pika-test',
    })
    expect(step('basic_get_empty').empty).toBe(true)
  })

  it('consumes with manual acks and prefetch, in order', () => {
    expect(step('consume').bodies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`))
    expect(step('after_consume')).toMatchObject({ message_count: 0, consumer_count: 0 })
  })

  it('nack with requeue redelivers', () => {
    expect(step('redelivery')).toMatchObject({ body: 'again', redelivered: true })
  })

  it('publisher confirms, and a mandatory unroutable publish is returned (312)', () => {
    expect(step('confirms')).toMatchObject({ confirmed: 50, unroutable: [312] })
    expect(step('after_confirms').message_count).toBe(50)
  })

  it('a channel error closes only the channel (404)', () => {
    const s = step('channel_error')
    expect(s.code).toBe(404)
    expect(s.text).toMatch(/^NOT_FOUND - /)
    expect(s.channel_open).toBe(false)
    expect(step('cleanup').ok).toBe(true)
  })

  it('closes cleanly', () => {
    expect(step('closed').ok).toBe(true)
    expect(b.broker.connections.size).toBe(0)
  })
})

/** Runs a script of test/integration/pika against `b`; one JSON object per printed line, by step. */
async function runScript(script: string, b: TestBroker): Promise<Map<string, Step>> {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(found!.python, [script, String(b.amqpPort)], { timeout: 60_000, encoding: 'utf8' }, (err, stdout, se) => {
      if (err) reject(new Error(`pika script failed (${err.message}):\n${se}\nstdout:\n${stdout}`))
      else resolve({ stdout })
    })
  })
  return new Map(
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Step)
      .map((s) => [s.step, s]),
  )
}

describe.skipIf(found === null)(`pika ${found?.version ?? ''}: direct reply-to RPC`, () => {
  let b: TestBroker
  let steps: Map<string, Step>
  beforeAll(async () => {
    b = await startTestBroker()
    steps = await runScript(path.join(path.dirname(SCRIPT), 'rpc.py'), b)
  }, 90_000)
  afterAll(async () => b?.stop())
  const step = (name: string): Step => steps.get(name) ?? { step: name }

  it('round trips through amq.rabbitmq.reply-to; the responder sees the rewritten reply_to', () => {
    expect(step('declare_pseudo')).toMatchObject({ message_count: 0, consumer_count: 1 })
    const rpc = step('rpc') as Step & { replies: Record<string, string>[]; reply_to: string[] }
    expect(rpc.replies.map((r) => [r.body, r.correlation_id])).toEqual(Array.from({ length: 5 }, (_, i) => [`N${i}`, `id${i}`]))
    expect(rpc.reply_to[0]).toMatch(/^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/)
    expect(new Set(rpc.reply_to).size).toBe(1)
    expect(rpc.replies.every((r) => r.routing_key === rpc.reply_to[0] && r.exchange === '')).toBe(true)
  })

  it('an unanswered call gets nothing; the error cases close the channel with 406', () => {
    expect(step('timeout').replies).toBe(5)
    expect(step('ack_mode')).toMatchObject({ code: 406, text: 'PRECONDITION_FAILED - reply consumer cannot acknowledge' })
    expect(step('no_consumer')).toMatchObject({ code: 406, text: 'PRECONDITION_FAILED - fast reply consumer does not exist' })
    expect(step('closed').ok).toBe(true)
  })
})

describe.skipIf(found === null)(`pika ${found?.version ?? ''}: a stream queue`, () => {
  let b: TestBroker
  let steps: Map<string, Step>
  beforeAll(async () => {
    b = await startTestBroker()
    steps = await runScript(path.join(path.dirname(SCRIPT), 'stream.py'), b)
  }, 90_000)
  afterAll(async () => b?.stop())
  const step = (name: string): Step => steps.get(name) ?? { step: name }

  it('reads from first with offsets in x-stream-offset, resumes a named group, needs a prefetch', () => {
    const all = Array.from({ length: 10 }, (_, i) => [i, `s${i}`])
    expect(step('first').got).toEqual(all)
    // offsets 0..5 were acked: the group "py" resumes at 6
    expect(step('resume').got).toEqual(all.slice(6))
    expect(step('no_prefetch')).toMatchObject({ code: 406, text: "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 'pika-stream' in vhost '/''" })
  })
})

if (found === null) {
  describe('pika', () => {
    it.skip('python3 with pika is not installed (apt-get install -y python3-pika, or set WARREN_PYTHON)', () => {})
  })
}
