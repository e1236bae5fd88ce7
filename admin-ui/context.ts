/**
 * Types shared by the management API: the context every handler gets (broker, logger, rate sampler),
 * the parsed request and the reply a handler returns.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import type { Broker } from '../core/broker.js'
import type { User } from '../core/users.js'
import type { Sampler } from './rates.js'

/** What the composition root hands to the HTTP handlers. */
export interface AdminContext {
  broker: Broker
  log: Logger
  /** largest request body accepted, bytes (RabbitMQ management.http.max_body_size: 20 MB) */
  maxBodySize?: number
}

/** AdminContext plus what the API builds once per broker. */
export interface ApiContext {
  readonly broker: Broker
  readonly log: Logger
  readonly sampler: Sampler
  readonly maxBodySize: number
}

/** A request as handlers see it: authenticated, routed, body parsed. */
export interface ApiRequest {
  readonly ctx: ApiContext
  readonly method: string
  /** decoded path parameters (`:vhost`, `:name`, …) */
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  /** the authenticated user */
  readonly user: User
  /** the parsed JSON body; undefined when the request has none */
  readonly body: unknown
}

/** What a handler answers; http-api.ts serializes it. */
export interface ApiReply {
  status: number
  /** serialized as JSON; undefined: no body */
  body?: unknown
  headers?: Record<string, string>
}

/** 200 with a JSON body. */
export const ok = (body: unknown): ApiReply => ({ status: 200, body })

/** 204 No Content (RabbitMQ's answer to DELETE and to PUT of an existing object). */
export const noContent = (): ApiReply => ({ status: 204 })

/** 201 Created, with a Location header when given. */
export const created = (location?: string): ApiReply => ({
  status: 201,
  headers: location === undefined ? undefined : { location },
})

/** A route handler; it throws HttpError/AmqpError for failures. */
export type Handler = (req: ApiRequest) => ApiReply | Promise<ApiReply>
