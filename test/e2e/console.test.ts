/**
 * The web console in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against a real Warren. A person's path through it: sign in, create an exchange
 * and a queue, bind them, publish, see the message counted and get it back, find it in the topology
 * view, ask the route tester, look at connections, channels and dead letters, delete both, sign
 * out; and a form that fails on purpose shows the API's reason. Any console error or uncaught
 * exception on the page fails the test. Screenshots of every page go to test-artifacts/.
 *
 * Skipped, saying so, where /usr/bin/chromium is absent.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import amqp from 'amqplib'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { consolePage, hasChromium, launchChromium, waitForText, CHROMIUM, type ConsolePage } from '../helpers/browser.js'
import { apiClient, type ApiClient } from '../helpers/http.js'

describe.skipIf(!hasChromium)(`web console (headless Chromium at ${CHROMIUM}; skipped when it is absent)`, () => {
  let b: TestBroker
  let browser: Browser
  let api: ApiClient
  let origin: string
  let conn: amqp.ChannelModel

  beforeAll(async () => {
    ;[b, browser] = await Promise.all([startTestBroker(), launchChromium()])
    api = apiClient(b)
    origin = `http://127.0.0.1:${b.httpPort}`
    // a client with a consumer, and a dead-letter setup with two rejected messages, for those pages
    conn = await amqp.connect(b.url, { clientProperties: { connection_name: 'e2e-worker' } })
    const ch = await conn.createChannel()
    await ch.prefetch(10)
    await ch.assertExchange('e2e.dlx', 'fanout', { durable: false })
    await ch.assertQueue('e2e.dlq', { durable: false })
    await ch.bindQueue('e2e.dlq', 'e2e.dlx', '')
    await ch.assertQueue('e2e.work', { durable: false, arguments: { 'x-dead-letter-exchange': 'e2e.dlx' } })
    for (const body of ['bad 1', 'bad 2']) ch.sendToQueue('e2e.work', Buffer.from(body))
    for (let i = 0; i < 2; i++) {
      const m = await waitFor(async () => (await ch.get('e2e.work')) || undefined, 3000, 'a message to reject')
      ch.nack(m, false, false)
    }
    await ch.consume('e2e.work', () => {})
  }, 60_000)

  afterAll(async () => {
    await conn?.close().catch(() => {})
    await browser?.close()
    await b?.stop()
  })

  async function signIn(cp: ConsolePage): Promise<void> {
    const { page } = cp
    await page.goto(`${origin}/`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Overview' }).waitFor()
  }

  it('signs in, creates, binds, publishes, gets, shows the topology, tests a route, deletes', async () => {
    const cp = await consolePage(browser)
    const { page } = cp

    // sign-in: a wrong password is refused with a message, then the right one works
    await page.goto(`${origin}/`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('wrong')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await waitForText(page.locator('.signin .form-error'), 'Sign-in failed')
    await cp.screenshot('signin')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Overview' }).waitFor()
    expect(await page.evaluate('sessionStorage.getItem("warren.credentials")')).toContain('guest')
    await waitForText(page.locator('.totals'), 'Queues')
    await waitForText(page.locator('#listeners-h + div'), 'amqp')
    await cp.screenshot('overview')

    // create an exchange with the form
    await page.locator('nav a', { hasText: 'Exchanges' }).click()
    await page.locator('#add-exchange summary').click()
    const xForm = page.locator('form[aria-label="Add a new exchange"]')
    await xForm.locator('input[name=name]').fill('e2e.x')
    await xForm.locator('select[name=type]').selectOption('topic')
    await xForm.locator('input[name=alternate-exchange]').fill('e2e.dlx')
    await xForm.getByRole('button', { name: 'Add exchange' }).click()
    await waitForText(xForm.locator('.form-ok'), "Exchange 'e2e.x' added.")
    await page.locator('table a.name', { hasText: 'e2e.x' }).waitFor()
    expect((await api.get('/api/exchanges/%2F/e2e.x')).body).toMatchObject({ type: 'topic', durable: true, arguments: { 'alternate-exchange': 'e2e.dlx' } })
    await cp.screenshot('exchanges')

    // create a queue, with an argument from the helpers
    await page.locator('nav a', { hasText: 'Queues' }).click()
    await page.locator('#add-queue summary').click()
    const qForm = page.locator('form[aria-label="Add a new queue"]')
    await qForm.locator('input[name=name]').fill('e2e.q')
    await qForm.getByRole('button', { name: 'Max length', exact: true }).click()
    await page.keyboard.type('100')
    await qForm.getByRole('button', { name: 'Add queue' }).click()
    await waitForText(qForm.locator('.form-ok'), "Queue 'e2e.q' added.")
    await page.locator('table a.name', { hasText: 'e2e.q' }).waitFor()
    expect((await api.get('/api/queues/%2F/e2e.q')).body).toMatchObject({ durable: true, arguments: { 'x-max-length': 100 } })
    await cp.screenshot('queues')

    // create a super stream: its partitions appear in the list with their P<i> badge
    await page.locator('#add-super-stream summary').click()
    const sForm = page.locator('form[aria-label="Add a new super stream"]')
    await sForm.locator('input[name=name]').fill('e2e.ss')
    await sForm.locator('input[name=partitions]').fill('2')
    await sForm.getByRole('button', { name: 'Add super stream' }).click()
    await waitForText(sForm.locator('.form-ok'), "Super stream 'e2e.ss' added with 2 partitions.")
    await page.locator('table a.name', { hasText: 'e2e.ss-1' }).waitFor()
    await page.locator('span.badge', { hasText: 'P1' }).waitFor()
    expect((await api.get('/api/super-streams/%2F/e2e.ss')).body.partitions).toEqual(['e2e.ss-0', 'e2e.ss-1'])

    // bind them on the exchange page
    await page.locator('table a.name', { hasText: 'e2e.q' }).waitFor()
    await page.goto(`${origin}/#/exchanges/%2F/e2e.x`)
    await page.locator('h1', { hasText: 'e2e.x' }).waitFor()
    await page.locator('#add-binding summary').click()
    const bForm = page.locator('form[aria-label="Add binding"]')
    await bForm.locator('select[name=destination_type]').selectOption('q')
    await bForm.locator('input[name=destination]').fill('e2e.q')
    await bForm.locator('input[name=routing_key]').fill('orders.*')
    await bForm.getByRole('button', { name: 'Bind', exact: true }).click()
    await waitForText(bForm.locator('.form-ok'), 'Binding added.')
    await waitForText(page.locator('section[aria-labelledby=x-out] table'), 'orders.*')

    // publish a message with a header from the UI
    await page.locator('#publish summary').click()
    const pForm = page.locator('form[aria-label="Publish message"]')
    await pForm.locator('input[name=routing_key]').fill('orders.created')
    await pForm.locator('input[aria-label="Headers: key"]').first().fill('source')
    await pForm.locator('input[aria-label="Headers: value"]').first().fill('e2e')
    await pForm.locator('textarea[name=payload]').fill('hello from the console')
    await pForm.getByRole('button', { name: 'Publish message' }).click()
    await waitForText(pForm.locator('.form-ok'), 'Message published and routed.')
    await cp.screenshot('exchange')

    // the queue counts it, and gives it back (requeued)
    await page.locator('section[aria-labelledby=x-out] a.name', { hasText: 'e2e.q' }).click()
    await page.locator('h1', { hasText: 'e2e.q' }).waitFor()
    await waitForText(page.locator('#q-messages'), '1 total · 1 ready')
    const gForm = page.locator('form[aria-label="Get messages"]')
    await gForm.getByRole('button', { name: 'Get message(s)' }).click()
    const card = page.locator('article.message').first()
    await waitForText(card.locator('pre'), 'hello from the console')
    expect(await card.textContent()).toContain('source = e2e')
    expect(await card.textContent()).toContain('orders.created')
    await card.getByRole('button', { name: 'Show base64' }).click()
    await waitForText(card.locator('pre'), Buffer.from('hello from the console').toString('base64'))
    await cp.screenshot('queue')
    expect((await api.get('/api/queues/%2F/e2e.q')).body.messages).toBe(1)

    // the topology shows both, the binding, and the alternate-exchange link
    await page.locator('nav a', { hasText: 'Topology' }).click()
    await page.locator('svg .tnode[data-id="q:e2e.q"]').waitFor()
    await page.locator('svg .tnode[data-id="e:e2e.x"]').waitFor()
    expect(await page.locator('path.tedge[data-source="e:e2e.x"][data-target="q:e2e.q"]').count()).toBe(1)
    expect(await page.locator('path.tedge.alternate-exchange[data-source="e:e2e.x"][data-target="e:e2e.dlx"]').count()).toBe(1)
    expect(await page.locator('path.tedge.dead-letter[data-source="q:e2e.work"]').count()).toBe(1)
    await cp.screenshot('topology')
    await page.locator('svg .tnode[data-id="e:e2e.x"]').click()
    await page.locator('h1', { hasText: 'e2e.x' }).waitFor()

    // the route tester: routed through the binding; unroutable goes to the alternate exchange
    await page.getByRole('link', { name: 'Test routing' }).click()
    const rForm = page.locator('form[aria-label="Route test"]')
    await rForm.locator('input[name=routing_key]').fill('orders.created')
    await rForm.getByRole('button', { name: 'Test route' }).click()
    await waitForText(page.locator('#route-result .result-banner'), 'Routed to 1 queue')
    await waitForText(page.locator('#route-result .route-queue[data-queue="e2e.q"]'), 'orders.*')
    await rForm.locator('input[name=routing_key]').fill('invoices.paid')
    await rForm.getByRole('button', { name: 'Test route' }).click()
    await waitForText(page.locator('#route-result .route-queue'), 'e2e.dlq')
    await waitForText(page.locator('#route-result'), 'alternate exchange')
    await cp.screenshot('route-tester')
    expect((await api.get('/api/queues/%2F/e2e.q')).body.messages).toBe(1)

    // connections: close one with a reason, which its client receives
    const victim = await amqp.connect(b.url, { clientProperties: { connection_name: 'e2e-victim' } })
    // amqplib reports a server-initiated close as 'close' with the error
    const closed = new Promise<string>((resolve) => victim.on('close', (err?: Error) => resolve(String(err?.message))))
    await page.locator('nav a', { hasText: 'Connections' }).click()
    await waitForText(page.locator('table'), 'e2e-victim')
    await cp.screenshot('connections')
    await page.locator('tr', { hasText: 'e2e-victim' }).getByRole('button', { name: /Close connection/ }).click()
    await page.locator('#confirm-input').fill('maintenance window')
    await page.locator('#confirm-ok').click()
    expect(await closed).toContain('320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - maintenance window"')
    await waitFor(async () => (await page.locator('table').textContent())?.includes('e2e-victim') === false, 8000, 'closed connection gone from the list')
    await page.locator('nav a', { hasText: 'Channels' }).click()
    await waitForText(page.locator('table'), 'guest')
    await cp.screenshot('channels')
    await page.locator('nav a', { hasText: 'Dead letters' }).click()
    await waitForText(page.locator('section[aria-labelledby=dl-sources] table'), 'e2e.dlq')
    await waitForText(page.locator('section[aria-labelledby=dl-queues] table'), 'e2e.work: 2')
    await cp.screenshot('dead-letters')
    // a dead letter's x-death header, readable
    await page.locator('section[aria-labelledby=dl-queues] a.name', { hasText: 'e2e.dlq' }).click()
    await page.locator('form[aria-label="Get messages"]').getByRole('button', { name: 'Get message(s)' }).click()
    const dead = page.locator('article.message').first()
    await waitForText(dead.locator('table.inner'), 'rejected')
    expect(await dead.locator('table.inner').textContent()).toContain('e2e.work')
    await cp.screenshot('queue-dead-letter')

    // unbind on the exchange page, after confirming
    await page.goto(`${origin}/#/exchanges/%2F/e2e.x`)
    await page.locator('section[aria-labelledby=x-out]').getByRole('button', { name: /Unbind/ }).click()
    await page.locator('#confirm-ok').click()
    await waitForText(page.locator('section[aria-labelledby=x-out] table'), 'No bindings.')
    expect((await api.get('/api/exchanges/%2F/e2e.x/bindings/source')).body).toEqual([])

    // delete the queue and the exchange, each after confirming; Escape cancels
    await page.goto(`${origin}/#/queues/%2F/e2e.q`)
    await page.getByRole('button', { name: 'Delete queue' }).click()
    await page.locator('#confirm-dialog[open]').waitFor()
    await page.keyboard.press('Escape')
    await page.locator('#confirm-dialog').waitFor({ state: 'hidden' })
    expect((await api.get('/api/queues/%2F/e2e.q')).status).toBe(200)
    await page.getByRole('button', { name: 'Delete queue' }).click()
    await waitForText(page.locator('#confirm-message'), "Delete queue 'e2e.q'")
    await cp.screenshot('confirm', false)
    await page.locator('#confirm-ok').click()
    await page.locator('h1', { hasText: 'Queues' }).waitFor()
    await waitFor(async () => (await api.get('/api/queues/%2F/e2e.q')).status === 404, 3000, 'queue deleted')
    await page.goto(`${origin}/#/exchanges/%2F/e2e.x`)
    await page.getByRole('button', { name: 'Delete exchange' }).click()
    await page.locator('#confirm-ok').click()
    await page.locator('h1', { hasText: 'Exchanges' }).waitFor()
    await waitFor(async () => (await api.get('/api/exchanges/%2F/e2e.x')).status === 404, 3000, 'exchange deleted')
    expect(await page.locator('table a.name', { hasText: 'e2e.x' }).count()).toBe(0)

    // sign out: back to the sign-in form, credentials forgotten
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.locator('input[name=username]').waitFor()
    expect(await page.evaluate('sessionStorage.getItem("warren.credentials")')).toBeNull()

    expect(cp.unexpected([/status of 401.*\/api\/whoami/])).toEqual([])
    await page.close()
  }, 60_000)

  it('shows the backlog worst first and raises an alert set from the page', async () => {
    const cp = await consolePage(browser)
    const { page } = cp
    await signIn(cp)
    await page.locator('nav a', { hasText: 'Backlog' }).click()
    await page.locator('h1', { hasText: 'Backlog' }).waitFor()
    // e2e.dlq holds two dead letters and has no consumer
    await waitForText(page.locator('section[aria-label=Backlog] table'), 'e2e.dlq')
    await page.locator('#backlog-alert summary').click()
    const form = page.locator('form[aria-label="Backlog alert thresholds"]')
    await form.locator('select[name=queue]').selectOption({ label: 'e2e.dlq (/)' })
    await form.locator('input[name=max_messages]').fill('1')
    await form.getByRole('button', { name: 'Save thresholds' }).click()
    await waitForText(form, "Thresholds of 'e2e.dlq' saved.")
    const first = page.locator('section[aria-label=Backlog] tbody tr').first()
    await waitForText(first, 'ALERT: max_messages')
    expect(await first.textContent()).toContain('e2e.dlq')
    const r = await api.get('/api/queues/%2F/e2e.dlq')
    expect(r.body.backlog.alert_thresholds.max_messages).toBe(1)
    await cp.screenshot('backlog')
    await form.getByRole('button', { name: 'Clear' }).click()
    await waitForText(form, "Thresholds of 'e2e.dlq' cleared.")
    expect(cp.unexpected()).toEqual([])
    await page.close()
  }, 30_000)

  it("shows the API's reason when a form fails, and checks input before sending", async () => {
    const cp = await consolePage(browser)
    const { page } = cp
    expect((await api.put('/api/queues/%2F/e2e.form', { durable: true })).status).toBe(201)
    await signIn(cp)
    await page.goto(`${origin}/#/queues`)
    await page.reload()
    await page.locator('h1', { hasText: 'Queues' }).waitFor()
    // keyboard: the first Tab reaches the skip link, Enter moves focus to the page, not away
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement.id')).toBe('skip-link')
    await page.keyboard.press('Enter')
    expect(await page.evaluate('document.activeElement.id')).toBe('main')
    expect(await page.evaluate('location.hash')).toBe('#/queues')
    // open the form with the keyboard
    await page.locator('#add-queue summary').focus()
    await page.keyboard.press('Enter')
    const form = page.locator('form[aria-label="Add a new queue"]')

    // checked in the page: no request is made
    await form.getByRole('button', { name: 'Add queue' }).click()
    await waitForText(form.locator('.form-error'), 'Enter a name for the queue.')
    expect(await form.locator('input[name=name]').getAttribute('aria-invalid')).toBe('true')

    // refused by the broker: the API's reason is shown
    await form.locator('input[name=name]').fill('e2e.form')
    await form.locator('select[name=durable]').selectOption('false')
    await form.getByRole('button', { name: 'Add queue' }).click()
    const reason = await waitForText(form.locator('.form-error'), "inequivalent arg 'durable'")
    expect(reason).toContain("queue 'e2e.form' in vhost '/'")
    await cp.screenshot('form-error')
    expect((await api.get('/api/queues/%2F/e2e.form')).body.durable).toBe(true)

    // the one console error allowed: the browser's note of that 400 response
    expect(cp.unexpected([/status of 400.*\/api\/queues\/%2F\/e2e\.form/])).toEqual([])
    await page.close()
  }, 30_000)

  it('exports definitions as a file download and imports them from a file upload', async () => {
    const cp = await consolePage(browser)
    const { page } = cp
    await signIn(cp)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download definitions' }).click()])
    expect(download.suggestedFilename()).toMatch(/^warren-definitions-\d{4}-\d\d-\d\d\.json$/)
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'))
    expect(exported.queues.map((q: { name: string }) => q.name)).toContain('e2e.work')

    const file = join(mkdtempSync(join(tmpdir(), 'warren-defs-')), 'defs.json')
    const defs = { queues: [{ name: 'e2e.imported', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 5 } }] }
    writeFileSync(file, JSON.stringify(defs))
    await page.locator('input[type=file]').setInputFiles(file)
    await page.getByRole('button', { name: 'Upload definitions' }).click()
    await waitForText(page.locator('#confirm-message'), '1 queues')
    await page.locator('#confirm-ok').click()
    await waitForText(page.locator('section[aria-labelledby=defs-h] [role=status]'), 'Imported')
    expect((await api.get('/api/queues/%2F/e2e.imported')).body).toMatchObject({ durable: true, arguments: { 'x-max-length': 5 } })
    expect(cp.unexpected()).toEqual([])
    await page.close()
  }, 20_000)

  it('draws 50 exchanges and 200 queues as a readable diagram, and the filter narrows it', async () => {
    const ch = await conn.createChannel()
    const domains = ['orders', 'payments', 'shipping', 'stock', 'users', 'mail', 'search', 'billing', 'audit', 'reports']
    for (const d of domains) {
      await ch.assertExchange(`${d}.unrouted`, 'fanout', { durable: false })
      await ch.assertExchange(`${d}.events`, 'topic', { durable: false, alternateExchange: `${d}.unrouted` })
      await ch.assertExchange(`${d}.commands`, 'direct', { durable: false })
      await ch.assertExchange(`${d}.dlx`, 'fanout', { durable: false })
      await ch.assertExchange(`${d}.tap`, 'fanout', { durable: false })
      await ch.bindExchange(`${d}.tap`, `${d}.events`, '#')
      for (const [q, x] of [[`${d}.dlq`, 'dlx'], [`${d}.unrouted.q`, 'unrouted'], [`${d}.tap.log`, 'tap']]) {
        await ch.assertQueue(q, { durable: false })
        await ch.bindQueue(q, `${d}.${x}`, '')
      }
      for (let i = 1; i <= 17; i++) {
        const q = `${d}.worker-${String(i).padStart(2, '0')}`
        await ch.assertQueue(q, { durable: false, deadLetterExchange: `${d}.dlx` })
        await ch.bindQueue(q, `${d}.events`, `${d}.${['created', 'updated', 'deleted'][i % 3]}.*`)
        if (i % 2 === 0) await ch.bindQueue(q, `${d}.commands`, `worker-${i}`)
      }
    }
    await ch.close()

    const cp = await consolePage(browser)
    const { page } = cp
    await signIn(cp)
    await page.goto(`${origin}/#/topology`)
    await waitFor(async () => (await page.locator('svg .tnode').count()) >= 250, 8000, '250 nodes drawn')
    // no two nodes overlap
    const boxes = await page.locator('svg .tnode').evaluateAll((els) => els.map((e) => e.getAttribute('transform')))
    expect(new Set(boxes).size).toBe(boxes.length)
    await waitForText(page.locator('.toolbar [role=status]'), /5\d exchanges · 20\d queues/)
    await cp.screenshot('topology-large', false)

    await page.locator('input[aria-label="Filter nodes by name"]').fill('payments.worker-0')
    await waitFor(async () => (await page.locator('svg .tnode').count()) < 30, 3000, 'filtered diagram')
    await page.locator('svg .tnode[data-id="q:payments.worker-01"]').waitFor()
    await page.locator('svg .tnode[data-id="e:payments.dlx"]').waitFor()
    await cp.screenshot('topology-filtered', false)
    expect(cp.unexpected()).toEqual([])
    await page.close()
  }, 40_000)
})
