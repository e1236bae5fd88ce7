/**
 * The node link's window of unaccepted publishes (issue 13, transport/cluster/link-peer.ts): a node
 * forwards at most PUBLISH_WINDOW messages, or PUBLISH_WINDOW_BYTES bytes of them, that the home has
 * not accepted yet before pausing its publishers. Everything unaccepted sits in the link's one byte
 * stream ahead of the node's acks and credit, so the window bounds how long those wait. Here the
 * home withholds its acceptance (its queue holds publishers back: over 8000 messages with an active
 * consumer), and the test checks how much still crosses.
 */
import type { Channel } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/broker.js'
import { clusterPairSuite, links } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'
import { PUBLISH_WINDOW, PUBLISH_WINDOW_BYTES } from '../../transport/cluster/link-peer.js'

describe.skipIf(!hasEtcd)(hasEtcd ? 'node link: window of unaccepted publishes' : 'node link window: skipped, /usr/bin/etcd is not installed (Debian etcd-server)', () => {
  const s = clusterPairSuite('window')
  const { uniq, conn, homedQueue, homeQueue } = s

  /** A queue homed on n2 holding 8000 messages with a slow active consumer there: it withholds acceptance. */
  async function heldBackQueue(): Promise<{ q: string; acked: () => number; stop: () => Promise<void> }> {
    const q = uniq('win')
    await homedQueue(s.n2, s.n1, q)
    const local = await (await conn(s.n2)).createChannel()
    const seed = Buffer.from('s')
    for (let i = 0; i < 8000; i++) local.sendToQueue(q, seed)
    await waitFor(() => homeQueue(s.n2, q).messageCount === 8000, 10_000, 'the seed at the home')
    const cch: Channel = await (await conn(s.n2)).createChannel()
    await cch.prefetch(1)
    const timers: NodeJS.Timeout[] = []
    let acked = 0
    const { consumerTag } = await cch.consume(q, (m) => timers.push(setTimeout(() => (acked++, cch.ack(m!)), 50)))
    await waitFor(() => acked > 0, 5000, 'the consumer at the home active')
    return {
      q,
      acked: () => acked,
      stop: async () => {
        await cch.cancel(consumerTag)
        for (const t of timers) clearTimeout(t)
      },
    }
  }

  it(`small messages: at most about PUBLISH_WINDOW (${PUBLISH_WINDOW}) cross while the home withholds acceptance`, async () => {
    const h = await heldBackQueue()
    const peer = links(s.n1).peer('n2')
    const before = peer.throttled
    const pub = await (await conn(s.n1)).createChannel()
    const N = 6000
    for (let i = 0; i < N; i++) pub.sendToQueue(h.q, Buffer.from('w'))
    await waitFor(() => peer.throttled > before, 10_000, 'the publisher on n1 paused')
    await new Promise((r) => setTimeout(r, 300))
    // what crossed: at the home (ready, unacked or acked) beyond the seed
    const home = homeQueue(s.n2, h.q)
    const crossed = home.messageCount + home.unackedCount + h.acked() - 8000
    // the window, plus what the paused publisher's connection had already read
    expect(peer.unaccepted).toBeLessThanOrEqual(PUBLISH_WINDOW + 1500)
    expect(crossed).toBeLessThan(N)
    await h.stop()
    await waitFor(() => homeQueue(s.n2, h.q).messageCount + homeQueue(s.n2, h.q).unackedCount + h.acked() === 8000 + N, 15_000, 'every message at the home')
  }, 30_000)

  it(`large messages: at most about PUBLISH_WINDOW_BYTES (${PUBLISH_WINDOW_BYTES / 1048576} MiB) cross while the home withholds acceptance`, async () => {
    const h = await heldBackQueue()
    const peer = links(s.n1).peer('n2')
    const before = peer.throttled
    const pub = await (await conn(s.n1)).createChannel()
    const N = 200
    const big = Buffer.alloc(64 * 1024, 0x62)
    for (let i = 0; i < N; i++) pub.sendToQueue(h.q, big)
    await waitFor(() => peer.throttled > before, 10_000, 'the publisher on n1 paused')
    await new Promise((r) => setTimeout(r, 300))
    const home = homeQueue(s.n2, h.q)
    const crossed = home.messageCount + home.unackedCount + h.acked() - 8000
    // 12.5 MiB published: about 4 MiB (and what the paused connection had read) crossed, not all of it
    expect(peer.unacceptedBytes).toBeLessThanOrEqual(PUBLISH_WINDOW_BYTES + 2 * 1048576)
    expect(crossed).toBeLessThan(N)
    expect(peer.congested).toBe(true)
    await h.stop()
    await waitFor(() => homeQueue(s.n2, h.q).messageCount + homeQueue(s.n2, h.q).unackedCount + h.acked() === 8000 + N, 15_000, 'every message at the home')
  }, 30_000)
})
