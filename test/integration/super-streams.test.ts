/**
 * Super streams with real clients: PUT /api/super-streams creates an x-consistent-hash exchange and
 * N partition streams (each key's messages land in one partition, in order), GET lists them, DELETE
 * removes them, bad input is 400/404; a consumer group spreads the partitions over its members
 * (channels) and moves a departed member's partitions to the others at the committed offsets; the
 * super stream survives a restart.
 */
import type { Channel, ConsumeMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { apiClient } from '../helpers/http.js'
import { boot, connect, dataDir, halt } from '../helpers/restart.js'
import { brokerSuite } from '../helpers/suite.js'

const s = brokerSuite('ss')
const { uniq } = s
const api = () => apiClient(s.b)
const ss = (name: string) => `/api/super-streams/%2F/${encodeURIComponent(name)}`

/** Consumes every partition on `ch` in group `group`; records per partition the bodies received. */
async function groupMember(ch: Channel, parts: string[], group: string): Promise<Map<string, string[]>> {
  const got = new Map<string, string[]>(parts.map((p) => [p, []]))
  await ch.prefetch(100)
  for (const p of parts) {
    await ch.consume(
      p,
      (m: ConsumeMessage | null) => {
        if (m === null) return
        got.get(p)!.push(m.content.toString())
        ch.ack(m)
      },
      { arguments: { 'x-stream-consumer-name': group, 'x-stream-offset': 'first' } },
    )
  }
  return got
}

const active = (got: Map<string, string[]>): string[] => [...got].filter(([, b]) => b.length > 0).map(([p]) => p)

describe('super streams API', () => {
  it('creates the exchange and the partitions; a key always reaches one partition, in order', async () => {
    const name = uniq('orders')
    expect((await api().put(ss(name), { partitions: 4, arguments: { 'x-max-age': '1h' } })).status).toBe(201)
    expect((await api().put(ss(name), { partitions: 4, arguments: { 'x-max-age': '1h' } })).status).toBe(204)
    const one = (await api().get(ss(name))).body
    const parts = [0, 1, 2, 3].map((i) => `${name}-${i}`)
    expect(one).toMatchObject({ name, vhost: '/', partitions: parts, partition_count: 4, arguments: { 'x-max-age': '1h', 'x-queue-type': 'stream' } })
    expect(((await api().get('/api/super-streams')).body as { name: string }[]).some((x) => x.name === name)).toBe(true)
    const x = (await api().get(`/api/exchanges/%2F/${name}`)).body
    expect(x).toMatchObject({ type: 'x-consistent-hash', durable: true, arguments: { 'x-super-stream': true } })
    const binds = (await api().get(`/api/exchanges/%2F/${name}/bindings/source`)).body as { destination: string; routing_key: string; arguments: Record<string, unknown> }[]
    expect(binds.map((b) => [b.destination, b.routing_key, b.arguments['x-stream-partition-order']]).sort()).toEqual(parts.map((p, i) => [p, '1', i]))
    for (const [i, p] of parts.entries()) {
      expect((await api().get(`/api/queues/%2F/${p}`)).body).toMatchObject({ type: 'stream', durable: true, super_stream: name, partition: i })
    }

    const ch = await s.confirmChannel()
    for (let n = 0; n < 3; n++) for (let k = 0; k < 200; k++) ch.publish(name, `key-${k}`, Buffer.from(`key-${k}:${n}`))
    await ch.waitForConfirms()
    expect(parts.reduce((n, p) => n + s.queue(p).messageCount, 0)).toBe(600)
    const { ch: c } = await s.amqplibChannel()
    const got = await groupMember(c, parts, 'reader')
    await waitFor(() => [...got.values()].reduce((n, b) => n + b.length, 0) === 600, 5000, 'all 600 read')
    const where = new Map<string, string>()
    for (const [p, bodies] of got) {
      const seq = new Map<string, number>()
      for (const body of bodies) {
        const [key, n] = body.split(':')
        expect(where.get(key) ?? p).toBe(p)
        where.set(key, p)
        expect(Number(n)).toBe((seq.get(key) ?? -1) + 1)
        seq.set(key, Number(n))
      }
    }
    expect(where.size).toBe(200)
    // every partition got some keys
    expect(new Set(where.values()).size).toBe(4)
    // the queue list shows the partitions as streams; DELETE removes all of it
    expect((await api().del(ss(name))).status).toBe(204)
    for (const p of parts) expect(s.maybeQueue(p)).toBeUndefined()
    expect((await api().get(`/api/exchanges/%2F/${name}`)).status).toBe(404)
    expect((await api().get(ss(name))).status).toBe(404)
  })

  it('refuses bad input with 400 and unknown super streams with 404, creating nothing', async () => {
    const name = uniq('bad')
    for (const body of [{}, { partitions: 0 }, { partitions: 'x' }, { partitions: 1001 }, { partitions: 2, extra: 1 }, [1], { partitions: 2, arguments: 5 }]) {
      const r = await api().put(ss(name), body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error).toBe('bad_request')
    }
    // a bad stream argument fails on the first partition, before anything exists
    const r = await api().put(ss(name), { partitions: 2, arguments: { 'x-message-ttl': 5 } })
    expect(r.status).toBe(400)
    expect(r.body.reason).toContain("invalid arg 'x-message-ttl'")
    expect(s.maybeQueue(`${name}-0`)).toBeUndefined()
    expect((await api().get(`/api/exchanges/%2F/${name}`)).status).toBe(404)
    // a name taken by a plain exchange or queue
    const { ch } = await s.amqplibChannel()
    await ch.assertExchange(name, 'direct', { autoDelete: true })
    expect((await api().put(ss(name), { partitions: 2 })).body.reason).toContain('already exists')
    expect((await api().get(ss(name))).status).toBe(404)
    expect((await api().del(ss(name))).status).toBe(404)
    expect((await api().get(ss(uniq('none')))).status).toBe(404)
    expect((await api().put('/api/super-streams/nohost/x', { partitions: 1 })).status).toBe(404)
  })
})

describe('permissions', () => {
  it('needs configure on the exchange and every partition, checked before anything is created', async () => {
    const user = uniq('u')
    const name = uniq('perm')
    expect((await api().put(`/api/users/${user}`, { password: 'pw', tags: 'management' })).status).toBe(201)
    // configure on the exchange and partition 0 only
    await api().put(`/api/permissions/%2F/${user}`, { configure: `^${name}(-0)?$`, write: '.*', read: '.*' })
    const as = apiClient(s.b, user, 'pw')
    const r = await as.put(ss(name), { partitions: 2 })
    expect(r.status).toBe(401)
    expect(r.body.error).toBe('not_authorised')
    expect(s.maybeQueue(`${name}-0`)).toBeUndefined()
    expect((await api().get(`/api/exchanges/%2F/${name}`)).status).toBe(404)
    await api().put(`/api/permissions/%2F/${user}`, { configure: `^${name}(-\\d+)?$`, write: '.*', read: '.*' })
    expect((await as.put(ss(name), { partitions: 2 })).status).toBe(201)
    // deleting needs the same
    await api().put(`/api/permissions/%2F/${user}`, { configure: `^${name}$`, write: '.*', read: '.*' })
    expect((await as.del(ss(name))).status).toBe(401)
    expect(s.maybeQueue(`${name}-1`)).toBeDefined()
    expect((await api().del(ss(name))).status).toBe(204)
    await api().del(`/api/users/${user}`)
  })
})

describe('consumer groups over partitions', () => {
  it('gives two members 2 partitions each; when one leaves the other takes all 4 at the committed offsets', async () => {
    const name = uniq('grp')
    await api().put(ss(name), { partitions: 4 })
    const parts = [0, 1, 2, 3].map((i) => `${name}-${i}`)
    const pub = await s.confirmChannel()
    const publish = async (from: number, to: number): Promise<void> => {
      for (let k = from; k < to; k++) pub.publish(name, `k${k}`, Buffer.from(`m${k}`))
      await pub.waitForConfirms()
    }
    const a = await s.amqplibChannel()
    const b = await s.amqplibChannel()
    const gotA = await groupMember(a.ch, parts, 'app')
    const gotB = await groupMember(b.ch, parts, 'app')
    await publish(0, 200)
    const sum = (g: Map<string, string[]>): number => [...g.values()].reduce((n, x) => n + x.length, 0)
    await waitFor(() => sum(gotA) + sum(gotB) === 200, 5000, 'the first 200')
    expect(active(gotA)).toHaveLength(2)
    expect(active(gotB)).toHaveLength(2)
    expect(new Set([...active(gotA), ...active(gotB)]).size).toBe(4)
    // every partition shows one active consumer of the group
    for (const p of parts) {
      const g = (await api().get(`/api/queues/%2F/${p}`)).body.consumer_groups[0]
      expect(g).toMatchObject({ name: 'app', consumers: 2 })
    }
    const fromB = active(gotB)
    await b.conn.close()
    await publish(200, 400)
    await waitFor(() => sum(gotA) + sum(gotB) === 400, 5000, 'all 400, none lost')
    // A now reads all 4 partitions; B's partitions resumed right after what B had acked
    for (const p of fromB) expect(gotA.get(p)!.length).toBeGreaterThan(0)
    const all = [...gotA.values(), ...gotB.values()].flat().sort()
    expect(all).toEqual(Array.from({ length: 400 }, (_, k) => `m${k}`).sort())
  })
})

describe('restart', () => {
  it('keeps the super stream, its partitions and its routing', async () => {
    const dir = dataDir()
    let b = await boot(dir, { httpPort: 0 })
    expect((await apiClient(b).put('/api/super-streams/%2F/kept', { partitions: 3 })).status).toBe(201)
    let c = await connect(b)
    let ch = await c.createConfirmChannel()
    ch.publish('kept', 'some-key', Buffer.from('before'))
    await ch.waitForConfirms()
    const before = ['kept-0', 'kept-1', 'kept-2'].find((p) => b.broker.vhost('/')!.queues.get(p)!.messageCount === 1)
    await halt(b)
    b = await boot(dir, { httpPort: 0 })
    try {
      const r = (await apiClient(b).get('/api/super-streams/%2F/kept')).body
      expect(r.partitions).toEqual(['kept-0', 'kept-1', 'kept-2'])
      c = await connect(b)
      ch = await c.createConfirmChannel()
      ch.publish('kept', 'some-key', Buffer.from('after'))
      await ch.waitForConfirms()
      expect(b.broker.vhost('/')!.queues.get(before!)!.messageCount).toBe(2)
    } finally {
      await halt(b)
    }
  })
})
