// `dockside serve`: run the cache until SIGTERM or SIGINT, then drain and stop.
import { destination as logDestination, pino } from 'pino'
import { createApp } from '../app.js'
import type { Config } from '../config/config.js'

/** Log lines are buffered (up to 4 KiB, or 1 s) rather than written one syscall per request line. */
const logBufferBytes = 4096
const logFlushMs = 1000

export async function serveCommand(config: Config): Promise<void> {
  const destination = logDestination({ dest: 1, sync: false, minLength: logBufferBytes })
  const flushTimer = setInterval(() => destination.flush(), logFlushMs)
  flushTimer.unref()
  const app = await createApp(config, pino({ level: config.logLevel }, destination))
  const url = await app.listen()
  app.log.info({ url, cacheDir: config.cacheDir, registries: config.registries.map((r) => r.namespace) }, 'dockside listening')
  destination.flush() // the line a supervisor or a test waits for goes out at once
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  app.log.info({ signal }, 'shutting down')
  await app.close()
  clearInterval(flushTimer)
  destination.flushSync()
}
