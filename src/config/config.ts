// Every setting Dockside has, typed, with its default in one object.
import { fileURLToPath } from 'node:url'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface RegistryCredentials {
  readonly username: string
  readonly password: string
}

/** One upstream registry, as described by a file in hosts/. */
export interface RegistryConfig {
  /** The name clients use: `?ns=` value or first path segment, e.g. "docker.io". */
  readonly namespace: string
  /** Other names for the same registry, e.g. "index.docker.io". */
  readonly aliases: readonly string[]
  /** Base URL of the upstream, e.g. "https://registry-1.docker.io". */
  readonly url: string
  /** Prefix for one-part repository names ("library" on Docker Hub), or undefined. */
  readonly shortNamePrefix: string | undefined
  /** Freshness of a tag before it is revalidated; undefined means the global manifestTtlMs. */
  readonly manifestTtlMs: number | undefined
  readonly credentials: RegistryCredentials | undefined
}

export interface Config {
  readonly listen: { readonly host: string; readonly port: number }
  readonly cacheDir: string
  readonly hostsDir: string
  /** Namespace used when a request names no registry (Docker's registry-mirrors). */
  readonly defaultRegistry: string
  readonly manifestTtlMs: number
  readonly cache: {
    /** Disk budget for blobs and manifests. */
    readonly maxBytes: number
    /** Fractions of maxBytes: above high, evict least-recently-used down to low. */
    readonly highWatermark: number
    readonly lowWatermark: number
    /** Image references whose manifests and blobs are never evicted. */
    readonly pinned: readonly string[]
  }
  readonly upstream: {
    readonly connectTimeoutMs: number
    readonly headersTimeoutMs: number
    /** Longest silence between two body chunks. */
    readonly bodyTimeoutMs: number
    /** Blob downloads in flight per registry; other upstream requests get as many slots of their own. */
    readonly maxConcurrency: number
    /** Extra attempts before the first body byte, on connection errors and 502/503/504. */
    readonly retries: number
    readonly retryBackoffMs: number
  }
  /** Upper bound on one blob download, however many clients wait on it. */
  readonly fillTimeoutMs: number
  /** A response with no traffic either way for this long is cut (a stalled reader holds a socket and a file). */
  readonly clientIdleTimeoutMs: number
  /** On SIGTERM, how long responses in flight may take to finish before their connections are cut. */
  readonly shutdownGraceMs: number
  /** How often the dashboard's history takes a sample (360 samples are kept). */
  readonly statsSampleIntervalMs: number
  /** How often batched index writes (access times, counters) reach SQLite. */
  readonly indexFlushIntervalMs: number
  readonly logLevel: LogLevel
  /** The registries themselves; loaded from hostsDir unless given directly. */
  readonly registries: readonly RegistryConfig[]
}

/** The hosts/ folder shipped beside src/ and dist/. */
export const shippedHostsDir = fileURLToPath(new URL('../../hosts', import.meta.url))

export const defaultConfig: Config = {
  listen: { host: '0.0.0.0', port: 5000 },
  cacheDir: './cache-data',
  hostsDir: shippedHostsDir,
  defaultRegistry: 'docker.io',
  manifestTtlMs: 5 * 60_000,
  cache: { maxBytes: 50 * 2 ** 30, highWatermark: 0.9, lowWatermark: 0.8, pinned: [] },
  upstream: {
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 30_000,
    bodyTimeoutMs: 60_000,
    maxConcurrency: 32,
    retries: 2,
    retryBackoffMs: 200,
  },
  fillTimeoutMs: 30 * 60_000,
  shutdownGraceMs: 30_000,
  clientIdleTimeoutMs: 2 * 60_000,
  indexFlushIntervalMs: 1_000,
  statsSampleIntervalMs: 10_000,
  logLevel: 'info',
  registries: [],
}

export function registryTtlMs(config: Config, registry: RegistryConfig): number {
  return registry.manifestTtlMs ?? config.manifestTtlMs
}
