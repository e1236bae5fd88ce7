/**
 * Layering rules of the README ("transport → core ← exchanges, admin-ui → core"), enforced on the
 * import statements of every .ts file under core/, exchanges/, transport/ and admin-ui/:
 *
 * - core imports only node:* built-ins, pino (type-only) and core
 * - exchanges imports only core and exchanges
 * - admin-ui imports only core, admin-ui and node/npm packages; admin-ui/ctl/ (the command-line
 *   tool, a client of the HTTP API) only admin-ui/ctl/ and node/npm packages
 * - transport imports core, transport and node/npm packages; only the composition roots
 *   transport/server.ts, transport/cli.ts and transport/warren.ts (the `warren` bin) may import
 *   exchanges/ or admin-ui/
 *
 * (the project's package.json counts as metadata, allowed outside core and exchanges), and no
 * console.log in any of them (the broker logs through pino).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const LAYERS = ['core', 'exchanges', 'transport', 'admin-ui'] as const
type Layer = (typeof LAYERS)[number]
const COMPOSITION_ROOTS = new Set(['transport/server.ts', 'transport/cli.ts', 'transport/warren.ts'])

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir)
  if (!existsSync(abs)) return []
  const out: string[] = []
  for (const name of readdirSync(abs)) {
    const rel = path.posix.join(dir, name)
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...tsFiles(rel))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel)
  }
  return out
}

/** Replaces comments with spaces (string literals kept), so commented-out code is not flagged. */
function stripComments(src: string): string {
  let out = ''
  let i = 0
  while (i < src.length) {
    const c = src[i]
    const n = src[i + 1]
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2)
      const stop = end < 0 ? src.length : end + 2
      out += src.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1
      out += src.slice(i, j + 1)
      i = j + 1
    } else {
      out += c
      i++
    }
  }
  return out
}

interface ImportRef {
  specifier: string
  typeOnly: boolean
  line: number
}

/** Static imports, re-exports, side-effect imports, dynamic import() and require(). */
function importsOf(src: string): ImportRef[] {
  const code = stripComments(src)
  const refs: ImportRef[] = []
  const lineAt = (idx: number): number => code.slice(0, idx).split('\n').length
  const patterns: [RegExp, (m: RegExpExecArray) => boolean][] = [
    // import x from '…', import { a } from '…', import type { T } from '…', import * as n from '…'
    [/\bimport\s+(type\s+)?[^'";]*?\sfrom\s*['"]([^'"]+)['"]/g, (m) => m[1] !== undefined],
    // export { a } from '…', export * from '…', export type { T } from '…'
    [/\bexport\s+(type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/g, (m) => m[1] !== undefined],
    // import '…'
    [/\bimport\s*()['"]([^'"]+)['"]/g, () => false],
    // import('…'), require('…')
    [/\b(?:import|require)\s*\(\s*()['"]([^'"]+)['"]\s*\)/g, () => false],
  ]
  for (const [re, typeOnly] of patterns) {
    for (let m = re.exec(code); m !== null; m = re.exec(code)) {
      refs.push({ specifier: m[2], typeOnly: typeOnly(m), line: lineAt(m.index) })
    }
  }
  return refs
}

type Target =
  | { kind: 'layer'; layer: Layer | 'other'; path: string }
  | { kind: 'node' }
  | { kind: 'package'; name: string }
  | { kind: 'metadata' }

function classify(fromFile: string, specifier: string): Target {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    // the project's package.json (read for the version; '../../package.json' from dist/transport/)
    if (path.posix.basename(specifier) === 'package.json') return { kind: 'metadata' }
    const abs = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), specifier))
    const top = abs.split('/')[0]
    return { kind: 'layer', layer: (LAYERS as readonly string[]).includes(top) ? (top as Layer) : 'other', path: abs }
  }
  if (specifier.startsWith('node:')) return { kind: 'node' }
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]
  return { kind: 'package', name }
}

/** Returns why the import is not allowed, or null. */
function violation(file: string, ref: ImportRef): string | null {
  const layer = file.split('/')[0] as Layer
  const t = classify(file, ref.specifier)
  const where = `${file}:${ref.line} imports '${ref.specifier}'`
  switch (layer) {
    case 'core':
      if (t.kind === 'node') return null
      if (t.kind === 'metadata') return `${where}: core may import only node:* built-ins, pino types and core`
      if (t.kind === 'package') {
        if (t.name === 'pino' && ref.typeOnly) return null
        // RE2 (pure JavaScript, no I/O): policy patterns and topic permissions match in linear time
        if (t.name === 're2js') return null
        return `${where}: core may import only node:* built-ins, pino types and core`
      }
      return t.layer === 'core' ? null : `${where}: core must not depend on ${t.layer}/`
    case 'exchanges':
      if (t.kind === 'layer' && (t.layer === 'core' || t.layer === 'exchanges')) return null
      return `${where}: exchanges may import only core and exchanges`
    case 'admin-ui':
      if (t.kind !== 'layer') return null
      if (file.startsWith('admin-ui/ctl/')) {
        return t.path.startsWith('admin-ui/ctl/') ? null : `${where}: admin-ui/ctl (a client of the HTTP API) may import only admin-ui/ctl and packages`
      }
      if (t.layer === 'core' || t.layer === 'admin-ui') return null
      return `${where}: admin-ui may import only core, admin-ui and packages`
    case 'transport':
      if (t.kind !== 'layer') return null
      if (t.layer === 'core' || t.layer === 'transport') return null
      if ((t.layer === 'exchanges' || t.layer === 'admin-ui') && COMPOSITION_ROOTS.has(file)) return null
      return `${where}: only the composition roots (transport/server.ts, cli.ts, warren.ts) may import ${t.layer}/`
  }
  return null
}

