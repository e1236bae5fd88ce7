/**
 * Typed configuration with embedded defaults, and its parser from command-line flags and WARREN_*
 * environment variables (flags win). A bad value is refused with a message naming the option.
 */
import { isIP } from 'node:net'
import { DEFAULT_MEMORY_WATERMARK, formatWatermark, type MemoryWatermark } from './memory.js'

export interface BrokerConfig {
  /** AMQP listener port (0: any free port) */
  amqpPort: number
  /** HTTP port for management, WebSocket and console (0: any free port; -1: disabled) */
  httpPort: number
  /** Prometheus metrics port (0: any free port; -1: disabled) */
  prometheusPort: number
  /** interface to listen on; '' means all interfaces */
  bind: string
  dataDir: string
  logLevel: string
  /** heartbeat interval proposed in connection.tune, seconds */
  heartbeat: number
  frameMax: number
  channelMax: number
  /** largest message body accepted, bytes (RabbitMQ max_message_size: 128 MiB) */
  maxMessageSize: number
  /** consumer acknowledgement timeout in ms (RabbitMQ consumer_timeout: 30 min) */
  consumerTimeout: number
  /** how often the management API samples counters into rates, ms (RabbitMQ collect_statistics_interval) */
  statsInterval: number
  /** disk alarm below this many free bytes in the data dir's file system (RabbitMQ disk_free_limit) */
  diskFreeLimit: number
  /** memory alarm above this share of the memory (or this many bytes) in use (RabbitMQ vm_memory_high_watermark) */
  vmMemoryHighWatermark: MemoryWatermark
  /** AMQPS (AMQP over TLS) port, open when a certificate and key are configured (0: any free port; -1: disabled) */
  amqpsPort: number
  /** HTTPS port for management and WebSocket (WSS), open when a certificate and key are configured (-1: disabled) */
  httpsPort: number
  /** PEM file of the server certificate (chain); '' means no TLS listeners */
  tlsCert: string
  /** PEM file of the server certificate's private key */
  tlsKey: string
  /** PEM file of the CA certificates that client certificates are verified against ('' : no client certificates) */
  tlsCa: string
  /** RabbitMQ ssl_options.fail_if_no_peer_cert: refuse TLS clients without a verified certificate */
  tlsFailIfNoPeerCert: boolean

  /** ms a client has from TCP accept to connection.open-ok (RabbitMQ handshake_timeout: 10 s) */
  handshakeTimeout: number
  /** AMQP connections (TCP and WebSocket) at once; 0: derived from the open-file limit (transport/fd-limit.ts) */
  maxConnections: number
  /** AMQP connections at once from one source address; 0: no limit */
  maxConnectionsPerIp: number
  /** extra browser origins (scheme://host[:port]) allowed to open AMQP WebSockets, besides the page's own */
  wsAllowedOrigins: string[]

  /** etcd endpoints of the cluster to join (`etcd://host:port[,host:port]`, kept as http:// URLs); [] : a single node, no etcd */
  cluster: string[]
  /** this node's name in the cluster ('' : the host name) */
  nodeName: string
  /** the cluster's name: every etcd key lives under /warren/<clusterName>/ */
  clusterName: string
  /** port peers connect to for the node-to-node link (RabbitMQ's inter-node port 25672; 0: any free port) */
  clusterPort: number
  /** address peers should use to reach this node ('' : the --bind address when specific, else the host name) */
  advertiseAddress: string
}

