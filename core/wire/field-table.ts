/**
 * AMQP 0-9-1 field tables and arrays, with RabbitMQ's field types (its errata to the spec):
 * t b B s u I i l f d D S A T F V x. Decoding works on a cursor over a Buffer; encoding writes into a
 * growable Buffer. Values map to JS as: booleans, numbers (64-bit integers outside the safe range as
 * bigint), strings (S), Buffers (x), Date (T), Decimal (D), arrays (A), plain objects (F), null (V).
 */
import { DecodeError } from '../errors.js'

export class Decimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | Date
  | Decimal
  | FieldValue[]
  | FieldTable
export interface FieldTable {
  [key: string]: FieldValue
}

/**
 * Deepest nesting of tables/arrays accepted when decoding. Without a limit a small frame of nested
 * 'A' or 'F' headers (5 bytes a level) overflows the JS stack with a RangeError instead of a 501.
 */
const MAX_DEPTH = 256

/** A read cursor over `buf[pos, end)`. Every read checks bounds and throws DecodeError (501). */
export class Decoder {
  /** current table/array nesting */
  private depth = 0

  constructor(
    public buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf
    this.pos = pos
    this.end = end
    this.depth = 0
    return this
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw new DecodeError(`truncated data at offset ${this.pos}`)
  }

  octet(): number {
    this.need(1)
    return this.buf[this.pos++]
  }

  short(): number {
    this.need(2)
    const v = this.buf.readUInt16BE(this.pos)
    this.pos += 2
    return v
  }

  long(): number {
    this.need(4)
    const v = this.buf.readUInt32BE(this.pos)
    this.pos += 4
    return v
  }

  /** Unsigned 64-bit as a number (delivery tags and the like stay far below 2^53). */
  longlong(): number {
    this.need(8)
    const v = this.buf.readUInt32BE(this.pos) * 0x100000000 + this.buf.readUInt32BE(this.pos + 4)
    this.pos += 8
    return v
  }

  shortstr(): string {
    const len = this.octet()
    this.need(len)
    const s = this.buf.toString('utf8', this.pos, this.pos + len)
    this.pos += len
    return s
  }

  longstr(): string {
    const len = this.long()
    this.need(len)
    const s = this.buf.toString('utf8', this.pos, this.pos + len)
    this.pos += len
    return s
  }

  longstrBytes(): Buffer {
    const len = this.long()
    this.need(len)
    const b = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return b
  }

  table(): FieldTable {
    const len = this.long()
    this.need(len)
    this.enter()
    const end = this.pos + len
    const outerEnd = this.end
    this.end = end
    const t: FieldTable = {}
    while (this.pos < end) {
      const key = this.shortstr()
      const v = this.fieldValue()
      // `t['__proto__'] = v` would set the object's prototype (or be ignored) instead of adding a key
      if (key === '__proto__') {
        Object.defineProperty(t, key, { value: v, enumerable: true, writable: true, configurable: true })
      } else t[key] = v
    }
    this.end = outerEnd
    this.depth--
    return t
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new DecodeError(`field tables/arrays nested deeper than ${MAX_DEPTH}`)
  }

  /** Skips a table without decoding it; returns [start, end) of its contents (after the length). */
  skipTable(): void {
    const len = this.long()
    this.need(len)
    this.pos += len
  }

  array(): FieldValue[] {
    const len = this.long()
    this.need(len)
    this.enter()
    const end = this.pos + len
    const outerEnd = this.end
    this.end = end
    const a: FieldValue[] = []
    while (this.pos < end) a.push(this.fieldValue())
    this.end = outerEnd
    this.depth--
    return a
  }

