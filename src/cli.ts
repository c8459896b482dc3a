// argv -> command. Every option is listed in `usage` below; keep it true to the code.
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { pino } from 'pino'
import { gcCommand } from './commands/gc.js'
import { hostsCommand } from './commands/hosts.js'
import { serveCommand } from './commands/serve.js'
import { statsCommand } from './commands/stats.js'
import { verifyCommand } from './commands/verify.js'
import { warmCommand } from './commands/warm.js'
import type { Config, LogLevel } from './config/config.js'
import { ConfigError } from './config/config-error.js'
import { loadConfig } from './config/load.js'
import { parseSizeBytes } from './config/units.js'

export const usage = `Usage: dockside <command> [options]

A pull-through cache for OCI container registries (docker.io, ghcr.io, quay.io, registry.k8s.io, ...).

Commands:
  serve                      Run the cache (the default command)
  stats [--json] [--top N]   Hit ratio per registry, top repositories, bytes saved, disk use
  gc [--to SIZE]             Evict least-recently-used content now, down to SIZE
                             (default: the low watermark of cache.maxBytes)
  verify                     Re-hash every cached blob; remove and report any that do not match
  warm IMAGE... | --file LIST [--platform OS/ARCH|all] [--url URL] [--concurrency N]
                             Pull images' manifests and blobs through a running Dockside
                             (default URL http://127.0.0.1:5000, platform linux/amd64)
  hosts --mirror URL --out DIR
                             Write containerd certs.d/<registry>/hosts.toml for every configured
                             registry, pulling and resolving through the mirror URL

Options for every command that reads the configuration (all but warm):
  -c, --config FILE     YAML config file (default: $DOCKSIDE_CONFIG, else built-in defaults)
      --cache-dir DIR   Cache directory (default ./cache-data)
      --hosts-dir DIR   Folder of upstream registry files (default: the shipped hosts/)

Options for serve:
      --host HOST       Address to listen on (default 0.0.0.0)
  -p, --port PORT       Port to listen on (default 5000)
      --log-level LEVEL debug, info, warn, error or silent (default info)

  -h, --help            Show this help

Clients reach a registry by containerd's ?ns=<registry>, by a path prefix
(/v2/ghcr.io/owner/repo/...), or else get the default registry (docker.io).
`

const configOptions = {
  config: { type: 'string', short: 'c' },
  'cache-dir': { type: 'string' },
  'hosts-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const commandOptions = {
  serve: { ...configOptions, host: { type: 'string' }, port: { type: 'string', short: 'p' }, 'log-level': { type: 'string' } },
  stats: { ...configOptions, json: { type: 'boolean' }, top: { type: 'string' } },
  gc: { ...configOptions, to: { type: 'string' } },
  verify: configOptions,
  warm: { help: { type: 'boolean', short: 'h' }, file: { type: 'string' }, platform: { type: 'string' }, url: { type: 'string' }, concurrency: { type: 'string' } },
  hosts: { ...configOptions, mirror: { type: 'string' }, out: { type: 'string' } },
} satisfies Record<string, ParseArgsConfig['options']>

type Command = keyof typeof commandOptions
const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

function wholeNumber(option: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError('command line', option, text, `a whole number from ${min} to ${max}`)
  return n
}

function required(option: string, value: string | undefined, expected: string): string {
  if (value === undefined) throw new ConfigError('command line', option, value, expected)
  return value
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  const command: Command = first !== undefined && !first.startsWith('-') ? (first as Command) : 'serve'
  if (!(command in commandOptions)) {
    process.stderr.write(`dockside: unknown command ${JSON.stringify(first)}\n\n${usage}`)
    return 2
  }
  const args = first === command ? argv.slice(1) : argv
  const { values: v, positionals } = parseArgs({ args, options: commandOptions[command], allowPositionals: command === 'warm', strict: true })
  const values = v as Record<string, string | boolean | undefined>
  const str = (key: string): string | undefined => values[key] as string | undefined
  if (values.help) {
    process.stdout.write(usage)
    return 0
  }
  if (command === 'warm') {
    const images = [...positionals]
    const list = str('file')
    if (list !== undefined) {
      images.push(...readFileSync(list, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean))
    }
    if (images.length === 0) throw new ConfigError('command line', 'IMAGE', undefined, 'at least one image reference, or --file LIST')
    const report = await warmCommand({
      url: str('url') ?? 'http://127.0.0.1:5000',
      images,
      platform: str('platform') ?? 'linux/amd64',
      concurrency: wholeNumber('--concurrency', str('concurrency'), 4, 1, 64),
    })
    return report.failed.length === 0 ? 0 : 1
  }
  const port = str('port') === undefined ? undefined : wholeNumber('--port', str('port'), 0, 0, 65535)
  const logLevel = str('log-level')
  if (logLevel !== undefined && !logLevels.includes(logLevel as LogLevel)) {
    throw new ConfigError('command line', '--log-level', logLevel, `one of ${logLevels.join(', ')}`)
  }
  const config: Config = loadConfig(str('config') ?? process.env.DOCKSIDE_CONFIG, {
    host: str('host'),
    port,
    cacheDir: str('cache-dir'),
    hostsDir: str('hosts-dir'),
    logLevel: logLevel as LogLevel | undefined,
  })
  const log = pino({ level: command === 'serve' ? config.logLevel : 'warn' })
  switch (command) {
    case 'serve':
      await serveCommand(config)
      return 0
    case 'stats':
      statsCommand(config, { json: values.json === true, top: wholeNumber('--top', str('top'), 10, 1, 1000) })
      return 0
    case 'gc': {
      const to = str('to')
      const toBytes = to === undefined ? undefined : parseSizeBytes(to)
      if (to !== undefined && toBytes === undefined) throw new ConfigError('command line', '--to', to, 'a size such as "500MiB" or "50GiB"')
      await gcCommand(config, log, { toBytes })
      return 0
    }
    case 'verify': {
      const report = await verifyCommand(config, log)
      return report.bad.length === 0 ? 0 : 1
    }
    case 'hosts':
      hostsCommand(config, {
        mirror: required('--mirror', str('mirror'), 'the URL nodes reach Dockside at, e.g. http://dockside.example:5000'),
        outDir: required('--out', str('out'), 'a folder to write <registry>/hosts.toml into'),
      })
      return 0
  }
}