export const DEFAULT_CONFIG: Readonly<BrokerConfig> = {
  amqpPort: 5672,
  httpPort: 15672,
  prometheusPort: 15692,
  bind: '',
  dataDir: './data',
  logLevel: 'info',
  heartbeat: 60,
  frameMax: 131072,
  channelMax: 2047,
  maxMessageSize: 128 * 1024 * 1024,
  consumerTimeout: 30 * 60 * 1000,
  statsInterval: 5000,
  diskFreeLimit: 50_000_000,
  vmMemoryHighWatermark: DEFAULT_MEMORY_WATERMARK,
  amqpsPort: 5671,
  httpsPort: 15671,
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  tlsFailIfNoPeerCert: false,

  handshakeTimeout: 10_000,
  maxConnections: 0,
  // one host rarely needs more; a flood from one address then cannot take every slot of the total cap
  maxConnectionsPerIp: 1000,
  wsAllowedOrigins: [],

  cluster: [],
  nodeName: '',
  clusterName: 'warren',
  clusterPort: 25672,
  advertiseAddress: '',
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

interface OptionSpec {
  key: keyof BrokerConfig
  flag: string
  env: string
  help: string
  parse: (raw: string) => string | number | boolean | string[] | MemoryWatermark
}

const port =
  (allowDisabled: boolean) =>
  (raw: string): number => {
    const n = Number(raw)
    if (!/^-?\d+$/.test(raw) || n > 65535 || n < (allowDisabled ? -1 : 0)) {
      throw new Error(`must be a port number from 0 to 65535${allowDisabled ? ' (or -1 to disable)' : ''}`)
    }
    return n
  }

const intRange =
  (min: number, max: number) =>
  (raw: string): number => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`must be an integer from ${min} to ${max}`)
    return n
  }

/** A path to a file; '' leaves the option unset. */
const filePath = (raw: string): string => raw

function bool(raw: string): boolean {
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw new Error('must be true or false')
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }

/** RabbitMQ's memory-size syntax for disk_free_limit: an integer with an optional unit. */
function byteSize(raw: string): number {
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(raw)
  const unit = m === null ? undefined : UNITS[m[2].toLowerCase()]
  if (m === null || unit === undefined) throw new Error('must be a number of bytes, optionally with kB, MB, GB, KiB, MiB or GiB')
  return Number(m[1]) * unit
}

/**
 * vm_memory_high_watermark: a fraction of the available memory written with a decimal point
 * (`0.4`, RabbitMQ's `.relative`), or an absolute size as for --disk-free-limit (`512MiB`, `1GB`,
 * `1073741824`; RabbitMQ's `.absolute`).
 */
function memoryWatermark(raw: string): MemoryWatermark {
  if (/^\d*\.\d+$/.test(raw)) {
    const f = Number(raw)
    if (f > 1) throw new Error('a fraction must be from 0 to 1')
    return { relative: f }
  }
  try {
    return { absolute: byteSize(raw) }
  } catch {
    throw new Error('must be a fraction of the memory (0.4) or a size (bytes, or with kB, MB, GB, KiB, MiB or GiB)')
  }
}

/** A comma-separated list of browser origins: scheme://host[:port], kept lower-case without a trailing slash. */
function originList(raw: string): string[] {
  const out: string[] = []
  for (const part of raw.split(',')) {
    const o = part.trim()
    if (o === '') continue
    let url: URL
    try {
      url = new URL(o)
    } catch {
      throw new Error(`'${o}' is not an origin like http://example.com:8080`)
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== o.toLowerCase().replace(/\/$/, '')) {
      throw new Error(`'${o}' is not an origin like http://example.com:8080`)
    }
    out.push(url.origin)
  }
  return out
}

/** `etcd://host:port[,host:port]` → the client URLs (http://host:port) of the etcd members. */
function etcdEndpoints(raw: string): string[] {
  if (raw === '') return []
  const m = /^etcd:\/\/(.+)$/.exec(raw)
  if (m === null) throw new Error('must be etcd://host:port[,host:port]')
  return m[1].split(',').map((hp) => {
    const ep = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hp.trim())
    if (ep === null || Number(ep[2]) < 1 || Number(ep[2]) > 65535) throw new Error(`'${hp}' is not host:port (in etcd://host:port[,host:port])`)
    return `http://${ep[1]}:${ep[2]}`
  })
}

/** Node and cluster names: they become etcd key segments and RabbitMQ-style node names. */
function clusterName(raw: string): string {
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(raw)) throw new Error('must be 1 to 64 letters, digits, or _ . @ -')
  return raw
}

