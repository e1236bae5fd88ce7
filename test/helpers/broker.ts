/**
 * Test harness: a real Warren broker in-process on port 0 with a temp data dir, torn down after.
 * Usage: `await withBroker(async ({ url, broker }) => { … })`, or `startTestBroker()` in beforeAll.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startBroker, type RunningBroker, type StartOptions } from '../../transport/server.js'

export interface TestBroker extends RunningBroker {
  dataDir: string
  /** closes the broker and removes the data dir */
  stop(): Promise<void>
}

export async function startTestBroker(options: StartOptions = {}): Promise<TestBroker> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'warren-test-'))
  const logger = options.logger ?? pino({ level: process.env.WARREN_TEST_LOG ?? 'silent' })
  const running = await startBroker({ amqpPort: 0, httpPort: 0, prometheusPort: 0, bind: '127.0.0.1', ...options, dataDir, logger })
  return Object.assign(Object.create(null) as object, running, {
    dataDir,
    async stop() {
      await running.close()
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  }) as TestBroker
}

export async function withBroker<T>(fn: (b: TestBroker) => Promise<T>, options: StartOptions = {}): Promise<T> {
  const b = await startTestBroker(options)
  try {
    return await fn(b)
  } finally {
    await b.stop()
  }
}

/** Polls until `check` returns a truthy value (or stops throwing); never a fixed sleep. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as Exclude<T, undefined | null | false>
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, 10))
  }
}
