#!/usr/bin/env node
// Storage engine benchmark (core/store, no broker, no sockets). Needs a build (`npm run build`):
//
//   node --expose-gc bench/store.mjs            all figures, 1e6 messages
//   BENCH_COUNT=200000 node --expose-gc bench/store.mjs
//   BENCH_DIR=/mnt/ssd node --expose-gc bench/store.mjs    measure another disk (default: os.tmpdir())
//
// Figures:
//   stream     appends/s of persistent 16-byte messages, 5000 per event-loop turn (a busy
//              publisher), fdatasync per batch; how many fdatasyncs that took
//   confirms   S2-like: a publisher keeping 1000 messages unconfirmed, refilling its window on
//              each durability callback; confirmed msgs/s and fdatasyncs/s
//   recover    time to reopen the store holding them all
//   index RAM  heap + array buffers after recovery minus before, per message (needs --expose-gc)
//   read back  messages/s delivered from disk (cache off), as for a deep queue
// Ratios between runs on one machine mean something; absolute numbers depend on the disk.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Message } from '../dist/core/message.js'
import { MessageStore } from '../dist/core/store/message-store.js'
import { newLogStats } from '../dist/core/store/segment-log.js'

const COUNT = Number(process.env.BENCH_COUNT ?? 1_000_000)
const WINDOW = 1000
const base = process.env.BENCH_DIR ?? tmpdir()
const log = pino({ level: 'warn' })
const props = Buffer.from([0x10, 0x00, 0x02]) // delivery-mode 2
const message = new Message('', 'bench', Buffer.concat([props, Buffer.from('0123456789abcdef')]), props.length, 2, 0, -1, -1, Date.now())
const gc = globalThis.gc
const turn = () => new Promise((r) => setImmediate(r))
const fmt = (n) => Math.round(n).toLocaleString('en-US')

function mem() {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

async function stream(dir) {
  const stats = newLogStats()
  const store = MessageStore.open({ dir, log, stats })
  const t0 = performance.now()
  for (let i = 0; i < COUNT; i += 5000) {
    const n = Math.min(5000, COUNT - i)
    for (let j = 0; j < n; j++) store.append(message)
    await turn()
  }
  while (store.durableSeq < COUNT) await turn()
  const ms = performance.now() - t0
  await store.close()
  return { ms, syncs: stats.syncs, writes: stats.writes }
}

async function confirms(dir) {
  const stats = newLogStats()
  const store = MessageStore.open({ dir, log, stats })
  const count = Math.min(COUNT, 200_000)
  let sent = 0
  let confirmed = 0
  let done
  const finished = new Promise((r) => (done = r))
  const publish = (n) => {
    for (let i = 0; i < n && sent < count; i++, sent++) store.append(message)
    if (sent > confirmed) store.addWaiter(waiter)
  }
  const waiter = {
    storeDurable(_s, seq) {
      const newly = seq - confirmed
      confirmed = seq
      if (confirmed >= count) return done()
      publish(newly) // the publisher refills its window as confirms arrive
    },
    storeFailed(_s, err) {
      throw err
    },
  }
  const t0 = performance.now()
  publish(WINDOW)
  await finished
  const ms = performance.now() - t0
  await store.close()
  return { count, ms, syncs: stats.syncs }
}

async function recoverAndRead(dir) {
  const before = mem()
  const t0 = performance.now()
  const store = MessageStore.open({ dir, log, cacheBytes: 0 })
  const recoverMs = performance.now() - t0
  const after = mem()
  const count = store.count
  const t1 = performance.now()
  let n = 0
  for (let m = store.shift(); m !== undefined; m = store.shift()) {
    store.ack(store.shiftedRef, store.shiftedSize)
    n++
  }
  const readMs = performance.now() - t1
  await store.close()
  return { count, recoverMs, bytesPerMsg: (after - before) / count, readMs, n }
}

const dir = mkdtempSync(join(base, 'warren-store-bench-'))
try {
  const s = await stream(join(dir, 'a'))
  console.log(`stream    ${fmt(COUNT)} appends of 16 B persistent: ${fmt((COUNT / s.ms) * 1000)}/s, ${s.syncs} fdatasyncs, ${s.writes} writes (${s.ms.toFixed(0)} ms)`)
  const r = await recoverAndRead(join(dir, 'a'))
  console.log(`recover   ${fmt(r.count)} messages in ${r.recoverMs.toFixed(0)} ms (${fmt((r.count / r.recoverMs) * 1000)}/s)`)
  if (gc) console.log(`index RAM ${r.bytesPerMsg.toFixed(1)} B/message (heap + array buffers held after recovery)`)
  else console.log('index RAM (run with --expose-gc to measure)')
  console.log(`read back ${fmt(r.n)} messages from disk + ack: ${fmt((r.n / r.readMs) * 1000)}/s`)
  const c = await confirms(join(dir, 'b'))
  console.log(
    `confirms  window ${WINDOW}: ${fmt((c.count / c.ms) * 1000)} confirmed msgs/s, ${c.syncs} fdatasyncs (${fmt((c.syncs / c.ms) * 1000)}/s, ${(c.count / c.syncs).toFixed(0)} msgs/sync)`,
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
