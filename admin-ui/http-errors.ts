/**
 * Every error the management API answers with, in one registry (in the spirit of core/errors.ts):
 * an HttpError carries the status and RabbitMQ's JSON body `{"error": …, "reason": …}`. Handlers
 * throw them; `http-api.ts` is the only place that catches and writes them.
 */
import { AmqpError, ReplyCode } from '../core/errors.js'

/** An HTTP error answer with RabbitMQ's JSON body. */
export class HttpError extends Error {
  override readonly name = 'HttpError'
  constructor(
    readonly status: number,
    /** RabbitMQ's `error` field ("bad_request", "not_found", …) */
    readonly error: string,
    /** RabbitMQ's `reason` field */
    readonly reason: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${status} ${error}: ${reason}`)
  }

  /** The JSON body. */
  body(): Record<string, unknown> {
    return { error: this.error, reason: this.reason }
  }
}

/** RabbitMQ's realm; browsers and rabbitmqadmin show it in the login prompt. */
export const AUTH_REALM = 'Basic realm="RabbitMQ Management"'

/** Unknown route or object (RabbitMQ: `{"error":"Object Not Found","reason":"Not Found"}`). */
export const objectNotFound = (): HttpError => new HttpError(404, 'Object Not Found', 'Not Found')

/** An AMQP-level NOT_FOUND (RabbitMQ: `not_found` with the AMQP explanation). */
export const notFound = (reason: string): HttpError => new HttpError(404, 'not_found', reason)

/** 400 `bad_request` with a reason (RabbitMQ's answer to invalid input and 406 errors). */
export const badRequest = (reason: string): HttpError => new HttpError(400, 'bad_request', reason)

/** Malformed JSON body (RabbitMQ's exact reason). */
export const notJson = (): HttpError => badRequest('not_json')

/** Missing or wrong credentials: 401 with the WWW-Authenticate challenge. */
export const loginFailed = (reason = 'Login failed'): HttpError =>
  new HttpError(401, 'not_authorized', reason, { 'www-authenticate': AUTH_REALM })

/** Authenticated, but not allowed (RabbitMQ answers 401 `not_authorised` for these too). */
export const notAuthorised = (reason: string): HttpError => new HttpError(401, 'not_authorised', reason)

/** 405 with the Allow header. */
export const methodNotAllowed = (allow: readonly string[]): HttpError =>
  new HttpError(405, 'method_not_allowed', `method not allowed; allowed: ${allow.join(', ')}`, { allow: allow.join(', ') })

/** 413; `close` when the rest of the body is not read (the connection must go). */
export const payloadTooLarge = (limit: number, close: boolean): HttpError =>
  new HttpError(413, 'payload_too_large', `request body is larger than the limit of ${limit} bytes`, close ? { connection: 'close' } : {})

/** 503 for a failed health check, with RabbitMQ's body shape. */
export class HealthCheckFailed extends HttpError {
  constructor(readonly details: Record<string, unknown>) {
    super(503, 'failed', String(details.reason ?? 'failed'))
  }
  override body(): Record<string, unknown> {
    return { status: 'failed', ...this.details }
  }
}

/**
 * The management API's answer when its internal AMQP channel was closed by the broker
 * (rabbit_mgmt_util:bad_request_exception): 400 with `"<code> <reply text>"`.
 */
export const channelClosed = (err: AmqpError): HttpError => badRequest(`${err.code} ${err.replyText}`)

/**
 * Maps a core AMQP error to RabbitMQ's management answer (rabbit_mgmt_util:direct_request):
 * NOT_FOUND → 404 with the explanation, ACCESS_REFUSED / NOT_ALLOWED → 401 "Access refused.",
 * everything else (406 inequivalent arg, 405 locked, 503 unknown type, …) → 400 with the explanation.
 */
export function fromAmqpError(err: AmqpError): HttpError {
  switch (err.code) {
    case ReplyCode.NOT_FOUND:
      return notFound(err.detail)
    case ReplyCode.ACCESS_REFUSED:
    case ReplyCode.NOT_ALLOWED:
      return notAuthorised('Access refused.')
    default:
      return badRequest(err.detail)
  }
}
