/**
 * `warren ctl` argument parsing: positional words and `--flag value` / `--flag=value` options, in
 * any order (`--` ends the options). Every flag any command knows is declared once in FLAGS, so
 * one pass splits positionals from flag values; a flag a command declares itself and that comes
 * after the first word belongs to that command (`add user bob --password P`), any other is global.
 */

/** A command-line mistake: exit code 2, with the usage of the command concerned. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(
    message: string,
    /** the command whose usage to show; undefined for the tool's overview */
    readonly command?: string,
  ) {
    super(message)
  }
}

/** Every flag: whether it takes a value. */
export const FLAGS: Readonly<Record<string, 'value' | 'switch'>> = {
  // global
  url: 'value',
  user: 'value',
  password: 'value',
  vhost: 'value',
  format: 'value',
  columns: 'value',
  timeout: 'value',
  help: 'switch',
  // commands
  tags: 'value',
  description: 'value',
  configure: 'value',
  write: 'value',
  read: 'value',
  'apply-to': 'value',
  priority: 'value',
  exchange: 'value',
  reason: 'value',
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: readonly string[] = ['url', 'user', 'password', 'vhost', 'format', 'timeout', 'help']

const SHORT: Readonly<Record<string, string>> = { '-h': 'help' }

export interface FlagUse {
  name: string
  value: string
  /** true when it came after the first positional word */
  afterWord: boolean
}

export interface ParsedArgs {
  words: string[]
  flags: FlagUse[]
}

/** Splits argv into positional words and flags; unknown flags and missing values are usage errors. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const words: string[] = []
  const flags: FlagUse[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      words.push(...argv.slice(i + 1))
      break
    }
    // a negative number is a value (`set vhost-limit max-queues -1`), not an option
    if (!a.startsWith('-') || a === '-' || /^-\d+$/.test(a)) {
      words.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const raw = eq < 0 ? a : a.slice(0, eq)
    const name = SHORT[raw] ?? (raw.startsWith('--') ? raw.slice(2) : undefined)
    const kind = name === undefined ? undefined : FLAGS[name]
    if (name === undefined || kind === undefined) throw new UsageError(`unknown option '${raw}'`)
    let value = 'true'
    if (kind === 'value') {
      if (eq >= 0) value = a.slice(eq + 1)
      else if (i + 1 < argv.length) value = argv[++i]
      else throw new UsageError(`option '--${name}' needs a value`)
    } else if (eq >= 0) {
      throw new UsageError(`option '--${name}' takes no value`)
    }
    flags.push({ name, value, afterWord: words.length > 0 })
  }
  return { words, flags }
}

/** A command's view of the flags: its own (`own`) and the global ones, the last use of each winning. */
export interface CommandFlags {
  own: Map<string, string>
  global: Map<string, string>
}

/**
 * Assigns each flag to the command (declared in `own` and given after the first word) or to the
 * global options; a flag that is neither is a usage error naming the command.
 */
export function assignFlags(flags: readonly FlagUse[], own: readonly string[], command: string): CommandFlags {
  const out: CommandFlags = { own: new Map(), global: new Map() }
  for (const f of flags) {
    if (own.includes(f.name) && (f.afterWord || !GLOBAL_FLAGS.includes(f.name))) out.own.set(f.name, f.value)
    else if (GLOBAL_FLAGS.includes(f.name)) out.global.set(f.name, f.value)
    else throw new UsageError(`'${command}' takes no option '--${f.name}'`, command)
  }
  return out
}
