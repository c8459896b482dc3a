// `dockside serve`: run the cache until SIGTERM or SIGINT, then drain and stop.
import { createApp } from '../app.js'
import type { Config } from '../config/config.js'

export async function serveCommand(config: Config): Promise<void> {
  const app = await createApp(config)
  const url = await app.listen()
  app.log.info({ url, cacheDir: config.cacheDir, registries: config.registries.map((r) => r.namespace) }, 'dockside listening')
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  app.log.info({ signal }, 'shutting down')
  await app.close()
}
