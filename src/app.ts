// The composition root: the one place that builds every part of Dockside and wires them together.
import { EventEmitter } from 'node:events'
import { accessSync, constants, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { Agent } from 'undici'
import { BlobCache } from './cache/blob-cache.js'
import { BlobStore } from './cache/blob-store.js'
import { CacheIndex } from './cache/cache-index.js'
import { ManifestCache } from './cache/manifest-cache.js'
import { markCleanShutdown, repairCache, type RepairReport } from './cache/repair.js'
import { Evictor } from './cache/evictor.js'
import { pinnedDigests, type PinnedImage } from './cache/pins.js'
import { ConfigError } from './config/config-error.js'
import { parseDigest } from './oci/digest.js'
import { parseImageReference } from './oci/reference.js'
import { registryTtlMs, type Config } from './config/config.js'
import { createHttpServer } from './http/server.js'
import { RegistryApi } from './http/registry-api.js'
import { Metrics } from './metrics.js'
import { StatsService, summarize, withRatios } from './stats.js'
import { RegistryClient, ratelimitCount } from './upstream/registry-client.js'
import { RegistryRouter } from './upstream/router.js'
import { TokenCache } from './upstream/token-cache.js'

export interface App {
  readonly config: Config
  readonly log: Logger
  readonly index: CacheIndex
  readonly blobs: BlobCache
  readonly evictor: Evictor
  readonly clients: ReadonlyMap<string, RegistryClient>
  readonly metrics: Metrics
  readonly stats: StatsService
  readonly repair: RepairReport
  /** Emits 'answered' (with the request's record) once a /v2/ request is fully accounted for. */
  readonly events: EventEmitter
  /** /v2/ requests fully accounted for since start. */
  readonly answered: number
  /** The bound address once listening, e.g. "http://127.0.0.1:5000". */
  url: string
  listen(): Promise<string>
  close(): Promise<void>
}

/** The cache folder opened and repaired, with its eviction policy: what `serve`, `gc` and `verify` share. */
export interface OpenCache {
  readonly store: BlobStore
  readonly index: CacheIndex
  readonly repair: RepairReport
  readonly evictor: Evictor
}

export interface EvictionEvents {
  evicted(digest: string, size: number): void
}

/**
 * Opens the cache folder. `repair` (the server's start-up) empties tmp/ and reconciles index and disk; the
 * maintenance commands skip it, since a running server may own downloads in tmp/.
 */
export async function openCache(config: Config, log: Logger, opts: { repair: boolean; events?: Partial<EvictionEvents> }): Promise<OpenCache> {
  const events = opts.events ?? {}
  const router = new RegistryRouter(config.registries, config.defaultRegistry)
  const pins = config.cache.pinned.map((text) => pinnedImage(router, text))
  mkdirSync(config.cacheDir, { recursive: true })
  const store = new BlobStore(config.cacheDir)
  const index = new CacheIndex(join(config.cacheDir, 'index.sqlite'))
  const repair = opts.repair ? await repairCache(store, index) : { skipped: true, missingFiles: 0, adopted: 0, removed: 0 }
  if (repair.missingFiles + repair.adopted + repair.removed > 0) log.warn({ repair }, 'cache repaired at start-up')
  const evictor = new Evictor(index, store, config.cache, () => pinnedDigests(pins, index, store), {
    evicted: (digest, size) => events.evicted?.(digest, size),
    finished: (report) => {
      if (report.evictedBlobs > 0) log.info({ eviction: report }, 'evicted least-recently-used content')
    },
    failed: (err) => log.error({ err }, 'eviction failed; the next commit tries again'),
  })
  return { store, index, repair, evictor }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

function pinnedImage(router: RegistryRouter, text: string): PinnedImage {
  try {
    const ref = parseImageReference(text)
    const { registry, repository } = router.route(ref.name, null)
    return { registry: registry.namespace, repository, tag: ref.tag, digest: ref.digest === undefined ? undefined : parseDigest(ref.digest).value }
  } catch (err) {
    throw new ConfigError('config', 'cache.pinned', text, `an image reference on a configured registry (${(err as Error).message})`)
  }
}

export async function createApp(config: Config, log: Logger = pino({ level: config.logLevel })): Promise<App> {
  // eslint-disable-next-line prefer-const -- eviction reports to metrics and the manifest cache, built below
  let forget: (digest: string, size: number) => void
  const { store, index, repair, evictor } = await openCache(config, log, { repair: true, events: { evicted: (digest, size) => forget(digest, size) } })

  const dispatcher = new Agent({
    connect: { timeout: config.upstream.connectTimeoutMs },
    connections: config.upstream.maxConcurrency * 2, // downloads and lookups each have maxConcurrency slots
    headersTimeout: config.upstream.headersTimeoutMs,
    bodyTimeout: config.upstream.bodyTimeoutMs,
    keepAliveTimeout: 30_000,
  })
  const router = new RegistryRouter(config.registries, config.defaultRegistry)
  const clients = new Map<string, RegistryClient>()
  // eslint-disable-next-line prefer-const -- metrics needs the clients and the blob cache, which need metrics
  let metrics: Metrics
  const tokens = new TokenCache(dispatcher, config.upstream.headersTimeoutMs, (_realm, outcome) => metrics.tokenFetches.inc({ outcome }))
  const observer = {
    response: (registry: string, method: string, status: number | 'error', seconds: number) => {
      metrics.upstreamRequests.inc({ registry, method, status: String(status) })
      metrics.upstreamSeconds.observe({ registry, method }, seconds)
    },
  }
  for (const registry of router.registries) {
    clients.set(registry.namespace, new RegistryClient(registry, dispatcher, tokens, config.upstream, observer))
  }
  const mismatch = (registry: string, digest: string, reason: string): void => {
    metrics.digestMismatches.inc({ registry })
    log.error({ registry, digest, reason }, 'upstream content did not match its digest; nothing committed')
  }
  const diskFull = (digest: string, error: Error, what: string): void => {
    metrics.diskFull.inc()
    log.error({ digest, err: error }, `disk full: ${what}; committing nothing, evicting`)
    // The disk may be smaller than the budget: free a tenth of what is cached, or down to the low watermark.
    evictor.evictInBackground(Math.min(evictor.lowBytes, Math.floor(index.totals().bytes * 0.9)))
  }
  const blobs = new BlobCache(store, index, config.fillTimeoutMs, {
    mismatch,
    committed: () => evictor.check(),
    diskFull: (digest, error) => diskFull(digest, error, 'relaying the blob to its waiting clients'),
    finished: () => {},
  })
  const manifests = new ManifestCache(store, index, (client) => registryTtlMs(config, client.registry), {
    mismatch,
    committed: () => evictor.check(),
    storeFailed: (digest, error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') diskFull(digest, error, 'manifest served from memory')
      else log.error({ digest, err: error }, 'could not store a manifest; served from memory')
    },
  })
  forget = (digest, size) => {
    manifests.forget(digest)
    metrics.evictions.inc()
    metrics.evictedBytes.inc(size)
  }
  metrics = new Metrics({
    fillsInFlight: () => blobs.fillsInFlight,
    cachedBlobs: () => index.totals(),
    maxBytes: () => config.cache.maxBytes,
    ratelimitRemaining: () =>
      [...clients.values()].map((c) => ({ registry: c.registry.namespace, remaining: ratelimitCount(c.health.ratelimitRemaining) })),
    hitRatios: () => [...summarize(index.repositoryStats()).byRegistry].map(([registry, c]) => ({ registry, ...withRatios(c) })),
  })
  const api = new RegistryApi({ router, clients, blobs, manifests, log })
  const stats = new StatsService({
    repositoryRows: () => index.repositoryStats(),
    disk: () => {
      const { count, bytes } = index.totals()
      return { usedBytes: bytes, blobCount: count, maxBytes: config.cache.maxBytes }
    },
    registries: () => [...clients.values()].map((c) => ({ registry: c.registry.namespace, health: c.health })),
    fillsInFlight: () => blobs.fillsInFlight,
  })
  const events = new EventEmitter()
  let answered = 0
  const http = createHttpServer({
    api,
    metrics,
    index,
    log,
    stats,
    clientIdleTimeoutMs: config.clientIdleTimeoutMs,
    readiness: () => ({
      indexOpen: index.answers(),
      cacheDirWritable: writable(store.tmpDir) && writable(store.blobsDir),
      withinBudget: !evictor.overBudget,
    }),
    answered: (record) => {
      answered++
      events.emit('answered', record)
    },
  })
  evictor.check() // the budget may have shrunk since the last run
  // Background index work must never crash the server (a full disk makes SQLite refuse writes): log and go on.
  const guarded = (what: string, work: () => void) => () => {
    try {
      work()
    } catch (err) {
      log.error({ err }, `${what} failed; retrying at the next interval`)
    }
  }
  const flushTimer = setInterval(guarded('index flush', () => index.flush()), config.indexFlushIntervalMs)
  flushTimer.unref()
  // `dockside gc` and `verify` may delete rows while the server runs: re-read the totals now and then.
  const recountTimer = setInterval(guarded('index recount', () => index.recount()), 60_000)
  recountTimer.unref()
  const sampleTimer = setInterval(() => stats.sample(), config.statsSampleIntervalMs)
  sampleTimer.unref()

  let closing: Promise<void> | undefined
  const shutdown = async (): Promise<void> => {
    clearInterval(flushTimer)
    clearInterval(sampleTimer)
    clearInterval(recountTimer)
    await http.drain(config.shutdownGraceMs)
    await dispatcher.destroy() // fills in flight fail now, unlink their temp files and commit nothing
    await blobs.settle()
    await evictor.idle()
    index.close()
    markCleanShutdown(store)
  }

  const app: App = {
    config,
    log,
    index,
    blobs,
    evictor,
    clients,
    metrics,
    stats,
    repair,
    events,
    get answered() {
      return answered
    },
    url: '',
    async listen() {
      await new Promise<void>((resolve, reject) => {
        http.server.once('error', reject)
        http.server.listen(config.listen.port, config.listen.host, () => resolve())
      })
      const address = http.server.address() as AddressInfo
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      app.url = `http://${host}:${address.port}`
      return app.url
    },
    close() {
      closing ??= shutdown()
      return closing
    },
  }
  return app
}
