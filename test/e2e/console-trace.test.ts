/**
 * The console's Trace page in headless Chromium against a real Warren: turn the vhost's tracing on,
 * start a trace (a warren.trace.* queue bound to amq.rabbitmq.trace), publish and consume with
 * amqplib, and see the publish and deliver rows appear live; stop deletes the queue; the overview's
 * per-vhost switch flips the flag too. Any console
 * error or uncaught exception fails the test. Skipped, saying so, where /usr/bin/chromium is absent.
 */
import amqp from 'amqplib'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { consolePage, hasChromium, launchChromium, waitForText, CHROMIUM } from '../helpers/browser.js'
import { apiClient, type ApiClient } from '../helpers/http.js'

describe.skipIf(!hasChromium)(`console Trace page (headless Chromium at ${CHROMIUM}; skipped when it is absent)`, () => {
  let b: TestBroker
  let browser: Browser
  let api: ApiClient
  let origin: string

  beforeAll(async () => {
    ;[b, browser] = await Promise.all([startTestBroker(), launchChromium()])
    api = apiClient(b)
    origin = `http://127.0.0.1:${b.httpPort}`
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await b?.stop()
  })

  it('turns tracing on, starts a trace, shows published and delivered messages live, stops', async () => {
    const cp = await consolePage(browser)
    const { page } = cp
    await page.goto(`${origin}/`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Overview' }).waitFor()

    await page.locator('nav a', { hasText: 'Trace' }).click()
    await page.locator('h1', { hasText: 'Trace' }).waitFor()
    await waitForText(page.locator('#tracing-state'), 'tracing off')
    await page.locator('#tracing-toggle').click()
    await waitForText(page.locator('#tracing-state'), 'tracing on')
    expect((await api.get('/api/vhosts/%2F')).body).toMatchObject({ tracing: true, description: 'Default virtual host' })

    const form = page.locator('form[aria-label="Start a trace"]')
    await form.locator('input[name=pattern]').fill('#')
    await form.getByRole('button', { name: 'Start trace' }).click()
    await waitForText(page.locator('#trace-status'), 'into warren.trace.')
    const queues = (await api.get('/api/queues/%2F')).body as { name: string; arguments: Record<string, unknown> }[]
    const tq = queues.find((q) => q.name.startsWith('warren.trace.'))
    expect(tq?.arguments).toMatchObject({ 'x-expires': 60000 })

    const conn = await amqp.connect(b.url)
    try {
      const ch = await conn.createChannel()
      await ch.assertQueue('e2e.traced', { durable: false })
      ch.sendToQueue('e2e.traced', Buffer.from('hello firehose'), { contentType: 'text/plain' })
      const table = page.locator('section[aria-labelledby=tr-session] table')
      await waitForText(table, 'hello firehose')
      await ch.consume('e2e.traced', (m) => m && ch.ack(m))
      await waitForText(table, 'deliver')
      const text = await table.textContent()
      expect(text).toContain('publish')
      expect(text).toContain('e2e.traced')
      expect(text).toContain('guest')
      await cp.screenshot('trace')
    } finally {
      await conn.close()
    }

    await page.getByRole('button', { name: 'Stop' }).click()
    await waitForText(page.locator('#trace-status'), 'Trace stopped.')
    await waitFor(async () => (await api.get(`/api/queues/%2F/${encodeURIComponent(tq!.name)}`)).status === 404, 5000, 'the trace queue deleted')
    await page.locator('#tracing-toggle').click()
    await waitForText(page.locator('#tracing-state'), 'tracing off')
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(false)

    // the same switch on the overview, one per vhost
    await page.locator('nav a', { hasText: 'Overview' }).click()
    const row = page.locator('section[aria-labelledby=vhosts-h] [data-vhost="/"]')
    await waitForText(row, 'tracing off')
    await row.getByRole('button', { name: 'Tracing in /' }).click()
    await waitForText(row, 'tracing on')
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(true)
    await cp.screenshot('overview-tracing')
    await row.getByRole('button', { name: 'Tracing in /' }).click()
    await waitForText(row, 'tracing off')
    expect((await api.get('/api/vhosts/%2F')).body.tracing).toBe(false)
    expect(cp.unexpected()).toEqual([])
    await page.close()
  }, 60_000)
})
