/**
 * AMQP reply codes and the broker's error types. Every protocol error raised anywhere in the broker is
 * one of these; `Channel.dispatch` and `Connection.onFrame` are the only places that catch them.
 */

/** Reply codes of AMQP 0-9-1 (RabbitMQ's names). */
export const ReplyCode = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const

export type ReplyCodeValue = (typeof ReplyCode)[keyof typeof ReplyCode]

const NAMES = new Map<number, string>(Object.entries(ReplyCode).map(([name, code]) => [code, name]))

/** `NOT_FOUND` for 404, as RabbitMQ prefixes its reply texts. */
export function replyName(code: number): string {
  return NAMES.get(code) ?? 'UNKNOWN'
}

/** Whether `code` is a hard error (one that closes the connection, as RabbitMQ sends it). */
export function isHardCode(code: number): boolean {
  return code === 320 || code === 402 || (code >= 501 && code <= 506) || code === 530 || code === 540 || code === 541
}

/** Base class: a protocol-level error with RabbitMQ's reply text format `NAME - detail`. */
export abstract class AmqpError extends Error {
  readonly replyText: string
  constructor(
    readonly code: number,
    readonly detail: string,
    public classId = 0,
    public methodId = 0,
  ) {
    super(`${replyName(code)} - ${detail}`)
    this.replyText = this.message.length > 255 ? this.message.slice(0, 255) : this.message
  }
  /** True for errors that close the whole connection. */
  abstract readonly hard: boolean
}

/** Closes the channel only (soft error: 311-313, 403-406). */
export class ChannelError extends AmqpError {
  readonly hard = false
  override readonly name = 'ChannelError'
}

/** Closes the connection (hard error: 320, 402, 501-506, 530, 540, 541). */
export class ConnectionError extends AmqpError {
  readonly hard = true
  override readonly name = 'ConnectionError'
}

export const notFound = (what: string, name: string, vhost: string): ChannelError =>
  new ChannelError(ReplyCode.NOT_FOUND, `no ${what} '${name}' in vhost '${vhost}'`)

export const preconditionFailed = (detail: string): ChannelError =>
  new ChannelError(ReplyCode.PRECONDITION_FAILED, detail)

export const accessRefused = (detail: string): ChannelError =>
  new ChannelError(ReplyCode.ACCESS_REFUSED, detail)

export const resourceLocked = (detail: string): ChannelError =>
  new ChannelError(ReplyCode.RESOURCE_LOCKED, detail)

/** Bytes of a method, table or property list that cannot be decoded (RabbitMQ: 501 "cannot decode"). */
export class DecodeError extends ConnectionError {
  constructor(detail: string) {
    super(ReplyCode.FRAME_ERROR, detail)
  }
}
