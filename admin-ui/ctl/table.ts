/**
 * `warren ctl`'s output: aligned text tables (no dependency) and pretty JSON. Cells come from
 * dotted column paths (`queue.name`, `message_stats.publish`); control characters in names are
 * escaped so that a queue or connection name cannot move the cursor or recolour the terminal.
 */

/** The value at a dotted path (`a.b.c`), or undefined. */
export function pick(o: unknown, path: string): unknown {
  if (o !== null && typeof o === 'object' && Object.hasOwn(o, path)) return (o as Record<string, unknown>)[path]
  let v: unknown = o
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}

/** Terminal-safe text: C0/C1 control characters and DEL become `\xNN` / `\uNNNN`. */
export function safeText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** One cell's text: strings as they are, lists comma-joined, objects as compact JSON. */
export function cellText(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return safeText(v)
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return safeText(v.join(','))
  return safeText(JSON.stringify(v))
}

/** Rows × columns as an aligned table: a header line, two spaces between columns, numbers right-aligned. */
export function formatTable(rows: readonly unknown[], columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c) => pick(r, c)))
  const text = cells.map((r) => r.map(cellText))
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => r[i].length)))
  const numeric = columns.map((_, i) => cells.length > 0 && cells.every((r) => typeof r[i] === 'number' || r[i] === undefined))
  const line = (r: readonly string[]): string =>
    r
      .map((s, i) => (numeric[i] ? s.padStart(widths[i]) : i === r.length - 1 ? s : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c))), ...text.map(line)].join('\n') + '\n'
}

/** Only the given columns of each row, keyed by column path (for `--format json --columns …`). */
export function projectRows(rows: readonly unknown[], columns: readonly string[]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, pick(r, c) ?? null])))
}

/** Pretty JSON with a final newline. */
export function formatJson(v: unknown): string {
  return JSON.stringify(v, null, 2) + '\n'
}
