/**
 * The HTTP side of the broker: management API (RabbitMQ-compatible), and later the console.
 * The composition root (transport/server.ts) owns the http.Server and routes requests here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Broker } from '../core/broker.js'

export interface AdminContext {
  broker: Broker
  log: Logger
}

/** Returns the request handler for the HTTP port. */
export function createHttpHandler(ctx: AdminContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    ctx.log.debug({ method: req.method, url: req.url }, 'http request')
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'Object Not Found', reason: 'Not Found' }))
  }
}

/** Returns the request handler for the Prometheus port. */
export function createPrometheusHandler(ctx: AdminContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  }
}
