// Shared by the benchmark scripts: Warren from dist/ in a child process on free ports with a temp
// data dir (stopped with SIGTERM and removed after), and the broker's resident memory.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const CLI = join(root, 'dist/transport/cli.js')

/**
 * Starts a broker: `name` prefixes its temp data dir, `http` opens the management port (free
 * port), `args` are more CLI flags, `cli` another build's cli.js. Resolves once the listeners have logged their ports to
 * { port, httpPort, url, api, pid, warnLines, stop() }; warnLines collects its warn-level log lines.
 */
export async function startBroker({ name = 'bench', http = true, args = [], cli = CLI } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), `warren-${name}-`))
  const child = spawn(
    process.execPath,
    [cli, '--amqp-port', '0', '--bind', '127.0.0.1', '--http-port', http ? '0' : '-1', '--prometheus-port', '-1', '--data-dir', dataDir, '--log-level', 'info', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const warnLines = []
  // the listeners log {"protocol":"amqp","port":…} and {"protocol":"http","port":…}
  const ports = await new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      for (const l of String(d).split('\n')) if (l.includes('"level":40')) warnLines.push(l)
      if (buf === null) return
      buf += d
      const a = buf.match(/"protocol":"amqp","port":(\d+)/)
      const h = buf.match(/"protocol":"http","port":(\d+)/)
      if (a && (h || !http)) {
        buf = null
        resolve({ port: Number(a[1]), httpPort: h ? Number(h[1]) : -1 })
      }
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
  return {
    ...ports,
    url: `amqp://guest:guest@127.0.0.1:${ports.port}`,
    api: `http://127.0.0.1:${ports.httpPort}`,
    pid: child.pid,
    warnLines,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A process's resident memory in KiB (0 when unknown). */
export function rssKb(pid) {
  if (!pid) return 0
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}
