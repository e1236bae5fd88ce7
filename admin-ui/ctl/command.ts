/**
 * What a `warren ctl` command is (its words, arguments, own flags and help) and what it runs with
 * (the API client, the vhost, the output format, its arguments and flags, the terminal streams).
 */
import type { ApiClient } from './client.js'

/** Where the tool writes and reads; the real process streams, or buffers in tests. */
export interface CtlIO {
  out(text: string): void
  err(text: string): void
  /** all of standard input (for `import definitions -`) */
  readStdin(): Promise<string>
}

export type Format = 'table' | 'json'

export interface CommandContext {
  api: ApiClient
  /** `--vhost`, or `/` */
  vhost: string
  /** whether `--vhost` was given (lists and exports cover every vhost without it) */
  vhostGiven: boolean
  format: Format
  /** positional arguments after the command's words, as named in `args` */
  args: readonly string[]
  /** the command's own flags */
  flags: ReadonlyMap<string, string>
  io: CtlIO
}

/** A command's own flag: `--tags LIST`, its help, and whether it must be given. */
export interface FlagDoc {
  flag: string
  help: string
  required?: boolean
}

export interface Command {
  /** the words that name it: ['add', 'user'] */
  words: readonly string[]
  /** positional argument names, in order (all required) */
  args: readonly string[]
  /** flags of its own (besides the global ones) */
  flags?: readonly FlagDoc[]
  summary: string
  /** whether it acts in `--vhost` (always, or only when given); named in its error messages */
  vhost?: 'always' | 'if-given'
  /** more help text, shown by `--help` */
  details?: string
  /** resolves with the exit code (0 when nothing is returned) */
  run(c: CommandContext): Promise<number | void>
}

/** The command's name: its words joined. */
export const commandName = (c: Command): string => c.words.join(' ')

/** Flag names (without `--`) the command declares. */
export const ownFlagNames = (c: Command): string[] => (c.flags ?? []).map((f) => f.flag.replace(/^--/, '').split(' ')[0])

/** One usage line: `add user NAME --password P [--tags LIST]`. */
export function usageLine(c: Command): string {
  const flags = (c.flags ?? []).map((f) => (f.required === true ? f.flag : `[${f.flag}]`))
  return ['warren ctl', ...c.words, ...c.args, ...flags].join(' ')
}
