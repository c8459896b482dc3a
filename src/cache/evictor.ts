// LRU eviction against a disk budget: above the high watermark, least-recently-used blobs and manifests go
// until usage is under the low one. Runs in small batches, each one transaction, yielding to the event loop
// between batches, so requests are never stalled. Fills in flight are not in the index, so they cannot be
// chosen; a file being served stays readable through its open handle after the unlink.
import { unlinkSync } from 'node:fs'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { parseDigest } from '../oci/digest.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex } from './cache-index.js'

export interface EvictionLimits {
  readonly maxBytes: number
  /** Fractions of maxBytes. */
  readonly highWatermark: number
  readonly lowWatermark: number
}

export interface EvictionReport {
  readonly evictedBlobs: number
  readonly evictedBytes: number
  readonly usedBytes: number
  readonly durationMs: number
}

export interface EvictionListener {
  evicted(digest: string, size: number): void
  finished(report: EvictionReport): void
  /** A background run failed (the index or the disk refused); the next check tries again. */
  failed(error: Error): void
}

/** Rows per batch: small enough that one batch (rows, files, listeners) stays well under 50 ms. */
const batchSize = 128

export class Evictor {
  private running: Promise<EvictionReport> | undefined

  constructor(
    private readonly index: CacheIndex,
    private readonly store: BlobStore,
    readonly limits: EvictionLimits,
    private readonly pinned: () => Set<string>,
    private readonly listener: EvictionListener,
  ) {}

  get highBytes(): number {
    return Math.floor(this.limits.maxBytes * this.limits.highWatermark)
  }

  get lowBytes(): number {
    return Math.floor(this.limits.maxBytes * this.limits.lowWatermark)
  }

  get overBudget(): boolean {
    return this.index.totals().bytes > this.limits.maxBytes
  }

  /** Resolves when no eviction is running (shutdown waits for the batch in progress). */
  async idle(): Promise<void> {
    await this.running
  }

  /** Starts an eviction in the background when usage is above the high watermark. */
  check(): void {
    if (this.index.totals().bytes > this.highBytes) this.evictInBackground()
  }

  /** Starts a run nobody waits for; a failure is reported to the listener, never left unhandled. */
  evictInBackground(targetBytes?: number): void {
    this.evict(targetBytes).catch((err: Error) => this.listener.failed(err))
  }

  /** Evicts down to targetBytes (default: the low watermark); one run at a time, joiners share it. */
  evict(targetBytes = this.lowBytes): Promise<EvictionReport> {
    this.running ??= this.run(targetBytes).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async run(targetBytes: number): Promise<EvictionReport> {
    const started = performance.now()
    const pinned = this.pinned()
    let cursor = { lastAccessMs: -1, digest: '' }
    let evictedBlobs = 0
    let evictedBytes = 0
    while (this.index.totals().bytes > targetBytes) {
      const page = this.index.leastRecentlyUsed(cursor, batchSize)
      const last = page.at(-1)
      if (!last) break
      cursor = { lastAccessMs: last.lastAccessMs, digest: last.digest }
      let usedBytes = this.index.totals().bytes
      const victims = page.filter((row) => {
        if (usedBytes <= targetBytes || pinned.has(row.digest)) return false
        usedBytes -= row.size
        return true
      })
      // Row and file go together, with no await between: no fill of the same digest can commit in between.
      this.index.transaction(() => {
        for (const victim of victims) this.index.deleteBlob(victim.digest)
      })
      for (const victim of victims) {
        try {
          unlinkSync(this.store.path(parseDigest(victim.digest)))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
        evictedBlobs++
        evictedBytes += victim.size
        this.listener.evicted(victim.digest, victim.size)
      }
      await yieldToEventLoop()
    }
    const report = { evictedBlobs, evictedBytes, usedBytes: this.index.totals().bytes, durationMs: performance.now() - started }
    this.listener.finished(report)
    return report
  }
}
