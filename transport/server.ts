/**
 * Composition root for embedding and tests: builds the Broker, registers the exchange types and
 * opens the listeners. `startBroker({ amqpPort: 0, dataDir })` → `broker.amqpPort`, `broker.close()`.
 * Embedded, only AMQP listens, on loopback, unless asked otherwise (EMBEDDED_DEFAULTS); the CLI
 * passes a full config, so `npm start` keeps 15672/15692 on all interfaces.
 */
import http from 'node:http'
import type https from 'node:https'
import net from 'node:net'
import tls, { type TLSSocket } from 'node:tls'
import { pino, type Logger } from 'pino'
import { Broker } from '../core/broker.js'
import { ClusterState } from '../core/cluster/cluster-state.js'
import { DEFAULT_CONFIG, type BrokerConfig } from '../core/config.js'
import { ExchangeTypeRegistry } from '../core/exchange.js'
import { FdMonitor } from '../core/fd-monitor.js'
import { MemoryMonitor } from '../core/memory-monitor.js'
import { Storage } from '../core/storage.js'
import { assertFreeSpace, DiskMonitor, ensureDataDir } from '../core/store/disk.js'
import { registerBuiltinExchanges } from '../exchanges/index.js'
import { closeAdmin, createHttpHandler, createPrometheusHandler } from '../admin-ui/http-api.js'
import { Connection, type HandshakeWatch } from './connection.js'
import { ConnectionLimiter } from './connection-limiter.js'
import { connectionCap } from './fd-limit.js'
import { LogThrottle } from './log-throttle.js'
import { admitPeer, checkTlsOptions, createHttpsServer, loadSecureContext, tlsConfigured, TlsReloader, tlsPeer, tlsServerOptions } from './tls.js'
import { attachDirectReads } from './direct-read.js'
import { attachWebSocket, type WebSocketListener } from './ws-server.js'

type ClusterNode = import('./cluster/cluster-node.js').ClusterNode

export interface StartOptions extends Partial<BrokerConfig> {
  /** a pino logger to use; by default one at `logLevel` writing JSON to stdout */
  logger?: Logger
  /** free-space probe for the disk alarm (tests) */
  freeDiskBytes?: (dir: string) => number
  /** ms between disk alarm checks (default 1000) */
  diskCheckIntervalMs?: number
  /** open-descriptor count and limit for the fd alarm (tests) */
  fdCount?: () => number
  fdTotal?: number
  /** ms between fd alarm checks (default 1000) */
  fdCheckIntervalMs?: number
  /** memory in use and memory available for the memory alarm (tests; default RSS, and RAM or the cgroup limit) */
  memoryUsed?: () => number
  memoryTotal?: number
  /** ms between memory alarm checks (default 1000) */
  memoryCheckIntervalMs?: number
  /** seconds of the cluster membership lease (tests; default transport/cluster/membership.ts LEASE_TTL_S) */
  clusterLeaseTtl?: number
}

export interface RunningBroker {
  readonly broker: Broker
  readonly config: BrokerConfig
  readonly log: Logger
  /** the port the AMQP listener got (useful with amqpPort 0) */
  readonly amqpPort: number
  /** the HTTP port (management, WebSocket), or -1 when disabled */
  readonly httpPort: number
  /** the Prometheus port, or -1 when disabled */
  readonly prometheusPort: number
  /** the AMQPS port, or -1 when TLS is not configured or the port is disabled */
  readonly amqpsPort: number
  /** the HTTPS (management, WSS) port, or -1 when TLS is not configured or the port is disabled */
  readonly httpsPort: number
  /** the cluster port (node-to-node links), or -1 without --cluster */
  readonly clusterPort: number
  /**
   * the cluster node (membership, node links), or null without --cluster; a type-only reference:
   * transport/cluster/ is loaded only by the dynamic import below (test/unit/cluster-lazy.test.ts)
   */
  readonly clusterNode: ClusterNode | null
  /**
   * Reads the TLS certificate, key and CA files again (SIGHUP): new TLS connections get them. Returns
   * the error when they cannot be used (the previous ones stay), or null; null too without TLS.
   */
  reloadTls(): Error | null
  /** AMQP URL for local clients, e.g. amqp://guest:guest@127.0.0.1:5672 */
  readonly url: string
  /** Stops listening, closes every connection with 320 CONNECTION_FORCED, and resolves when done. */
  close(): Promise<void>
}

/**
 * The defaults of an embedded broker: no management/WebSocket or Prometheus listener unless a port
 * is given (-1 disables; 0 picks a free port), and listeners on 127.0.0.1, so that two brokers in
 * one test run never collide on 15672/15692 nor show up on the network by accident.
 */
export const EMBEDDED_DEFAULTS: Readonly<BrokerConfig> = { ...DEFAULT_CONFIG, httpPort: -1, prometheusPort: -1, bind: '127.0.0.1' }

