/**
 * Crash safety (issue 4): a broker in a child process (the real CLI from dist/), a publisher with
 * confirms sending persistent messages, `kill -9` at a random moment, a restart on the same data
 * dir, and a drain: every confirmed message is there exactly once, in order; only an unconfirmed
 * tail may be missing. Repeated over several random kill points.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import amqp from 'amqplib'
import { afterEach, expect, it } from 'vitest'
import { exited, startChild } from '../helpers/cli-child.js'

const dirs: string[] = []

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

it('keeps every confirmed message exactly once across kill -9', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-crash-'))
  dirs.push(dir)
  for (let round = 0; round < 3; round++) {
    const { child, port } = await startChild(dir)
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)
    conn.on('error', () => undefined)
    const ch = await conn.createConfirmChannel()
    ch.on('error', () => undefined)
    await ch.assertQueue('crash', { durable: true })
    const confirmed: number[] = []
    let stop = false
    let n = 0
    const pump = async (): Promise<void> => {
      while (!stop) {
        // a window of 200 outstanding confirms keeps the publisher busy without flooding memory
        const batch: Promise<void>[] = []
        for (let i = 0; i < 200 && !stop; i++) {
          const id = n++
          batch.push(
            new Promise<void>((resolve) =>
              ch.sendToQueue('crash', Buffer.from(`${round}:${id}`), { persistent: true }, (err) => {
                if (err === null || err === undefined) confirmed.push(id)
                resolve()
              }),
            ),
          )
        }
        await Promise.race([Promise.all(batch), new Promise((r) => setTimeout(r, stop ? 0 : 300))])
      }
    }
    const pumping = pump().catch(() => undefined)
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 600))
    child.kill('SIGKILL')
    await exited(child)
    stop = true
    await pumping
    expect(confirmed.length).toBeGreaterThan(0)

    const { child: c2, port: p2 } = await startChild(dir)
    const conn2 = await amqp.connect(`amqp://guest:guest@127.0.0.1:${p2}`)
    const ch2 = await conn2.createChannel()
    const ids: number[] = []
    for (;;) {
      const m = await ch2.get('crash', { noAck: true })
      if (m === false) break
      const [r, id] = m.content.toString().split(':').map(Number)
      expect(r).toBe(round) // earlier rounds were drained
      ids.push(id)
    }
    await conn2.close()
    // exactly once and in order: strictly increasing ids
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1])
    const have = new Set(ids)
    const lost = confirmed.filter((id) => !have.has(id))
    expect(lost).toEqual([])
    // what is missing is only an unconfirmed tail
    if (ids.length > 0) expect(ids[ids.length - 1]).toBeLessThan(n)
    expect(ids.length).toBe(ids.length > 0 ? ids[ids.length - 1] + 1 : 0)
    c2.kill('SIGTERM')
    await exited(c2)
  }
}, 60_000)
