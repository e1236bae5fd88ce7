/**
 * Who may open a node link (issue 13): only a node of the same cluster that knows the cluster's
 * secret. The secret is created once in etcd (/warren/<cluster>/secret, a transaction that writes
 * it only if absent, so every node reads the same one) and never crosses the link. Link setup:
 *
 *   dialer   → HELLO     {cluster, from, to, nonce: a}
 *   acceptor → CHALLENGE {nonce: b, proof: HMAC(secret, "accept|cluster|from|to|a|b")}
 *   dialer   → RESPONSE  {proof: HMAC(secret, "dial|cluster|from|to|a|b")}
 *   acceptor → READY
 *
 * Both sides prove the secret over fresh nonces (no replay), the names are bound into the proofs,
 * and the acceptor also checks that the dialer is the node that should dial (the smaller name) and
 * that the link is meant for it. Nothing but these frames is read before READY.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Etcd3 } from 'etcd3'

export interface Hello {
  cluster: string
  from: string
  to: string
  nonce: string
}

/** The cluster secret, created on first use. */
export async function clusterSecret(etcd: Etcd3, cluster: string): Promise<Buffer> {
  const key = `/warren/${cluster}/secret`
  const fresh = randomBytes(32).toString('base64')
  await etcd.if(key, 'Create', '==', 0).then(etcd.put(key).value(fresh)).commit()
  const v = await etcd.get(key).string()
  if (v === null) throw new Error(`cluster secret ${key} vanished`)
  return Buffer.from(v, 'base64')
}

export function nonce(): string {
  return randomBytes(24).toString('base64')
}

export function proof(secret: Buffer, role: 'accept' | 'dial', h: Hello, acceptorNonce: string): string {
  return createHmac('sha256', secret).update(`${role}|${h.cluster}|${h.from}|${h.to}|${h.nonce}|${acceptorNonce}`).digest('base64')
}

export function proofMatches(expected: string, got: unknown): boolean {
  if (typeof got !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(got)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The node that dials a pair's link: the smaller name (the other one only accepts). */
export function dials(self: string, peer: string): boolean {
  return self < peer
}

/** A HELLO as received: a plain object with the four strings, or null. */
export function parseHello(v: unknown): Hello | null {
  if (typeof v !== 'object' || v === null) return null
  const h = v as Record<string, unknown>
  for (const k of ['cluster', 'from', 'to', 'nonce']) if (typeof h[k] !== 'string') return null
  return h as unknown as Hello
}