export async function startBroker(options: StartOptions = {}): Promise<RunningBroker> {
  const { logger, freeDiskBytes, diskCheckIntervalMs, fdCount, fdTotal, fdCheckIntervalMs, memoryUsed, memoryTotal, memoryCheckIntervalMs, clusterLeaseTtl, ...overrides } = options
  const config: BrokerConfig = { ...EMBEDDED_DEFAULTS }
  // an option given as undefined keeps its default (a spread would copy the undefined)
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v
  const log = logger ?? pino({ level: config.logLevel, base: { pid: process.pid } })
  // unreadable or mismatched certificate files are a clear error before anything listens
  checkTlsOptions(config)
  const tlsContext = tlsConfigured(config) ? loadSecureContext(config) : null
  // disk problems are a clear error before anything listens (DataDirError names the directory)
  ensureDataDir(config.dataDir)
  if (freeDiskBytes === undefined) assertFreeSpace(config.dataDir, config.diskFreeLimit)
  const types = new ExchangeTypeRegistry()
  registerBuiltinExchanges(types)
  const broker = new Broker(config, types, log)
  // --cluster: clients are refused (fenced) until this node holds its etcd lease
  if (config.cluster.length > 0) broker.cluster = new ClusterState(config.clusterName, broker.nodeName, broker.connections, log.child({ component: 'cluster' }))
  const storage = new Storage(config.dataDir, log.child({ component: 'store' }))
  // quorum queues recovered below are replicated leaders (core/cluster/replica-registry.ts)
  broker.cluster?.replicas.install(storage)
  broker.attachStorage(storage)
  const disk = new DiskMonitor({
    dir: config.dataDir,
    log,
    listener: broker,
    limit: config.diskFreeLimit,
    intervalMs: diskCheckIntervalMs,
    freeBytes: freeDiskBytes,
  })
  disk.start()
  const fds = new FdMonitor({ log, listener: broker, total: fdTotal, count: fdCount, intervalMs: fdCheckIntervalMs })
  fds.start()
  const memory = new MemoryMonitor({
    log,
    listener: broker,
    watermark: config.vmMemoryHighWatermark,
    total: memoryTotal,
    used: memoryUsed,
    intervalMs: memoryCheckIntervalMs,
  })
  memory.start()
  log.info({ limit: memory.limit, total: memory.total }, 'memory high watermark')

  // one budget for AMQP over TCP and over WebSocket; idle handshakes are cut after handshakeTimeout
  const limiter = new ConnectionLimiter(connectionCap(config.maxConnections), config.maxConnectionsPerIp, log)
  const handshakeLog = new LogThrottle(log, 'closing connection: handshake timeout')
  const handshakeWatch: HandshakeWatch = { timedOut: (fields) => handshakeLog.note(fields) }
  const sockets = new Set<net.Socket>()
  /** Counts a new TCP socket (AMQP, or AMQPS before its TLS handshake) against the caps; false: refused. */
  const admit = (socket: net.Socket): boolean => {
    if (broker.cluster !== null && !broker.cluster.holdsLease()) {
      // a cluster node without its etcd lease serves no one (core/cluster/cluster-state.ts)
      socket.on('error', () => {})
      socket.destroy()
      return false
    }
    if (broker.fdAlarmOn) {
      // the descriptors left serve the clients and queue stores already here (fd-monitor.ts)
      broker.fdRefused++
      log.debug({ peer: socket.remoteAddress }, 'connection refused: file descriptor alarm')
      socket.on('error', () => {})
      socket.destroy()
      return false
    }
    const ip = socket.remoteAddress
    if (!limiter.admit(ip)) {
      // RabbitMQ above connection_max: the socket is closed before the protocol header
      socket.on('error', () => {})
      socket.destroy()
      return false
    }
    socket.once('close', () => limiter.release(ip))
    return true
  }
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (!admit(socket)) return
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const conn = new Connection(broker, socket, 'AMQP 0-9-1', log, null, handshakeWatch)
    conn.directReads = attachDirectReads(socket, conn)
  })
  const host = config.bind === '' ? undefined : config.bind
  const address = await listen(server, config.amqpPort, host).catch(async (err: unknown) => {
    disk.stop()
    fds.stop()
    memory.stop()
    await storage.close()
    throw err
  })
  server.on('error', (err) => log.error({ err }, 'AMQP listener error'))
  broker.listeners.push({ protocol: 'amqp', ip: address.address, port: address.port })
  log.info({ maxConnections: limiter.maxTotal, maxConnectionsPerIp: limiter.maxPerIp, handshakeTimeoutMs: config.handshakeTimeout }, 'connection limits')
  log.info({ protocol: 'amqp', port: address.port, address: address.address }, `AMQP listening on ${formatHost(address.address)}:${address.port}`)

  const httpServers: (http.Server | https.Server)[] = []
  const ctx = { broker, log: log.child({ component: 'http' }) }
  let httpPort = -1
  let prometheusPort = -1
  let amqpsPort = -1
  let httpsPort = -1
  let cluster: ClusterNode | null = null
  const webAmqp: WebSocketListener[] = []
  const tlsReloader = new TlsReloader(config, log.child({ component: 'tls' }))
  let amqpsServer: tls.Server | null = null
  try {
  if (tlsContext !== null && config.amqpsPort >= 0) {
    const onSocket = (socket: TLSSocket): void => {
      // a client certificate that does not verify against --tls-ca: as a failed verify_peer handshake
      if (!admitPeer(socket)) return void socket.destroy()
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.setNoDelay(true)
      new Connection(broker, socket, 'AMQP 0-9-1', log, tlsPeer(socket), handshakeWatch)
    }
    const s = tls.createServer(tlsServerOptions(config, tlsContext), onSocket)
    // the caps apply from TCP accept, before the TLS handshake
    s.on('connection', (raw: net.Socket) => void admit(raw))
    // failed handshakes (TLS 1.1, a wrong CA, plain AMQP on the TLS port) only cost the client its socket
    s.on('tlsClientError', (err) => log.debug({ err: err.message, protocol: 'amqp/ssl' }, 'TLS handshake failed'))
    amqpsServer = s
    const a = await listen(s, config.amqpsPort, host)
    amqpsPort = a.port
    tlsReloader.servers.push(s)
    s.on('error', (err) => log.error({ err }, 'AMQPS listener error'))
    broker.listeners.push({ protocol: 'amqp/ssl', ip: a.address, port: a.port })
    log.info({ protocol: 'amqp/ssl', port: a.port, address: a.address }, `AMQPS listening on ${formatHost(a.address)}:${a.port}`)
  }
  if (config.httpPort >= 0) {
    const httpServer = http.createServer(createHttpHandler(ctx))
    const a = await listen(httpServer, config.httpPort, host)
    httpPort = a.port
    httpServers.push(httpServer)
    broker.listeners.push({ protocol: 'http', ip: a.address, port: a.port })
    webAmqp.push(attachWebSocket(httpServer, broker, log, 'http/web-amqp', { limiter, handshakeWatch }))
    log.info({ protocol: 'http', port: a.port, address: a.address }, `HTTP listening on ${formatHost(a.address)}:${a.port}`)
  }
  if (tlsContext !== null && config.httpsPort >= 0) {
    const httpsServer = createHttpsServer(config, tlsContext, createHttpHandler(ctx))
    httpsServer.on('tlsClientError', (err) => log.debug({ err: err.message, protocol: 'https' }, 'TLS handshake failed'))
    const a = await listen(httpsServer, config.httpsPort, host)
    httpsPort = a.port
    httpServers.push(httpsServer)
    tlsReloader.servers.push(httpsServer)
    broker.listeners.push({ protocol: 'https', ip: a.address, port: a.port })
    webAmqp.push(attachWebSocket(httpsServer, broker, log, 'https/web-amqp', { limiter, handshakeWatch }))
    log.info({ protocol: 'https', port: a.port, address: a.address }, `HTTPS listening on ${formatHost(a.address)}:${a.port}`)
  }
  if (config.prometheusPort >= 0) {
    const promServer = http.createServer(createPrometheusHandler(ctx))
    const a = await listen(promServer, config.prometheusPort, host)
    prometheusPort = a.port
    httpServers.push(promServer)
    broker.listeners.push({ protocol: 'http/prometheus', ip: a.address, port: a.port })
    log.info({ protocol: 'http/prometheus', port: a.port, address: a.address }, `Prometheus metrics on ${formatHost(a.address)}:${a.port}`)
  }
  if (config.cluster.length > 0) {
    // loaded only in cluster mode: a single node never loads the etcd client
    const { startClusterNode } = await import('./cluster/cluster-node.js')
    cluster = await startClusterNode(broker, config, { amqpPort: address.port, httpPort }, log, clusterLeaseTtl)
  }
  } catch (err) {
    // a port already in use: do not leave the listeners opened so far behind
    server.close()
    amqpsServer?.close()
    for (const h of httpServers) h.close()
    disk.stop()
    fds.stop()
    memory.stop()
    await storage.close()
    throw err
  }

  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    if (closing !== null) return closing
    closing = (async () => {
      closeAdmin(ctx)
      for (const h of httpServers) {
        h.close()
        h.closeAllConnections()
      }
      amqpsServer?.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const c of [...broker.connections]) c.forceClose("broker forced connection closure with reason 'shutdown'")
        // give clients a moment to answer close-ok, then cut whatever is left
        setTimeout(() => {
          for (const s of sockets) s.destroy()
          for (const w of webAmqp) w.close()
        }, 500).unref()
      })
      // leave the cluster: the member key goes now, not when the lease expires
      await cluster?.close()
      disk.stop()
      fds.stop()
      memory.stop()
      // every queue store flushed and closed: a clean restart recovers everything that was accepted
      await storage.close()
      log.info('broker stopped')
    })()
    return closing
  }

  return {
    broker,
    config,
    log,
    amqpPort: address.port,
    httpPort,
    prometheusPort,
    amqpsPort,
    httpsPort,
    clusterPort: cluster?.clusterPort ?? -1,
    clusterNode: cluster,
    reloadTls: () => (tlsContext === null ? null : tlsReloader.reload()),
    url: `amqp://guest:guest@127.0.0.1:${address.port}`,
    close,
  }
}

function listen(server: net.Server, port: number, host: string | undefined): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host }, () => {
      server.off('error', reject)
      resolve(server.address() as net.AddressInfo)
    })
  })
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address
}
