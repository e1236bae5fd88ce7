/**
 * The etcd key layout of cluster definitions (transport/cluster/definitions-keys.ts): names holding
 * '/' or '%' stay inside their segment (no two objects share a key, a vhost's prefix holds only its
 * own records), queue records keep argument types, and the binding index finds bindings by end.
 */
import { describe, expect, it } from 'vitest'
import { BindingIndex } from '../../transport/cluster/binding-index.js'
import { DefinitionKeys, decodeHome, encodeHome, type BindingRecord } from '../../transport/cluster/definitions-keys.js'

describe('cluster definition keys', () => {
  const k = new DefinitionKeys('c/1')

  it('percent-encodes every name, so a / in a name cannot reach into another key', () => {
    expect(k.queue('/', 'a/b')).toBe('/warren/c%2F1/defs/queues/%2F/a%2Fb')
    expect(k.queue('v/a', 'b')).not.toBe(k.queue('v', 'a/b'))
    expect(k.exchange('%2F', 'x')).not.toBe(k.exchange('/', 'x'))
    // a vhost's prefix does not match another vhost whose name starts the same
    expect(k.queue('v/x', 'q').startsWith(`${k.defs}queues/${encodeURIComponent('v')}/`)).toBe(false)
    const b: BindingRecord = { vhost: '/', source: 'x/y', destinationType: 'queue', destination: 'q', routingKey: 'a/b', arguments: '' }
    expect(k.binding(b)).toBe('/warren/c%2F1/defs/bindings/%2F/x%2Fy/q/q/a%2Fb/')
    expect(k.binding({ ...b, source: 'x', routingKey: 'y/a/b' })).not.toBe(k.binding(b))
    expect(k.kindOf(k.binding(b))).toBe('bindings')
    expect(k.kindOf(k.user('u/1'))).toBe('users')
  })

  it('a queue record round-trips with its argument types', () => {
    const home = { vhost: '/', name: 'q', node: 'n1', durable: true, autoDelete: false, exclusive: false, arguments: { 'x-max-length': 10, 'x-queue-type': 'classic', flag: true, bytes: Buffer.from([1, 2]) } }
    const back = decodeHome(encodeHome(home))
    expect(back).toEqual(home)
    expect(Buffer.isBuffer(back.arguments.bytes)).toBe(true)
  })

  it('the binding index finds bindings by source, destination queue and destination exchange', () => {
    const idx = new BindingIndex()
    const r1: BindingRecord = { vhost: '/', source: 'x', destinationType: 'queue', destination: 'q', routingKey: '', arguments: '' }
    const r2: BindingRecord = { vhost: '/', source: 'x', destinationType: 'exchange', destination: 'y', routingKey: 'k', arguments: '' }
    idx.add('k1', r1)
    idx.add('k2', r2)
    expect(idx.keys('/', 'source', 'x').sort()).toEqual(['k1', 'k2'])
    expect(idx.keys('/', 'queue', 'q')).toEqual(['k1'])
    expect(idx.keys('/', 'exchange', 'y')).toEqual(['k2'])
    expect(idx.keys('/', 'queue', 'y')).toEqual([])
    idx.remove('k1', r1)
    expect(idx.keys('/', 'source', 'x')).toEqual(['k2'])
    expect(idx.keys('/', 'queue', 'q')).toEqual([])
  })
})
