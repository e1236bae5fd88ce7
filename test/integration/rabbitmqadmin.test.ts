/**
 * The real RabbitMQ CLI `rabbitmqadmin` (Debian's rabbitmq-server package: a Python script using the
 * management API) against Warren: list, show, declare, publish, get, purge, delete, close, export
 * and import, with the output checked through the tool itself and through the broker.
 * Skipped when python3 or /usr/bin/rabbitmqadmin is missing (.ci/run installs both); WARREN_PYTHON
 * and WARREN_RABBITMQADMIN override the paths.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'

const ADMIN = process.env.WARREN_RABBITMQADMIN ?? '/usr/bin/rabbitmqadmin'

function findPython(): string | null {
  for (const p of [process.env.WARREN_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => !!x)) {
    if (spawnSync(p, ['-c', 'import json, http.client'], { timeout: 10_000 }).status === 0) return p
  }
  return null
}

const python = findPython()
const missing = python === null ? 'python3 not found' : !existsSync(ADMIN) ? `${ADMIN} not found (Debian package rabbitmq-server)` : null
const title = missing === null ? 'rabbitmqadmin against Warren' : `rabbitmqadmin against Warren (SKIPPED: ${missing})`

describe.skipIf(missing !== null)(title, () => {
  let b: TestBroker
  let dir: string

  /** Runs rabbitmqadmin; resolves with stdout, rejects with stderr on a non-zero exit. */
  const admin = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const argv = [ADMIN, '-H', '127.0.0.1', '-P', String(b.httpPort), '-u', 'guest', '-p', 'guest', ...args]
      execFile(python!, argv, { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`rabbitmqadmin ${args.join(' ')} failed: ${stderr || err.message}\n${stdout}`))
        else resolve(stdout)
      })
    })
  const json = async (...args: string[]): Promise<any> => JSON.parse(await admin('-f', 'raw_json', ...args))

  beforeAll(async () => {
    b = await startTestBroker()
    dir = mkdtempSync(path.join(tmpdir(), 'warren-rabbitmqadmin-'))
  })
  afterAll(async () => {
    await b?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('shows the overview and lists the built-in objects', async () => {
    const overview = await admin('show', 'overview')
    expect(overview).toContain('3.10.8')
    expect(overview).toContain(b.broker.clusterName)
    const exchanges = await json('list', 'exchanges')
    expect(exchanges.map((x: any) => x.name)).toEqual(expect.arrayContaining(['', 'amq.direct', 'amq.topic']))
    expect((await json('list', 'vhosts')).map((v: any) => v.name)).toEqual(['/'])
    expect((await json('list', 'users'))[0]).toMatchObject({ name: 'guest', tags: ['administrator'] })
    expect((await json('list', 'permissions'))[0]).toMatchObject({ user: 'guest', vhost: '/', configure: '.*' })
    expect((await json('list', 'nodes'))[0].name).toBe(b.broker.nodeName)
    expect(await json('list', 'policies')).toEqual([])
  })

  it('declares a queue, an exchange and a binding, publishes, gets, purges and deletes', async () => {
    await admin('declare', 'queue', 'name=adm.q', 'durable=false')
    await admin('declare', 'exchange', 'name=adm.x', 'type=topic', 'durable=false')
    await admin('declare', 'binding', 'source=adm.x', 'destination=adm.q', 'routing_key=a.*')
    const v = b.broker.vhost('/')!
    expect(v.queues.get('adm.q')!.durable).toBe(false)
    expect(v.exchanges.get('adm.x')!.type).toBe('topic')
    const bindings = await json('list', 'bindings')
    expect(bindings).toContainEqual(expect.objectContaining({ source: 'adm.x', destination: 'adm.q', routing_key: 'a.*', properties_key: 'a.%2A' }))

    expect(await admin('publish', 'exchange=adm.x', 'routing_key=a.b', 'payload=hello from python')).toContain('Message published')
    expect(await admin('publish', 'exchange=adm.x', 'routing_key=zzz', 'payload=lost')).toContain('NOT routed')
    expect(await admin('publish', 'routing_key=adm.q', 'payload=via default')).toContain('Message published')
    const queues = await json('list', 'queues', 'name', 'messages')
    expect(queues).toContainEqual({ name: 'adm.q', messages: 2 })
    expect(await admin('list', 'queues')).toMatch(/adm\.q\s*\|\s*2/)

    // ack_requeue_true (the default) leaves the message; ack_requeue_false takes it
    const peek = await json('get', 'queue=adm.q')
    expect(peek[0]).toMatchObject({ payload: 'hello from python', exchange: 'adm.x', routing_key: 'a.b', payload_encoding: 'string', redelivered: false })
    const take = await json('get', 'queue=adm.q', 'ackmode=ack_requeue_false', 'count=2')
    expect(take.map((m: any) => m.payload)).toEqual(['hello from python', 'via default'])
    expect(take[0].redelivered).toBe(true)
    expect(v.queues.get('adm.q')!.messageCount).toBe(0)

    await admin('publish', 'exchange=adm.x', 'routing_key=a.c', 'payload=to purge')
    await admin('purge', 'queue', 'name=adm.q')
    expect(v.queues.get('adm.q')!.messageCount).toBe(0)

    await admin('delete', 'binding', 'source=adm.x', 'destination_type=queue', 'destination=adm.q', 'properties_key=a.*')
    expect(v.exchanges.get('adm.x')!.bindings.size).toBe(0)
    await admin('delete', 'queue', 'name=adm.q')
    await admin('delete', 'exchange', 'name=adm.x')
    expect(v.queues.has('adm.q')).toBe(false)
    expect(v.exchanges.has('adm.x')).toBe(false)
  })

  it('declares and deletes policies, operator policies, vhost limits and parameters (and applies them)', async () => {
    await admin('declare', 'queue', 'name=adm.pol.q', 'durable=false')
    await admin('declare', 'policy', 'name=adm-pol', 'pattern=^adm\\.pol\\.', 'definition={"max-length": 5, "message-ttl": 60000}', 'priority=3', 'apply-to=queues')
    await admin('declare', 'operator_policy', 'name=adm-op', 'pattern=^adm\\.', 'definition={"max-length": 2}', 'apply-to=queues')
    const q = b.broker.vhost('/')!.queues.get('adm.pol.q')!
    expect(q.settings).toMatchObject({ maxLength: 2, messageTtl: 60000 })
    expect(await json('list', 'policies')).toContainEqual(
      expect.objectContaining({ name: 'adm-pol', pattern: '^adm\\.pol\\.', 'apply-to': 'queues', priority: 3, definition: { 'max-length': 5, 'message-ttl': 60000 } }),
    )
    expect((await json('list', 'operator_policies')).map((p: any) => p.name)).toEqual(['adm-op'])
    await admin('declare', 'vhost_limit', 'vhost=/', 'name=max-queues', 'value=100')
    expect(await json('list', 'vhost_limits')).toEqual([{ vhost: '/', value: { 'max-queues': 100 } }])
    await admin('declare', 'parameter', 'component=federation-upstream', 'name=adm-up', 'value={"uri": "amqp://remote.example"}')
    // as rabbit_runtime_parameters:list, every parameter but policies: vhost limits and operator policies too
    const params = await json('list', 'parameters')
    expect(params).toContainEqual({ component: 'federation-upstream', name: 'adm-up', vhost: '/', value: { uri: 'amqp://remote.example' } })
    expect(params).toContainEqual({ component: 'vhost-limits', name: 'limits', vhost: '/', value: { 'max-queues': 100 } })
    expect(params.map((p: any) => p.component).sort()).toEqual(['federation-upstream', 'operator_policy', 'vhost-limits'])

    await admin('delete', 'operator_policy', 'name=adm-op')
    expect(q.settings.maxLength).toBe(5)
    await admin('delete', 'policy', 'name=adm-pol')
    expect(q.settings).toMatchObject({ maxLength: -1, messageTtl: -1 })
    await admin('delete', 'vhost_limit', 'vhost=/', 'name=max-queues')
    await admin('delete', 'parameter', 'component=federation-upstream', 'name=adm-up')
    expect(await json('list', 'policies')).toEqual([])
    expect(await json('list', 'operator_policies')).toEqual([])
    expect(await json('list', 'vhost_limits')).toEqual([])
    expect(await json('list', 'parameters')).toEqual([])
    await admin('delete', 'queue', 'name=adm.pol.q')

    // and the objects the other tests only declare
    await admin('declare', 'vhost', 'name=adm-gone')
    await admin('declare', 'user', 'name=adm-gone', 'password=x', 'tags=')
    await admin('declare', 'permission', 'vhost=adm-gone', 'user=adm-gone', 'configure=.*', 'write=.*', 'read=.*')
    await admin('delete', 'permission', 'vhost=adm-gone', 'user=adm-gone')
    await admin('delete', 'user', 'name=adm-gone')
    await admin('delete', 'vhost', 'name=adm-gone')
    expect(b.broker.vhost('adm-gone')).toBeUndefined()
    expect(b.broker.users.get('adm-gone')).toBeUndefined()
    await expect(admin('declare', 'policy', 'name=bad', 'pattern=.*', 'definition={"max-priority": 10}')).rejects.toThrow(/are not recognised policy settings/)
  }, 120_000) // some 25 runs of a Python script

  it('passes RabbitMQ reasons through on errors', async () => {
    await admin('declare', 'queue', 'name=adm.dup', 'durable=false')
    await expect(admin('declare', 'queue', 'name=adm.dup', 'durable=true')).rejects.toThrow(/inequivalent arg 'durable'/)
    await expect(admin('declare', 'exchange', 'name=amq.nope', 'type=direct')).rejects.toThrow(/Access refused/)
    await expect(admin('delete', 'queue', 'name=does-not-exist')).rejects.toThrow(/Not found/)
    expect((await json('list', 'queues')).map((q: any) => q.name)).toContain('adm.dup')
  })

  it('lists connections, channels and consumers of an AMQP client and closes a connection', async () => {
    const conn = await amqp.connect(b.url + '?heartbeat=0')
    const closed = new Promise<Error>((resolve) => conn.on('close', resolve))
    const ch = await conn.createChannel()
    await ch.assertQueue('adm.consumed', { durable: false })
    await ch.consume('adm.consumed', () => undefined, { consumerTag: 'adm-ctag' })
    const conns = await waitFor(async () => {
      const list = await json('list', 'connections')
      return list.length === 1 ? list : null
    })
    expect(conns[0]).toMatchObject({ user: 'guest', channels: 1 })
    expect((await json('list', 'channels'))[0].name).toBe(`${conns[0].name} (1)`)
    expect(await json('list', 'consumers')).toContainEqual(expect.objectContaining({ consumer_tag: 'adm-ctag', queue: { name: 'adm.consumed', vhost: '/' } }))
    await admin('close', 'connection', `name=${conns[0].name}`)
    expect((await closed).message).toMatch(/CONNECTION_FORCED/)
    await waitFor(() => b.broker.connections.size === 0)
  })

  it('exports definitions and imports them into a fresh broker', async () => {
    await admin('declare', 'vhost', 'name=adm-vhost')
    await admin('declare', 'user', 'name=adm-user', 'password=s3cret', 'tags=monitoring')
    await admin('declare', 'permission', 'vhost=adm-vhost', 'user=adm-user', 'configure=^adm', 'write=.*', 'read=.*')
    await admin('-V', 'adm-vhost', 'declare', 'exchange', 'name=exp.x', 'type=fanout')
    await admin('-V', 'adm-vhost', 'declare', 'queue', 'name=exp.q', 'arguments={"x-message-ttl": 60000}')
    await admin('-V', 'adm-vhost', 'declare', 'binding', 'source=exp.x', 'destination=exp.q')
    const file = path.join(dir, 'defs.json')
    await admin('export', file)
    const defs = JSON.parse(readFileSync(file, 'utf8'))
    expect(defs.users).toContainEqual(expect.objectContaining({ name: 'adm-user', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['monitoring'] }))
    expect(defs.queues).toContainEqual({ name: 'exp.q', vhost: 'adm-vhost', durable: true, auto_delete: false, arguments: { 'x-message-ttl': 60000 } })

    const other = await startTestBroker()
    try {
      const args = ['-H', '127.0.0.1', '-P', String(other.httpPort), '-u', 'guest', '-p', 'guest', 'import', file]
      await new Promise<void>((resolve, reject) =>
        execFile(python!, [ADMIN, ...args], { timeout: 30_000 }, (err, _o, se) => (err ? reject(new Error(se)) : resolve())),
      )
      const v = other.broker.vhost('adm-vhost')!
      expect(v.queues.get('exp.q')!.arguments).toEqual({ 'x-message-ttl': 60000 })
      expect([...v.exchanges.get('exp.x')!.bindings.values()][0].destination.name).toBe('exp.q')
      expect(other.broker.users.authenticate('adm-user', 's3cret', '127.0.0.1').ok).toBe(true)
      expect(other.broker.users.getPermission('adm-user', 'adm-vhost')!.configure).toBe('^adm')
    } finally {
      await other.stop()
    }
    // and back into the first broker (identical objects: nothing changes, no error)
    writeFileSync(file, JSON.stringify(defs))
    await admin('import', file)
  })
})
