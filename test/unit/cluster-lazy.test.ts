/**
 * A single node loads no etcd code (issue 13): only transport/cluster/ imports etcd3, and the rest
 * reaches transport/cluster/ only through a dynamic import() (transport/server.ts, with --cluster).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.posix.join(dir, name)
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...tsFiles(rel))
    else if (name.endsWith('.ts')) out.push(rel)
  }
  return out
}

describe('cluster code is loaded only in cluster mode', () => {
  const files = ['core', 'exchanges', 'transport', 'admin-ui'].flatMap(tsFiles)
  const staticImports = (f: string): string[] => [...readFileSync(path.join(ROOT, f), 'utf8').matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1])

  it('only transport/cluster/ imports etcd3', () => {
    const importers = files.filter((f) => staticImports(f).some((s) => s === 'etcd3' || s.startsWith('etcd3/')))
    expect(importers.length).toBeGreaterThan(0)
    expect(importers.filter((f) => !f.startsWith('transport/cluster/'))).toEqual([])
  })

  it('nothing outside transport/cluster/ imports it statically; server.ts imports it dynamically', () => {
    const outside = files.filter((f) => !f.startsWith('transport/cluster/') && staticImports(f).some((s) => /(^|\/)cluster\/(cluster-node|membership)/.test(s)))
    expect(outside).toEqual([])
    expect(readFileSync(path.join(ROOT, 'transport/server.ts'), 'utf8')).toContain("await import('./cluster/cluster-node.js')")
  })
})
