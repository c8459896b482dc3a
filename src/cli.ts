// argv -> subcommand. Every option is listed in usage() below; keep it true to the code.
import { parseArgs } from 'node:util'
import { createApp } from './app.js'
import type { LogLevel } from './config/config.js'
import { ConfigError } from './config/config-error.js'
import { loadConfig } from './config/load.js'

export const usage = `Usage: dockside <command> [options]

A pull-through cache for OCI container registries (docker.io, ghcr.io, quay.io, registry.k8s.io, ...).

Commands:
  serve            Run the cache (the default command)

Options for serve:
  -c, --config FILE     YAML config file (default: $DOCKSIDE_CONFIG, else built-in defaults)
      --host HOST       Address to listen on (default 0.0.0.0)
  -p, --port PORT       Port to listen on (default 5000)
      --cache-dir DIR   Cache directory (default ./cache-data)
      --hosts-dir DIR   Folder of upstream registry files (default: the shipped hosts/)
      --log-level LEVEL debug, info, warn, error or silent (default info)
  -h, --help            Show this help

Clients reach a registry by containerd's ?ns=<registry>, by a path prefix
(/v2/ghcr.io/owner/repo/...), or else get the default registry (docker.io).
`

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      'cache-dir': { type: 'string' },
      'hosts-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0] ?? 'serve'
  if (values.help) {
    process.stdout.write(usage)
    return 0
  }
  if (command !== 'serve' || positionals.length > 1) {
    process.stderr.write(`dockside: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${usage}`)
    return 2
  }
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigError('command line', '--port', values.port, 'a port number from 0 to 65535')
  }
  const logLevels = ['debug', 'info', 'warn', 'error', 'silent']
  if (values['log-level'] !== undefined && !logLevels.includes(values['log-level'])) {
    throw new ConfigError('command line', '--log-level', values['log-level'], `one of ${logLevels.join(', ')}`)
  }
  const config = loadConfig(values.config ?? process.env.DOCKSIDE_CONFIG, {
    host: values.host,
    port,
    cacheDir: values['cache-dir'],
    hostsDir: values['hosts-dir'],
    logLevel: values['log-level'] as LogLevel | undefined,
  })
  const app = await createApp(config)
  const url = await app.listen()
  app.log.info({ url, cacheDir: config.cacheDir, registries: config.registries.map((r) => r.namespace) }, 'dockside listening')
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      app.log.info({ signal }, 'shutting down')
      resolve()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  await app.close()
  return 0
}
