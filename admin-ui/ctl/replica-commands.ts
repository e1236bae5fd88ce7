/**
 * `warren ctl add_member` / `delete_member` / `list_members`: a quorum queue's replica set, as
 * RabbitMQ's `rabbitmq-queues add_member [--vhost V] QUEUE NODE` and `delete_member`, through the
 * management API's /api/queues/{vhost}/{queue}/replicas (admin-ui/api/queue-replicas.ts).
 */
import { seg } from './client.js'
import type { Command } from './command.js'
import { done, q } from './command-helpers.js'
import { formatJson, formatTable } from './table.js'

const replicasPath = (vhost: string, queue: string): string => `/api/queues/${seg(vhost)}/${seg(queue)}/replicas`

export const REPLICA_COMMANDS: Command[] = [
  {
    words: ['add_member'],
    vhost: 'always',
    args: ['QUEUE', 'NODE'],
    summary: 'add NODE to the replica set of quorum queue or stream QUEUE in --vhost (it takes the leader state, then joins the in-sync set)',
    async run(c) {
      const [queue, node] = c.args
      await c.api.request('POST', replicasPath(c.vhost, queue), { body: JSON.stringify({ node }) })
      done(c, `added member ${q(node)} to queue ${q(queue)} in vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['delete_member'],
    vhost: 'always',
    args: ['QUEUE', 'NODE'],
    summary: 'remove NODE from the replica set of quorum queue or stream QUEUE in --vhost (its copy is deleted; not the leader)',
    async run(c) {
      const [queue, node] = c.args
      await c.api.request('DELETE', `${replicasPath(c.vhost, queue)}/${seg(node)}`)
      done(c, `deleted member ${q(node)} of queue ${q(queue)} in vhost ${q(c.vhost)}`)
    },
  },
  {
    words: ['list_members'],
    vhost: 'always',
    args: ['QUEUE'],
    summary: 'the members of quorum queue QUEUE in --vhost: leader, online, in sync, durable sequence, lag',
    async run(c) {
      const body = await c.api.get<{ replicas: unknown[] }>(replicasPath(c.vhost, c.args[0]))
      if (c.format === 'json') c.io.out(formatJson(body))
      else c.io.out(formatTable(body.replicas, ['node', 'leader', 'online', 'in_sync', 'durable_seq', 'lag']))
    },
  },
]
