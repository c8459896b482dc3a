// Blobs by digest: a hit streams the committed file; a miss starts (or joins) the one fill for that digest.
import { open, type FileHandle } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import type { Digest } from '../oci/digest.js'
import { OciError } from '../oci/errors.js'
import { headerValue, type RegistryClient } from '../upstream/registry-client.js'
import { upstreamStatusError } from '../upstream/status-error.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex } from './cache-index.js'
import { Fill, type FillListener } from './fill.js'
import { sendFileRange } from './send-file.js'

export interface BlobSource {
  readonly outcome: 'hit' | 'miss' | 'coalesced'
  /** Total length; undefined only for a fill whose upstream sent no Content-Length. */
  readonly size: number | undefined
  /** Writes the bytes [start, end] (inclusive) to `out` and ends it; call send or abandon, once. */
  send(out: Writable, start?: number, end?: number): Promise<void>
  abandon(): void
}

export class BlobCache {
  private readonly fills = new Map<string, Fill>()

  constructor(
    private readonly store: BlobStore,
    private readonly index: CacheIndex,
    private readonly fillTimeoutMs: number,
    private readonly listener: FillListener,
  ) {}

  get fillsInFlight(): number {
    return this.fills.size
  }

  /** Waits for every fill in flight to end (shutdown, tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.fills.values()].map((f) => f.done))
  }

  /** The committed file, opened (so eviction cannot pull it away mid-read), or undefined. */
  private async openCached(digest: Digest): Promise<{ size: number; handle: FileHandle } | undefined> {
    const row = this.index.getBlob(digest.value)
    if (!row) return undefined
    try {
      const handle = await open(this.store.path(digest), 'r')
      this.index.touchBlob(digest.value)
      return { size: row.size, handle }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.index.deleteBlob(digest.value) // the index must not claim what the disk lost
      return undefined
    }
  }

  async get(client: RegistryClient, repository: string, digest: Digest): Promise<BlobSource> {
    const cached = await this.openCached(digest)
    if (cached) {
      const { size, handle } = cached
      return {
        outcome: 'hit',
        size,
        send: (out, start = 0, end = size - 1) => sendFileRange(handle, out, start, end),
        abandon: () => void handle.close(),
      }
    }
    let fill = this.fills.get(digest.value)
    const outcome = fill ? 'coalesced' : 'miss'
    if (!fill) fill = this.startFill(client, repository, digest)
    await fill.headersReady
    const started = fill
    return {
      outcome,
      size: started.size,
      send: async (out, start = 0, end) => {
        if (started.followable) return started.send(out, start, end)
        const handle = await open(started.committedPath, 'r') // committed meanwhile: it is a plain file now
        return sendFileRange(handle, out, start, end ?? started.written - 1)
      },
      abandon: () => {},
    }
  }

  /** Size of a blob without fetching it: from the index, a fill in flight, or an upstream HEAD. */
  async head(client: RegistryClient, repository: string, digest: Digest): Promise<{ size: number; outcome: 'hit' | 'miss' | 'coalesced' }> {
    const row = this.index.getBlob(digest.value)
    if (row) return { size: row.size, outcome: 'hit' }
    const fill = this.fills.get(digest.value)
    if (fill?.size !== undefined) return { size: fill.size, outcome: 'coalesced' }
    const res = await client.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest.value}`, repository })
    if (res.status !== 200) throw await upstreamStatusError(res, 'blob')
    const length = headerValue(res.headers, 'content-length')
    if (length !== undefined && /^\d+$/.test(length)) return { size: Number(length), outcome: 'miss' }
    // No length from the HEAD (clients take HEAD's length as the descriptor's size): learn it from the download,
    // which the client is about to ask for anyway.
    const source = await this.get(client, repository, digest)
    source.abandon()
    if (source.size === undefined) throw new OciError('BLOB_UNKNOWN', `upstream gives no length for ${digest.value}`, { status: 502 })
    return { size: source.size, outcome: source.outcome }
  }

  private startFill(client: RegistryClient, repository: string, digest: Digest): Fill {
    const fill = new Fill(digest, client, repository, this.store, this.fillTimeoutMs, {
      mismatch: (registry, d, reason) => this.listener.mismatch(registry, d, reason),
      committed: (d, size) => {
        this.index.putBlob(d, size, null)
        this.listener.committed(d, size)
      },
      diskFull: (d, error) => {
        if (this.fills.get(d) === fill) this.fills.delete(d) // later requests start afresh once space is freed
        this.listener.diskFull(d, error)
      },
      finished: (outcome) => {
        if (this.fills.get(digest.value) === fill) this.fills.delete(digest.value)
        this.listener.finished(outcome)
      },
    })
    this.fills.set(digest.value, fill)
    return fill
  }
}
