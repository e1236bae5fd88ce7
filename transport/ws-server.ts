/**
 * AMQP 0-9-1 over WebSocket on the HTTP port (RabbitMQ's web-amqp, LavinMQ's /ws/amqp): an upgrade
 * on `/ws/amqp` or `/` becomes a Connection, the same class that serves TCP, over a WsSocket.
 * Ordinary HTTP requests stay with the management API's handler; only 'upgrade' is handled here.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { Broker } from '../core/broker.js'
import type { BrokerConfig } from '../core/config.js'
import { FRAME_MIN_SIZE } from './codec/constants.js'
import { Connection, type HandshakeWatch } from './connection.js'
import type { ConnectionLimiter } from './connection-limiter.js'
import { LogThrottle } from './log-throttle.js'
import { tlsPeer } from './tls.js'
import { checkOrigin } from './ws-origin.js'
import { WsSocket, type WsInputLimits } from './ws-socket.js'

/** Paths that accept an AMQP WebSocket (LavinMQ and RabbitMQ's web-amqp plugin use /ws/amqp). */
export const WS_AMQP_PATHS: ReadonlySet<string> = new Set(['/ws/amqp', '/'])

/** Connection.protocol for these connections, as the management API shows it. */
export const WS_PROTOCOL = 'AMQP 0-9-1 over WebSocket'

/**
 * Largest WebSocket message before tune-ok: one frame of frame_min (4096 bytes of payload, RabbitMQ's
 * 8 bytes of slack, 8 of frame overhead) plus the 8-byte protocol header that may precede it.
 */
export const WS_PRE_AUTH_MAX_MESSAGE = FRAME_MIN_SIZE + 8 + 8 + 8

/** Shared with the TCP listener (transport/server.ts). */
export interface WebSocketGuards {
  limiter: ConnectionLimiter
  handshakeWatch: HandshakeWatch
}

/** What the composition root keeps to shut the listener down. */
export interface WebSocketListener {
  /** Stops accepting upgrades and cuts every WebSocket still open (after connection.close was sent). */
  close(): void
}

/**
 * Handles WebSocket upgrades on `server` (which keeps serving plain HTTP requests) and records a
 * listener on the broker: `http/web-amqp`, or `https/web-amqp` for WSS on the HTTPS server.
 */
export function attachWebSocket(
  server: Server | HttpsServer,
  broker: Broker,
  log: Logger,
  listenerProtocol = 'http/web-amqp',
  guards?: WebSocketGuards,
): WebSocketListener {
  const wlog = log.child({ component: 'websocket' })
  const limits: WsInputLimits = { preAuth: WS_PRE_AUTH_MAX_MESSAGE, open: maxPayload(broker.config) }
  const wss = new WebSocketServer({
    noServer: true,
    // compression costs CPU per message and AMQP payloads are often already compact
    perMessageDeflate: false,
    maxPayload: limits.open,
    handleProtocols: pickProtocol,
  })
  const originLog = new LogThrottle(wlog, 'WebSocket upgrade refused: origin not allowed')
  wss.on('error', (err) => wlog.error({ err }, 'websocket server error'))
  // a malformed handshake is answered by ws itself (400, 405 or 426 with the reason)
  let closed = false
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0]
    if (!WS_AMQP_PATHS.has(path)) {
      // leave other paths to any other upgrade listener (none today)
      if (server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found')
      return
    }
    // cross-site WebSocket hijacking: a page from another origin must not reach the broker with the
    // browser's credentials or its loopback address (RabbitMQ's guest rule)
    const origin = checkOrigin(req.headers.origin, req.headers.host, broker.config.wsAllowedOrigins)
    if (!origin.allowed) {
      originLog.note({ origin: req.headers.origin, peer: req.socket.remoteAddress })
      rejectUpgrade(socket, 403, 'Forbidden')
      return
    }
    const ip = req.socket.remoteAddress
    if (broker.cluster !== null && !broker.cluster.holdsLease()) {
      // a cluster node without its etcd lease serves no one (core/cluster/cluster-state.ts)
      rejectUpgrade(socket, 503, 'Service Unavailable')
      return
    }
    if (broker.fdAlarmOn) {
      // as on the TCP listeners: the descriptors left serve the clients already here (fd-monitor.ts)
      broker.fdRefused++
      rejectUpgrade(socket, 503, 'Service Unavailable')
      return
    }
    if (guards !== undefined) {
      if (!guards.limiter.admit(ip)) {
        rejectUpgrade(socket, 503, 'Service Unavailable')
        return
      }
      socket.once('close', () => guards.limiter.release(ip))
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // WSS: the TLS session (and a client certificate, for EXTERNAL) is the upgrade request's socket's
      const peer = req.socket instanceof TLSSocket ? tlsPeer(req.socket) : null
      const sock = new WsSocket(ws, req, wlog, limits, origin.loopbackTrusted)
      new Connection(broker, sock, WS_PROTOCOL, wlog, peer, guards?.handshakeWatch)
    })
  }
  server.on('upgrade', onUpgrade)
  recordListener(server, broker, listenerProtocol)
  return {
    close(): void {
      if (closed) return
      closed = true
      server.off('upgrade', onUpgrade)
      for (const ws of wss.clients) ws.terminate()
      wss.close()
    },
  }
}

/** Accepts the first offered subprotocol starting with "amqp" (e.g. amqp, amqpv0.9.1); none is required. */
function pickProtocol(protocols: Set<string>): string | false {
  for (const p of protocols) if (p.toLowerCase().startsWith('amqp')) return p
  return false
}

/**
 * Largest WebSocket message accepted: clients such as amqp-client send a whole publish (method,
 * header and every body frame) as one message, so it must fit the largest message plus frame overhead.
 */
function maxPayload(config: BrokerConfig): number {
  const frames = Math.ceil(config.maxMessageSize / (FRAME_MIN_SIZE - 8)) + 2
  return config.maxMessageSize + frames * 8 + 64 * 1024
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  // after 'upgrade' node's http server no longer listens for socket errors: a reset must not crash
  socket.on('error', () => {})
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

function recordListener(server: Server | HttpsServer, broker: Broker, protocol: string): void {
  const add = (): void => {
    const a = server.address() as AddressInfo
    broker.listeners.push({ protocol, ip: a.address, port: a.port })
  }
  if (server.listening) add()
  else server.once('listening', add)
}
