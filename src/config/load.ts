// Builds a Config from defaults, an optional YAML file and command-line overrides, then checks it whole.
import { readFileSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { defaultConfig, type Config, type LogLevel, type RegistryConfig } from './config.js'
import { ConfigError } from './config-error.js'
import { ConfigReader } from './reader.js'
import { readRegistry } from './registry-file.js'

const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

export interface ConfigOverrides {
  host?: string | undefined
  port?: number | undefined
  cacheDir?: string | undefined
  hostsDir?: string | undefined
  logLevel?: LogLevel | undefined
}

function readYamlFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(path, '(file)', path, `a readable file (${(err as Error).message})`)
  }
  try {
    return parseYaml(text)
  } catch (err) {
    throw new ConfigError(path, '(file)', path, `valid YAML (${(err as Error).message.split('\n')[0]})`)
  }
}

/** Reads the main config file's mapping into a Config (registries not yet loaded). */
export function readConfig(source: string, value: unknown): Omit<Config, 'registries'> {
  const r = new ConfigReader(source, value)
  const d = defaultConfig
  const listen = r.child('listen')
  const upstream = r.child('upstream')
  const cache = r.child('cache')
  const config = {
    listen: { host: listen.string('host', d.listen.host), port: listen.int('port', d.listen.port, { min: 0, max: 65535 }) },
    cacheDir: r.string('cacheDir', d.cacheDir),
    hostsDir: r.string('hostsDir', d.hostsDir),
    defaultRegistry: r.string('defaultRegistry', d.defaultRegistry),
    manifestTtlMs: r.durationMs('manifestTtl', d.manifestTtlMs),
    cache: {
      maxBytes: cache.sizeBytes('maxBytes', d.cache.maxBytes),
      highWatermark: cache.fraction('highWatermark', d.cache.highWatermark),
      lowWatermark: cache.fraction('lowWatermark', d.cache.lowWatermark),
      pinned: cache.stringList('pinned'),
    },
    upstream: {
      connectTimeoutMs: upstream.durationMs('connectTimeout', d.upstream.connectTimeoutMs, 1),
      headersTimeoutMs: upstream.durationMs('headersTimeout', d.upstream.headersTimeoutMs, 1),
      bodyTimeoutMs: upstream.durationMs('bodyTimeout', d.upstream.bodyTimeoutMs, 1),
      maxConcurrency: upstream.int('maxConcurrency', d.upstream.maxConcurrency, { min: 1, max: 10_000 }),
      retries: upstream.int('retries', d.upstream.retries, { min: 0, max: 10 }),
      retryBackoffMs: upstream.durationMs('retryBackoff', d.upstream.retryBackoffMs),
    },
    fillTimeoutMs: r.durationMs('fillTimeout', d.fillTimeoutMs, 1000),
    shutdownGraceMs: r.durationMs('shutdownGrace', d.shutdownGraceMs),
    clientIdleTimeoutMs: r.durationMs('clientIdleTimeout', d.clientIdleTimeoutMs, 1000),
    indexFlushIntervalMs: r.durationMs('indexFlushInterval', d.indexFlushIntervalMs, 100),
    statsSampleIntervalMs: r.durationMs('statsSampleInterval', d.statsSampleIntervalMs, 1000),
    logLevel: r.oneOf('logLevel', d.logLevel, logLevels),
  }
  listen.finish()
  upstream.finish()
  cache.finish()
  if (config.cache.lowWatermark >= config.cache.highWatermark) {
    throw new ConfigError(source, 'cache.lowWatermark', config.cache.lowWatermark, `a fraction below cache.highWatermark (${config.cache.highWatermark})`)
  }
  r.finish()
  return config
}

/** Loads every `*.yaml` / `*.yml` file of a hosts folder, one registry each. */
export function loadRegistries(hostsDir: string, env: NodeJS.ProcessEnv = process.env): RegistryConfig[] {
  let files: string[]
  try {
    files = readdirSync(hostsDir).filter((f) => /\.ya?ml$/.test(f)).sort()
  } catch (err) {
    throw new ConfigError('config', 'hostsDir', hostsDir, `a readable folder (${(err as Error).message})`)
  }
  const registries = files.map((f) => readRegistry(join(hostsDir, f), readYamlFile(join(hostsDir, f)), env))
  const owner = new Map<string, string>()
  for (const [i, registry] of registries.entries()) {
    for (const name of [registry.namespace, ...registry.aliases].map((n) => n.toLowerCase())) {
      const other = owner.get(name)
      if (other !== undefined) {
        throw new ConfigError(join(hostsDir, files[i] as string), 'namespace', name, `a name no other file uses (${other} has it)`)
      }
      owner.set(name, files[i] as string)
    }
  }
  return registries
}

/** The whole configuration: defaults < config file < overrides, with the registries of its hosts folder. */
export function loadConfig(configPath: string | undefined, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const base = configPath === undefined ? readConfig('defaults', {}) : readConfig(configPath, readYamlFile(configPath))
  const merged = {
    ...base,
    listen: { host: overrides.host ?? base.listen.host, port: overrides.port ?? base.listen.port },
    cacheDir: resolve(overrides.cacheDir ?? base.cacheDir),
    hostsDir: resolve(overrides.hostsDir ?? base.hostsDir),
    logLevel: overrides.logLevel ?? base.logLevel,
  }
  const registries = loadRegistries(merged.hostsDir, env)
  if (!registries.some((r) => r.namespace === merged.defaultRegistry)) {
    throw new ConfigError(configPath ?? 'defaults', 'defaultRegistry', merged.defaultRegistry, `the namespace of a file in ${merged.hostsDir}`)
  }
  return { ...merged, registries }
}
