/**
 * Disk problems (issue 4): an unusable data dir or a full disk at start is a clear error and a
 * non-zero exit of the CLI; the disk alarm blocks publishers (connection.blocked "low on disk")
 * until space is back; a corrupt record in the middle of a segment is skipped, the rest recovered.
 */
import { spawnSync } from 'node:child_process'
import { openSync, readdirSync, readSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { bodies, boot, connect, dataDir, drain, halt, publishConfirmed } from '../helpers/restart.js'

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'transport', 'cli.js')

function runCli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--amqp-port', '0', '--http-port', '-1', '--prometheus-port', '-1', ...args], {
    encoding: 'utf8',
    timeout: 10_000,
  })
  return { status: r.status, stderr: r.stderr }
}

describe('at start', () => {
  it('exits non-zero with a clear message when the data dir cannot be written', () => {
    const file = path.join(dataDir(), 'not-a-dir')
    writeFileSync(file, 'x')
    const r = runCli(['--data-dir', path.join(file, 'data')])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/data directory '.*not-a-dir\/data' is not writable/)
  })

  // issue 10 hole 15: Node's recursive mkdir looped forever at 100% CPU on /proc, deaf to SIGTERM
  it.each(['/proc/warren-test/data', '/proc/self/warren', '/sys/warren-test'])('fails fast with a clear message for --data-dir %s', (dir) => {
    const t0 = Date.now()
    const r = runCli(['--data-dir', dir])
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^warren: cannot start: data directory '${dir}' is on a (proc|sysfs) pseudo file system`, 'm'))
  })

  it('exits non-zero when the disk has less free space than the limit', () => {
    const r = runCli(['--data-dir', dataDir(), '--disk-free-limit', '1000000000GB'])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/is full: \d+ bytes free/)
  })
})

describe('disk alarm', () => {
  it('blocks publishers with connection.blocked and resumes them when space is back', async () => {
    let free = 10e9
    const b = await boot(dataDir(), { freeDiskBytes: () => free, diskCheckIntervalMs: 20, diskFreeLimit: 50e6 })
    const c = await connect(b)
    const events: string[] = []
    c.on('blocked', (reason: string) => events.push(`blocked:${reason}`))
    c.on('unblocked', () => events.push('unblocked'))
    const ch = await c.createConfirmChannel()
    await ch.assertQueue('alarm', { durable: true })
    ch.sendToQueue('alarm', Buffer.from('before'), { persistent: true })
    await ch.waitForConfirms()
    free = 1e6
    await waitFor(() => events.includes('blocked:low on disk'), 3000, 'connection.blocked')
    expect(b.broker.diskAlarmOn).toBe(true)
    let confirmed = false
    ch.sendToQueue('alarm', Buffer.from('during'), { persistent: true }, () => (confirmed = true))
    await new Promise((r) => setTimeout(r, 200))
    // not read from the socket while blocked
    expect(confirmed).toBe(false)
    expect(b.broker.vhost('/')!.queues.get('alarm')!.messageCount).toBe(1)
    free = 10e9
    await waitFor(() => events.includes('unblocked'), 3000, 'connection.unblocked')
    await waitFor(() => confirmed, 3000, 'the held publish to be confirmed')
    expect(bodies(await drain(b, 'alarm'))).toEqual(['before', 'during'])
  })
})

describe('corrupt segment', () => {
  it('skips the damaged records, logs them, and recovers the rest', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('bad', { durable: true })
    const msgs = Array.from({ length: 100 }, (_, i) => `message-${String(i).padStart(3, '0')}-${'x'.repeat(80)}`)
    await publishConfirmed(b, 'bad', msgs)
    await halt(b)
    // find the segment and damage one record's body in the middle
    const qroot = path.join(dir, 'vhosts')
    const vdir = path.join(qroot, readdirSync(qroot)[0], 'queues')
    const qdir = path.join(vdir, readdirSync(vdir)[0])
    const seg = path.join(qdir, readdirSync(qdir).find((f) => f.startsWith('msgs.'))!)
    const size = statSync(seg).size
    const fd = openSync(seg, 'r+')
    const buf = Buffer.alloc(size)
    readSync(fd, buf, 0, size, 0)
    const at = buf.indexOf('message-050-')
    expect(at).toBeGreaterThan(0)
    writeSync(fd, Buffer.from('XXXX'), 0, 4, at + 20)
    closeSync(fd)
    b = await boot(dir)
    const got = bodies(await drain(b, 'bad'))
    expect(got).not.toContain(msgs[50])
    expect(got.length).toBe(99)
    expect(got[0]).toBe(msgs[0])
    expect(got[98]).toBe(msgs[99])
  })
})
