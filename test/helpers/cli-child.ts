/**
 * The real CLI (dist/transport/cli.js) in a child process on a data directory, for kill -9 tests:
 * resolves once it listens, with its AMQP port (and HTTP port when it has one). Children still
 * running are killed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'transport', 'cli.js')
const children: ChildProcess[] = []

afterEach(killChildren)

/**
 * Kills the children still running and waits for each to be gone: a data directory is only
 * deleted once no broker writes to it (restart.ts calls this before deleting its directories,
 * whichever afterEach runs first).
 */
export async function killChildren(): Promise<void> {
  await Promise.all(children.splice(0).map(killAndWait))
}

/** SIGKILLs a child process (unless it has exited) and resolves once it is gone. */
export function killAndWait(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    c.once('exit', () => resolve())
    c.kill('SIGKILL')
  })
}

export interface ChildBroker {
  child: ChildProcess
  port: number
  /** the management API's port (-1 unless started with `http`) */
  httpPort: number
}

/** Starts the CLI on `dir` (`http`: with the management API on a free port). */
export function startChild(dir: string, http = false): Promise<ChildBroker> {
  const args = [CLI, '--amqp-port', '0', '--http-port', http ? '0' : '-1', '--prometheus-port', '-1', '--bind', '127.0.0.1', '--data-dir', dir]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /"protocol":"amqp","port":(\d+)/.exec(out)
      const h = http ? /"protocol":"http","port":(\d+)/.exec(out) : null
      if (m !== null && (!http || h !== null)) resolve({ child, port: Number(m[1]), httpPort: h === null ? -1 : Number(h[1]) })
    })
    child.on('exit', (code) => reject(new Error(`broker exited with ${code}: ${out}`)))
  })
}

/** Resolves when the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))
}
