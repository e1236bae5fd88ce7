/**
 * A real browser as the AMQP client: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is ever downloaded) loads a page whose module script imports
 * @cloudamqp/amqp-client's browser bundle, connects to ws://<warren>/ws/amqp, publishes, consumes
 * and acks.
 *
 * The page's document comes from Warren: the test navigates to Warren's HTTP port (whatever its
 * management handler answers for /ws-test/, today a 404) and then writes the test page into that
 * document with page.setContent(), so the page runs at Warren's origin and in its (loopback) address
 * space, like a page hosted next to the broker. The client bundle is answered by page.route(). Warren
 * itself serves no test files: ordinary HTTP requests belong to the management API. A page fulfilled
 * entirely by page.route() does not work: Chromium gives it no address space and its Local Network
 * Access checks then block the WebSocket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
 *
 * Skipped, saying so, where /usr/bin/chromium is absent (.ci/run installs it).
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import amqp from 'amqplib'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connection } from '../../transport/connection.js'
import { WS_PROTOCOL } from '../../transport/ws-server.js'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'

const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)

/** The browser build of the client (an ES module with no imports). */
function clientBundle(): string {
  // the package's exports map hides dist/, so resolve its main entry (lib/cjs/index.js) and walk up
  const require = createRequire(import.meta.url)
  const pkg = join(dirname(require.resolve('@cloudamqp/amqp-client')), '..', '..')
  return readFileSync(join(pkg, 'dist', 'amqp-websocket-client.mjs'), 'utf8')
}

/** The page under test: run() does the AMQP work and leaves the connection open for inspection. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Warren AMQP over WebSocket</title></head>
<body>
<script type="module">
import { AMQPWebSocketClient } from '/ws-test/amqp-websocket-client.mjs'
let client
window.run = async () => {
  client = new AMQPWebSocketClient({ url: 'ws://' + location.host + '/ws/amqp', name: 'chromium-page' })
  await client.connect()
  const ch = await client.channel()
  await ch.basicQos(5)
  await ch.queueDeclare('browser-q')
  const big = new Uint8Array(50000).map((_, i) => i % 251)
  for (let i = 0; i < 20; i++) await ch.basicPublish('', 'browser-q', 'msg ' + i, { messageId: String(i) })
  await ch.basicPublish('', 'browser-q', big, { messageId: 'big' })
  const received = []
  let bigOk = false
  await new Promise((resolve, reject) => {
    ch.basicConsume('browser-q', { noAck: false }, async (m) => {
      if (m.properties.messageId === 'big') bigOk = m.body.length === big.length && m.body.every((v, i) => v === big[i])
      else received.push(m.bodyToString())
      await m.ack()
      if (received.length === 20 && m.properties.messageId === 'big') resolve()
    }).catch(reject)
  })
  const fromTcp = await new Promise((resolve) => {
    ch.basicConsume('to-browser', { noAck: false }, async (m) => {
      await m.ack()
      resolve(m.bodyToString())
    })
  })
  await ch.basicPublish('', 'from-browser', 'hello from ' + navigator.userAgent.split(' ')[0])
  return { received, bigOk, fromTcp }
}
window.closeAmqp = () => client.close()
</script>
</body></html>`

describe.skipIf(!hasChromium)(`browser (headless Chromium at ${CHROMIUM}; skipped when it is absent)`, () => {
  let b: TestBroker
  let browser: Browser

  beforeAll(async () => {
    b = await startTestBroker()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await b?.stop()
  })

  it('a page connects over WebSocket, publishes, consumes and acks', async () => {
    const origin = `http://127.0.0.1:${b.httpPort}`
    const page = await browser.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    await page.route(`${origin}/ws-test/amqp-websocket-client.mjs`, (route) =>
      route.fulfill({ contentType: 'text/javascript', body: clientBundle() }),
    )
    // a document served by Warren (any status will do), then the test page written into it
    await page.goto(`${origin}/ws-test/`)
    await page.setContent(PAGE)
    await page.waitForFunction('typeof window.run === "function"')

    const tcp = await amqp.connect(b.url)
    try {
      const tch = await tcp.createChannel()
      await tch.assertQueue('to-browser')
      await tch.assertQueue('from-browser')
      tch.sendToQueue('to-browser', Buffer.from('hello from amqplib'))

      const result = await page.evaluate('window.run()')
      expect(result).toEqual({
        received: Array.from({ length: 20 }, (_, i) => `msg ${i}`),
        bigOk: true,
        fromTcp: 'hello from amqplib',
      })
      expect(pageErrors).toEqual([])

      // the broker's view: a WebSocket connection from the browser, everything acked
      const conn = [...b.broker.connections].find((c) => c.clientProperties.connection_name === 'chromium-page') as Connection
      expect(conn.protocol).toBe(WS_PROTOCOL)
      expect(String(conn.clientProperties.platform)).toMatch(/Chrome/)
      expect(conn.frameMax).toBe(8192)
      await waitFor(() => [...conn.channels()].every((c) => c.unackedCount === 0), 5000, 'acks')
      expect(b.broker.vhost('/')!.queues.get('browser-q')!.messageCount).toBe(0)

      const msg = await waitFor(() => tch.get('from-browser', { noAck: true }), 5000, 'message from the browser')
      expect(msg && msg.content.toString()).toMatch(/^hello from Mozilla/)

      await page.evaluate('window.closeAmqp()')
      await waitFor(() => !b.broker.connections.has(conn), 5000, 'browser connection closed')
    } finally {
      await tcp.close()
      await page.close()
    }
  }, 60_000)
})
