/**
 * Queues (RabbitMQ rabbit_mgmt_wm_queues, _queue, _queue_purge, _queue_get, _queue_bindings):
 * list, show, declare with PUT (201 new, 204 identical, 400 inequivalent), delete (?if-empty,
 * ?if-unused), purge, get messages, bindings. Everything goes through the VHost methods AMQP uses.
 */
import { RemoteQueue } from '../../core/cluster/remote-queue.js'
import type { ConnectionInfo } from '../../core/connections.js'
import { mergeDefinitions } from '../../core/policies.js'
import type { Queue } from '../../core/queue.js'
import { StreamQueue } from '../../core/stream/stream-queue.js'
import { partitionOf } from '../../core/stream/super-stream.js'
import type { VHost } from '../../core/vhost.js'
import { listedVHosts, requestVHost } from '../auth.js'
import { bool, objectBody, shortName, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiContext, type ApiReply, type ApiRequest } from '../context.js'
import { details, rfc3339, tableJson } from '../format.js'
import { objectNotFound } from '../http-errors.js'
import { queueCounters } from '../rates.js'
import { accessFor } from '../resource-access.js'
import type { Router } from '../router.js'
import { backlogJson } from './backlog.js'
import { queueBindings } from './bindings.js'
import { messageStats, QUEUE_STATS_KEYS, queueStatsCounts } from './common.js'
import { consumerJson } from './consumers.js'
import { getMessages } from './publish.js'
import { deleteRemoteQueue, oneRemoteQueueJson, putQueueInCluster, remoteHome, remoteQueuesJson } from './remote-queues.js'
import { validateQueueArguments } from '../../core/arguments.js'
import { accessRefused } from '../../core/errors.js'
import { assertHomeEquivalent } from '../../core/cluster/home-equivalence.js'
import { replicaJson, replicaLag } from '../../core/cluster/replica-placement.js'

/** A queue as RabbitMQ shows it; `detailed` adds consumer_details and friends (GET of one queue). */
export function queueJson(ctx: ApiContext, q: Queue, detailed: boolean): Record<string, unknown> {
  const { broker, sampler } = ctx
  const ready = q.messageCount
  const unacked = q.unackedCount
  const rates = sampler.queueRates(q)
  const counts = queueCounters(q)
  const exclusiveConsumer = q.consumers.find((c) => c.exclusive)
  const type = typeof q.arguments['x-queue-type'] === 'string' ? q.arguments['x-queue-type'] : 'classic'
  const out: Record<string, unknown> = {
    arguments: tableJson(q.arguments),
    auto_delete: q.autoDelete,
    // a Warren addition: growth, consume rate, time to drain, oldest message, alert (api/backlog.ts)
    backlog: backlogJson(ctx, q),
    backing_queue_status: { mode: 'default', len: ready, version: 2 },
    consumer_capacity: q.consumerCount > 0 ? 1 : 0,
    consumer_utilisation: q.consumerCount > 0 ? 1 : 0,
    consumers: q.consumerCount,
    durable: q.durable,
    effective_policy_definition: tableJson(mergeDefinitions(q.policy, q.operatorPolicy)),
    exclusive: q.exclusive,
    exclusive_consumer_tag: exclusiveConsumer?.tag ?? null,
    head_message_timestamp: null,
    memory: q.readyBytes,
    message_bytes: q.readyBytes + q.unackedBytes,
    message_bytes_paged_out: 0,
    message_bytes_ram: q.readyBytes + q.unackedBytes,
    message_bytes_ready: q.readyBytes,
    message_bytes_unacknowledged: q.unackedBytes,
    messages: ready + unacked,
    messages_details: details(rates.depths.messages),
    messages_paged_out: 0,
    messages_ram: ready + unacked,
    messages_ready: ready,
    messages_ready_details: details(rates.depths.messages_ready),
    messages_ready_ram: ready,
    messages_unacknowledged: unacked,
    messages_unacknowledged_details: details(rates.depths.messages_unacknowledged),
    messages_unacknowledged_ram: unacked,
    name: q.name,
    // a stand-in for a queue of another node (core/cluster/remote-queue.ts) names its home
    node: q instanceof RemoteQueue ? q.home.node : broker.nodeName,
    operator_policy: q.operatorPolicy?.name ?? null,
    policy: q.policy?.name ?? null,
    recoverable_slaves: null,
    single_active_consumer_tag: q.activeConsumer?.tag ?? null,
    state: 'running',
    type,
    vhost: q.vhost.name,
  }
  // RabbitMQ shows a replicated queue's leader (in a cluster: the node the queue lives on)
  if (type === 'quorum' || (type === 'stream' && broker.cluster?.placement.home(q.vhost.name, q.name)?.members !== undefined)) {
    const home = broker.cluster?.placement.home(q.vhost.name, q.name)
    if (home !== undefined) Object.assign(out, replicaJson(broker.cluster!, home), replicaLag(broker.cluster!, home))
    else out.leader = broker.nodeName
  }
  const stats = messageStats(queueStatsCounts(counts), queueStatsCounts(rates.counters), QUEUE_STATS_KEYS, true)
  if (Object.keys(stats).length > 0) out.message_stats = stats
  if (q.consumerCount === 0) out.idle_since = rfc3339(q.lastUsed)
  const owner = q.options.exclusiveOwner as ConnectionInfo | null
  if (owner !== null && broker.connections.has(owner)) {
    out.owner_pid_details = { name: owner.name, peer_host: owner.peerHost, peer_port: owner.peerPort }
  }
  if (q instanceof StreamQueue) streamJson(q, out)
  if (detailed) {
    out.consumer_details = q.consumers.map((c) => consumerJson(broker, c))
    out.deliveries = []
    out.incoming = []
    out.messages_persistent = persistentReady(q)
  }
  return out
}

