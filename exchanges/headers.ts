/**
 * The headers exchange: a binding's arguments are matched against the message's headers table; the
 * routing key is ignored.
 *
 * Semantics follow RabbitMQ's rabbit_exchange_type_headers (3.13 / 4.x):
 * - `x-match` selects the mode: "all" (also when absent or anything else), "any", "all-with-x",
 *   "any-with-x". With all/any, binding arguments whose key starts with "x-" take no part; with the
 *   *-with-x modes they do (only "x-match" itself is always skipped).
 * - An argument whose value is void (null) matches when the header is present, with any value.
 *   Otherwise the header must be present with an equal value (RabbitMQ compares with `=:=`, so
 *   types matter: the string "1" never equals the number 1, true never equals 1).
 * - "all" is true when no considered argument fails, so a binding with no considered arguments
 *   matches every message, even one without headers; "any" needs one argument to match, so such a
 *   binding matches nothing. A message without headers is treated as an empty table.
 */
import type { Binding, Destination, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'
import { fieldValuesEqual, type FieldTable, type FieldValue } from '../core/wire/field-table.js'
import { amqpTypeName, formatErlangValue } from './erlang-term.js'

const X_MATCH_VALUES = new Set(['all', 'any', 'all-with-x', 'any-with-x'])

/**
 * RabbitMQ's validate_binding for headers exchanges: the error text for an invalid `x-match`
 * argument (to be raised as 406 PRECONDITION_FAILED), or undefined when the arguments are valid.
 * A missing `x-match` is valid ("all").
 */
export function validateHeadersBindingArgs(args: FieldTable): string | undefined {
  if (!Object.hasOwn(args, 'x-match')) return undefined
  const v = args['x-match']
  if (typeof v === 'string') {
    if (X_MATCH_VALUES.has(v)) return undefined
    return `Invalid x-match field value ${formatErlangValue(v)}; expected all, any, all-with-x, or any-with-x`
  }
  return `Invalid x-match field type ${amqpTypeName(v)} (value ${formatErlangValue(v)}); expected longstr`
}

/** A binding's arguments, pre-digested for matching. */
interface HeadersSpec {
  readonly any: boolean
  readonly keys: string[]
  readonly values: FieldValue[]
  /** true where the argument is void: presence of the header is enough */
  readonly presence: boolean[]
}

interface HeadersBinding extends HeadersSpec {
  readonly destination: Destination
  /** position in the router's list */
  index: number
}

function compile(args: FieldTable): HeadersSpec {
  const mode = args['x-match']
  const withX = mode === 'all-with-x' || mode === 'any-with-x'
  const spec: HeadersSpec = { any: mode === 'any' || mode === 'any-with-x', keys: [], values: [], presence: [] }
  for (const key of Object.keys(args)) {
    if (key === 'x-match' || (!withX && key.startsWith('x-'))) continue
    const value = args[key]
    spec.keys.push(key)
    spec.values.push(value)
    spec.presence.push(value === null)
  }
  return spec
}

/**
 * Header value equality. Decoded values carry no wire type, so this is fieldValuesEqual plus one
 * case RabbitMQ also treats as equal: a longstr and a byte array ('x') with the same bytes (both
 * are Erlang binaries).
 */
function headerValueEquals(header: FieldValue, arg: FieldValue): boolean {
  if (fieldValuesEqual(header, arg)) return true
  if (typeof header === 'string' && Buffer.isBuffer(arg)) return arg.equals(Buffer.from(header, 'utf8'))
  if (typeof arg === 'string' && Buffer.isBuffer(header)) return header.equals(Buffer.from(arg, 'utf8'))
  return false
}

function specMatches(spec: HeadersSpec, headers: FieldTable | undefined): boolean {
  const { keys, values, presence } = spec
  if (spec.any) {
    if (headers === undefined) return false
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]
      if (Object.hasOwn(headers, k) && (presence[i] || headerValueEquals(headers[k], values[i]))) return true
    }
    return false
  }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (headers === undefined || !Object.hasOwn(headers, k)) return false
    if (!presence[i] && !headerValueEquals(headers[k], values[i])) return false
  }
  return true
}

/** Whether a message with `headers` matches a binding with arguments `bindingArgs`. */
export function headersMatch(bindingArgs: FieldTable, headers: FieldTable | undefined): boolean {
  return specMatches(compile(bindingArgs), headers)
}

/** Router of one headers exchange: every binding is checked against each message's headers. */
export class HeadersRouter implements ExchangeRouter {
  private readonly byId = new Map<string, HeadersBinding>()
  private readonly list: HeadersBinding[] = []

  validateBinding(args: FieldTable): string | undefined {
    return validateHeadersBindingArgs(args)
  }

  bind(binding: Binding): void {
    if (this.byId.has(binding.id)) return
    const b: HeadersBinding = { ...compile(binding.arguments), destination: binding.destination, index: this.list.length }
    this.byId.set(binding.id, b)
    this.list.push(b)
  }

  unbind(binding: Binding): void {
    const b = this.byId.get(binding.id)
    if (b === undefined) return
    this.byId.delete(binding.id)
    const last = this.list.pop()!
    if (last !== b) {
      this.list[b.index] = last
      last.index = b.index
    }
  }

  route(message: Message, _routingKey: string, out: RouteTarget): void {
    const list = this.list
    if (list.length === 0) return
    const headers = message.headers
    for (let i = 0; i < list.length; i++) {
      const b = list[i]
      if (specMatches(b, headers)) out.add(b.destination)
    }
  }

  /** Number of bindings held (for tests and diagnostics). */
  get size(): number {
    return this.list.length
  }
}

/** Factory registered as the "headers" exchange type. */
export const headersRouterFactory: RouterFactory = (_exchange: Exchange, _vhost: VHost) => new HeadersRouter()
