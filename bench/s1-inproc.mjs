// In-process S1-like CPU cost of the single-node hot path, free of TCP and scheduler noise: the built
// broker, one Connection over an in-memory socket, 16 B publishes (256 per chunk) through the default
// exchange to a queue with a no-ack consumer; prints the broker's CPU ns per message. Compare builds
// by alternating processes (and a second run of the same build as a control):
//
//   npm run build && node bench/s1-inproc.mjs [dist dir, default ./dist] [seconds, default 3]
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import pino from 'pino'
const dist = resolve(process.argv[2] ?? 'dist')
const seconds = Number(process.argv[3] ?? 3)
const { startBroker } = await import(`file://${dist}/transport/server.js`)
const { Connection } = await import(`file://${dist}/transport/connection.js`)
const { encodeMethod } = await import(`file://${dist}/transport/codec/methods.js`)
const { Encoder } = await import(`file://${dist}/core/wire/field-table.js`)
const log = pino({ level: 'silent' })
const dataDir = mkdtempSync(join(tmpdir(), 's1inproc-'))
const rb = await startBroker({ amqpPort: 0, httpPort: -1, prometheusPort: -1, bind: '127.0.0.1', dataDir, logger: log })
function frame(type, ch, payload) { const b = Buffer.alloc(payload.length + 8); b[0] = type; b.writeUInt16BE(ch, 1); b.writeUInt32BE(payload.length, 3); payload.copy(b, 7); b[b.length - 1] = 0xce; return b }
function method(ch, c, m, args = []) { const e = new Encoder(256); encodeMethod(e, c, m, args); return frame(1, ch, Buffer.from(e.buf.subarray(0, e.pos))) }
function header(ch, size) { const h = Buffer.alloc(14); h.writeUInt16BE(60, 0); h.writeUInt32BE(size, 8); return frame(2, ch, h) }
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1'; remotePort = 40000; localAddress = '127.0.0.1'; localPort = 5672; writableLength = 0; out = 0
  write(b) { this.out += b.length; return true } cork() {} uncork() {} pause() {} resume() {} end() {} destroy() {} setNoDelay() {}
}
const sock = new FakeSocket()
new Connection(rb.broker, sock, 'AMQP 0-9-1', log)
const tick = () => new Promise((r) => setImmediate(r))
sock.emit('data', Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')); await tick()
sock.emit('data', method(0, 10, 11, [{ product: 's1' }, 'PLAIN', '\0guest\0guest', 'en_US'])); await tick()
sock.emit('data', method(0, 10, 31, [0, 131072, 0])); sock.emit('data', method(0, 10, 40, ['/', '', false])); await tick()
sock.emit('data', method(1, 20, 10, [''])); await tick()
sock.emit('data', method(1, 50, 10, [0, 's1q', false, false, false, false, false, {}])); await tick()
sock.emit('data', method(1, 60, 20, [0, 's1q', 'ctag', false, true, false, false, {}])); await tick()
// one chunk = 256 publishes of 16 B
const body = frame(3, 1, Buffer.alloc(16, 7))
const one = Buffer.concat([method(1, 60, 40, [0, '', 's1q', false, false]), header(1, 16), body])
const chunk = Buffer.concat(Array(256).fill(one))
const q = rb.broker.vhost('/').queues.get('s1q')
let n = 0
// warm up
for (let i = 0; i < 400; i++) { sock.emit('data', chunk); if (i % 16 === 0) await tick() }
await tick()
const outBefore = sock.out
const t0 = process.cpuUsage(); const w0 = Date.now()
while (Date.now() - w0 < seconds * 1000) {
  for (let i = 0; i < 16; i++) { sock.emit('data', chunk); n += 256 }
  await tick()
}
await tick()
const u = process.cpuUsage(t0)
if (q.messageCount !== 0) throw new Error(`queue holds ${q.messageCount}: the consumer did not take everything`)
if (sock.out - outBefore < n * 16) throw new Error('deliveries missing')
console.log(JSON.stringify({ dist, msgs: n, nsPerMsg: ((u.user + u.system) * 1000) / n }))
await rb.stop?.()
rmSync(dataDir, { recursive: true, force: true })
process.exit(0)
