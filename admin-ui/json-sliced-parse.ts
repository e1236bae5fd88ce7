/**
 * JSON.parse of a large body in slices. One JSON.parse of a 17 MB definitions file blocks the event
 * loop for 0.3–1 s; a definitions file is an object of long arrays of small objects, so it can be
 * parsed piece by piece: one scan over the bytes (yielding every SCAN_SLICE bytes) finds the
 * top-level arrays and the commas between their elements, the rest of the object is parsed with
 * each array replaced by a placeholder, and the arrays are parsed ELEMENT_SLICE elements at a time,
 * yielding in between. The result equals JSON.parse's for valid JSON; anything the scan does not
 * understand (a top level that is not an object, unbalanced brackets) falls back to one JSON.parse,
 * which also gives malformed JSON its usual error.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/** Bytes scanned between two yields. */
const SCAN_SLICE = 1024 * 1024
/** Array elements parsed per JSON.parse call (and between two yields). */
const ELEMENT_SLICE = 512

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A top-level array value: where its `[` and `]` are, and the commas between its elements. */
interface ArrayRange {
  start: number
  end: number
  commas: number[]
}

/**
 * Parses `raw` like JSON.parse, yielding to the event loop while doing it. `raw` must already have
 * passed the depth check. Throws SyntaxError for malformed JSON, as JSON.parse does.
 */
export async function parseJsonInSlices(raw: Buffer): Promise<unknown> {
  const ranges = await scanTopLevelArrays(raw)
  if (ranges === null) return JSON.parse(raw.toString('utf8'))
  // the object with every top-level array replaced by [index]: no other top-level value is an
  // array, so `[n]` can only be a placeholder
  let skeleton = ''
  let from = 0
  ranges.forEach((r, i) => {
    skeleton += raw.toString('utf8', from, r.start) + `[${i}]`
    from = r.end + 1
  })
  skeleton += raw.toString('utf8', from)
  const top = JSON.parse(skeleton) as Record<string, unknown>
  const out = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(top)) {
    const v = top[key]
    // defineProperty: a "__proto__" key stays an ordinary key
    const value = Array.isArray(v) ? await parseArray(raw, ranges[v[0] as number]) : v
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

async function parseArray(raw: Buffer, r: ArrayRange): Promise<unknown[]> {
  // element i spans from after the previous comma (or the `[`) to before the next comma (or `]`)
  const bounds = [r.start, ...r.commas, r.end]
  const count = bounds.length - 1
  if (count === 1 && raw.toString('utf8', r.start + 1, r.end).trim() === '') return []
  const out: unknown[] = []
  for (let i = 0; i < count; i += ELEMENT_SLICE) {
    if (i > 0) await yieldToLoop()
    const last = Math.min(i + ELEMENT_SLICE, count)
    const part = JSON.parse(`[${raw.toString('utf8', bounds[i] + 1, bounds[last])}]`) as unknown[]
    if (part.length !== last - i) throw new SyntaxError('unexpected array element count')
    for (const v of part) out.push(v)
  }
  return out
}

/**
 * Finds the arrays that are values of the top-level object, or null when the top level is not an
 * object or the brackets do not balance (left to JSON.parse).
 */
async function scanTopLevelArrays(raw: Buffer): Promise<ArrayRange[] | null> {
  const ranges: ArrayRange[] = []
  let current: ArrayRange | null = null
  // the opener at each depth, so `[…}` is caught here and never turned into valid pieces
  const openers: number[] = []
  let depth = 0
  let inString = false
  let sawTop = false
  for (let i = 0; i < raw.length; i++) {
    if (i > 0 && i % SCAN_SLICE === 0) await yieldToLoop()
    const c = raw[i]
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
      continue
    }
    if (c === QUOTE) inString = true
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === 0) {
        if (sawTop || c !== OPEN_BRACE) return null
        sawTop = true
      } else if (depth === 1 && c === OPEN_BRACKET) current = { start: i, end: -1, commas: [] }
      openers[depth++] = c
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
      if (depth < 0 || openers[depth] !== (c === CLOSE_BRACE ? OPEN_BRACE : OPEN_BRACKET)) return null
      if (depth === 1 && current !== null && c === CLOSE_BRACKET) {
        current.end = i
        ranges.push(current)
        current = null
      }
    } else if (c === COMMA && depth === 2 && current !== null) current.commas.push(i)
  }
  return depth === 0 && sawTop && !inString ? ranges : null
}
