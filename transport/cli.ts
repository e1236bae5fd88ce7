#!/usr/bin/env node
/**
 * `npm start`: flags and environment → config → broker → listeners → signal handling.
 */
import { pino } from 'pino'
import { ConfigError, helpText, parseConfig } from '../core/config.js'
import { startBroker } from './server.js'

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
  const log = pino({ level: config.logLevel })
  let running
  try {
    running = await startBroker({ ...config, logger: log })
  } catch (err) {
    log.fatal({ err }, `cannot start: ${(err as Error).message}`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    running.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
