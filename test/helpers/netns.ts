/**
 * A private network namespace for tests that need a client on a non-loopback address (the
 * guest-from-loopback rule). `unshare -n` gives a namespace with only `lo`; we add one interface
 * holding NETNS_PEER_IP and run test/helpers/netns-peer.mjs inside it, broker and client both, so
 * no traffic ever leaves the namespace. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), util-linux's
 * `unshare` and iproute2's `ip`; `netnsUnavailable` says why not, for `it.skipIf`.
 */
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The namespace's own non-loopback address (TEST-NET-style private range, never routed anywhere). */
export const NETNS_PEER_IP = '10.253.0.1'

const PEER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'netns-peer.mjs')

// lo up, then w0 with the peer address: a dummy interface where the kernel has the module, else a
// veth pair with both ends inside the namespace (some kernels, e.g. Firecracker guests, lack dummy)
const SETUP = [
  'set -e',
  'ip link set lo up',
  'if ! ip link add w0 type dummy 2>/dev/null; then ip link add w0 type veth peer name w1; ip link set w1 up; fi',
  `ip addr add ${NETNS_PEER_IP}/24 dev w0`,
  'ip link set w0 up',
].join('\n')

function probe(): string | undefined {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', `${SETUP}\nip -4 -o addr show dev w0`], { encoding: 'utf8', timeout: 5000 })
  if (r.error) return `cannot run unshare: ${r.error.message}`
  if (r.status !== 0) return `unshare -n + ip failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`
  if (!r.stdout.includes(NETNS_PEER_IP)) return `the namespace's interface did not get ${NETNS_PEER_IP}`
  return undefined
}

/** Why a private network namespace cannot be made here (no unshare/ip, not permitted), or undefined. */
export const netnsUnavailable: string | undefined = probe()

/** What netns-peer.mjs reports for one connection attempt. */
export interface PeerAttempt {
  ok: boolean
  /** the client's error message when refused */
  message?: string
  /** the broker's view of the connection when accepted */
  user?: string
  peerHost?: string
}

/** netns-peer.mjs's results: guest from NETNS_PEER_IP, a user without the loopback rule, guest from 127.0.0.1. */
export interface PeerReport {
  mode: 'amqp' | 'ws'
  peer: string
  guestRemote: PeerAttempt
  /** whether the broker dropped the refused connection */
  connectionsGone: boolean
  otherRemote: PeerAttempt
  guestLoopback: PeerAttempt
}

/**
 * Runs netns-peer.mjs in a fresh network namespace: a broker from dist/ (built by
 * test/global-setup.ts) on all interfaces, and clients over `mode` (AMQP on TCP, or WebSocket).
 */
export function runPeerInNetns(mode: 'amqp' | 'ws', timeoutMs = 15_000): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-n', 'sh', '-c', `${SETUP}\nexec "$0" "$1" "$2"`, process.execPath, PEER_SCRIPT, mode], {
      env: { ...process.env, NETNS_PEER_IP },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const last = stdout.trim().split('\n').pop() ?? ''
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`netns peer (${mode}) exited ${signal ?? code}: ${stderr.trim() || stdout.trim()}`))
        return
      }
      resolve(JSON.parse(last) as PeerReport)
    })
  })
}
