/**
 * `warren ctl …`: the command-line tool's entry. Arguments and environment → command → one or more
 * management API calls → output and an exit code (0 ok, 1 API error or unreachable, 2 usage, 3
 * status with an alarm). A client of the HTTP API only: it never touches the broker's model.
 */
import { assignFlags, parseArgs, UsageError, type FlagUse } from './args.js'
import { ApiClient, ApiError, parseBaseUrl, Unreachable } from './client.js'
import { commandName, ownFlagNames, usageLine, type Command, type CommandContext, type CtlIO, type Format } from './command.js'
import { COMMANDS, COMMANDS_BY_NAME } from './commands.js'
import { commandHelp, DEFAULT_URL, overviewHelp } from './help.js'
import { safeText } from './table.js'

export type { CtlIO } from './command.js'

/** The process's own streams. */
export const processIO: CtlIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  async readStdin() {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
}

/** The command named by the first words, and how many words it took; undefined when none. */
function findCommand(words: readonly string[]): { cmd: Command; used: number } | undefined {
  for (const n of [2, 1]) {
    const cmd = COMMANDS_BY_NAME.get(words.slice(0, n).join(' '))
    if (cmd !== undefined && words.length >= n) return { cmd, used: n }
  }
  return undefined
}

/** A usage error for words that name no command, listing what the first word can be followed by. */
function unknownCommand(words: readonly string[]): UsageError {
  const next = COMMANDS.filter((c) => c.words[0] === words[0] && c.words.length > 1).map((c) => c.words[1])
  if (next.length > 0) {
    const what = words.length > 1 ? `unknown command '${words.slice(0, 2).join(' ')}'` : `'${words[0]}' needs an object`
    return new UsageError(`${what}: ${words[0]} ${next.join('|')}`)
  }
  return new UsageError(`unknown command '${words[0]}'`)
}

const hasFlag = (flags: readonly FlagUse[], name: string): boolean => flags.some((f) => f.name === name)

/** A usage error unless exactly the command's arguments were given. */
function checkArgs(cmd: Command, args: readonly string[]): void {
  if (args.length === cmd.args.length) return
  const name = commandName(cmd)
  const takes = cmd.args.length === 0 ? 'no arguments' : cmd.args.join(' ')
  const extra = args.length > cmd.args.length ? `; unexpected '${args[cmd.args.length]}'` : ''
  throw new UsageError(`'${name}' takes ${takes}${extra}`, name)
}

interface Flags {
  own: ReadonlyMap<string, string>
  global: ReadonlyMap<string, string>
}

/** Builds the context the command runs with from the global flags and the environment. */
function contextOf(cmd: Command, args: readonly string[], { own, global }: Flags, env: NodeJS.ProcessEnv, io: CtlIO): CommandContext {
  const name = commandName(cmd)
  checkArgs(cmd, args)
  const rawUrl = global.get('url') ?? env.WARREN_URL ?? DEFAULT_URL
  const parsed = parseBaseUrl(rawUrl)
  if (parsed === null) throw new UsageError(`--url '${rawUrl}' is not an http:// or https:// URL`, name)
  const format = global.get('format') ?? 'table'
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, got '${format}'`, name)
  const timeout = global.get('timeout') ?? '30'
  if (!/^\d+(\.\d+)?$/.test(timeout) || Number(timeout) <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got '${timeout}'`, name)
  const vhost = global.get('vhost')
  if (vhost === '') throw new UsageError('--vhost must not be empty', name)
  const api = new ApiClient({
    url: parsed.base,
    user: global.get('user') ?? parsed.user ?? env.WARREN_USER ?? 'guest',
    password: global.get('password') ?? parsed.password ?? env.WARREN_PASSWORD ?? 'guest',
    timeoutMs: Math.ceil(Number(timeout) * 1000),
  })
  return { api, vhost: vhost ?? '/', vhostGiven: vhost !== undefined, format: format as Format, args, flags: own, io }
}

/** Runs `warren ctl` with the arguments after `ctl`; resolves with the exit code. */
export async function runCtl(argv: readonly string[], env: NodeJS.ProcessEnv, io: CtlIO = processIO): Promise<number> {
  let name: string | undefined
  let user: string | undefined
  try {
    const { words, flags } = parseArgs(argv)
    const help = hasFlag(flags, 'help')
    const target = words[0] === 'help' ? words.slice(1) : words
    if (target.length === 0) {
      if (help || words[0] === 'help') {
        io.out(overviewHelp(COMMANDS))
        return 0
      }
      throw new UsageError('no command given')
    }
    const found = findCommand(target)
    if (found === undefined) {
      // `warren ctl list --help`: the overview of the commands starting with that word
      const family = COMMANDS.filter((c) => c.words[0] === target[0])
      if (help && target.length === 1 && family.length > 0) {
        io.out(overviewHelp(family))
        return 0
      }
      throw unknownCommand(target)
    }
    name = commandName(found.cmd)
    if (help || words[0] === 'help') {
      io.out(commandHelp(found.cmd))
      return 0
    }
    const ctx = contextOf(found.cmd, target.slice(found.used), assignFlags(flags, ownFlagNames(found.cmd), name), env, io)
    user = ctx.api.user
    // errors name the command, its arguments and vhost: "purge queue 'q' in vhost '/': Not Found (HTTP 404 …)"
    const inVHost = found.cmd.vhost === 'always' || (found.cmd.vhost === 'if-given' && ctx.vhostGiven)
    name = [name, ...ctx.args.map((a) => `'${safeText(a)}'`), ...(inVHost ? [`in vhost '${safeText(ctx.vhost)}'`] : [])].join(' ')
    return (await found.cmd.run(ctx)) ?? 0
  } catch (err) {
    return reportError(err, name, user, io)
  }
}

/** Prints the error (escaped: API reasons may quote names) and returns the exit code. */
function reportError(err: unknown, name: string | undefined, user: string | undefined, io: CtlIO): number {
  const text = safeText(err instanceof Error ? err.message : String(err))
  if (err instanceof UsageError) {
    const cmd = err.command === undefined ? undefined : COMMANDS_BY_NAME.get(err.command)
    const hint = cmd === undefined ? 'Run warren ctl --help for the commands.' : `Usage: ${usageLine(cmd)} [OPTIONS]`
    io.err(`warren ctl: ${text}\n${hint}\n`)
    return 2
  }
  if (err instanceof ApiError) {
    // a failed login: say as whom (the API's reason is only "Login failed")
    const who = err.status === 401 && err.error === 'not_authorized' && user !== undefined ? ` as user '${safeText(user)}'` : ''
    io.err(`warren ctl: ${name ?? 'request'}: ${text}${who}\n`)
    return 1
  }
  if (err instanceof Unreachable) {
    io.err(`warren ctl: ${text}\n`)
    return 1
  }
  io.err(`warren ctl: ${name === undefined ? '' : `${name}: `}${text}\n`)
  return 1
}
