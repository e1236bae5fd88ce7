/**
 * Rewrites content-header property bytes when the broker must change them (dead-lettering adds
 * x-death and drops the expiration; redeliveries carry x-delivery-count). Everything not changed is
 * copied as received: other properties byte for byte, and every untouched header entry with its
 * original field type (a client's 'b' byte stays a byte, it is not re-encoded as a 32-bit int).
 */
import { Decoder, Encoder, type FieldTable, type FieldValue } from './field-table.js'

const F_HEADERS = 1 << 13
const F_EXPIRATION = 1 << 8

/** Wire type of each property, flag bit 15 first (basic class). */
const PROPERTY_TYPES = [
  'shortstr', // content-type
  'shortstr', // content-encoding
  'table', // headers
  'octet', // delivery-mode
  'octet', // priority
  'shortstr', // correlation-id
  'shortstr', // reply-to
  'shortstr', // expiration
  'shortstr', // message-id
  'longlong', // timestamp
  'shortstr', // type
  'shortstr', // user-id
  'shortstr', // app-id
  'shortstr', // cluster-id
] as const

export interface PropertyEdit {
  /** headers to set (replacing an existing entry of the same name) */
  setHeaders?: FieldTable
  /** header names to remove */
  removeHeaders?: readonly string[]
  /** drop the expiration property (RabbitMQ does when dead-lettering) */
  removeExpiration?: boolean
}

/** Returns new property bytes with the edit applied. Throws DecodeError on malformed input. */
export function editProperties(raw: Buffer, edit: PropertyEdit): Buffer {
  const d = new Decoder(raw, 0, raw.length)
  let flags = d.short()
  let word = flags
  while (word & 1) word = d.short() // continuation words carry nothing for basic
  flags &= 0xfffe
  // [start, end) of each present property's bytes
  const ranges: [number, number][] = new Array(14)
  for (let i = 0; i < 14; i++) {
    if ((flags & (1 << (15 - i))) === 0) continue
    const start = d.pos
    switch (PROPERTY_TYPES[i]) {
      case 'shortstr': {
        const n = d.octet()
        d.need(n)
        d.pos += n
        break
      }
      case 'table':
        d.skipTable()
        break
      case 'octet':
        d.octet()
        break
      case 'longlong':
        d.longlong()
        break
    }
    ranges[i] = [start, d.pos]
  }
  const e = new Encoder(raw.length + 256)
  let outFlags = flags
  if (edit.removeExpiration) outFlags &= ~F_EXPIRATION
  const touchHeaders = edit.setHeaders !== undefined || (edit.removeHeaders?.length ?? 0) > 0
  if (touchHeaders) outFlags |= F_HEADERS
  e.short(outFlags)
  for (let i = 0; i < 14; i++) {
    const bit = 1 << (15 - i)
    if ((outFlags & bit) === 0) continue
    if (bit === F_HEADERS && touchHeaders) {
      writeEditedHeaders(e, raw, ranges[i], edit)
      continue
    }
    const [s, t] = ranges[i]
    e.bytes(raw, s, t)
  }
  return e.take()
}

function writeEditedHeaders(e: Encoder, raw: Buffer, range: [number, number] | undefined, edit: PropertyEdit): void {
  const set = edit.setHeaders ?? {}
  const remove = new Set(edit.removeHeaders ?? [])
  for (const k of Object.keys(set)) remove.add(k)
  e.ensure(4)
  const lenAt = e.pos
  e.pos += 4
  if (range !== undefined) {
    // walk the existing table, copying untouched entries as raw bytes
    const d = new Decoder(raw, range[0], range[1])
    const len = d.long()
    const end = d.pos + len
    while (d.pos < end) {
      const entryStart = d.pos
      const key = d.shortstr()
      d.fieldValue()
      if (!remove.has(key)) e.bytes(raw, entryStart, d.pos)
    }
  }
  for (const [k, v] of Object.entries(set)) {
    e.shortstr(k)
    e.fieldValue(v as FieldValue)
  }
  e.buf.writeUInt32BE(e.pos - lenAt - 4, lenAt)
}