  fieldValue(): FieldValue {
    const type = this.octet()
    const b = this.buf
    let v: FieldValue
    switch (type) {
      case 0x74: // 't'
        return this.octet() !== 0
      case 0x62: // 'b'
        this.need(1)
        v = b.readInt8(this.pos)
        this.pos += 1
        return v
      case 0x42: // 'B'
        return this.octet()
      case 0x73: // 's' (RabbitMQ: signed 16-bit)
        this.need(2)
        v = b.readInt16BE(this.pos)
        this.pos += 2
        return v
      case 0x75: // 'u'
        return this.short()
      case 0x49: // 'I'
        this.need(4)
        v = b.readInt32BE(this.pos)
        this.pos += 4
        return v
      case 0x69: // 'i'
        return this.long()
      case 0x6c: // 'l'
        this.need(8)
        v = narrow(b.readBigInt64BE(this.pos))
        this.pos += 8
        return v
      case 0x4c: // 'L' (0-9-1 unsigned 64-bit; RabbitMQ never sends it)
        this.need(8)
        v = narrow(b.readBigUInt64BE(this.pos))
        this.pos += 8
        return v
      case 0x66: // 'f'
        this.need(4)
        v = b.readFloatBE(this.pos)
        this.pos += 4
        return v
      case 0x64: // 'd'
        this.need(8)
        v = b.readDoubleBE(this.pos)
        this.pos += 8
        return v
      case 0x44: {
        // 'D'
        const scale = this.octet()
        this.need(4)
        v = new Decimal(scale, b.readInt32BE(this.pos))
        this.pos += 4
        return v
      }
      case 0x53: // 'S'
        return this.longstr()
      case 0x41: // 'A'
        return this.array()
      case 0x54: // 'T'
        return new Date(this.longlong() * 1000)
      case 0x46: // 'F'
        return this.table()
      case 0x56: // 'V'
        return null
      case 0x78: // 'x'
        return Buffer.from(this.longstrBytes())
      default:
        throw new DecodeError(`unknown field type '${String.fromCharCode(type)}' (0x${type.toString(16)})`)
    }
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
}

/** A growable write buffer. `take()` returns a copy of what was written and resets it. */
export class Encoder {
  buf: Buffer
  pos = 0
  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size)
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = Math.max(this.buf.length * 2, 64)
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  octet(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  short(v: number): void {
    this.ensure(2)
    this.buf.writeUInt16BE(v, this.pos)
    this.pos += 2
  }

  long(v: number): void {
    this.ensure(4)
    this.buf.writeUInt32BE(v >>> 0, this.pos)
    this.pos += 4
  }

  longlong(v: number | bigint): void {
    this.ensure(8)
    if (typeof v === 'bigint') this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.pos)
    else {
      this.buf.writeUInt32BE(Math.floor(v / 0x100000000) >>> 0, this.pos)
      this.buf.writeUInt32BE(v >>> 0, this.pos + 4)
    }
    this.pos += 8
  }

  shortstr(s: string): void {
    const len = Buffer.byteLength(s)
    if (len > 255) throw new RangeError(`short string longer than 255 bytes: ${s.slice(0, 40)}…`)
    this.ensure(1 + len)
    this.buf[this.pos] = len
    this.buf.write(s, this.pos + 1, len, 'utf8')
    this.pos += 1 + len
  }

  longstr(s: string | Buffer): void {
    const len = typeof s === 'string' ? Buffer.byteLength(s) : s.length
    this.ensure(4 + len)
    this.buf.writeUInt32BE(len, this.pos)
    if (typeof s === 'string') this.buf.write(s, this.pos + 4, len, 'utf8')
    else s.copy(this.buf, this.pos + 4)
    this.pos += 4 + len
  }

  bytes(b: Buffer, start = 0, end = b.length): void {
    this.ensure(end - start)
    b.copy(this.buf, this.pos, start, end)
    this.pos += end - start
  }

  table(t: FieldTable | undefined | null): void {
    this.ensure(4)
    const at = this.pos
    this.pos += 4
    if (t) {
      for (const key of Object.keys(t)) {
        const v = t[key]
        if (v === undefined) continue
        this.shortstr(key)
        this.fieldValue(v)
      }
    }
    this.buf.writeUInt32BE(this.pos - at - 4, at)
  }

  array(a: readonly FieldValue[]): void {
    this.ensure(4)
    const at = this.pos
    this.pos += 4
    for (const v of a) this.fieldValue(v)
    this.buf.writeUInt32BE(this.pos - at - 4, at)
  }

