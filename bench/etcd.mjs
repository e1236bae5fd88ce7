// A private etcd for the cluster benchmarks (bench/cluster.mjs, bench/link-cluster.mjs):
// /usr/bin/etcd (Debian's etcd-server, or WARREN_TEST_ETCD) on free loopback ports with the data dir
// given, resolved once its /health answers. `url` is its client URL, `cluster` the --cluster value.
import { spawn } from 'node:child_process'
import net from 'node:net'

export const ETCD_BIN = process.env.WARREN_TEST_ETCD ?? '/usr/bin/etcd'

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

export async function startEtcd(dataDir) {
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const p = `http://127.0.0.1:${peer}`
  // prettier-ignore
  const child = spawn(ETCD_BIN, ['--name', 'bench', '--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', p, '--initial-advertise-peer-urls', p, '--initial-cluster', `bench=${p}`, '--log-level', 'error'], { stdio: 'ignore' })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await gone
  }
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false)
    if (ok) return { url, cluster: `etcd://127.0.0.1:${client}`, child, stop }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error('etcd did not start')
}