const files = LAYERS.flatMap((l) => tsFiles(l))
const sources = new Map(files.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]))

describe('import scanner (self-test)', () => {
  it('finds every import form and ignores comments', () => {
    const src = [
      "import a from './a.js'",
      "import { b, type B } from '../core/b.js'",
      "import type { C } from 'pino'",
      'import * as d from "node:fs"',
      "import './side-effect.js'",
      "export { e } from './e.js'",
      "export * from './f.js'",
      "export type { G } from './g.js'",
      "const h = await import('./h.js')",
      "import {\n  i,\n  j,\n} from './ij.js'",
      "// import x from '../exchanges/commented.js'",
      "/* import y from '../exchanges/block.js' */",
      "const s = 'import z from \"../exchanges/in-string.js\"'",
    ].join('\n')
    const refs = importsOf(src)
    const specs = refs.map((r) => r.specifier).sort()
    expect(specs).toEqual(
      ['./a.js', '../core/b.js', 'pino', 'node:fs', './side-effect.js', './e.js', './f.js', './g.js', './h.js', './ij.js', '../exchanges/in-string.js'].sort(),
    )
    expect(refs.find((r) => r.specifier === 'pino')!.typeOnly).toBe(true)
    expect(refs.find((r) => r.specifier === '../core/b.js')!.typeOnly).toBe(false)
    expect(refs.find((r) => r.specifier === './g.js')!.typeOnly).toBe(true)
  })

  it('classifies violations', () => {
    const ref = (specifier: string, typeOnly = false): ImportRef => ({ specifier, typeOnly, line: 1 })
    expect(violation('core/queue.ts', ref('../transport/channel.js'))).toMatch(/core must not depend on transport/)
    expect(violation('core/queue.ts', ref('pino'))).toMatch(/pino types/)
    expect(violation('core/queue.ts', ref('pino', true))).toBeNull()
    expect(violation('core/queue.ts', ref('re2js'))).toBeNull()
    expect(violation('core/queue.ts', ref('ws'))).not.toBeNull()
    expect(violation('core/wire/x.ts', ref('../errors.js'))).toBeNull()
    expect(violation('core/queue.ts', ref('ws'))).not.toBeNull()
    expect(violation('exchanges/topic.ts', ref('node:crypto'))).not.toBeNull()
    expect(violation('exchanges/topic.ts', ref('../core/exchange.js'))).toBeNull()
    expect(violation('admin-ui/api.ts', ref('ws'))).toBeNull()
    expect(violation('admin-ui/api.ts', ref('../transport/server.js'))).not.toBeNull()
    expect(violation('admin-ui/ctl/main.ts', ref('./args.js'))).toBeNull()
    expect(violation('admin-ui/ctl/main.ts', ref('node:fs'))).toBeNull()
    expect(violation('admin-ui/ctl/main.ts', ref('../../core/broker.js', true))).toMatch(/client of the HTTP API/)
    expect(violation('admin-ui/ctl/main.ts', ref('../api/users.js'))).not.toBeNull()
    expect(violation('transport/warren.ts', ref('../admin-ui/ctl/main.js'))).toBeNull()
    expect(violation('transport/channel.ts', ref('../exchanges/topic.js'))).not.toBeNull()
    expect(violation('transport/server.ts', ref('../exchanges/index.js'))).toBeNull()
    expect(violation('transport/cli.ts', ref('../admin-ui/index.js'))).toBeNull()
    expect(violation('transport/codec/methods.ts', ref('../../core/errors.js'))).toBeNull()
    expect(violation('transport/codec/methods.ts', ref('../../exchanges/x.js'))).not.toBeNull()
    expect(violation('transport/x.ts', ref('../test/helpers/broker.js'))).not.toBeNull()
    expect(violation('transport/server-properties.ts', ref('../../package.json'))).toBeNull()
    expect(violation('exchanges/x.ts', ref('../package.json'))).not.toBeNull()
    expect(violation('core/x.ts', ref('../package.json'))).not.toBeNull()
  })
})

describe('layers', () => {
  it('there are files to check', () => {
    expect(files.filter((f) => f.startsWith('core/')).length).toBeGreaterThan(0)
    expect(files.filter((f) => f.startsWith('transport/')).length).toBeGreaterThan(0)
    expect(files.filter((f) => f.startsWith('exchanges/')).length).toBeGreaterThan(0)
  })

  for (const layer of LAYERS) {
    it(`${layer}/ imports only what its layer allows`, () => {
      const problems: string[] = []
      for (const f of files.filter((x) => x.startsWith(`${layer}/`))) {
        for (const ref of importsOf(sources.get(f)!)) {
          const v = violation(f, ref)
          if (v !== null) problems.push(v)
        }
      }
      expect(problems).toEqual([])
    })
  }

  it('no console.log in core/, exchanges/, transport/, admin-ui/ (log through pino)', () => {
    const problems: string[] = []
    for (const [f, src] of sources) {
      const code = stripComments(src)
      const re = /\bconsole\s*\.\s*log\b/g
      for (let m = re.exec(code); m !== null; m = re.exec(code)) {
        problems.push(`${f}:${code.slice(0, m.index).split('\n').length}`)
      }
    }
    expect(problems).toEqual([])
  })
})