  fieldValue(v: FieldValue): void {
    switch (typeof v) {
      case 'string':
        this.octet(0x53)
        this.longstr(v)
        return
      case 'boolean':
        this.octet(0x74)
        this.octet(v ? 1 : 0)
        return
      case 'number':
        if (Number.isInteger(v) && v >= -0x8000000000000000 && v < 0x8000000000000000) {
          if (v >= -0x80000000 && v <= 0x7fffffff) {
            this.octet(0x49)
            this.ensure(4)
            this.buf.writeInt32BE(v, this.pos)
            this.pos += 4
          } else {
            this.octet(0x6c)
            this.ensure(8)
            this.buf.writeBigInt64BE(BigInt(v), this.pos)
            this.pos += 8
          }
        } else {
          // fractions, NaN, ±Infinity and integers beyond signed 64-bit (which 'l' cannot hold)
          this.octet(0x64)
          this.ensure(8)
          this.buf.writeDoubleBE(v, this.pos)
          this.pos += 8
        }
        return
      case 'bigint':
        if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) {
          // beyond signed 64-bit (e.g. a decoded 'L' ≥ 2^63): wrapping would flip the sign; RabbitMQ
          // and most clients have no unsigned 64-bit type, so send the nearest double
          this.octet(0x64)
          this.ensure(8)
          this.buf.writeDoubleBE(Number(v), this.pos)
          this.pos += 8
          return
        }
        this.octet(0x6c)
        this.ensure(8)
        this.buf.writeBigInt64BE(v, this.pos)
        this.pos += 8
        return
      case 'object':
        if (v === null) return this.octet(0x56)
        if (Buffer.isBuffer(v)) {
          this.octet(0x78)
          this.longstr(v)
        } else if (v instanceof Date) {
          this.octet(0x54)
          this.longlong(Math.floor(v.getTime() / 1000))
        } else if (v instanceof Decimal) {
          this.octet(0x44)
          this.octet(v.scale)
          this.ensure(4)
          this.buf.writeInt32BE(v.value, this.pos)
          this.pos += 4
        } else if (Array.isArray(v)) {
          this.octet(0x41)
          this.array(v)
        } else {
          this.octet(0x46)
          this.table(v as FieldTable)
        }
        return
      default:
        // undefined, functions, symbols: encode as void rather than fail on a caller's stray value
        this.octet(0x56)
    }
  }

  /** Copy of the bytes written so far; resets the encoder for reuse. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos))
    this.pos = 0
    return out
  }
}

const scratch = new Encoder(1024)

/** Encodes a table (with its 4-byte length prefix) into a new Buffer. */
export function encodeTable(t: FieldTable | undefined | null): Buffer {
  scratch.pos = 0
  scratch.table(t)
  return scratch.take()
}

/** Decodes a table that starts (with its length prefix) at `offset`. */
export function decodeTable(buf: Buffer, offset = 0): FieldTable {
  return new Decoder(buf, offset, buf.length).table()
}

/** Structural equality of decoded field values, for "redeclare with other arguments → 406". */
export function fieldValuesEqual(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === b) return true
  if (a === null || b === null || a === undefined || b === undefined) return false
  if (typeof a !== 'object' || typeof b !== 'object') {
    // 1 and 1n are the same number on the wire's view (`==` compares number and bigint exactly);
    // the string "1" is not
    if (typeof a === 'bigint') return typeof b === 'number' && a == (b as number | bigint)
    if (typeof b === 'bigint') return typeof a === 'number' && a == (b as number | bigint)
    return false
  }
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b)
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  if (a instanceof Decimal || b instanceof Decimal)
    return a instanceof Decimal && b instanceof Decimal && a.scale === b.scale && a.value === b.value
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!fieldValuesEqual(a[i], b[i])) return false
    return true
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b as FieldTable)
  if (ka.length !== kb.length) return false
  for (const k of ka) if (!fieldValuesEqual((a as FieldTable)[k], (b as FieldTable)[k])) return false
  return true
}
