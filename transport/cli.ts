#!/usr/bin/env node
/**
 * `npm start`: flags and environment → config → broker → listeners → signal handling.
 */
import { pino } from 'pino'
import { ConfigError, helpText, parseConfig } from '../core/config.js'
import { startBroker, type RunningBroker } from './server.js'

async function main(): Promise<void> {
  let config
  try {
    config = parseConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`warren: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (config === null) {
    process.stdout.write(helpText() + '\n')
    return
  }
  // logs go to stdout through a synchronous destination with an error listener: when nobody reads
  // stdout any more (a supervisor or parent gone: EPIPE), logging stops instead of wedging the
  // process — with pino's default destination, process.exit() then hung and SIGTERM never stopped us
  const dest = pino.destination({ dest: 1, sync: true })
  const log = pino({ level: config.logLevel }, dest)
  dest.on('error', () => {
    log.level = 'silent'
  })
  // signal handlers go in before the listeners open: the listening log line comes out during
  // startBroker, and a SIGTERM right after it must still shut down cleanly (exit 0), not kill us
  let running: RunningBroker | undefined
  let signalled: string | undefined
  const stop = (broker: RunningBroker): void => {
    broker.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown')
        process.exit(1)
      },
    )
  }
  const onSignal = (signal: string): void => {
    if (signalled !== undefined) return
    signalled = signal
    log.info({ signal }, 'shutting down')
    if (running !== undefined) stop(running) // else as soon as startBroker is done
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
  // SIGHUP reloads the TLS certificate files (new connections get them); it never stops the broker
  process.on('SIGHUP', () => {
    if (running === undefined || signalled !== undefined) return
    if (running.amqpsPort < 0 && running.httpsPort < 0) log.info({ signal: 'SIGHUP' }, 'no TLS listener: nothing to reload')
    else running.reloadTls()
  })
  try {
    running = await startBroker({ ...config, logger: log })
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`)
    // stderr too: a data dir or disk problem must be readable without parsing JSON logs
    process.stderr.write(`warren: cannot start: ${(err as Error).message}\n`)
    process.exit(1)
  }
  if (signalled !== undefined) stop(running)
}

void main()
