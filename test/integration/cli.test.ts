/**
 * The real CLI as users run it: `node dist/transport/cli.js` (built by test/global-setup.ts).
 * JSON log lines, --help, refusal of bad values with a message naming the option, environment
 * variables, and shutdown on SIGTERM/SIGINT (clients get 320 CONNECTION_FORCED, exit code 0).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { OPTIONS } from '../../core/config.js'
import { Encoder } from '../../core/wire/field-table.js'
import { FRAME_END, PROTOCOL_HEADER } from '../../transport/codec/constants.js'
import { decodeArgs, encodeMethod, lookupMethod, type MethodArgs } from '../../transport/codec/methods.js'
import { waitFor } from '../helpers/broker.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')

const tmpDirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'warren-cli-'))
  tmpDirs.push(d)
  return d
}

/** The environment without any WARREN_* variable of the caller, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WARREN_')) env[k] = v
  return { ...env, ...extra }
}

interface LogLine {
  level: number
  msg: string
  [k: string]: unknown
}

class Broker {
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  exitCode: number | null | undefined

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d))
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code
        resolve({ code, signal })
      }),
    )
  }

  /** Every complete stdout line, each of which must be a JSON object (pino). */
  lines(): LogLine[] {
    return this.stdout
      .split('\n')
      .slice(0, -1)
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine
        } catch {
          throw new Error(`stdout line is not JSON: ${l}`)
        }
      })
  }

  async logLine(pred: (l: LogLine) => boolean, what: string, timeoutMs = 10_000): Promise<LogLine> {
    const found = waitFor(() => this.lines().find(pred), timeoutMs, what) as Promise<LogLine>
    // fail at once (with the broker's output) if it exits instead
    const exited = this.exited.then(({ code }) => {
      const l = this.lines().find(pred)
      if (l !== undefined) return l
      throw new Error(`broker exited (${code}) before logging ${what}:\n${this.stderr}${this.stdout}`)
    })
    return Promise.race([found, exited])
  }

  /** Port of the AMQP listener, from its JSON log line. */
  async amqpPort(): Promise<number> {
    const l = await this.logLine((x) => x.protocol === 'amqp' && typeof x.port === 'number', 'the AMQP listening log line')
    expect(l.msg).toMatch(/^AMQP listening on .+:\d+$/)
    expect(l.msg.endsWith(`:${l.port}`)).toBe(true)
    return l.port as number
  }
}

const running: Broker[] = []

/** Spawns the CLI. Port options not given are set to 0 so that parallel runs never collide. */
function startCli(args: string[] = [], env: Record<string, string> = {}): Broker {
  const extra: string[] = []
  for (const o of OPTIONS) {
    if (o.flag.endsWith('-port') && !args.some((a) => a === o.flag || a.startsWith(`${o.flag}=`)) && env[o.env] === undefined) {
      extra.push(o.flag, '0')
    }
  }
  if (!args.includes('--data-dir') && env.WARREN_DATA_DIR === undefined) extra.push('--data-dir', tmp())
  const child = spawn(process.execPath, [CLI, ...args, ...extra], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const b = new Broker(child)
  running.push(b)
  return b
}

/** Runs the CLI to completion (for --help and refusals). */
async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const b = new Broker(child)
  running.push(b)
  const { code } = await b.exited
  return { code, stdout: b.stdout, stderr: b.stderr }
}

/** Reads connection.tune from a raw socket: what the broker proposes. */
async function readTune(port: number): Promise<MethodArgs> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  let buf = Buffer.alloc(0)
  socket.on('data', (d) => (buf = Buffer.concat([buf, d])))
  socket.on('error', () => {})
  const nextMethod = async (): Promise<{ id: string; payload: Buffer }> => {
    const f = await waitFor<{ id: string; payload: Buffer } | undefined>(() => {
      if (buf.length < 7) return undefined
      const size = buf.readUInt32BE(3)
      if (buf.length < size + 8) return undefined
      expect(buf[size + 7]).toBe(FRAME_END)
      const payload = buf.subarray(7, 7 + size)
      buf = buf.subarray(size + 8)
      return { id: `${payload.readUInt16BE(0)}.${payload.readUInt16BE(2)}`, payload }
    })
    return f!
  }
  try {
    socket.write(PROTOCOL_HEADER)
    expect((await nextMethod()).id).toBe('10.10')
    const e = new Encoder(64)
    encodeMethod(e, 10, 11, [{}, 'PLAIN', '\0guest\0guest', 'en_US'])
    const payload = e.buf.subarray(0, e.pos)
    const f = Buffer.alloc(payload.length + 8)
    f[0] = 1
    f.writeUInt32BE(payload.length, 3)
    payload.copy(f, 7)
    f[f.length - 1] = FRAME_END
    socket.write(f)
    const tune = await nextMethod()
    expect(tune.id).toBe('10.30')
    return decodeArgs(lookupMethod(10, 30), tune.payload, 4, tune.payload.length)
  } finally {
    socket.destroy()
  }
}

