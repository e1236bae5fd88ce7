/**
 * Every `warren ctl` command: `list KIND` for each kind of kinds.ts, then the commands that change
 * something, each one management API call (named after rabbitmqctl/rabbitmqadmin, as `verb kind`).
 * Success prints one line in table format and nothing in JSON format (scripts read the exit code).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { UsageError } from './args.js'
import { seg } from './client.js'
import { commandName, type Command, type CommandContext } from './command.js'
import { deleteOne, done, intArg, jsonObjectArg, putOne, q } from './command-helpers.js'
import { KINDS, onePath } from './kinds.js'
import { ACCESS_COMMANDS } from './access-commands.js'
import { REPLICA_COMMANDS } from './replica-commands.js'
import { STATUS_COMMAND } from './status.js'
import { formatJson, formatTable, projectRows } from './table.js'

function listCommand(kind: string): Command {
  const k = KINDS[kind]
  return {
    words: ['list', kind],
    args: [],
    vhost: k.inVHost === undefined ? undefined : 'if-given',
    flags: [{ flag: '--columns A,B', help: `columns to show, dotted paths into the API's JSON (default: ${k.columns.join(',')})` }],
    summary: `list ${kind}${k.inVHost === undefined ? '' : ' (of every vhost, or of --vhost)'}`,
    async run(c) {
      const path = c.vhostGiven && k.inVHost !== undefined ? k.inVHost(c.vhost) : k.all
      const rows = await c.api.get<unknown>(path)
      if (!Array.isArray(rows)) throw new Error(`${path} did not answer with a list`)
      const raw = c.flags.get('columns')
      const columns = raw === undefined ? k.columns : raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
      if (columns.length === 0) throw new UsageError('--columns names no column', `list ${kind}`)
      if (c.format === 'json') c.io.out(formatJson(raw === undefined ? rows : projectRows(rows, columns)))
      else c.io.out(formatTable(rows, columns))
    },
  }
}

const USERS: Command[] = [
  {
    words: ['add', 'user'],
    args: ['NAME'],
    flags: [
      { flag: '--password P', help: "the new user's password (after the command words; before them it is the tool's own)", required: true },
      { flag: '--tags LIST', help: 'comma list of tags: administrator, monitoring, policymaker, management' },
    ],
    summary: 'add a user, or set the password and tags of an existing one',
    async run(c) {
      const password = c.flags.get('password')
      if (password === undefined) throw new UsageError('add user needs --password', 'add user')
      await putOne(c, 'users', '/', c.args[0], { password, tags: c.flags.get('tags') ?? '' })
      done(c, `added user ${q(c.args[0])}`)
    },
  },
  {
    words: ['delete', 'user'],
    args: ['NAME'],
    summary: 'delete a user',
    async run(c) {
      await deleteOne(c, 'users', '/', c.args[0])
      done(c, `deleted user ${q(c.args[0])}`)
    },
  },
  {
    words: ['add', 'vhost'],
    args: ['NAME'],
    flags: [{ flag: '--description TEXT', help: "the vhost's description" }],
    summary: 'add a vhost (you get full permissions in it)',
    async run(c) {
      const description = c.flags.get('description')
      await putOne(c, 'vhosts', '/', c.args[0], description === undefined ? {} : { description })
      done(c, `added vhost ${q(c.args[0])}`)
    },
  },
  {
    words: ['delete', 'vhost'],
    args: ['NAME'],
    summary: 'delete a vhost and everything in it',
    async run(c) {
      await deleteOne(c, 'vhosts', '/', c.args[0])
      done(c, `deleted vhost ${q(c.args[0])}`)
    },
  },
  {
    words: ['set', 'permissions'],
    vhost: 'always',
    args: ['USER'],
    flags: [
      { flag: '--configure RE', help: 'regular expression of the names the user may configure', required: true },
      { flag: '--write RE', help: 'regular expression of the names the user may write to', required: true },
      { flag: '--read RE', help: 'regular expression of the names the user may read from', required: true },
    ],
    summary: "set a user's permissions in --vhost ('' allows nothing, '.*' everything)",
    async run(c) {
      const [configure, write, read] = ['configure', 'write', 'read'].map((f) => c.flags.get(f))
      if (configure === undefined || write === undefined || read === undefined) {
        throw new UsageError('set permissions needs --configure, --write and --read', 'set permissions')
      }
      await putOne(c, 'permissions', c.vhost, c.args[0], { configure, write, read })
      done(c, `set permissions of user ${q(c.args[0])} in vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['clear', 'permissions'],
    vhost: 'always',
    args: ['USER'],
    summary: "remove a user's permissions in --vhost",
    async run(c) {
      await deleteOne(c, 'permissions', c.vhost, c.args[0])
      done(c, `cleared permissions of user ${q(c.args[0])} in vhost ${q(c.vhost)}`)
    },
  },
]

/** `set|clear WORD` for a policy-shaped kind (name, pattern, definition, apply-to, priority). */
export function policyCommands(kind: string, word: string): Command[] {
  const what = word.replace('-', ' ')
  return [
    {
      words: ['set', word],
      vhost: 'always',
      args: ['NAME', 'PATTERN', 'DEFINITION'],
      flags: [
        { flag: '--apply-to WHAT', help: 'queues, exchanges or all (default all)' },
        { flag: '--priority N', help: 'the highest priority wins where patterns overlap (default 0)' },
      ],
      summary: `set a ${what} in --vhost: PATTERN a regular expression of names, DEFINITION a JSON object`,
      details: `Example: warren ctl set ${word} ttl '^tmp\\.' '{"message-ttl":60000}' --apply-to queues`,
      async run(c) {
        const [name, pattern, defText] = c.args
        const definition = jsonObjectArg(defText, 'DEFINITION', `set ${word}`)
        const body: Record<string, unknown> = { pattern, definition, 'apply-to': c.flags.get('apply-to') ?? 'all' }
        const priority = c.flags.get('priority')
        if (priority !== undefined) body.priority = intArg(priority, '--priority', `set ${word}`)
        await putOne(c, kind, c.vhost, name, body)
        done(c, `set ${what} ${q(name)} in vhost ${q(c.vhost)}`)
      },
    },
    {
      words: ['clear', word],
      vhost: 'always',
      args: ['NAME'],
      summary: `delete a ${what} in --vhost`,
      async run(c) {
        await deleteOne(c, kind, c.vhost, c.args[0])
        done(c, `cleared ${what} ${q(c.args[0])} in vhost ${q(c.vhost)}`)
      },
    },
  ]
}

