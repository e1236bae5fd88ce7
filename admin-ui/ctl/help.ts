/**
 * `warren ctl`'s help texts: the overview (every command, the global options, exit codes) and each
 * command's own (`warren ctl add user --help`).
 */
import { usageLine, type Command } from './command.js'
import { ALARM_EXIT_CODE } from './status.js'

export const DEFAULT_URL = 'http://localhost:15672'

const GLOBAL_HELP = `Options (any command; environment variables in brackets):
  --url URL          management API base URL [WARREN_URL] (default ${DEFAULT_URL});
                     user:password@ in the URL are used as credentials
  --user NAME        [WARREN_USER] (default guest)
  --password P       [WARREN_PASSWORD] (default guest)
  --vhost V          the vhost to act on (default /); lists and exports cover every vhost without it
  --format F         table or json (default table)
  --timeout SECONDS  how long to wait for an answer (default 30)
  -h, --help         help for the tool or a command`

const EXIT_HELP = `Exit codes: 0 ok, 1 the API refused or could not be reached (the reason is printed),
2 usage error, ${ALARM_EXIT_CODE} status: an alarm is in effect.`

/** The overview: every command with its summary. */
export function overviewHelp(commands: readonly Command[]): string {
  const names = commands.map((c) => [...c.words, ...c.args].join(' '))
  const w = Math.max(...names.map((n) => n.length))
  const lines = commands.map((c, i) => `  ${names[i].padEnd(w)}  ${c.summary}`)
  return [
    'Usage: warren ctl COMMAND [ARGS] [OPTIONS]',
    '',
    "Manages a running Warren broker through its management API (rabbitmqctl's and rabbitmqadmin's jobs).",
    '',
    'Commands:',
    ...lines,
    '',
    GLOBAL_HELP,
    '',
    EXIT_HELP,
    '',
  ].join('\n')
}

/** One command's help. */
export function commandHelp(c: Command): string {
  const flags = c.flags ?? []
  const w = Math.max(0, ...flags.map((f) => f.flag.length))
  return [
    `Usage: ${usageLine(c)} [OPTIONS]`,
    '',
    c.summary.charAt(0).toUpperCase() + c.summary.slice(1) + '.',
    ...(c.details === undefined ? [] : ['', c.details]),
    ...(flags.length === 0 ? [] : ['', 'Command options:', ...flags.map((f) => `  ${f.flag.padEnd(w)}  ${f.help}`)]),
    '',
    GLOBAL_HELP,
    '',
    EXIT_HELP,
    '',
  ].join('\n')
}
