/**
 * Vitest global setup: compiles the broker (tsconfig.build.json → dist/) once before the suite, so
 * that tests can spawn the real CLI (`node dist/transport/cli.js`).
 *
 * - Skipped when dist/ is already up to date: a stamp in dist/ records the newest source mtime it
 *   was built from (WARREN_FORCE_BUILD=1 always builds). Besides saving ~2 s, this keeps dist/ from
 *   being rewritten under a concurrent run that is spawning the CLI.
 * - Type errors do not stop the run (tsc still emits, and `npm test` type-checks first); a build
 *   that produces no CLI does.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE_DIRS = ['core', 'exchanges', 'transport', 'admin-ui']
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json']
const CLI = path.join(ROOT, 'dist', 'transport', 'cli.js')
const STAMP = path.join(ROOT, 'dist', '.build-stamp')

/** Newest mtime (ms) of the build's inputs; also counts files, so a deleted source shows up. */
function inputsFingerprint(): string {
  let newest = 0
  let count = 0
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) {
        newest = Math.max(newest, statSync(p).mtimeMs)
        count++
      }
    }
  }
  for (const d of SOURCE_DIRS) walk(path.join(ROOT, d))
  for (const f of CONFIG_FILES) {
    const p = path.join(ROOT, f)
    if (existsSync(p)) newest = Math.max(newest, statSync(p).mtimeMs)
  }
  return `${newest}:${count}`
}

export default function setup(): void {
  const fingerprint = inputsFingerprint() // taken before building: an edit during the build means rebuild next time
  const upToDate =
    process.env.WARREN_FORCE_BUILD !== '1' && existsSync(CLI) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === fingerprint
  if (upToDate) return
  // the project's own tsc, run directly (what `npx tsc` resolves to, without npm's start-up cost)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const started = Date.now()
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim()
    if (!existsSync(CLI)) throw new Error(`tsc -p tsconfig.build.json failed and produced no ${CLI}:\n${out}`)
    process.stderr.write(`global-setup: tsc -p tsconfig.build.json reported errors (dist/ emitted anyway):\n${out}\n`)
  } else if (process.env.WARREN_TEST_LOG) {
    process.stderr.write(`global-setup: built dist/ in ${Date.now() - started} ms\n`)
  }
  writeFileSync(STAMP, fingerprint)
}
