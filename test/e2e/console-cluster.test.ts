/**
 * The console of a cluster node (issue 13), in headless Chromium: the overview's node health shows
 * every node with its own figures (this node first), and the Queues page has a Node column naming
 * where each queue lives. Two nodes in the test process joined through a private etcd.
 *
 * Skipped, saying so, where /usr/bin/chromium or /usr/bin/etcd is absent.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consolePage, hasChromium, launchChromium, waitForText, CHROMIUM } from '../helpers/browser.js'
import { clusterPairSuite } from '../helpers/cluster.js'
import { hasEtcd } from '../helpers/etcd.js'

describe.skipIf(!hasChromium || !hasEtcd)(`console of a cluster node (headless Chromium at ${CHROMIUM} and /usr/bin/etcd; skipped when either is absent)`, () => {
  const s = clusterPairSuite('console')
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })

  it('node health lists both nodes with their figures; the Queues page names each queue’s node', async () => {
    const c1 = await (await s.conn(s.n1)).createChannel()
    const c2 = await (await s.conn(s.n2)).createChannel()
    await c1.assertQueue('e2e.on-n1')
    await c2.assertQueue('e2e.on-n2')
    const cp = await consolePage(browser)
    const { page } = cp
    await page.goto(`http://127.0.0.1:${s.n2.httpPort}/`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    await page.locator('h1', { hasText: 'Overview' }).waitFor()
    const health = page.locator('#node-health')
    await waitForText(health, 'n1')
    // this node (n2) first, then n1, each with its own gauges
    expect(await health.locator('h3').allTextContents()).toEqual(['n2 (this node)', 'n1'])
    expect(await health.textContent()).toMatch(/n2 \(this node\)Memory.*high watermark.*File descriptors.*no alarms.*n1Memory.*high watermark.*File descriptors.*no alarms/)
    await page.locator('nav#nav a', { hasText: 'Queues' }).click()
    const row1 = page.locator('tr', { hasText: 'e2e.on-n1' })
    const row2 = page.locator('tr', { hasText: 'e2e.on-n2' })
    await row1.waitFor()
    await row2.waitFor()
    const headers = await page.locator('table thead th').allTextContents()
    const col = headers.findIndex((t) => t.trim().startsWith('Node'))
    expect(col).toBeGreaterThan(0)
    expect((await row1.locator('td').nth(col).textContent())?.trim()).toBe('n1')
    expect((await row2.locator('td').nth(col).textContent())?.trim()).toBe('n2')
    await cp.screenshot('cluster-queues')
    expect(cp.unexpected()).toEqual([])
  })

  it('a quorum queue’s page shows its replicas: role, online, in sync, lag', async () => {
    const c1 = await (await s.conn(s.n1)).createConfirmChannel()
    await c1.assertQueue('e2e.quorum', { durable: true, arguments: { 'x-queue-type': 'quorum' } })
    for (let i = 0; i < 10; i++) c1.sendToQueue('e2e.quorum', Buffer.from(String(i)), { persistent: true })
    await c1.waitForConfirms()
    const cp = await consolePage(browser)
    const { page } = cp
    await page.goto(`http://127.0.0.1:${s.n2.httpPort}/#/queues/%2F/e2e.quorum`)
    await page.locator('input[name=username]').fill('guest')
    await page.locator('input[name=password]').fill('guest')
    await page.keyboard.press('Enter')
    const panel = page.locator('#replicas')
    await panel.waitFor()
    const row = (node: string) => panel.locator('tbody tr', { hasText: node })
    // n2 is not the leader: the figures come from n1 (in sync once the leader has written it to etcd)
    await waitForText(row('n2'), 'in sync')
    expect((await row('n1').textContent())?.replace(/\s+/g, ' ')).toMatch(/n1\s*leader\s*online\s*in sync/)
    await expect.poll(async () => (await row('n2').locator('td').last().textContent())?.trim(), { timeout: 5000 }).toBe('0')
    expect(await row('n2').textContent()).toMatch(/n2\s*follower\s*online\s*in sync/)
    await cp.screenshot('cluster-quorum-replicas')
    expect(cp.unexpected()).toEqual([])
  })
})
