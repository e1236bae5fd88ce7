/**
 * The topology of a vhost as a graph for the console's diagram: exchanges and queues as nodes;
 * bindings, dead-letter links (queue argument x-dead-letter-exchange) and alternate-exchange links
 * as edges; each node with its live rates from the management sampler.
 *
 * GET /api/topology/{vhost}. The default exchange's implicit bindings (one per queue) are left out,
 * as in RabbitMQ's binding views; the default exchange appears only when a dead-letter link needs it.
 * A link to an exchange or queue that does not exist leads to a node marked `missing`.
 */
import type { Exchange } from '../core/exchange.js'
import type { Queue } from '../core/queue.js'
import type { VHost } from '../core/vhost.js'
import { requestVHost } from './auth.js'
import { ok, type ApiReply, type ApiRequest } from './context.js'
import { tableJson } from './format.js'
import type { Sampler } from './rates.js'

/** An exchange or a queue in the diagram, with its counts and per-second rates. */
export interface TopologyNode {
  /** `e:<name>` or `q:<name>` */
  id: string
  kind: 'exchange' | 'queue'
  name: string
  /** referenced by a link but not declared */
  missing?: true
  type?: string
  durable?: boolean
  auto_delete?: boolean
  internal?: boolean
  exclusive?: boolean
  messages?: number
  messages_ready?: number
  messages_unacknowledged?: number
  consumers?: number
  /** messages dead-lettered from this queue so far */
  dead_lettered?: number
  /** per second: exchanges publish_in, publish_out; queues publish, deliver_get, ack, redeliver */
  rates: Record<string, number>
}

/** A link: a binding, a queue's dead-letter exchange, or an exchange's alternate exchange. */
export interface TopologyEdge {
  id: string
  kind: 'binding' | 'dead-letter' | 'alternate-exchange'
  source: string
  target: string
  routing_key?: string
  arguments?: Record<string, unknown>
  /** a dead-letter link through the default exchange, drawn straight to the queue it names */
  via_default?: true
}

/** The answer of GET /api/topology/{vhost}. */
export interface Topology {
  vhost: string
  nodes: TopologyNode[]
  edges: TopologyEdge[]
}

const exchangeId = (name: string): string => `e:${name}`
const queueId = (name: string): string => `q:${name}`

function exchangeNode(x: Exchange, sampler: Sampler | undefined): TopologyNode {
  const r = sampler?.exchangeRates(x)
  return {
    id: exchangeId(x.name),
    kind: 'exchange',
    name: x.name,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    rates: { publish_in: r?.publishIn ?? 0, publish_out: r?.publishOut ?? 0 },
  }
}

function queueNode(q: Queue, sampler: Sampler | undefined): TopologyNode {
  const c = sampler?.queueRates(q).counters
  return {
    id: queueId(q.name),
    kind: 'queue',
    name: q.name,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.exclusive,
    messages: q.messageCount + q.unackedCount,
    messages_ready: q.messageCount,
    messages_unacknowledged: q.unackedCount,
    consumers: q.consumerCount,
    dead_lettered: q.stats.deadLettered,
    rates: {
      publish: c?.publish ?? 0,
      deliver_get: c === undefined ? 0 : c.deliver + c.deliver_no_ack + c.get + c.get_no_ack,
      ack: c?.ack ?? 0,
      redeliver: c?.redeliver ?? 0,
    },
  }
}

/** Builds the graph of one vhost. `sampler` supplies rates (all 0 without it). */
export function buildTopology(vhost: VHost, sampler?: Sampler): Topology {
  const nodes = new Map<string, TopologyNode>()
  const edges: TopologyEdge[] = []
  for (const x of vhost.exchanges.values()) if (x.name !== '') nodes.set(exchangeId(x.name), exchangeNode(x, sampler))
  for (const q of vhost.queues.values()) nodes.set(queueId(q.name), queueNode(q, sampler))
  const need = (id: string, kind: TopologyNode['kind'], name: string): void => {
    if (nodes.has(id)) return
    const x = kind === 'exchange' ? vhost.exchanges.get(name) : undefined
    nodes.set(id, x !== undefined ? exchangeNode(x, sampler) : { id, kind, name, missing: true, rates: {} })
  }

  for (const x of vhost.exchanges.values()) {
    for (const b of x.bindings.values()) {
      const target = b.destination.kind === 'queue' ? queueId(b.destination.name) : exchangeId(b.destination.name)
      edges.push({
        id: `b:${edges.length}`,
        kind: 'binding',
        source: exchangeId(x.name),
        target,
        routing_key: b.routingKey,
        arguments: tableJson(b.arguments),
      })
    }
    const ae = x.alternateExchange
    if (typeof ae === 'string' && x.name !== '') {
      need(exchangeId(ae), 'exchange', ae)
      edges.push({ id: `a:${edges.length}`, kind: 'alternate-exchange', source: exchangeId(x.name), target: exchangeId(ae) })
    }
  }

  for (const q of vhost.queues.values()) {
    const dlx = q.settings.deadLetterExchange
    if (dlx === undefined) continue
    const dlrk = q.settings.deadLetterRoutingKey
    const edge: TopologyEdge = { id: `d:${edges.length}`, kind: 'dead-letter', source: queueId(q.name), target: exchangeId(dlx) }
    if (dlrk !== undefined) edge.routing_key = dlrk
    if (dlx === '' && dlrk !== undefined) {
      // the default exchange routes by queue name: draw the link to that queue
      edge.target = queueId(dlrk)
      edge.via_default = true
      need(edge.target, 'queue', dlrk)
    } else need(edge.target, 'exchange', dlx)
    edges.push(edge)
  }
  return { vhost: vhost.name, nodes: [...nodes.values()], edges }
}

/** GET /api/topology/{vhost}. */
export function topologyHandler(req: ApiRequest): ApiReply {
  const v = requestVHost(req)
  return ok(buildTopology(v, req.ctx.sampler))
}
