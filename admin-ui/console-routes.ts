/**
 * The console's own API endpoints, registered on the management API's router (so they get its
 * authentication, vhost permission checks, JSON errors and body limits):
 * - POST /api/route-test/{vhost}/{exchange}: where a message would be routed, without publishing;
 * - GET /api/topology/{vhost}: the vhost's exchanges, queues and links as a graph, with rates;
 * - GET /api/dead-letters/{vhost}: dead-letter exchanges and dead-lettered messages at a glance.
 */
import { deadLettersHandler } from './dead-letters.js'
import { routeTestHandler } from './route-tester.js'
import type { Router } from './router.js'
import { topologyHandler } from './topology.js'

/** Adds the console's endpoints to the management API router. */
export function registerConsoleRoutes(router: Router): void {
  router.post('/api/route-test/:vhost/:exchange', routeTestHandler)
  router.get('/api/topology/:vhost', topologyHandler)
  router.get('/api/dead-letters/:vhost', deadLettersHandler)
}