/**
 * A stream's figures: `messages` is what it keeps (consuming does not remove), its bytes are its
 * segment files, and `consumer_groups` (Warren's) lists each x-stream-consumer-name with its
 * committed offset and lag behind the tail.
 */
function streamJson(q: StreamQueue, out: Record<string, unknown>): void {
  const log = q.streamLog
  const bytes = log.bytes
  out.messages = q.messageCount
  out.messages_ram = 0
  out.message_bytes = bytes
  out.message_bytes_ready = bytes
  out.message_bytes_ram = 0
  out.message_bytes_unacknowledged = 0
  out.memory = 0
  out.first_offset = log.firstOffset
  out.next_offset = log.nextOffset
  out.segments = log.segments.length
  out.consumer_groups = q.groupInfos()
  // a partition of a super stream (Warren's): its super stream and index
  const part = partitionOf(q)
  if (part !== null) {
    out.super_stream = part.superStream
    out.partition = part.index
  }
}

function queueOf(req: ApiRequest, write = false): { v: VHost; q: Queue } {
  const v = requestVHost(req, write)
  const q = v.queues.get(req.params.name)
  if (q === undefined) throw objectNotFound()
  return { v, q }
}

async function putQueue(req: ApiRequest): Promise<ApiReply> {
  const v = requestVHost(req, true)
  const name = shortName(req.params.name, 'queue name')
  const o = objectBody(req.body)
  const options = {
    durable: bool(o, 'durable', false),
    autoDelete: bool(o, 'auto_delete', false),
    exclusiveOwner: null,
    arguments: toFieldTable(o.arguments, 'arguments'),
  }
  // in a cluster, a queue of another node is compared with its etcd record (406 → 400 when it differs)
  const home = remoteHome(req.ctx.broker, v.name, name)
  if (home !== undefined) {
    accessFor(req, v).queueDeclareCheck(options.arguments)(name, false)
    assertHomeEquivalent(home, options)
    return noContent()
  }
  const existed = v.queues.has(name)
  const authorize = accessFor(req, v).queueDeclareCheck(options.arguments)
  if (!existed && req.ctx.broker.cluster?.definitions != null) {
    // a new queue in a cluster: checked here, then placed and claimed in etcd (remote-queues.ts)
    authorize(name, true)
    if (name.startsWith('amq.')) throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`)
    validateQueueArguments(name, v.name, options)
    return (await putQueueInCluster(req.ctx.broker, v, name, options)) ? created() : noContent()
  }
  // rabbit_channel queue.declare, run as the user: configure (and the dead-letter-exchange checks)
  v.declareQueue(name, options, false, null, authorize)
  return existed ? noContent() : created()
}

async function deleteQueue(req: ApiRequest): Promise<ApiReply> {
  const v = requestVHost(req, true)
  const home = remoteHome(req.ctx.broker, v.name, req.params.name)
  if (home !== undefined) {
    accessFor(req, v).check('configure', 'queue', home.name)
    await deleteRemoteQueue(req.ctx.broker, home, req.query.get('if-unused') === 'true', req.query.get('if-empty') === 'true')
    return noContent()
  }
  const { q } = queueOf(req, true)
  accessFor(req, v).check('configure', 'queue', q.name)
  // an administrative delete is not blocked by another connection's exclusive ownership
  v.deleteQueue(q.name, req.query.get('if-unused') === 'true', req.query.get('if-empty') === 'true', q.options.exclusiveOwner)
  return noContent()
}

const SORT = { sort: ['vhost', 'name'] }

/** Adds the queue routes. */
export function registerQueues(router: Router): void {
  const list = async (req: ApiRequest): Promise<ApiReply> => {
    const vhosts = listedVHosts(req)
    const broker = req.ctx.broker
    // in a cluster: this node's queues, then the others' from etcd's records (a stand-in is listed once)
    const local = vhosts.flatMap((v) => [...v.queues.values()].filter((q) => remoteHome(broker, v.name, q.name) === undefined).map((q) => queueJson(req.ctx, q, false)))
    return ok(broker.cluster === null ? local : [...local, ...(await remoteQueuesJson(req.ctx, vhosts))])
  }
  router.get('/api/queues', list, { list: SORT })
  router.get('/api/queues/:vhost', list, { list: SORT })
  router.get('/api/queues/:vhost/:name', async (req) => {
    const home = remoteHome(req.ctx.broker, requestVHost(req).name, req.params.name)
    return ok(home !== undefined ? await oneRemoteQueueJson(req.ctx, home) : queueJson(req.ctx, queueOf(req).q, true))
  })
  router.put('/api/queues/:vhost/:name', putQueue)
  router.delete('/api/queues/:vhost/:name', deleteQueue)
  router.delete('/api/queues/:vhost/:name/contents', (req) => {
    const { v, q } = queueOf(req, true)
    accessFor(req, v).check('read', 'queue', q.name) // RabbitMQ: queue.purge needs read
    v.purgeQueue(q.name, q.options.exclusiveOwner)
    return noContent()
  })
  router.post('/api/queues/:vhost/:name/get', (req) => {
    const { v, q } = queueOf(req, true)
    return getMessages(req, v, q)
  })
  router.get(
    '/api/queues/:vhost/:name/bindings',
    (req) => {
      const { v, q } = queueOf(req)
      return ok(queueBindings(v, q))
    },
    { list: { sort: ['vhost', 'source', 'destination', 'routing_key'] } },
  )
}

/**
 * Ready persistent messages. A store-backed queue counts them in its index: iterating it would
 * read every message back from disk on each poll of the page.
 */
function persistentReady(q: Queue): number {
  if (q.store !== null) return q.store.persistentCount
  let n = 0
  // expired messages may linger in the ready list as tombstones (state GONE = 2 in core/queue.ts)
  for (const env of q.ready) if (env.state !== 2 && env.message.persistent) n++
  return n
}
