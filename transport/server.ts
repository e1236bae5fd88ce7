/**
 * Composition root for embedding and tests: builds the Broker, registers the exchange types and
 * opens the listeners. `startBroker({ amqpPort: 0, dataDir })` → `broker.amqpPort`, `broker.close()`.
 */
import http from 'node:http'
import net from 'node:net'
import { pino, type Logger } from 'pino'
import { Broker } from '../core/broker.js'
import { DEFAULT_CONFIG, type BrokerConfig } from '../core/config.js'
import { ExchangeTypeRegistry } from '../core/exchange.js'
import { FdMonitor } from '../core/fd-monitor.js'
import { Storage } from '../core/storage.js'
import { assertFreeSpace, DiskMonitor, ensureDataDir } from '../core/store/disk.js'
import { registerBuiltinExchanges } from '../exchanges/index.js'
import { closeAdmin, createHttpHandler, createPrometheusHandler } from '../admin-ui/http-api.js'
import { Connection } from './connection.js'
import { attachWebSocket, type WebSocketListener } from './ws-server.js'

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
  /** AMQP URL for local clients, e.g. amqp://guest:guest@127.0.0.1:5672 */
  readonly url: string
  /** Stops listening, closes every connection with 320 CONNECTION_FORCED, and resolves when done. */
  close(): Promise<void>
}

export async function startBroker(options: StartOptions = {}): Promise<RunningBroker> {
  const { logger, freeDiskBytes, diskCheckIntervalMs, fdCount, fdTotal, fdCheckIntervalMs, ...overrides } = options
  const config: BrokerConfig = { ...DEFAULT_CONFIG, ...overrides }
  const log = logger ?? pino({ level: config.logLevel, base: { pid: process.pid } })
  // disk problems are a clear error before anything listens (DataDirError names the directory)
  ensureDataDir(config.dataDir)
  if (freeDiskBytes === undefined) assertFreeSpace(config.dataDir, config.diskFreeLimit)
  const types = new ExchangeTypeRegistry()
  registerBuiltinExchanges(types)
  const broker = new Broker(config, types, log)
  const storage = new Storage(config.dataDir, log.child({ component: 'store' }))
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

  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (broker.fdAlarmOn) {
      // the descriptors left serve the clients and queue stores already here (fd-monitor.ts)
      broker.fdRefused++
      log.debug({ peer: socket.remoteAddress }, 'connection refused: file descriptor alarm')
      socket.destroy()
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    new Connection(broker, socket, 'AMQP 0-9-1', log)
  })
  const host = config.bind === '' ? undefined : config.bind
  const address = await listen(server, config.amqpPort, host).catch(async (err: unknown) => {
    disk.stop()
    fds.stop()
    await storage.close()
    throw err
  })
  server.on('error', (err) => log.error({ err }, 'AMQP listener error'))
  broker.listeners.push({ protocol: 'amqp', ip: address.address, port: address.port })
  log.info({ protocol: 'amqp', port: address.port, address: address.address }, `AMQP listening on ${formatHost(address.address)}:${address.port}`)

  const httpServers: http.Server[] = []
  const ctx = { broker, log: log.child({ component: 'http' }) }
  let httpPort = -1
  let prometheusPort = -1
  let webAmqp: WebSocketListener | null = null
  try {
  if (config.httpPort >= 0) {
    const httpServer = http.createServer(createHttpHandler(ctx))
    const a = await listen(httpServer, config.httpPort, host)
    httpPort = a.port
    httpServers.push(httpServer)
    broker.listeners.push({ protocol: 'http', ip: a.address, port: a.port })
    webAmqp = attachWebSocket(httpServer, broker, log)
    log.info({ protocol: 'http', port: a.port, address: a.address }, `HTTP listening on ${formatHost(a.address)}:${a.port}`)
  }
  if (config.prometheusPort >= 0) {
    const promServer = http.createServer(createPrometheusHandler(ctx))
    const a = await listen(promServer, config.prometheusPort, host)
    prometheusPort = a.port
    httpServers.push(promServer)
    broker.listeners.push({ protocol: 'http/prometheus', ip: a.address, port: a.port })
    log.info({ protocol: 'http/prometheus', port: a.port, address: a.address }, `Prometheus metrics on ${formatHost(a.address)}:${a.port}`)
  }
  } catch (err) {
    // a port already in use: do not leave the listeners opened so far behind
    server.close()
    for (const h of httpServers) h.close()
    disk.stop()
    fds.stop()
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
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const c of [...broker.connections]) c.forceClose("broker forced connection closure with reason 'shutdown'")
        // give clients a moment to answer close-ok, then cut whatever is left
        setTimeout(() => {
          for (const s of sockets) s.destroy()
          webAmqp?.close()
        }, 500).unref()
      })
      disk.stop()
      fds.stop()
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
