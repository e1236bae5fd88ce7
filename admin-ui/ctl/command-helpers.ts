/**
 * Small pieces the `warren ctl` command tables share: the one-line confirmation, quoting of names
 * for the terminal, PUT/DELETE of one object, and JSON arguments read from the command line.
 */
import { UsageError } from './args.js'
import type { CommandContext } from './command.js'
import { onePath } from './kinds.js'
import { safeText } from './table.js'

/** A name quoted for the terminal, its control characters escaped. */
export const q = (s: string): string => `'${safeText(s)}'`

/** One line to say what was done (table format only). */
export function done(c: CommandContext, text: string): void {
  if (c.format === 'table') c.io.out(text + '\n')
}

/** PUT of one object of a kind with a JSON body. */
export function putOne(c: CommandContext, kind: string, vhost: string, name: string, body: unknown): Promise<unknown> {
  return c.api.request('PUT', onePath(kind, vhost, name), { body: JSON.stringify(body) })
}

export function deleteOne(c: CommandContext, kind: string, vhost: string, name: string, headers?: Record<string, string>): Promise<unknown> {
  return c.api.request('DELETE', onePath(kind, vhost, name), { headers })
}

/** Any JSON value from a command-line argument, or a usage error naming it. */
export function jsonArg(text: string, what: string, command: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${(err as Error).message}`, command)
  }
}

/** A JSON object from a command-line argument, or a usage error naming it. */
export function jsonObjectArg(text: string, what: string, command: string): Record<string, unknown> {
  const v = jsonArg(text, what, command)
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${what} must be a JSON object`, command)
  return v as Record<string, unknown>
}

/** An integer from a command-line argument or flag, or a usage error naming it. */
export function intArg(text: string, what: string, command: string): number {
  if (!/^-?\d{1,10}$/.test(text)) throw new UsageError(`${what} must be an integer, got '${safeText(text)}'`, command)
  return Number(text)
}
