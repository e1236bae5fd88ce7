/**
 * Restart and durability behaviour beyond the basics (issue 4): durable priority queues,
 * x-delivery-count across a restart, TTL measured from the original enqueue time and re-armed at
 * boot, tx.commit-ok only after fdatasync, and transient queues paging a deep backlog to disk.
 */
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { AMQPClient } from '@cloudamqp/amqp-client'
import { afterEach, describe, expect, it } from 'vitest'
import type { MessageStore } from '../../core/store/message-store.js'
import { PagedList, pagingLimits } from '../../core/store/paged-list.js'
import { PriorityStoreList } from '../../core/store/priority-store.js'
import { waitFor } from '../helpers/broker.js'
import { bodies, boot, connect, dataDir, drain, halt, publishConfirmed } from '../helpers/restart.js'

const saved = { ...pagingLimits }
afterEach(() => {
  pagingLimits.maxMessages = saved.maxMessages
  pagingLimits.maxBytes = saved.maxBytes
})

describe('durable priority queues', () => {
  it('keep their persistent messages across a restart, highest priority first', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('pq', { durable: true, arguments: { 'x-max-priority': 5 } })
    const c = await connect(b)
    const cc = await c.createConfirmChannel()
    const prios = [1, 5, 3, 9, 0, 5]
    prios.forEach((p, i) => cc.sendToQueue('pq', Buffer.from(`m${i}p${p}`), { persistent: true, priority: p }))
    cc.sendToQueue('pq', Buffer.from('transient'), { persistent: false, priority: 4 })
    await cc.waitForConfirms()
    // the head taken and left unacked: back first after the restart, redelivered
    const head = await ch.get('pq')
    expect(head && head.content.toString()).toBe('m1p5')
    await halt(b)
    b = await boot(dir)
    expect(b.broker.vhost('/')!.queues.get('pq')!.messageCount).toBe(6)
    const got = await drain(b, 'pq')
    expect(bodies(got)).toEqual(['m1p5', 'm3p9', 'm5p5', 'm2p3', 'm0p1', 'm4p0'])
    expect(got[0].fields.redelivered).toBe(true)
    await halt(b)
    b = await boot(dir)
    expect(await drain(b, 'pq')).toEqual([])
  })
})

describe('delivery counts survive a restart', () => {
  it('a quorum queue message returned twice still says x-delivery-count 2 and hits the limit', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    let ch = await (await connect(b)).createChannel()
    const args = { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dl' }
    await ch.assertQueue('dl', { durable: true })
    await ch.assertQueue('qq', { durable: true, arguments: args })
    await publishConfirmed(b, 'qq', ['once'])
    for (let i = 0; i < 2; i++) {
      const m = await ch.get('qq')
      if (m === false) throw new Error('no message')
      ch.nack(m, false, true)
    }
    await waitFor(() => b.broker.vhost('/')!.queues.get('qq')!.messageCount === 1)
    await halt(b)
    b = await boot(dir)
    ch = await (await connect(b)).createChannel()
    const m = await ch.get('qq')
    if (m === false) throw new Error('no message after restart')
    expect(m.properties.headers?.['x-delivery-count']).toBe(2)
    expect(m.fields.redelivered).toBe(true)
    ch.nack(m, false, true) // the third return: over the limit of 2
    await waitFor(() => b.broker.vhost('/')!.queues.get('dl')!.messageCount === 1)
    expect(b.broker.vhost('/')!.queues.get('qq')!.messageCount).toBe(0)
  })
})

describe('TTL after a restart', () => {
  it('dead-letters on time, counted from the original enqueue, with no consumer', async () => {
    const dir = dataDir()
    let b = await boot(dir)
    const ch = await (await connect(b)).createChannel()
    await ch.assertQueue('dead', { durable: true })
    const dlx = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' }
    await ch.assertQueue('tq', { durable: true, arguments: { 'x-message-ttl': 3000, ...dlx } })
    await ch.assertQueue('own', { durable: true, arguments: dlx })
    const t0 = Date.now()
    await publishConfirmed(b, 'tq', ['a', 'b'])
    // a short per-message TTL behind a message without one: expires where it sits
    await publishConfirmed(b, 'own', ['keep'])
    await publishConfirmed(b, 'own', ['short'], true, { expiration: '2000' })
    await halt(b)
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 1500 - Date.now())))
    b = await boot(dir)
    const v = b.broker.vhost('/')!
    await waitFor(() => v.queues.get('dead')!.messageCount === 3, 8000, 'expired messages dead-lettered')
    // counted from the restart it would be at least t0 + 1500 + 3000
    expect(Date.now() - t0).toBeLessThan(4300)
    expect(v.queues.get('tq')!.messageCount).toBe(0)
    expect(bodies(await drain(b, 'own'))).toEqual(['keep'])
    expect(bodies(await drain(b, 'dead')).sort()).toEqual(['a', 'b', 'short'])
  })
})

