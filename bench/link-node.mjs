// One Warren cluster node for bench/link.mjs, in its own process (its own core): started with
// fork(), it reports its AMQP port, and places queues on request (the parent stands in for the
// cluster definitions that fill the placement from etcd).
import { pino } from 'pino'
import { startBroker } from '../dist/transport/server.js'

const [etcd, cluster, name, dataDir] = process.argv.slice(2)
const b = await startBroker({
  amqpPort: 0,
  httpPort: -1,
  prometheusPort: -1,
  bind: '127.0.0.1',
  dataDir,
  cluster: [etcd],
  clusterName: cluster,
  nodeName: name,
  clusterPort: 0,
  logger: pino({ level: 'warn' }),
})
process.on('message', async (m) => {
  if (m.place) {
    b.broker.cluster.placement.set(m.place)
    process.send({ placed: m.place.name })
  } else if (m.linked) {
    const wait = () => (b.clusterNode.links.peer(m.linked).up ? process.send({ linked: m.linked }) : setTimeout(wait, 20))
    wait()
  } else if (m.stop) {
    await b.close()
    process.exit(0)
  }
})
process.send({ amqpPort: b.amqpPort })
