/**
 * A quorum queue's or a replicated stream's replicas (issue 14; RabbitMQ has `rabbitmq-queues
 * add_member` / `delete_member` and `rabbitmq-streams add_replica` / `delete_replica` on the command
 * line, Warren also has them over HTTP, which `warren ctl` uses):
 *   GET    /api/queues/{vhost}/{queue}/replicas          leader, members, in_sync, epoch, online and
 *                                                        per member: online, in_sync, durable_seq, lag
 *   POST   /api/queues/{vhost}/{queue}/replicas          {"node": "n3"}: add a member (204)
 *   DELETE /api/queues/{vhost}/{queue}/replicas/{node}   remove a member, its store deleted (204)
 * Errors: unknown queue 404; not a quorum queue nor a stream, unknown or stopped node, already (or not) a member,
 * the leader or the last member 400. Changing members needs the administrator tag.
 */
import type { QueueHome } from '../../core/cluster/placement.js'
import { isStream, streamFigures } from '../../core/cluster/replica-placement.js'
import { ReplicaAdminError } from '../../core/cluster/replica-status.js'
import { requestVHost } from '../auth.js'
import { objectBody } from '../coerce.js'
import { noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest, HttpError, notFound } from '../http-errors.js'
import type { Router } from '../router.js'

/** The queue's record, or the single node's own view of a local quorum queue. */
function homeOf(req: ApiRequest): QueueHome {
  const v = requestVHost(req)
  const name = req.params.name
  const broker = req.ctx.broker
  const h = broker.cluster?.placement.home(v.name, name)
  const q = v.queues.get(name)
  if (h === undefined && q === undefined) throw notFound(`no queue '${name}' in vhost '${v.name}'`)
  const home: QueueHome = h ?? { vhost: v.name, name, node: broker.nodeName, durable: q!.durable, autoDelete: q!.autoDelete, exclusive: q!.exclusive, arguments: q!.arguments }
  const type = home.arguments['x-queue-type']
  if (type !== 'quorum' && type !== 'stream') throw badRequest(`queue '${name}' in vhost '${v.name}' is not a quorum queue nor a stream`)
  return home
}

function replicasJson(req: ApiRequest): Record<string, unknown> {
  const h = homeOf(req)
  const c = req.ctx.broker.cluster
  const members = h.members ?? [h.node]
  const online = (m: string): boolean => c === null || c.members.has(m)
  const fig = c === null ? undefined : isStream(h.arguments) ? streamFigures(c, h) : c.replicaStatus.get(h.vhost, h.name)
  const current = fig !== undefined && fig.leader === h.node && fig.epoch === (h.epoch ?? 1) ? fig : undefined
  // a stream's record has no in-sync set: its leader's figures say who is caught up
  const inSync = h.inSync ?? (current !== undefined && isStream(h.arguments) ? members.filter((m) => current.members[m]?.inSync === true) : members)
  return {
    name: h.name,
    vhost: h.vhost,
    leader: h.node,
    epoch: h.epoch ?? 1,
    members,
    in_sync: inSync,
    online: members.filter(online),
    replicas: members.map((m) => {
      const f = current?.members[m]
      return {
        node: m,
        leader: m === h.node,
        online: online(m),
        in_sync: inSync.includes(m),
        // -1: not known yet (the member has not acked since the leader started)
        durable_seq: m === h.node && c === null ? 0 : (f?.seq ?? -1),
        lag: m === h.node ? 0 : (f?.lag ?? -1),
      }
    }),
    figures_at: current?.at ?? null,
  }
}

async function change(req: ApiRequest, node: string, add: boolean): Promise<ApiReply> {
  const h = homeOf(req)
  const admin = req.ctx.broker.cluster?.replicaAdmin ?? null
  if (admin === null) throw badRequest(`node '${node}' is not a running member of the cluster`)
  try {
    if (add) await admin.addMember(h.vhost, h.name, node)
    else await admin.deleteMember(h.vhost, h.name, node)
  } catch (err) {
    if (err instanceof ReplicaAdminError) throw new HttpError(err.status, err.status === 404 ? 'not_found' : 'bad_request', err.message)
    throw err
  }
  return noContent()
}

export function registerQueueReplicas(router: Router): void {
  router.get('/api/queues/:vhost/:name/replicas', (req) => ok(replicasJson(req)))
  router.post(
    '/api/queues/:vhost/:name/replicas',
    (req) => {
      const node = objectBody(req.body).node
      if (typeof node !== 'string' || node === '') throw badRequest('the body needs "node": the name of the node to add')
      return change(req, node, true)
    },
    { access: 'administrator' },
  )
  router.delete('/api/queues/:vhost/:name/replicas/:node', (req) => change(req, req.params.node, false), { access: 'administrator' })
}
