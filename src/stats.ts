// What the dashboard, the JSON stats endpoint and `dockside stats` show: hit ratios per registry and
// repository, bytes saved, disk use, upstream health, and a short in-memory history for charts.
import type { RepositoryCounters } from './cache/cache-index.js'
import type { RegistryHealth } from './upstream/registry-client.js'

export interface Ratios {
  /** Requests answered without upstream bytes (hit, revalidated, stale, coalesced) over all requests. */
  hitRatio: number | null
  /** Bytes served from cache over all bytes served. */
  byteHitRatio: number | null
}

export type CounterTotals = RepositoryCounters & Ratios

export interface RepositoryFigures extends CounterTotals {
  registry: string
  repository: string
}

export interface RegistryFigures extends CounterTotals {
  registry: string
  health: {
    lastOkMs: number | null
    lastFailureMs: number | null
    lastFailure: string | null
    consecutiveFailures: number
    ratelimitLimit: string | null
    ratelimitRemaining: string | null
  }
}

export interface HistorySample {
  /** Epoch milliseconds. */
  t: number
  /** Cumulative since start-up; subtract neighbours for a rate. */
  requests: number
  cached: number
  bytesFromCache: number
  bytesFromUpstream: number
}

export interface StatsSnapshot {
  generatedAt: string
  uptimeSeconds: number
  totals: CounterTotals
  registries: RegistryFigures[]
  topRepositories: RepositoryFigures[]
  disk: { usedBytes: number; blobCount: number; maxBytes: number | null }
  fillsInFlight: number
  history: HistorySample[]
}

function emptyCounters(): RepositoryCounters {
  return { requests: 0, hits: 0, misses: 0, coalesced: 0, revalidated: 0, stale: 0, errors: 0, bytesFromCache: 0, bytesFromUpstream: 0 }
}

/** Requests that cost the upstream no body bytes. */
export function cachedRequests(c: RepositoryCounters): number {
  return c.hits + c.revalidated + c.stale + c.coalesced
}

export function withRatios(c: RepositoryCounters): CounterTotals {
  const answered = c.requests - c.errors
  const bytes = c.bytesFromCache + c.bytesFromUpstream
  return {
    ...c,
    hitRatio: answered > 0 ? cachedRequests(c) / answered : null,
    byteHitRatio: bytes > 0 ? c.bytesFromCache / bytes : null,
  }
}

export function addCounters(into: RepositoryCounters, c: RepositoryCounters): void {
  for (const key of Object.keys(into) as (keyof RepositoryCounters)[]) into[key] += c[key]
}

/** Folds per-repository rows into totals, per-registry figures and the top repositories by requests. */
export function summarize(rows: readonly (RepositoryCounters & { registry: string; repository: string })[], top = 10) {
  const totals = emptyCounters()
  const byRegistry = new Map<string, RepositoryCounters>()
  for (const row of rows) {
    addCounters(totals, row)
    let registry = byRegistry.get(row.registry)
    if (!registry) {
      registry = emptyCounters()
      byRegistry.set(row.registry, registry)
    }
    addCounters(registry, row)
  }
  const topRepositories = [...rows]
    .sort((a, b) => b.requests - a.requests || a.repository.localeCompare(b.repository))
    .slice(0, top)
    .map((row) => ({ ...withRatios(row), registry: row.registry, repository: row.repository }))
  return { totals: withRatios(totals), byRegistry, topRepositories }
}

/** A ring of cumulative samples, for "hit ratio over time" without a time-series database. */
export class StatsHistory {
  private readonly samples: HistorySample[] = []

  constructor(private readonly capacity: number) {}

  record(sample: HistorySample): void {
    this.samples.push(sample)
    if (this.samples.length > this.capacity) this.samples.shift()
  }

  all(): HistorySample[] {
    return [...this.samples]
  }
}

export interface StatsSources {
  repositoryRows(): (RepositoryCounters & { registry: string; repository: string })[]
  disk(): { usedBytes: number; blobCount: number; maxBytes: number | null }
  registries(): { registry: string; health: RegistryHealth }[]
  fillsInFlight(): number
}

/** Live figures: running totals since start-up for the history, SQLite rows for everything else. */
export class StatsService {
  private readonly startedMs = Date.now()
  private readonly running: HistorySample = { t: 0, requests: 0, cached: 0, bytesFromCache: 0, bytesFromUpstream: 0 }
  private readonly history: StatsHistory

  constructor(
    private readonly sources: StatsSources,
    historySamples = 360,
  ) {
    this.history = new StatsHistory(historySamples)
    this.sample()
  }

  /** Counts one answered request into the running totals. */
  observe(cached: boolean, bytes: number): void {
    this.running.requests++
    if (cached) {
      this.running.cached++
      this.running.bytesFromCache += bytes
    } else {
      this.running.bytesFromUpstream += bytes
    }
  }

  sample(): void {
    this.history.record({ ...this.running, t: Date.now() })
  }

  snapshot(): StatsSnapshot {
    const { totals, byRegistry, topRepositories } = summarize(this.sources.repositoryRows())
    const registries = this.sources.registries().map(({ registry, health }) => ({
      ...withRatios(byRegistry.get(registry) ?? emptyCounters()),
      registry,
      health: {
        lastOkMs: health.lastOkMs ?? null,
        lastFailureMs: health.lastFailureMs ?? null,
        lastFailure: health.lastFailure ?? null,
        consecutiveFailures: health.consecutiveFailures,
        ratelimitLimit: health.ratelimitLimit ?? null,
        ratelimitRemaining: health.ratelimitRemaining ?? null,
      },
    }))
    return {
      generatedAt: new Date().toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedMs) / 1000),
      totals,
      registries,
      topRepositories,
      disk: this.sources.disk(),
      fillsInFlight: this.sources.fillsInFlight(),
      history: [...this.history.all(), { ...this.running, t: Date.now() }],
    }
  }
}