describe('tx.commit means durable', () => {
  it('sends commit-ok only after the store reported the batch durable', async () => {
    const b = await boot(dataDir())
    const ch0 = await (await connect(b)).createChannel()
    await ch0.assertQueue('txq', { durable: true })
    await ch0.assertQueue('txt', { durable: false })
    const store = b.broker.vhost('/')!.queues.get('txq')!.store!.messageStores()[0] as MessageStore & { logDurable(seq: number): void }
    // hold the store's durability notices back: commit-ok must wait for them
    const orig = store.logDurable.bind(store)
    let notices = 0
    store.logDurable = (seq: number) => void setTimeout(() => ((notices++, orig(seq))), 400)
    const client = new AMQPClient(b.url)
    const conn = await client.connect()
    try {
      const ch = await conn.channel()
      await ch.txSelect()
      await ch.basicPublish('', 'txt', 'fast', { deliveryMode: 2 })
      let t = Date.now()
      await ch.txCommit()
      expect(Date.now() - t).toBeLessThan(300) // a transient queue: nothing to sync
      for (let i = 0; i < 5; i++) await ch.basicPublish('', 'txq', `d${i}`, { deliveryMode: 2 })
      t = Date.now()
      await ch.txCommit()
      expect(Date.now() - t).toBeGreaterThanOrEqual(350)
      expect(notices).toBeGreaterThan(0)
      expect(store.durableSeq).toBeGreaterThanOrEqual(store.lastSeq)
      expect(b.broker.vhost('/')!.queues.get('txq')!.messageCount).toBe(5)
    } finally {
      await conn.close()
    }
  })
})

describe('transient queues page a deep backlog to disk', () => {
  it('keeps order and requeues, and deletes the pages with the queue and at restart', async () => {
    pagingLimits.maxMessages = 50
    const dir = dataDir()
    let b = await boot(dir)
    const c = await connect(b)
    const ch = await c.createChannel()
    await ch.assertQueue('deep', { durable: false })
    const n = 400
    await publishConfirmed(b, 'deep', Array.from({ length: n }, (_, i) => `m${i}`), false)
    const q = b.broker.vhost('/')!.queues.get('deep')!
    const pager = q.store as PagedList
    expect(pager).toBeInstanceOf(PagedList)
    expect(pager.pagedCount).toBe(n - 50)
    expect(q.messageCount).toBe(n)
    const pages = path.join(dir, 'paging')
    expect(readdirSync(pages).length).toBe(1)
    // take a paged message, return it: it goes back in its place
    const got: string[] = []
    for (let i = 0; i < 60; i++) {
      const m = await ch.get('deep')
      if (m === false) throw new Error('empty')
      if (i === 55) ch.nack(m, false, true)
      else {
        ch.ack(m)
        got.push(m.content.toString())
      }
    }
    got.push(...bodies(await drain(b, 'deep')))
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `m${i}`))
    await publishConfirmed(b, 'deep', Array.from({ length: 100 }, (_, i) => `x${i}`), false)
    await ch.deleteQueue('deep')
    await waitFor(() => readdirSync(pages).length === 0, 5000, 'pages deleted with the queue')
    await ch.assertQueue('deep2', { durable: false })
    await publishConfirmed(b, 'deep2', Array.from({ length: 100 }, (_, i) => `y${i}`), false)
    await halt(b)
    b = await boot(dir)
    expect(existsSync(pages)).toBe(false)
  })

  it('pages a transient priority queue per level: highest priority first, FIFO within one, requeues in place', async () => {
    pagingLimits.maxMessages = 100
    const dir = dataDir()
    const b = await boot(dir)
    const c = await connect(b)
    const ch = await c.createChannel()
    await ch.assertQueue('pdeep', { durable: false, arguments: { 'x-max-priority': 5 } })
    const n = 3000
    const prio = (i: number): number => (i * 7) % 6
    const c2 = await connect(b)
    const cc = await c2.createConfirmChannel()
    for (let i = 0; i < n; i++) cc.sendToQueue('pdeep', Buffer.from(`m${i}p${prio(i)}`), { persistent: false, priority: prio(i) })
    await cc.waitForConfirms()
    const q = b.broker.vhost('/')!.queues.get('pdeep')!
    const list = q.store as PriorityStoreList<PagedList>
    expect(list).toBeInstanceOf(PriorityStoreList)
    expect(q.messageCount).toBe(n)
    // the whole queue keeps pagingLimits.maxMessages envelopes in memory, the rest is paged per level
    expect([...list.pinnedEnvelopes()].length).toBe(100)
    expect(list.messageStores().reduce((t, s) => t + s.count, 0)).toBe(n - 100)
    const pages = path.join(dir, 'paging')
    expect(readdirSync(pages).length).toBe(1)
    expect(readdirSync(path.join(pages, readdirSync(pages)[0])).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5'])
    const expected = Array.from({ length: n }, (_, i) => i)
      .sort((x, y) => prio(y) - prio(x) || x - y)
      .map((i) => `m${i}p${prio(i)}`)
    // take some, return one from memory and one paged: each goes back in its place
    const got: string[] = []
    for (let i = 0; i < 60; i++) {
      const m = await ch.get('pdeep')
      if (m === false) throw new Error('empty')
      if (i === 5 || i === 40) ch.nack(m, false, true)
      else {
        ch.ack(m)
        got.push(m.content.toString())
      }
    }
    got.push(...bodies(await drain(b, 'pdeep')))
    expect(got).toEqual(expected)
    // purge empties every level's store; delete removes the queue's paging directory
    await publishConfirmed(b, 'pdeep', Array.from({ length: 500 }, (_, i) => `x${i}`), false, { priority: 2 })
    await ch.purgeQueue('pdeep')
    expect(q.messageCount).toBe(0)
    expect(list.messageStores().every((s) => s.count === 0)).toBe(true)
    await publishConfirmed(b, 'pdeep', Array.from({ length: 300 }, (_, i) => `y${i}`), false, { priority: 3 })
    expect(list.messageStores().reduce((t, s) => t + s.count, 0)).toBe(200)
    await ch.deleteQueue('pdeep')
    await waitFor(() => readdirSync(pages).length === 0, 5000, 'pages deleted with the queue')
    await c2.close()
    await halt(b)
  })
})