/** A full round trip through the broker with amqplib. */
async function roundTrip(port: number): Promise<void> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)
  try {
    const ch = await conn.createConfirmChannel()
    const { queue } = await ch.assertQueue('', { exclusive: true })
    ch.sendToQueue(queue, Buffer.from('via cli'))
    await ch.waitForConfirms()
    const m = await ch.get(queue, { noAck: true })
    expect(m && m.content.toString()).toBe('via cli')
  } finally {
    await conn.close()
  }
}

afterEach(async () => {
  for (const b of running.splice(0)) {
    if (b.exitCode === undefined) {
      b.child.kill('SIGKILL')
      await b.exited
    }
  }
})
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true })
})

describe('CLI', () => {
  it('the build produced the CLI', () => {
    expect(existsSync(CLI)).toBe(true)
  })

  it('starts on a free port, logs JSON lines saying where it listens, and serves clients', async () => {
    const dataDir = path.join(tmp(), 'nested', 'data')
    const b = startCli(['--amqp-port', '0', '--http-port', '0', '--data-dir', dataDir])
    const port = await b.amqpPort()
    expect(port).toBeGreaterThan(0)
    expect(port).not.toBe(5672)
    expect(existsSync(dataDir)).toBe(true) // created on start
    await roundTrip(port)
    // every stdout line is a pino JSON object with a level, a time and a message
    for (const l of b.lines()) {
      expect(typeof l.level).toBe('number')
      expect(typeof l.time).toBe('number')
      expect(typeof l.msg).toBe('string')
    }
    const http = b.lines().find((l) => l.protocol === 'http')
    if (http !== undefined) expect(http.port).toBeGreaterThan(0)
    expect(b.stderr).toBe('')
  })

  it('SIGTERM: a connected amqplib client gets 320 CONNECTION_FORCED, the process exits 0', async () => {
    const b = startCli(['--amqp-port', '0', '--http-port', '0'])
    const port = await b.amqpPort()
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)
    const ch = await conn.createChannel()
    await ch.assertQueue('', { exclusive: true })
    // amqplib reports 320 (not a fatal error to it) as the argument of 'close', not as 'error'
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => conn.once('close', resolve))
    const t0 = Date.now()
    b.child.kill('SIGTERM')
    const err = await closed
    expect(err?.code).toBe(320)
    expect(err?.message).toMatch(/CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'/)
    const { code, signal } = await b.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    // the client answered close-ok, so there is no reason to wait for the forced socket cut-off
    expect(Date.now() - t0).toBeLessThan(3000)
    const msgs = b.lines().map((l) => l.msg)
    expect(msgs).toContain('shutting down')
    expect(msgs).toContain('broker stopped')
  })

  it('SIGTERM with several clients and one still in the handshake', async () => {
    const b = startCli()
    const port = await b.amqpPort()
    const conns = await Promise.all([1, 2, 3].map(() => amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)))
    const codes = conns.map((c) => new Promise<number | undefined>((resolve) => c.once('close', (e?: { code?: number }) => resolve(e?.code))))
    // a raw client that sent the protocol header and never answers connection.start
    const raw = net.connect({ port, host: '127.0.0.1' })
    raw.on('error', () => {})
    raw.write(PROTOCOL_HEADER)
    b.child.kill('SIGTERM')
    expect(await Promise.all(codes)).toEqual([320, 320, 320])
    expect((await b.exited).code).toBe(0)
    raw.destroy()
  })

  it('SIGINT exits 0 too', async () => {
    const b = startCli()
    await b.amqpPort()
    b.child.kill('SIGINT')
    expect((await b.exited).code).toBe(0)
  })

  it('stops on SIGTERM after its stdout reader has gone (EPIPE), exit 0', async () => {
    const b = startCli()
    await b.amqpPort()
    // the reader of the log pipe goes away, as when a supervisor or parent dies
    b.child.stdout!.destroy()
    await new Promise((r) => setTimeout(r, 100))
    b.child.kill('SIGTERM')
    const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8000).unref())
    const result = await Promise.race([b.exited, timeout])
    if (result === 'hung') b.child.kill('SIGKILL')
    expect(result).toEqual({ code: 0, signal: null })
  })

  it('an idle broker stops promptly on SIGTERM', async () => {
    const b = startCli()
    await b.amqpPort()
    const t0 = Date.now()
    b.child.kill('SIGTERM')
    expect((await b.exited).code).toBe(0)
    expect(Date.now() - t0).toBeLessThan(2000)
  })
})

describe('--help', () => {
  it('prints every option with its environment variable, and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['--help'])
    expect(code, `exit code; stderr: ${stderr}`).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toMatch(/^Usage: warren/)
    for (const o of OPTIONS) {
      expect(stdout).toContain(o.flag)
      expect(stdout).toContain(o.env)
    }
    // the options the README documents
    for (const flag of ['--amqp-port', '--http-port', '--bind', '--data-dir', '--log-level', '--heartbeat', '--frame-max', '--channel-max', '--max-message-size']) {
      expect(stdout).toContain(flag)
    }
    expect(stdout).toContain('--help')
  })

  it('-h is --help, and --help wins over other flags (nothing is started)', async () => {
    const a = await runCli(['-h'])
    expect(a.code).toBe(0)
    expect(a.stdout).toMatch(/^Usage: warren/)
    const b = await runCli(['--amqp-port', '0', '--help'])
    expect(b.code).toBe(0)
    expect(b.stdout).toMatch(/^Usage: warren/)
    expect(b.stdout).not.toMatch(/listening/)
  })
})

