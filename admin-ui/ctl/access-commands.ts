/**
 * `warren ctl` commands for vhost and user limits, topic permissions and runtime parameters (the
 * jobs of rabbitmqctl set_vhost_limits, set_user_limits, set_topic_permissions, set_parameter and
 * their clear_ twins), each one management API call. The API validates names and values and
 * answers with RabbitMQ's texts; the tool only checks what it must parse (integers, JSON).
 */
import { UsageError } from './args.js'
import { seg } from './client.js'
import type { Command } from './command.js'
import { deleteOne, done, intArg, jsonArg, putOne, q } from './command-helpers.js'

const VALUE_HELP = 'VALUE an integer: negative for no limit, 0 allows none'

const LIMITS: Command[] = [
  {
    words: ['set', 'vhost-limit'],
    vhost: 'always',
    args: ['NAME', 'VALUE'],
    summary: `set a limit of --vhost: NAME max-connections or max-queues, ${VALUE_HELP}`,
    details: 'Example: warren ctl set vhost-limit max-queues 100 --vhost staging',
    async run(c) {
      const [name, text] = c.args
      const value = intArg(text, 'VALUE', 'set vhost-limit')
      await putOne(c, 'vhost-limits', c.vhost, name, { value })
      done(c, `set limit ${q(name)} of vhost ${q(c.vhost)} to ${value}`)
    },
  },
  {
    words: ['clear', 'vhost-limit'],
    vhost: 'always',
    args: ['NAME'],
    summary: 'remove a limit of --vhost (max-connections or max-queues)',
    async run(c) {
      await deleteOne(c, 'vhost-limits', c.vhost, c.args[0])
      done(c, `cleared limit ${q(c.args[0])} of vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['set', 'user-limit'],
    args: ['USER', 'NAME', 'VALUE'],
    summary: `set a limit of a user: NAME max-connections or max-channels, ${VALUE_HELP}`,
    details: 'Example: warren ctl set user-limit alice max-channels 64',
    async run(c) {
      const [user, name, text] = c.args
      const value = intArg(text, 'VALUE', 'set user-limit')
      await c.api.request('PUT', `/api/user-limits/${seg(user)}/${seg(name)}`, { body: JSON.stringify({ value }) })
      done(c, `set limit ${q(name)} of user ${q(user)} to ${value}`)
    },
  },
  {
    words: ['clear', 'user-limit'],
    args: ['USER', 'NAME'],
    summary: 'remove a limit of a user (max-connections or max-channels)',
    async run(c) {
      const [user, name] = c.args
      await c.api.request('DELETE', `/api/user-limits/${seg(user)}/${seg(name)}`)
      done(c, `cleared limit ${q(name)} of user ${q(user)}`)
    },
  },
]

const topicPath = (vhost: string, user: string): string => `/api/topic-permissions/${seg(vhost)}/${seg(user)}`

const TOPIC_PERMISSIONS: Command[] = [
  {
    words: ['set', 'topic-permissions'],
    vhost: 'always',
    args: ['USER'],
    flags: [
      { flag: '--exchange X', help: 'the topic exchange they apply to', required: true },
      { flag: '--write RE', help: 'regular expression the routing keys of publishes to X must match', required: true },
      { flag: '--read RE', help: 'regular expression the binding keys of bindings from X must match', required: true },
    ],
    summary: "set a user's topic permissions on a topic exchange of --vhost ({username} and {vhost} in RE are the connection's)",
    details: "Example: warren ctl set topic-permissions alice --exchange amq.topic --write '^alice\\.' --read '.*'",
    async run(c) {
      const [exchange, write, read] = ['exchange', 'write', 'read'].map((f) => c.flags.get(f))
      if (exchange === undefined || write === undefined || read === undefined) {
        throw new UsageError('set topic-permissions needs --exchange, --write and --read', 'set topic-permissions')
      }
      await c.api.request('PUT', topicPath(c.vhost, c.args[0]), { body: JSON.stringify({ exchange, write, read }) })
      done(c, `set topic permissions of user ${q(c.args[0])} on exchange ${q(exchange)} in vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['clear', 'topic-permissions'],
    vhost: 'always',
    args: ['USER'],
    flags: [{ flag: '--exchange X', help: 'only those on this exchange (default: on every exchange)' }],
    summary: "remove a user's topic permissions in --vhost",
    async run(c) {
      const exchange = c.flags.get('exchange')
      const query = exchange === undefined ? '' : `?exchange=${encodeURIComponent(exchange)}`
      await c.api.request('DELETE', topicPath(c.vhost, c.args[0]) + query)
      const on = exchange === undefined ? '' : ` on exchange ${q(exchange)}`
      done(c, `cleared topic permissions of user ${q(c.args[0])}${on} in vhost ${q(c.vhost)}`)
    },
  },
]

const parameterPath = (component: string, vhost: string, name: string): string =>
  `/api/parameters/${seg(component)}/${seg(vhost)}/${seg(name)}`

const PARAMETERS: Command[] = [
  {
    words: ['set', 'parameter'],
    vhost: 'always',
    args: ['COMPONENT', 'NAME', 'VALUE'],
    summary: 'set a runtime parameter of a component (shovel, federation-upstream, …) in --vhost; VALUE is JSON',
    details: `Example: warren ctl set parameter federation-upstream origin '{"uri":"amqp://origin"}'
Policies, operator policies and vhost limits have their own commands.`,
    async run(c) {
      const [component, name, text] = c.args
      const value = jsonArg(text, 'VALUE', 'set parameter')
      await c.api.request('PUT', parameterPath(component, c.vhost, name), { body: JSON.stringify({ value }) })
      done(c, `set parameter ${q(name)} of component ${q(component)} in vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['clear', 'parameter'],
    vhost: 'always',
    args: ['COMPONENT', 'NAME'],
    summary: 'delete a runtime parameter in --vhost',
    async run(c) {
      const [component, name] = c.args
      await c.api.request('DELETE', parameterPath(component, c.vhost, name))
      done(c, `cleared parameter ${q(name)} of component ${q(component)} in vhost ${q(c.vhost)}`)
    },
  },
]

export const ACCESS_COMMANDS: readonly Command[] = [...LIMITS, ...TOPIC_PERMISSIONS, ...PARAMETERS]
