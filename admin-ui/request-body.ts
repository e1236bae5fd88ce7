/**
 * Reading and parsing management API request bodies without letting one request stall the broker.
 * A 19 MB `[[[…]]]` body once blocked the event loop (and AMQP with it) for 6.4 s and took 1.6 GB
 * of memory inside JSON.parse. So:
 *
 *  - each route has a size limit: the configured maximum (RabbitMQ's 20 MB) only for the routes
 *    that need large bodies (definitions import, publish), {@link SMALL_BODY_LIMIT} for the rest;
 *  - before JSON.parse, one pass over the bytes finds the nesting depth and refuses anything
 *    deeper than {@link MAX_JSON_DEPTH} with 400, so no deep structure is ever built;
 *  - bodies from {@link SLICED_PARSE_FROM} bytes on are parsed in slices (json-sliced-parse.ts).
 */
import type { IncomingMessage } from 'node:http'
import { badRequest, notJson, payloadTooLarge } from './http-errors.js'
import { parseJsonInSlices } from './json-sliced-parse.js'

/** Body limit of routes that take only small objects (declare, bind, user, policy, …). */
export const SMALL_BODY_LIMIT = 1024 * 1024

/** Deepest nesting of arrays and objects accepted in a request body. */
export const MAX_JSON_DEPTH = 64

/**
 * Reads the whole body. Past `limit` the rest is read and dropped so the client (which may still be
 * sending) gets a clean 413; a body past 4 × limit, or announced as such, is cut off instead.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const hardCap = limit * 4
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > hardCap) return Promise.reject(payloadTooLarge(limit, true))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > hardCap) {
        req.off('data', onData)
        req.pause()
        reject(payloadTooLarge(limit, true))
      } else if (size <= limit) chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => (size > limit ? reject(payloadTooLarge(limit, false)) : resolve(Buffer.concat(chunks))))
    req.once('error', reject)
  })
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/**
 * The deepest nesting of `{`/`[` outside strings, stopping as soon as it passes `limit`. Bytes of
 * multi-byte UTF-8 characters are all ≥ 0x80, so scanning bytes is exact; malformed JSON is left
 * to JSON.parse.
 */
export function jsonDepthExceeds(raw: Buffer, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--
  }
  return false
}

/** Bodies at least this large are parsed in slices (json-sliced-parse.ts). */
export const SLICED_PARSE_FROM = 256 * 1024

/**
 * Parses a JSON body: 400 `not_json` when malformed, 400 when nested deeper than MAX_JSON_DEPTH.
 * Large bodies are parsed in slices that let the event loop run in between.
 */
export async function parseJson(raw: Buffer): Promise<unknown> {
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) throw badRequest(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`)
  try {
    return raw.length >= SLICED_PARSE_FROM ? await parseJsonInSlices(raw) : JSON.parse(raw.toString('utf8'))
  } catch {
    throw notJson()
  }
}
