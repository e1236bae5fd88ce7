/** Cluster options of core/config.ts: off by default, flags and WARREN_* environment, and the refusals. */
import { describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, helpText, parseConfig } from '../../core/config.js'

describe('cluster options', () => {
  it('are off by default: no etcd, cluster warren, port 25672', () => {
    expect(DEFAULT_CONFIG).toMatchObject({ cluster: [], nodeName: '', clusterName: 'warren', clusterPort: 25672, advertiseAddress: '' })
    expect(parseConfig([], {})).toMatchObject({ cluster: [] })
  })

  it('come from flags and from WARREN_* (flags win); etcd:// endpoints become http:// client URLs', () => {
    const env = { WARREN_CLUSTER: 'etcd://10.0.0.1:2379', WARREN_NODE_NAME: 'env-node', WARREN_CLUSTER_NAME: 'c1', WARREN_CLUSTER_PORT: '25000', WARREN_ADVERTISE_ADDRESS: 'host-a' }
    expect(parseConfig([], env)).toMatchObject({ cluster: ['http://10.0.0.1:2379'], nodeName: 'env-node', clusterName: 'c1', clusterPort: 25000, advertiseAddress: 'host-a' })
    expect(parseConfig(['--cluster', 'etcd://127.0.0.1:2379,etcd-b.local:2380,[::1]:2381', '--node-name=n1', '--cluster-port', '0', '--advertise-address', '127.0.0.2'], env)).toMatchObject({
      cluster: ['http://127.0.0.1:2379', 'http://etcd-b.local:2380', 'http://[::1]:2381'],
      nodeName: 'n1',
      clusterName: 'c1',
      clusterPort: 0,
      advertiseAddress: '127.0.0.2',
    })
  })

  it('refuse what is not etcd://host:port, bad names and bad ports, naming the option', () => {
    expect(() => parseConfig(['--cluster', 'http://127.0.0.1:2379'], {})).toThrow("invalid --cluster 'http://127.0.0.1:2379': must be etcd://host:port[,host:port]")
    expect(() => parseConfig(['--cluster', 'etcd://127.0.0.1'], {})).toThrow("'127.0.0.1' is not host:port")
    expect(() => parseConfig(['--cluster', 'etcd://a:1,b:0'], {})).toThrow("'b:0' is not host:port")
    expect(() => parseConfig(['--node-name', 'a/b'], {})).toThrow("invalid --node-name 'a/b'")
    expect(() => parseConfig([], { WARREN_CLUSTER_NAME: '' })).toThrow('invalid WARREN_CLUSTER_NAME')
    expect(() => parseConfig(['--cluster-port', '-1'], {})).toThrow('--cluster-port')
    expect(() => parseConfig(['--advertise-address', 'a b'], {})).toThrow('--advertise-address')
  })

  it('are in --help', () => {
    const help = helpText()
    for (const f of ['--cluster', 'WARREN_CLUSTER', '--node-name', '--cluster-name', '--cluster-port', '--advertise-address']) expect(help).toContain(f)
    expect(help).toMatch(/--cluster <value> .*\[default: none\]/)
    expect(help).toMatch(/--cluster-port .*\[default: 25672\]/)
  })
})
