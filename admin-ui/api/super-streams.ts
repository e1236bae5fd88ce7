/**
 * Super streams (a Warren addition to the management API; core/stream/super-stream.ts):
 * - PUT /api/super-streams/{vhost}/{name} `{"partitions": N, "arguments": {…}}` creates the
 *   x-consistent-hash exchange `name` and the streams `name-0` … `name-(N-1)` bound to it
 *   (201; 204 when the same super stream exists);
 * - GET /api/super-streams[/{vhost}[/{name}]] lists them with their partitions;
 * - DELETE /api/super-streams/{vhost}/{name} deletes the partitions and the exchange (204).
 * Creating and deleting need configure permission on the exchange and every partition (and the
 * binding permissions: write on each stream, read on the exchange), all checked before anything
 * is created or deleted.
 */
import type { Exchange } from '../../core/exchange.js'
import {
  MAX_PARTITIONS,
  declareSuperStream,
  deleteSuperStream,
  isSuperStream,
  partitionName,
  partitionsOf,
} from '../../core/stream/super-stream.js'
import type { VHost } from '../../core/vhost.js'
import { listedVHosts, requestVHost } from '../auth.js'
import { int, objectBody, shortName, toFieldTable } from '../coerce.js'
import { created, noContent, ok, type ApiReply, type ApiRequest } from '../context.js'
import { badRequest, objectNotFound } from '../http-errors.js'
import { accessFor } from '../resource-access.js'
import type { Router } from '../router.js'
import { tableJson } from '../format.js'

/** A super stream as the API lists it. */
function superStreamJson(v: VHost, x: Exchange): Record<string, unknown> {
  const parts = partitionsOf(x)
  const args = parts[0]?.options.arguments
  return {
    name: x.name,
    vhost: v.name,
    partitions: parts.map((q) => q.name),
    partition_count: parts.length,
    arguments: args === undefined ? {} : tableJson(args),
    messages: parts.reduce((n, q) => n + q.messageCount, 0),
    consumers: parts.reduce((n, q) => n + q.consumerCount, 0),
  }
}

function superStreamOf(req: ApiRequest, write = false): { v: VHost; x: Exchange } {
  const v = requestVHost(req, write)
  const x = v.exchanges.get(req.params.name)
  if (x === undefined || !isSuperStream(x)) throw objectNotFound()
  return { v, x }
}

function putSuperStream(req: ApiRequest): ApiReply {
  const v = requestVHost(req, true)
  const name = shortName(req.params.name, 'super stream name')
  if (name === '' || name.startsWith('amq.')) throw badRequest(`super stream name '${name}' is not allowed`)
  const o = objectBody(req.body)
  for (const k of Object.keys(o)) {
    if (k !== 'partitions' && k !== 'arguments') throw badRequest(`unknown super stream field '${k}' (expected partitions, arguments)`)
  }
  const n = int(o, 'partitions', 1, MAX_PARTITIONS)
  shortName(partitionName(name, n - 1), 'partition name')
  const args = toFieldTable(o.arguments ?? {}, 'arguments')
  const access = accessFor(req, v)
  const isNew = declareSuperStream(v, name, n, args, {
    exchange: access.exchangeDeclareCheck({}),
    queue: access.queueDeclareCheck(args),
    all: (names) => {
      access.check('configure', 'exchange', name)
      for (const p of names) {
        access.check('configure', 'queue', p)
        access.checkBinding('queue', p, name)
      }
    },
  })
  return isNew ? created() : noContent()
}

function deleteOne(req: ApiRequest): ApiReply {
  const { v, x } = superStreamOf(req, true)
  const access = accessFor(req, v)
  access.check('configure', 'exchange', x.name)
  for (const q of partitionsOf(x)) access.check('configure', 'queue', q.name)
  deleteSuperStream(v, x)
  return noContent()
}

const SORT = { sort: ['vhost', 'name'] }

/** Adds the super stream routes. */
export function registerSuperStreams(router: Router): void {
  const list = (req: ApiRequest): ApiReply =>
    ok(listedVHosts(req).flatMap((v) => [...v.exchanges.values()].filter(isSuperStream).map((x) => superStreamJson(v, x))))
  router.get('/api/super-streams', list, { list: SORT })
  router.get('/api/super-streams/:vhost', list, { list: SORT })
  router.get('/api/super-streams/:vhost/:name', (req) => {
    const { v, x } = superStreamOf(req)
    return ok(superStreamJson(v, x))
  })
  router.put('/api/super-streams/:vhost/:name', putSuperStream)
  router.delete('/api/super-streams/:vhost/:name', deleteOne)
}
