/**
 * Method frame payload codec, driven by the method table in spec.ts: decode any client→server
 * method into a plain object of camelCase fields, encode any server→client method from an argument
 * list in spec order. The per-message methods (basic.publish, basic.ack) have hand-written decoders.
 */
import { isUtf8 } from 'node:buffer'
import { ConnectionError, DecodeError, preconditionFailed, ReplyCode } from '../../core/errors.js'
import { Decoder, Encoder, type FieldTable } from '../../core/wire/field-table.js'
import { CLASS_BASIC, CLASS_CONNECTION, key } from './constants.js'
import { METHODS, type MethodSpec } from './spec.js'

const SPECS = new Map<number, MethodSpec>(METHODS.map((m) => [key(m.classId, m.methodId), m]))

export function methodSpec(classId: number, methodId: number): MethodSpec | undefined {
  return SPECS.get(key(classId, methodId))
}

export function methodName(classId: number, methodId: number): string {
  return SPECS.get(key(classId, methodId))?.name ?? `unknown(${classId},${methodId})`
}

/** Decoded arguments of a method: field names as in spec.ts (camelCase). */
export type MethodArgs = Record<string, string | number | boolean | FieldTable | Buffer>

const dec = new Decoder(Buffer.alloc(0), 0, 0)

/**
 * Decodes method arguments from buf[start, end) (after class-id and method-id). Throws 503 for an
 * unknown method and 501 for arguments that cannot be decoded.
 */
export function decodeArgs(spec: MethodSpec, buf: Buffer, start: number, end: number): MethodArgs {
  const d = dec.reset(buf, start, end)
  const out: MethodArgs = {}
  let bitOctet = 0
  let bit = 8
  for (const [name, type] of spec.args) {
    if (type === 'bit') {
      if (bit === 8) {
        bitOctet = d.octet()
        bit = 0
      }
      out[name] = (bitOctet & (1 << bit++)) !== 0
      continue
    }
    bit = 8
    switch (type) {
      case 'octet':
        out[name] = d.octet()
        break
      case 'short':
        out[name] = d.short()
        break
      case 'long':
        out[name] = d.long()
        break
      case 'longlong':
      case 'timestamp':
        out[name] = d.longlong()
        break
      case 'shortstr': {
        const at = d.pos + 1
        const s = d.shortstr()
        if (s.includes(REPLACEMENT)) checkUtf8(buf, at, d.pos, spec, name)
        out[name] = s
        break
      }
      case 'longstr':
        out[name] = d.longstrBytes()
        break
      case 'table':
        out[name] = d.table()
        break
    }
  }
  return out
}

/** U+FFFD: what toString('utf8') puts where bytes are not UTF-8 (or a real U+FFFD in the name). */
const REPLACEMENT = '\uFFFD'

/**
 * Names are byte strings in AMQP (RabbitMQ keeps them as binaries). Warren keeps names as JS
 * strings, so bytes that are not UTF-8 would be replaced by U+FFFD: two names would collide and a
 * 255-byte name would re-encode longer than a short string can hold. Such a name is refused:
 * 406 PRECONDITION_FAILED on a channel, 501 FRAME_ERROR in the connection class (channel 0).
 */
function checkUtf8(buf: Buffer, start: number, end: number, spec: MethodSpec, field: string): void {
  if (isUtf8(buf.subarray(start, end))) return
  const detail = `${field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} in ${spec.name} is not valid UTF-8`
  if (spec.classId === CLASS_CONNECTION) throw new DecodeError(detail)
  throw preconditionFailed(detail)
}

export function lookupMethod(classId: number, methodId: number): MethodSpec {
  const spec = SPECS.get(key(classId, methodId))
  if (spec === undefined) {
    throw new ConnectionError(ReplyCode.COMMAND_INVALID, `unknown method class ${classId} method ${methodId}`)
  }
  return spec
}

/** Encodes class-id, method-id and arguments (in spec order) into `e`. */
export function encodeMethod(e: Encoder, classId: number, methodId: number, args: readonly unknown[]): void {
  const spec = SPECS.get(key(classId, methodId))
  if (spec === undefined) throw new Error(`no such method ${classId}.${methodId}`)
  e.short(classId)
  e.short(methodId)
  let bitAt = -1
  let bit = 8
  for (let i = 0; i < spec.args.length; i++) {
    const type = spec.args[i][1]
    const v = args[i]
    if (type === 'bit') {
      if (bit === 8) {
        e.octet(0)
        bitAt = e.pos - 1
        bit = 0
      }
      if (v) e.buf[bitAt] |= 1 << bit
      bit++
      continue
    }
    bit = 8
    switch (type) {
      case 'octet':
        e.octet((v as number) ?? 0)
        break
      case 'short':
        e.short((v as number) ?? 0)
        break
      case 'long':
        e.long((v as number) ?? 0)
        break
      case 'longlong':
      case 'timestamp':
        e.longlong((v as number) ?? 0)
        break
      case 'shortstr':
        e.shortstr((v as string) ?? '')
        break
      case 'longstr':
        e.longstr((v as string | Buffer) ?? '')
        break
      case 'table':
        e.table(v as FieldTable | undefined)
        break
    }
  }
}

/** basic.publish arguments, decoded into a reused object on the hot path. */
export interface PublishArgs {
  exchange: string
  routingKey: string
  mandatory: boolean
  immediate: boolean
}

const PUBLISH_SPEC = SPECS.get(key(CLASS_BASIC, 40))!

/** Decodes basic.publish from buf[start, end) (after class and method ids). */
export function decodePublish(buf: Buffer, start: number, end: number, out: PublishArgs): PublishArgs {
  const d = dec.reset(buf, start, end)
  d.short() // deprecated ticket
  let at = d.pos + 1
  out.exchange = d.shortstr()
  if (out.exchange.includes(REPLACEMENT)) checkUtf8(buf, at, d.pos, PUBLISH_SPEC, 'exchange')
  at = d.pos + 1
  out.routingKey = d.shortstr()
  if (out.routingKey.includes(REPLACEMENT)) checkUtf8(buf, at, d.pos, PUBLISH_SPEC, 'routing-key')
  const bits = d.octet()
  out.mandatory = (bits & 1) !== 0
  out.immediate = (bits & 2) !== 0
  return out
}
