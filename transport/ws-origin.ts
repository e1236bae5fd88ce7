/**
 * The Origin check on AMQP WebSocket upgrades (cross-site WebSocket hijacking). Browsers send Origin
 * on every WebSocket; other clients (Node, pika-style tools) usually send none. Allowed: no Origin,
 * an Origin equal to the request's own Host (the page came from this server), or one listed in
 * --ws-allowed-origins. Any other origin is refused with 403.
 *
 * A page allowed only as "same origin" gets the guest-from-loopback privilege only when the Host it
 * used is itself a loopback name or address: a DNS-rebinding page (Origin and Host both
 * evil.example, resolving to 127.0.0.1) then passes the origin check but cannot log in as guest.
 */
import { isIP } from 'node:net'
import { isLoopback } from '../core/users.js'

export interface OriginDecision {
  allowed: boolean
  /** the TCP peer's loopback address may count for guest (RabbitMQ loopback_users) */
  loopbackTrusted: boolean
}

const REFUSED: OriginDecision = { allowed: false, loopbackTrusted: false }
const TRUSTED: OriginDecision = { allowed: true, loopbackTrusted: true }

export function checkOrigin(origin: string | undefined, host: string | undefined, allowedOrigins: readonly string[]): OriginDecision {
  if (origin === undefined) return TRUSTED
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return REFUSED // "null" (sandboxed frames, file: pages) and garbage
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return REFUSED
  if (allowedOrigins.includes(url.origin)) return TRUSTED
  if (host === undefined || url.host !== hostOf(url.protocol, host)) return REFUSED
  const name = url.hostname.replace(/^\[|\]$/g, '')
  // an IP literal only: "127.evil.example" is a name an attacker controls
  return { allowed: true, loopbackTrusted: name === 'localhost' || (isIP(name) !== 0 && isLoopback(name)) }
}

/** The Host header as URL.host writes it for `protocol` (lower case, default port dropped); '' if invalid. */
function hostOf(protocol: string, host: string): string {
  try {
    return new URL(`${protocol}//${host}`).host
  } catch {
    return ''
  }
}