const definitionsPath = (c: CommandContext): string => (c.vhostGiven ? `/api/definitions/${seg(c.vhost)}` : '/api/definitions')

const DEFINITIONS: Command[] = [
  {
    words: ['export', 'definitions'],
    vhost: 'if-given',
    args: ['FILE'],
    summary: "write the broker's definitions (of every vhost, or of --vhost) as JSON to FILE, or to stdout with -",
    async run(c) {
      const defs = await c.api.get(definitionsPath(c))
      const file = c.args[0]
      if (file === '-') c.io.out(formatJson(defs))
      else {
        // the export holds password hashes: a new file is readable by its owner only
        await writeFile(file, formatJson(defs), { mode: 0o600 })
        done(c, `exported definitions to ${q(file)}`)
      }
    },
  },
  {
    words: ['import', 'definitions'],
    vhost: 'if-given',
    args: ['FILE'],
    summary: 'import definitions from a JSON FILE, or from stdin with - (into --vhost when given)',
    async run(c) {
      const file = c.args[0]
      const text = file === '-' ? await c.io.readStdin() : await readFile(file, 'utf8')
      try {
        JSON.parse(text)
      } catch (err) {
        throw new Error(`${file === '-' ? 'stdin' : q(file)} is not JSON: ${(err as Error).message}`)
      }
      await c.api.request('POST', definitionsPath(c), { body: text })
      done(c, `imported definitions from ${file === '-' ? 'stdin' : q(file)}`)
    },
  },
]

/** HTTP header values are Latin-1 (fetch refuses anything else); X-Reason travels as one. */
const LATIN1 = /^[\u0020-\u007e\u00a0-\u00ff]*$/

const ACTIONS: Command[] = [
  {
    words: ['close', 'connection'],
    args: ['NAME'],
    flags: [{ flag: '--reason TEXT', help: 'the text the client gets with 320 CONNECTION_FORCED' }],
    summary: 'close a client connection (NAME as in list connections)',
    async run(c) {
      const reason = c.flags.get('reason')
      if (reason !== undefined && !LATIN1.test(reason)) {
        throw new UsageError('--reason must be printable Latin-1 text (it is sent as an HTTP header)', 'close connection')
      }
      await deleteOne(c, 'connections', c.vhost, c.args[0], reason === undefined ? undefined : { 'x-reason': reason })
      done(c, `closed connection ${q(c.args[0])}`)
    },
  },
  {
    words: ['purge', 'queue'],
    vhost: 'always',
    args: ['NAME'],
    summary: 'remove the ready messages of a queue in --vhost',
    async run(c) {
      await c.api.request('DELETE', `${onePath('queues', c.vhost, c.args[0])}/contents`)
      done(c, `purged queue ${q(c.args[0])} in vhost ${q(c.vhost)}`)
    },
  },
]

export const COMMANDS: readonly Command[] = [
  ...Object.keys(KINDS).map(listCommand),
  ...USERS,
  ...policyCommands('policies', 'policy'),
  ...policyCommands('operator-policies', 'operator-policy'),
  ...ACCESS_COMMANDS,
  ...DEFINITIONS,
  ...ACTIONS,
  ...REPLICA_COMMANDS,
  STATUS_COMMAND,
]

/** The commands by name (`add user`). */
export const COMMANDS_BY_NAME: ReadonlyMap<string, Command> = new Map(COMMANDS.map((c) => [commandName(c), c]))
