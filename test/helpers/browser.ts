/**
 * Headless Chromium for console tests: Debian's /usr/bin/chromium driven by playwright-core (no
 * browser is ever downloaded), one page with its console errors and uncaught exceptions collected,
 * and screenshots saved under test-artifacts/ (gitignored).
 */
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type ConsoleMessage, type Locator, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ARTIFACTS = path.join(ROOT, 'test-artifacts')

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS })
}

/** A console error or uncaught exception seen on the page. */
export interface PageProblem {
  text: string
  /** the URL the message is about (a failed request's URL), when known */
  url: string
}

export interface ConsolePage {
  page: Page
  /** every console error and page error so far */
  problems: PageProblem[]
  /** problems not matched by one of `expected` (e.g. the 400 a test provokes on purpose) */
  unexpected(expected?: RegExp[]): PageProblem[]
  /** Saves test-artifacts/console-<name>.png: the whole page, or only the viewport (dialogs). */
  screenshot(name: string, fullPage?: boolean): Promise<string>
}

/** Opens a page at 1400×900 that records console errors and page errors. */
export async function consolePage(browser: Browser): Promise<ConsolePage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  page.setDefaultTimeout(8000)
  const problems: PageProblem[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' || m.type() === 'assert') problems.push({ text: m.text(), url: m.location().url ?? '' })
  })
  page.on('pageerror', (err) => problems.push({ text: `uncaught: ${err.message}`, url: '' }))
  mkdirSync(ARTIFACTS, { recursive: true })
  return {
    page,
    problems,
    unexpected: (expected = []) => problems.filter((p) => !expected.some((re) => re.test(`${p.text} ${p.url}`))),
    async screenshot(name, fullPage = true) {
      const file = path.join(ARTIFACTS, `console-${name}.png`)
      // from the top, so the sticky top bar is drawn where it belongs
      if (fullPage) await page.evaluate('window.scrollTo(0, 0)')
      await page.screenshot({ path: file, fullPage })
      return file
    },
  }
}

/** Waits until the locator's text contains `text` (the console refreshes asynchronously). */
export async function waitForText(locator: Locator, text: string | RegExp, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    last = (await locator.textContent({ timeout: Math.max(100, deadline - Date.now()) }).catch(() => '')) ?? ''
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}; last text: ${last.slice(0, 300)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
