/**
 * Issue 11 in the console, in headless Chromium at 1024 px wide: every navigation link is on
 * screen, the overview shows node health, byte rates are whole bytes, the Connections table shows
 * the client's connection_name and keeps names on one line, and the Admin pages create and delete
 * a user, a vhost, a permission and a policy (with the live preview of what its pattern matches),
 * then an operator policy and a topic permission, and the queue page and queue list show the
 * policy, operator policy and effective policy definition of a queue they apply to.
 *
 * Skipped, saying so, where /usr/bin/chromium is absent.
 */
import amqp from 'amqplib'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestBroker, waitFor, type TestBroker } from '../helpers/broker.js'
import { consolePage, hasChromium, launchChromium, waitForText, CHROMIUM, type ConsolePage } from '../helpers/browser.js'
import { apiClient, type ApiClient } from '../helpers/http.js'

describe.skipIf(!hasChromium)(`console admin and layout at 1024 px (headless Chromium at ${CHROMIUM}; skipped when it is absent)`, () => {
  let b: TestBroker
  let browser: Browser
  let api: ApiClient
  let origin: string
  let conn: amqp.ChannelModel

  beforeAll(async () => {
    ;[b, browser] = await Promise.all([startTestBroker(), launchChromium()])
    api = apiClient(b)
    origin = `http://127.0.0.1:${b.httpPort}`
    conn = await amqp.connect(b.url, { clientProperties: { connection_name: 'e2e-billing-worker' } })
    const ch = await conn.createChannel()
    for (const q of ['e2e.pol.orders', 'e2e.pol.invoices', 'e2e.other']) await ch.assertQueue(q, { durable: false })
  }, 60_000)

  afterAll(async () => {
    await conn?.close().catch(() => {})
    await browser?.close()
    await b?.stop()
  })

  async function open(): Promise<{ cp: ConsolePage; page: Page }> {
    const cp = await consolePage(browser)
    const { page } = cp
    await page.setViewportSize({ width: 1024, height: 768 })
    await page.goto(`${origin}/`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Overview' }).waitFor()
    return { cp, page }
  }

  it('shows every navigation link at 1024 px, node health, whole-byte rates and connection names', async () => {
    const { cp, page } = await open()
    const links = page.locator('nav#nav a')
    expect(await links.allTextContents()).toEqual(['Overview', 'Connections', 'Channels', 'Exchanges', 'Queues', 'Backlog', 'Dead letters', 'Topology', 'Route tester', 'Trace', 'Admin'])
    const navBox = (await page.locator('nav#nav').boundingBox())!
    for (const link of await links.all()) {
      const box = (await link.boundingBox())!
      // wholly inside the bar and the window: nothing clipped
      expect(box.x).toBeGreaterThanOrEqual(navBox.x - 0.5)
      expect(box.x + box.width).toBeLessThanOrEqual(Math.min(navBox.x + navBox.width, 1024) + 0.5)
    }
    await cp.screenshot('1024-overview')

    // node health on the overview
    const health = page.locator('#node-health')
    await waitForText(health, 'high watermark')
    expect(await health.textContent()).toMatch(/Memory.*of .* high watermark.*Free disk space.*free · limit 47\.7 MiB.*File descriptors.*open.*Uptime .*no alarms/)

    // byte rates: whole bytes (the format the tables use)
    const fmt = await page.evaluate(`import('/console/js/dom.js').then((m) => [m.fmtBytes(943.3512224209899), m.fmtBytes(1536), m.fmtBytes(0)])`)
    expect(fmt).toEqual(['943 B', '1.5 KiB', '0 B'])

    // connections: the connection_name over a one-line peer name, and rates like "12 B/s"
    await links.filter({ hasText: 'Connections' }).click()
    const row = page.locator('tr', { hasText: 'e2e-billing-worker' })
    await row.waitFor()
    expect(await row.locator('.conn-label').textContent()).toBe('e2e-billing-worker')
    const name = row.locator('.conn-name')
    expect(await name.textContent()).toMatch(/^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/)
    const lineHeight = Number(await page.evaluate(`parseFloat(getComputedStyle(document.querySelector('tr .conn-name')).lineHeight) || 20`))
    expect((await name.boundingBox())!.height).toBeLessThan(lineHeight * 1.5)
    for (const cell of await row.locator('td.num').allTextContents()) if (cell.endsWith('/s')) expect(cell).toMatch(/^(\d+ B|\d+\.\d (KiB|MiB|GiB))\/s$/)
    await cp.screenshot('1024-connections')
    expect(cp.unexpected()).toEqual([])
  }, 60_000)

  it('creates and deletes a user, a vhost, a permission and a policy with a live preview', async () => {
    const { cp, page } = await open()
    await page.locator('nav#nav a', { hasText: 'Admin' }).click()
    await page.locator('h1', { hasText: 'Users' }).waitFor()

    // a user with tags
    const uForm = page.locator('form[aria-label="Add or update a user"]')
    await uForm.getByRole('button', { name: 'Add or update user' }).click()
    await waitForText(uForm.locator('.form-error'), 'Enter a username.')
    await uForm.locator('input[name=username]').fill('e2e-alice')
    await uForm.locator('input[name=password]').fill('s3cret')
    await uForm.locator('input[name=password-confirm]').fill('other')
    await uForm.getByRole('button', { name: 'Add or update user' }).click()
    await waitForText(uForm.locator('.form-error'), 'The two passwords differ.')
    await uForm.locator('input[name=password-confirm]').fill('s3cret')
    await uForm.getByRole('button', { name: 'monitoring' }).click()
    await uForm.getByRole('button', { name: 'Add or update user' }).click()
    await waitForText(uForm.locator('.form-ok'), "User 'e2e-alice' added.")
    await waitForText(page.locator('tr', { hasText: 'e2e-alice' }), 'monitoring')
    expect((await api.get('/api/users/e2e-alice')).body.tags).toEqual(['monitoring'])
    // changing the tags keeps the password
    await page.locator('tr', { hasText: 'e2e-alice' }).getByRole('button', { name: 'Edit user e2e-alice' }).click()
    await uForm.locator('input[name=tags]').fill('management')
    await uForm.getByRole('button', { name: 'Add or update user' }).click()
    await waitForText(uForm.locator('.form-ok'), "User 'e2e-alice' updated.")
    expect((await apiClient(b, 'e2e-alice', 's3cret').get('/api/whoami')).body).toEqual({ name: 'e2e-alice', tags: ['management'] })
    await cp.screenshot('admin-users')

    // a vhost
    await page.locator('.subnav a', { hasText: 'Virtual hosts' }).click()
    const vForm = page.locator('form[aria-label="Add a virtual host"]')
    await vForm.locator('input[name=vhost-name]').fill('e2e-vh')
    await vForm.locator('input[name=description]').fill('for the admin test')
    await vForm.getByRole('button', { name: 'Add virtual host' }).click()
    await waitForText(vForm.locator('.form-ok'), "Virtual host 'e2e-vh' added.")
    await waitForText(page.locator('tr', { hasText: 'e2e-vh' }), 'tracing off')
    expect((await api.get('/api/vhosts/e2e-vh')).body).toMatchObject({ name: 'e2e-vh', description: 'for the admin test', tracing: false })
    await cp.screenshot('admin-vhosts')

    // a permission for the user in the vhost; a bad pattern is caught before it is sent
    await page.locator('.subnav a', { hasText: 'Permissions' }).click()
    const pForm = page.locator('form[aria-label="Set permission"]')
    await pForm.locator('select[name=perm-user]').selectOption('e2e-alice')
    await pForm.locator('select[name=perm-vhost]').selectOption('e2e-vh')
    await pForm.locator('input[name=configure]').fill('^(e2e')
    await pForm.getByRole('button', { name: 'Set permission' }).click()
    await waitForText(pForm.locator('.form-error'), 'configure: not a valid regular expression.')
    await pForm.locator('input[name=configure]').fill('^e2e\\.')
    await pForm.getByRole('button', { name: 'Set permission' }).click()
    await waitForText(pForm.locator('.form-ok'), "Permission of 'e2e-alice' in 'e2e-vh' set.")
    expect((await api.get('/api/permissions/e2e-vh/e2e-alice')).body).toMatchObject({ configure: '^e2e\\.', write: '.*', read: '.*' })
    const permRow = page.locator('section[aria-labelledby=perms-h] tr', { hasText: 'e2e-vh' }).filter({ hasText: 'e2e-alice' })
    await permRow.waitFor()
    // topic permissions: this branch lists none (the endpoint answers an empty list)
    await waitForText(page.locator('#topic-permissions'), 'No topic permissions')
    await cp.screenshot('admin-permissions')
    await permRow.getByRole('button', { name: /Clear permission/ }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/permissions/e2e-vh/e2e-alice')).status === 404, 5000, 'the permission to go')

    // a policy, with the preview of what its pattern matches
    await page.locator('.subnav a', { hasText: 'Policies' }).click()
    const polForm = page.locator('form[aria-label="Add a policy"]')
    await polForm.locator('select[name=policy-vhost]').selectOption('/')
    await polForm.locator('input[name=policy-name]').fill('e2e-ttl')
    const preview = polForm.locator('.preview')
    await polForm.locator('input[name=pattern]').pressSequentially('^e2e\\.pol')
    await waitForText(preview, 'Matches 2 objects')
    expect((await preview.locator('li').allTextContents()).sort()).toEqual(['queuee2e.pol.invoices', 'queuee2e.pol.orders'])
    await polForm.locator('select[name=apply-to]').selectOption('exchanges')
    await waitForText(preview, 'Matches nothing yet')
    await polForm.locator('select[name=apply-to]').selectOption('queues')
    await waitForText(preview, 'Matches 2 objects')
    await cp.screenshot('admin-policy-preview')
    await polForm.getByRole('button', { name: 'Message TTL' }).click()
    await page.keyboard.type('60000')
    await polForm.getByRole('button', { name: 'Add policy' }).click()
    await waitForText(polForm.locator('.form-ok'), "Policy 'e2e-ttl' saved.")
    expect((await api.get('/api/policies/%2F/e2e-ttl')).body).toMatchObject({ pattern: '^e2e\\.pol', 'apply-to': 'queues', definition: { 'message-ttl': 60000 }, priority: 0 })
    const polRow = page.locator('#policies tr', { hasText: 'e2e-ttl' })
    await polRow.waitFor()
    await polRow.getByRole('button', { name: /Delete policy/ }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/policies/%2F/e2e-ttl')).status === 404, 5000, 'the policy to go')

    // limits: vhost limits are listed (none); a user limit is set through the form and cleared from its row
    await page.locator('.subnav a', { hasText: 'Limits' }).click()
    await waitForText(page.locator('#vhost-limits'), 'No limits set.')
    await waitForText(page.locator('#user-limits'), 'No limits set.')
    const ulForm = page.locator('#user-limits form')
    await ulForm.locator('select[name=user-limits-owner]').selectOption('e2e-alice')
    await ulForm.locator('select[name=user-limits-name]').selectOption('max-channels')
    await ulForm.locator('input[name=user-limits-value]').fill('5')
    await ulForm.getByRole('button', { name: 'Set limit' }).click()
    await waitForText(ulForm.locator('.form-ok'), "max-channels of 'e2e-alice' set.")
    expect((await api.get('/api/user-limits/e2e-alice')).body).toEqual([{ user: 'e2e-alice', value: { 'max-channels': 5 } }])
    await cp.screenshot('admin-limits')
    const limitRow = page.locator('#user-limits tr', { hasText: 'e2e-alice' })
    await limitRow.waitFor()
    await limitRow.getByRole('button', { name: 'Clear max-channels of e2e-alice' }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => ((await api.get('/api/user-limits/e2e-alice')).body as unknown[]).length === 0, 5000, 'the user limit to go')

    // delete the vhost and the user
    await page.locator('.subnav a', { hasText: 'Virtual hosts' }).click()
    await page.locator('tr', { hasText: 'e2e-vh' }).getByRole('button', { name: 'Delete virtual host e2e-vh' }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/vhosts/e2e-vh')).status === 404, 5000, 'the vhost to go')
    await waitFor(async () => (await page.locator('#vhost-select').textContent())?.includes('e2e-vh') === false, 5000, 'the vhost to leave the top bar')
    await page.locator('.subnav a', { hasText: 'Users' }).click()
    await page.locator('tr', { hasText: 'e2e-alice' }).getByRole('button', { name: 'Delete user e2e-alice' }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/users/e2e-alice')).status === 404, 5000, 'the user to go')
    await waitFor(async () => (await page.locator('table').first().textContent())?.includes('e2e-alice') === false, 5000, 'the user to leave the list')
    expect(cp.unexpected([])).toEqual([])
  }, 90_000)

  it('creates and deletes an operator policy and a topic permission; the queue page and list show the policies that apply', async () => {
    const { cp, page } = await open()
    // a policy through the API, the operator policy through the form: the queue gets both
    expect((await api.put('/api/policies/%2F/e2e-pol-ttl', { pattern: '^e2e\\.pol\\.orders$', 'apply-to': 'queues', definition: { 'message-ttl': 60000 } })).status).toBe(201)
    await page.locator('nav#nav a', { hasText: 'Admin' }).click()
    await page.locator('.subnav a', { hasText: 'Policies' }).click()
    const opForm = page.locator('form[aria-label="Add an operator policy"]')
    await opForm.locator('select[name=policy-vhost]').selectOption('/')
    await opForm.locator('input[name=policy-name]').fill('e2e-op-cap')
    await opForm.locator('input[name=pattern]').fill('^e2e\\.pol\\.orders$')
    await opForm.locator('select[name=apply-to]').selectOption('queues')
    await waitForText(opForm.locator('.preview'), 'Matches 1 object')
    await opForm.getByRole('button', { name: 'Max length', exact: true }).click()
    await page.keyboard.type('100')
    await opForm.getByRole('button', { name: 'Add operator policy' }).click()
    await waitForText(opForm.locator('.form-ok'), "Operator policy 'e2e-op-cap' saved.")
    expect((await api.get('/api/operator-policies/%2F/e2e-op-cap')).body).toEqual({
      vhost: '/', name: 'e2e-op-cap', pattern: '^e2e\\.pol\\.orders$', 'apply-to': 'queues', definition: { 'max-length': 100 }, priority: 0,
    })
    await page.locator('#operator-policies tr', { hasText: 'e2e-op-cap' }).waitFor()
    await cp.screenshot('admin-operator-policy')

    // the queue page: Policy, Operator policy, Effective policy definition (RabbitMQ's rows)
    expect((await api.get('/api/queues/%2F/e2e.pol.orders')).body).toMatchObject({ policy: 'e2e-pol-ttl', operator_policy: 'e2e-op-cap', effective_policy_definition: { 'message-ttl': 60000, 'max-length': 100 } })
    await page.goto(`${origin}/#/queues/%2F/e2e.pol.orders`)
    await waitForText(page.locator('#q-effective-policy'), 'max-length: 100')
    const facts = async (): Promise<Record<string, string>> =>
      (await page.evaluate(`Object.fromEntries([...document.querySelectorAll('dl.kv dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))`)) as Record<string, string>
    const f = await facts()
    expect({ policy: f['Policy'], operator: f['Operator policy'] }).toEqual({ policy: 'e2e-pol-ttl', operator: 'e2e-op-cap' })
    expect(f['Effective policy definition']).toContain('message-ttl: 60000')
    expect(f['Effective policy definition']).toContain('max-length: 100')
    await cp.screenshot('queue-policies')
    // the queue list: the policies among the features, as RabbitMQ's
    await page.locator('nav#nav a', { hasText: 'Queues' }).click()
    const qRow = page.locator('tr', { hasText: 'e2e.pol.orders' })
    await qRow.waitFor()
    expect(await qRow.locator('.badge.policy').allTextContents()).toEqual(['e2e-pol-ttl', 'e2e-op-cap'])
    expect(await page.locator('tr', { hasText: 'e2e.pol.invoices' }).locator('.badge.policy').count()).toBe(0)

    // delete the operator policy from its row: the queue page says none
    await page.locator('nav#nav a', { hasText: 'Admin' }).click()
    await page.locator('.subnav a', { hasText: 'Policies' }).click()
    await page.locator('#operator-policies tr', { hasText: 'e2e-op-cap' }).getByRole('button', { name: 'Delete operator policy e2e-op-cap' }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/operator-policies/%2F/e2e-op-cap')).status === 404, 5000, 'the operator policy to go')
    await page.goto(`${origin}/#/queues/%2F/e2e.pol.orders`)
    await waitForText(page.locator('#q-effective-policy'), 'message-ttl: 60000')
    await waitFor(async () => (await facts())['Operator policy'] === '–', 5000, 'the operator policy to leave the queue page')
    expect((await facts())['Effective policy definition']).not.toContain('max-length')
    expect((await api.del('/api/policies/%2F/e2e-pol-ttl')).status).toBe(204)

    // a topic permission through the form, cleared from its row
    await page.goto(`${origin}/#/admin/permissions`)
    const tForm = page.locator('form[aria-label="Set topic permission"]')
    await tForm.locator('select[name=topic-user]').selectOption('guest')
    await tForm.locator('select[name=topic-vhost]').selectOption('/')
    await tForm.locator('input[name=topic-exchange]').fill('amq.topic')
    await tForm.locator('input[name=write]').fill('^(e2e')
    await tForm.getByRole('button', { name: 'Set topic permission' }).click()
    await waitForText(tForm.locator('.form-error'), 'write: not a valid regular expression.')
    await tForm.locator('input[name=write]').fill('^e2e\\.')
    await tForm.locator('input[name=read]').fill('.*')
    await tForm.getByRole('button', { name: 'Set topic permission' }).click()
    await waitForText(tForm.locator('.form-ok'), "Topic permission of 'guest' on 'amq.topic' set.")
    expect((await api.get('/api/topic-permissions/%2F/guest')).body).toEqual([{ user: 'guest', vhost: '/', exchange: 'amq.topic', write: '^e2e\\.', read: '.*' }])
    const tRow = page.locator('#topic-permissions tr', { hasText: 'amq.topic' })
    await waitForText(tRow, '^e2e\\.')
    await cp.screenshot('admin-topic-permission')
    await tRow.getByRole('button', { name: 'Clear topic permissions of guest in /' }).click()
    await page.locator('#confirm-ok').click()
    await waitFor(async () => (await api.get('/api/topic-permissions/%2F/guest')).status === 404, 5000, 'the topic permission to go')
    await waitForText(page.locator('#topic-permissions'), 'No topic permissions')
    expect(cp.unexpected([])).toEqual([])
  }, 90_000)
})