describe('bad values are refused with a message naming the option', () => {
  it.each([
    [['--amqp-port', 'abc'], {}, /--amqp-port/, /abc/],
    [['--amqp-port=abc'], {}, /--amqp-port/, /abc/],
    [['--amqp-port', '70000'], {}, /--amqp-port/, /70000/],
    [['--amqp-port', '-1'], {}, /--amqp-port/, /-1/],
    [['--http-port', '1.5'], {}, /--http-port/, /1\.5/],
    [['--frame-max', '100'], {}, /--frame-max/, /4096/],
    [['--heartbeat', 'soon'], {}, /--heartbeat/, /soon/],
    [['--channel-max', '0'], {}, /--channel-max/, /0/],
    [['--log-level', 'loud'], {}, /--log-level/, /loud/],
    [['--bind', 'not-an-ip'], {}, /--bind/, /not-an-ip/],
    [['--data-dir', ''], {}, /--data-dir/, /empty/],
    [[], { WARREN_LOG_LEVEL: 'loud' }, /WARREN_LOG_LEVEL/, /loud/],
    [[], { WARREN_AMQP_PORT: 'abc' }, /WARREN_AMQP_PORT/, /abc/],
    [[], { WARREN_FRAME_MAX: '12k' }, /WARREN_FRAME_MAX/, /12k/],
    [['--nope'], {}, /--nope/, /unknown option/],
    [['--amqp-port'], {}, /--amqp-port/, /needs a value/],
  ] as [string[], Record<string, string>, RegExp, RegExp][])('%j %j', async (args, env, names, detail) => {
    const { code, stdout, stderr } = await runCli(args, env)
    expect(code, `exit code; stderr: ${stderr}`).toBe(2)
    expect(stderr).toMatch(names)
    expect(stderr).toMatch(detail)
    expect(stderr).toMatch(/^warren: /)
    expect(stderr.trim().split('\n')).toHaveLength(1) // one clear line, no stack trace
    expect(stdout).not.toMatch(/listening/)
  })

  it('a port already in use: exit 1 with a fatal log line naming the problem', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const b = startCli(['--amqp-port', String(port), '--bind', '127.0.0.1'])
      const { code } = await b.exited
      expect(code).toBe(1)
      const fatal = b.lines().find((l) => l.level === 60)
      expect(fatal?.msg).toMatch(/EADDRINUSE|in use/)
    } finally {
      blocker.close()
    }
  })
})

describe('environment variables', () => {
  it('WARREN_AMQP_PORT=0 and friends configure the broker without flags', async () => {
    const dataDir = tmp()
    const b = startCli([], {
      WARREN_AMQP_PORT: '0',
      WARREN_HTTP_PORT: '0',
      WARREN_PROMETHEUS_PORT: '0',
      WARREN_DATA_DIR: dataDir,
      WARREN_BIND: '127.0.0.1',
      WARREN_HEARTBEAT: '7',
      WARREN_FRAME_MAX: '8192',
      WARREN_CHANNEL_MAX: '33',
    })
    const port = await b.amqpPort()
    expect(port).not.toBe(5672)
    const line = b.lines().find((l) => l.protocol === 'amqp')!
    expect(line.address).toBe('127.0.0.1')
    expect(await readTune(port)).toEqual({ channelMax: 33, frameMax: 8192, heartbeat: 7 })
    await roundTrip(port)
  })

  it('flags win over environment variables', async () => {
    const b = startCli(['--heartbeat', '11', '--log-level', 'info'], { WARREN_HEARTBEAT: '7', WARREN_LOG_LEVEL: 'silent' })
    // with WARREN_LOG_LEVEL=silent winning there would be no log line to read the port from
    const port = await b.amqpPort()
    expect((await readTune(port)).heartbeat).toBe(11)
  })

  it('WARREN_LOG_LEVEL=warn hides info lines', async () => {
    // no info line will tell the port, so pick a free one first
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const b = startCli(['--amqp-port', String(port), '--bind', '127.0.0.1'], { WARREN_LOG_LEVEL: 'warn' })
    await waitFor(async () => {
      if (b.exitCode !== undefined) throw new Error(`broker exited: ${b.stderr}${b.stdout}`)
      await roundTrip(port) // opens and closes a connection: info lines at level info
      return true
    }, 10_000, 'the broker to serve clients')
    b.child.kill('SIGTERM')
    expect((await b.exited).code).toBe(0)
    expect(b.lines().filter((l) => l.level < 40)).toEqual([])
  })
})
