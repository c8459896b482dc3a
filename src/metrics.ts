// Every Prometheus metric Dockside exports, defined once, on a registry of its own (no global state).
// Label values are bounded: registries, kinds, outcomes, methods, status codes; never repositories.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CacheOutcome, RequestKind } from './cache/outcome.js'

export interface MetricsSources {
  fillsInFlight(): number
  cachedBlobs(): { count: number; bytes: number }
  maxBytes(): number
  ratelimitRemaining(): { registry: string; remaining: number | undefined }[]
  hitRatios(): { registry: string; hitRatio: number | null; byteHitRatio: number | null }[]
}

/**
 * Increments of a labelled counter kept as plain numbers and folded into it when it is scraped: prom-client
 * hashes and validates the labels on every inc(), which was a tenth of a manifest hit's CPU.
 */
class Tally<L extends string> {
  private readonly slots = new Map<string, { labels: Record<L, string>; pending: number }>()

  /** @param labelsOf the labels a key stands for (called once per key) */
  constructor(private readonly labelsOf: (key: string) => Record<L, string>) {}

  add(key: string, value: number): void {
    const slot = this.slots.get(key)
    if (slot) slot.pending += value
    else this.slots.set(key, { labels: this.labelsOf(key), pending: value })
  }

  fold(counter: Counter<L>): void {
    for (const slot of this.slots.values()) {
      if (slot.pending === 0) continue
      counter.inc(slot.labels, slot.pending)
      slot.pending = 0
    }
  }
}

export class Metrics {
  readonly registry = new Registry()
  private readonly requestTally = new Tally((key) => {
    const [kind, outcome, registry] = key.split(' ') as [string, string, string]
    return { kind, outcome, registry }
  })
  private readonly servedTally = new Tally((source) => ({ source }))
  readonly requests: Counter<'kind' | 'outcome' | 'registry'>
  readonly servedBytes: Counter<'source'>
  readonly upstreamRequests: Counter<'registry' | 'method' | 'status'>
  readonly upstreamSeconds: Histogram<'registry' | 'method'>
  readonly digestMismatches: Counter<'registry'>
  readonly tokenFetches: Counter<'outcome'>
  readonly evictions: Counter
  readonly diskFull: Counter
  readonly evictedBytes: Counter

  constructor(sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.requests = new Counter({
      name: 'dockside_requests_total',
      help: 'Registry API requests answered, by kind, cache outcome and upstream registry',
      labelNames: ['kind', 'outcome', 'registry'],
      registers,
      collect: () => this.requestTally.fold(this.requests),
    })
    this.servedBytes = new Counter({
      name: 'dockside_served_bytes_total',
      help: 'Body bytes sent to clients, by where they came from (cache or upstream)',
      labelNames: ['source'],
      registers,
      collect: () => this.servedTally.fold(this.servedBytes),
    })
    this.upstreamRequests = new Counter({
      name: 'dockside_upstream_requests_total',
      help: 'Requests sent to upstream registries, by registry, method and status (or "error")',
      labelNames: ['registry', 'method', 'status'],
      registers,
    })
    this.upstreamSeconds = new Histogram({
      name: 'dockside_upstream_request_duration_seconds',
      help: 'Time to upstream response headers',
      labelNames: ['registry', 'method'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
    this.digestMismatches = new Counter({
      name: 'dockside_digest_mismatches_total',
      help: 'Upstream content that did not match its digest or length (never committed)',
      labelNames: ['registry'],
      registers,
    })
    this.tokenFetches = new Counter({
      name: 'dockside_token_fetches_total',
      help: 'Bearer token fetches from registry token services',
      labelNames: ['outcome'],
      registers,
    })
    this.evictions = new Counter({
      name: 'dockside_evictions_total',
      help: 'Blobs and manifests evicted to stay within the disk budget',
      registers,
    })
    this.diskFull = new Counter({
      name: 'dockside_disk_full_total',
      help: 'Blob downloads that hit a full disk (relayed to their clients, not committed)',
      registers,
    })
    this.evictedBytes = new Counter({
      name: 'dockside_evicted_bytes_total',
      help: 'Bytes evicted to stay within the disk budget',
      registers,
    })
    new Gauge({
      name: 'dockside_cache_max_bytes',
      help: 'The disk budget (cache.maxBytes)',
      registers,
      collect() {
        this.set(sources.maxBytes())
      },
    })
    new Gauge({
      name: 'dockside_fills_in_flight',
      help: 'Blob downloads from upstream in progress',
      registers,
      collect() {
        this.set(sources.fillsInFlight())
      },
    })
    new Gauge({
      name: 'dockside_cache_bytes',
      help: 'Bytes of blobs and manifests in the cache',
      registers,
      collect() {
        this.set(sources.cachedBlobs().bytes)
      },
    })
    new Gauge({
      name: 'dockside_cache_blobs',
      help: 'Blobs and manifests in the cache',
      registers,
      collect() {
        this.set(sources.cachedBlobs().count)
      },
    })
    new Gauge({
      name: 'dockside_hit_ratio',
      help: 'Share of requests answered without upstream bytes, per registry, since the index began (by requests or by bytes)',
      labelNames: ['registry', 'by'],
      registers,
      collect() {
        this.reset()
        for (const { registry, hitRatio, byteHitRatio } of sources.hitRatios()) {
          if (hitRatio !== null) this.set({ registry, by: 'requests' }, hitRatio)
          if (byteHitRatio !== null) this.set({ registry, by: 'bytes' }, byteHitRatio)
        }
      },
    })
    new Gauge({
      name: 'dockside_upstream_ratelimit_remaining',
      help: 'Last ratelimit-remaining an upstream reported (absent until it sends one)',
      labelNames: ['registry'],
      registers,
      collect() {
        this.reset()
        for (const { registry, remaining } of sources.ratelimitRemaining()) {
          if (remaining !== undefined) this.set({ registry }, remaining)
        }
      },
    })
  }

  served(source: 'cache' | 'upstream', bytes: number): void {
    if (bytes > 0) this.servedTally.add(source, bytes)
  }

  /** Registry namespaces are host names, so a space cannot occur in any part of the key. */
  request(kind: RequestKind, outcome: CacheOutcome, registry: string): void {
    this.requestTally.add(`${kind} ${outcome} ${registry}`, 1)
  }
}
