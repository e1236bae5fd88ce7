/**
 * Cluster tests: a private etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback ports with a
 * temp data dir, stopped and removed after. `hasEtcd` lets a suite skip with a clear title when it
 * is not installed (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Etcd3 } from 'etcd3'
import { etcdClient } from '../../transport/cluster/etcd-client.js'
import { waitFor } from './broker.js'

export const ETCD_BIN = process.env.WARREN_TEST_ETCD ?? '/usr/bin/etcd'
export const hasEtcd = existsSync(ETCD_BIN)

export interface TestEtcd {
  /** the --cluster value for Warren: etcd://127.0.0.1:<client port> */
  readonly url: string
  /** the client URL (http://127.0.0.1:<port>) */
  readonly endpoint: string
  /** a client for the test's own reads and writes (closed by stop) */
  readonly client: Etcd3
  readonly process: ChildProcess
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1 (closed again: etcd binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** Starts etcd on `port` (default: a free one). */
/** Starts a private etcd (on `port`, else a free one), with `extraArgs` on its command line. */
export async function startEtcd(port?: number, extraArgs: string[] = []): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-etcd-'))
  const clientPort = port ?? (await freePort())
  const peerPort = await freePort()
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const child = spawn(
    ETCD_BIN,
    [
      '--name', 'test',
      '--data-dir', dir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `test=${peer}`,
      '--log-level', 'error',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // the nodes' client (no 5 s circuit breaker: startEtcd's polling would otherwise wait out 5 s)
  const client = etcdClient([endpoint])
  const stop = async (): Promise<void> => {
    client.close()
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`etcd exited: ${stderr}`)
      return (await client.maintenance.status()).version
    }, 10_000, 'etcd to answer')
  } catch (err) {
    await stop()
    throw err
  }
  return { url: `etcd://127.0.0.1:${clientPort}`, endpoint, client, process: child, stop }
}
