// Cost per message of exchange-level deduplication, in process (no sockets): vhost.publish through
// a direct exchange with and without x-message-deduplication, and the durable window's log append.
// Usage: npm run build && node bench/dedup.mjs [messages]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { ExchangeTypeRegistry } from '../dist/core/exchange.js'
import { Message } from '../dist/core/message.js'
import { VHost } from '../dist/core/vhost.js'
import { encodeProperties } from '../dist/core/wire/properties.js'
import { registerBuiltinExchanges } from '../dist/exchanges/index.js'
import { DedupLog } from '../dist/core/dedup/dedup-log.js'

const N = Number(process.argv[2] ?? 300_000)
const log = pino({ level: 'silent' })
const types = new ExchangeTypeRegistry()
registerBuiltinExchanges(types)
const v = new VHost('/', types, log)
const q = { durable: false, autoDelete: false, exclusiveOwner: null }
v.declareQueue('q', { ...q, arguments: { 'x-max-length': 1000 } }, false, null)
const opts = (args) => ({ durable: false, autoDelete: false, internal: false, arguments: args })
const plain = v.declareExchange('plain', 'direct', opts({}), false)
const dd = v.declareExchange('dd', 'direct', opts({ 'x-message-deduplication': true, 'x-cache-size': 100_000 }), false)
v.bindQueue('q', 'plain', 'k', {}, null)
v.bindQueue('q', 'dd', 'k', {}, null)

function messages(withKey) {
  const out = []
  for (let i = 0; i < N; i++) {
    const props = encodeProperties(withKey ? { headers: { 'x-deduplication-header': `key-${i}` } } : {})
    out.push(Message.fromWire('x', 'k', props, 0, props.length, Buffer.alloc(16), 0, 16, { deliveryMode: 1, priority: 0, expiration: undefined, headersAt: withKey ? 2 : -1 }, -1, Date.now()))
  }
  return out
}

function run(label, x, ms) {
  const t0 = process.hrtime.bigint()
  for (const m of ms) v.publish(x, m)
  const ns = Number(process.hrtime.bigint() - t0) / ms.length
  console.log(`${label}: ${ns.toFixed(0)} ns/message`)
  return ns
}

for (let round = 0; round < 3; round++) {
  const a = run('plain direct, no header      ', plain, messages(false))
  const b = run('plain direct, with header    ', plain, messages(true))
  const c = run('dedup direct, unique keys    ', dd, messages(true))
  const ms = messages(true)
  run('dedup direct, all duplicates ', dd, ms.slice(0, ms.length / 2).concat(ms.slice(0, ms.length / 2)))
  console.log(`  dedup overhead: ${(c - b).toFixed(0)} ns/message (${((c / b - 1) * 100).toFixed(0)}% over plain with the same header)`)
  dd.dedup.entries.clear()
  void a
}

// the durable window's log: encoding a key into the group-commit buffer (the write and fdatasync
// run on libuv's pool afterwards, one per event-loop turn)
const dir = mkdtempSync(path.join(tmpdir(), 'warren-dedup-bench-'))
const w = dd.dedup
w.entries.clear()
w.log = DedupLog.open(path.join(dir, 'x.log'), w, log, false)
const touched = []
const ms = messages(true)
const t0 = process.hrtime.bigint()
for (const m of ms) {
  touched.length = 0
  if (!w.seen(m, Date.now(), touched, [w])) w.commit(touched)
}
console.log(`durable window (seen + log append): ${(Number(process.hrtime.bigint() - t0) / ms.length).toFixed(0)} ns/message`)
await w.log.close()
rmSync(dir, { recursive: true, force: true })
