/**
 * Shared helpers for the store unit tests: per-test temp directories (parallel-safe, removed
 * afterwards), a pino logger that records what it logged, and message builders.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'
import { afterEach } from 'vitest'
import { Message } from '../../core/message.js'

const dirs: string[] = []

/** A fresh directory under the OS temp dir, deleted after the current test. */
export function tempDir(prefix = 'warren-store-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.push(d)
  return d
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

export interface LogLine {
  level: number
  msg: string
  [k: string]: unknown
}

/** A pino logger writing into `lines` (synchronously) instead of stdout. */
export function captureLogger(): { log: Logger; lines: LogLine[]; warnings: () => LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as LogLine)
      cb()
    },
  })
  const log = pino({ level: 'debug' }, stream)
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) }
}

/** Property bytes with only delivery-mode set (flags 0x1000, then the octet). */
export function propsWithDeliveryMode(mode: number): Buffer {
  return Buffer.from([0x10, 0x00, mode])
}

/** A message as the channel would build it: `mode` 2 is persistent. */
export function makeMessage(body: string | Buffer, opts: { mode?: number; rk?: string; exchange?: string; ttl?: number; priority?: number } = {}): Message {
  const mode = opts.mode ?? 2
  const props = propsWithDeliveryMode(mode)
  const b = typeof body === 'string' ? Buffer.from(body) : body
  const data = Buffer.concat([props, b])
  return new Message(opts.exchange ?? 'amq.direct', opts.rk ?? 'rk', data, props.length, mode, opts.priority ?? 0, opts.ttl ?? -1, -1, 1_700_000_000_123)
}

/** Polls (never sleeps blindly) until `predicate` holds, e.g. until a batch's fdatasync returned. */
export async function settle(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now()
  while (!predicate()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 1))
  }
}
