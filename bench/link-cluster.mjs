// Shared by bench/link.mjs and bench/quorum.mjs: a private etcd (/usr/bin/etcd) on free loopback
// ports and Warren nodes in child processes (bench/link-node.mjs, talked to over IPC), each with a
// temp data dir; stop() ends the nodes and etcd and removes the dirs.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEtcd } from './etcd.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** A bench cluster named `<prefix><pid>`, its data dirs named warren-<prefix>-…; start etcd, then nodes. */
export function linkCluster(prefix) {
  const cluster = `${prefix}${process.pid}`
  const dirs = []
  const nodes = []
  let etcd = null
  const tmp = (p) => {
    const d = mkdtempSync(join(tmpdir(), p))
    dirs.push(d)
    return d
  }
  return {
    /** etcd on free ports; resolves to its client URL once /health answers */
    async startEtcd() {
      etcd = await startEtcd(tmp('warren-bench-etcd-'))
      return etcd.url
    },
    /** node `name` joined through etcd `url`: { name, child, url, next(key) } once it listens */
    startNode(url, name, execArgv = []) {
      const child = fork(join(root, 'bench/link-node.mjs'), [url, cluster, name, tmp(`warren-${prefix}-`)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
      nodes.push(child)
      const next = (key) => new Promise((resolve) => child.on('message', function on(m) {
        if (m[key] !== undefined) {
          child.off('message', on)
          resolve(m[key])
        }
      }))
      return next('amqpPort').then((port) => ({ name, child, url: `amqp://guest:guest@127.0.0.1:${port}`, next }))
    },
    async stop() {
      for (const n of nodes) n.send({ stop: true })
      await new Promise((r) => setTimeout(r, 1000))
      await etcd?.stop()
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    },
  }
}