export const OPTIONS: OptionSpec[] = [
  { key: 'amqpPort', flag: '--amqp-port', env: 'WARREN_AMQP_PORT', help: 'AMQP port (0 picks a free port)', parse: port(false) },
  { key: 'httpPort', flag: '--http-port', env: 'WARREN_HTTP_PORT', help: 'HTTP port for management and WebSocket (-1 disables)', parse: port(true) },
  { key: 'prometheusPort', flag: '--prometheus-port', env: 'WARREN_PROMETHEUS_PORT', help: 'Prometheus metrics port (-1 disables)', parse: port(true) },
  {
    key: 'bind',
    flag: '--bind',
    env: 'WARREN_BIND',
    help: 'address to listen on (default: all interfaces)',
    parse: (raw) => {
      if (raw !== '' && raw !== 'localhost' && isIP(raw) === 0) throw new Error('must be an IP address or localhost')
      return raw
    },
  },
  {
    key: 'dataDir',
    flag: '--data-dir',
    env: 'WARREN_DATA_DIR',
    help: 'directory for durable data',
    parse: (raw) => {
      if (raw.trim() === '') throw new Error('must not be empty')
      return raw
    },
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'WARREN_LOG_LEVEL',
    help: `log level (${LOG_LEVELS.join(', ')})`,
    parse: (raw) => {
      if (!LOG_LEVELS.includes(raw)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`)
      return raw
    },
  },
  { key: 'heartbeat', flag: '--heartbeat', env: 'WARREN_HEARTBEAT', help: 'heartbeat seconds proposed to clients (0 disables)', parse: intRange(0, 65535) },
  { key: 'frameMax', flag: '--frame-max', env: 'WARREN_FRAME_MAX', help: 'largest frame, bytes', parse: intRange(4096, 1 << 30) },
  { key: 'channelMax', flag: '--channel-max', env: 'WARREN_CHANNEL_MAX', help: 'channels per connection', parse: intRange(1, 65535) },
  { key: 'maxMessageSize', flag: '--max-message-size', env: 'WARREN_MAX_MESSAGE_SIZE', help: 'largest message body, bytes', parse: intRange(1, 512 * 1024 * 1024) },
  { key: 'consumerTimeout', flag: '--consumer-timeout', env: 'WARREN_CONSUMER_TIMEOUT', help: 'ms a delivery may stay unacked', parse: intRange(1, 2 ** 31 - 1) },
  { key: 'diskFreeLimit', flag: '--disk-free-limit', env: 'WARREN_DISK_FREE_LIMIT', help: 'disk alarm below this free space (bytes, or with kB/MB/GB/KiB/MiB/GiB)', parse: byteSize },
  {
    key: 'vmMemoryHighWatermark',
    flag: '--vm-memory-high-watermark',
    env: 'WARREN_VM_MEMORY_HIGH_WATERMARK',
    help: 'memory alarm above this fraction of RAM or cgroup limit (0.4), or size (512MiB)',
    parse: memoryWatermark,
  },
  { key: 'amqpsPort', flag: '--amqps-port', env: 'WARREN_AMQPS_PORT', help: 'AMQPS port, open when --tls-cert and --tls-key are set (-1 disables)', parse: port(true) },
  { key: 'httpsPort', flag: '--https-port', env: 'WARREN_HTTPS_PORT', help: 'HTTPS/WSS port, open when --tls-cert and --tls-key are set (-1 disables)', parse: port(true) },
  { key: 'tlsCert', flag: '--tls-cert', env: 'WARREN_TLS_CERT', help: 'server certificate (PEM file); with --tls-key turns TLS on', parse: filePath },
  { key: 'tlsKey', flag: '--tls-key', env: 'WARREN_TLS_KEY', help: 'server private key (PEM file)', parse: filePath },
  { key: 'tlsCa', flag: '--tls-ca', env: 'WARREN_TLS_CA', help: 'CA certificates (PEM file) client certificates are verified against', parse: filePath },
  { key: 'tlsFailIfNoPeerCert', flag: '--tls-fail-if-no-peer-cert', env: 'WARREN_TLS_FAIL_IF_NO_PEER_CERT', help: 'refuse TLS clients without a certificate signed by --tls-ca (true/false)', parse: bool },

  { key: 'handshakeTimeout', flag: '--handshake-timeout', env: 'WARREN_HANDSHAKE_TIMEOUT', help: 'ms a client has to complete the AMQP handshake', parse: intRange(1, 2 ** 31 - 1) },
  { key: 'maxConnections', flag: '--max-connections', env: 'WARREN_MAX_CONNECTIONS', help: 'AMQP connections at once (0: 90% of the open-file limit)', parse: intRange(0, 2 ** 31 - 1) },
  { key: 'maxConnectionsPerIp', flag: '--max-connections-per-ip', env: 'WARREN_MAX_CONNECTIONS_PER_IP', help: 'AMQP connections at once from one address (0: no limit)', parse: intRange(0, 2 ** 31 - 1) },
  { key: 'wsAllowedOrigins', flag: '--ws-allowed-origins', env: 'WARREN_WS_ALLOWED_ORIGINS', help: 'comma list of other browser origins allowed to open AMQP WebSockets', parse: originList },
  { key: 'cluster', flag: '--cluster', env: 'WARREN_CLUSTER', help: 'join the cluster coordinated by these etcd endpoints: etcd://host:port[,host:port]', parse: etcdEndpoints },
  { key: 'nodeName', flag: '--node-name', env: 'WARREN_NODE_NAME', help: 'node name in the cluster (default: the host name)', parse: (raw) => (raw === '' ? '' : clusterName(raw)) },
  { key: 'clusterName', flag: '--cluster-name', env: 'WARREN_CLUSTER_NAME', help: 'cluster name (etcd keys under /warren/<name>/)', parse: clusterName },
  { key: 'clusterPort', flag: '--cluster-port', env: 'WARREN_CLUSTER_PORT', help: 'port for the links from the other nodes (0 picks a free port)', parse: port(false) },
  {
    key: 'advertiseAddress',
    flag: '--advertise-address',
    env: 'WARREN_ADVERTISE_ADDRESS',
    help: 'address the other nodes use to reach this one (default: --bind when specific, else the host name)',
    parse: (raw) => {
      if (raw !== '' && isIP(raw) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(raw)) throw new Error('must be an IP address or a host name')
      return raw
    },
  },
  { key: 'statsInterval', flag: '--stats-interval', env: 'WARREN_STATS_INTERVAL', help: 'ms between management rate samples', parse: intRange(10, 3_600_000) },
]

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/** Parses flags (`--x value` or `--x=value`) and environment. Returns null for --help. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BrokerConfig | null {
  const cfg: BrokerConfig = { ...DEFAULT_CONFIG }
  const apply = (o: OptionSpec, raw: string, source: string): void => {
    try {
      ;(cfg as unknown as Record<string, unknown>)[o.key] = o.parse(raw)
    } catch (err) {
      throw new ConfigError(`invalid ${source} '${raw}': ${(err as Error).message}`)
    }
  }
  for (const o of OPTIONS) {
    const raw = env[o.env]
    if (raw !== undefined) apply(o, raw, o.env)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') return null
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const o = OPTIONS.find((x) => x.flag === flag)
    if (o === undefined) throw new ConfigError(`unknown option '${arg}' (see --help)`)
    let raw: string
    if (eq > 0) raw = arg.slice(eq + 1)
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`option ${flag} needs a value`)
      raw = argv[++i]
    }
    apply(o, raw, flag)
  }
  // TLS needs both halves of the key pair; client certificates need a CA to verify them against
  if ((cfg.tlsCert === '') !== (cfg.tlsKey === '')) {
    throw new ConfigError(cfg.tlsCert === '' ? '--tls-key needs --tls-cert (WARREN_TLS_CERT)' : '--tls-cert needs --tls-key (WARREN_TLS_KEY)')
  }
  if (cfg.tlsFailIfNoPeerCert && cfg.tlsCa === '') throw new ConfigError('--tls-fail-if-no-peer-cert needs --tls-ca (WARREN_TLS_CA)')
  return cfg
}

export function helpText(): string {
  const lines = ['Usage: warren [options]', '', 'Options (each can also be set by its environment variable):']
  for (const o of OPTIONS) {
    const dflt = DEFAULT_CONFIG[o.key]
    const shown =
      o.key === 'vmMemoryHighWatermark'
        ? formatWatermark(DEFAULT_CONFIG.vmMemoryHighWatermark)
        : Array.isArray(dflt)
          ? dflt.length === 0
            ? 'none'
            : dflt.join(',')
          : dflt === ''
            ? o.key === 'bind'
              ? 'all'
              : 'none'
            : dflt
    lines.push(`  ${(o.flag + ' <value>').padEnd(32)} ${o.env.padEnd(32)} ${o.help} [default: ${shown}]`)
  }
  lines.push(`  ${'--help'.padEnd(32)} ${''.padEnd(32)} show this help`)
  return lines.join('\n')
}
