// Manifests: by digest immutable like blobs; by tag fresh for a TTL, then revalidated with a HEAD (which
// Docker Hub does not count as a pull) and fetched with GET only when the digest moved. Bytes are always the
// upstream's own, verified against their digest; a stale copy is served when the upstream cannot answer.
import { readFile } from 'node:fs/promises'
import { LRUCache } from 'lru-cache'
import { digestOf, isDigest, parseDigest, type Digest } from '../oci/digest.js'
import { OciError } from '../oci/errors.js'
import { acceptKey, accepts, mediaTypes, upstreamAccept, type AcceptList } from '../oci/media-types.js'
import { schema1PayloadDigest } from '../oci/schema1.js'
import { discard, headerValue, type RegistryClient, type UpstreamResponse } from '../upstream/registry-client.js'
import { upstreamStatusError } from '../upstream/status-error.js'
import { UpstreamUnavailableError } from '../upstream/upstream-error.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex, TagRow } from './cache-index.js'
import type { CacheOutcome } from './outcome.js'

/** Larger manifests are refused: the spec has registries accept 4 MiB, and a manifest is held in memory. */
const maxManifestBytes = 8 << 20

/** One manifest of one repository of one registry, as `manifestTarget()` builds it. */
export interface ManifestTarget {
  readonly client: RegistryClient
  readonly repository: string
  /** A tag or a digest, already checked against the grammar. */
  readonly reference: string
  /** Registry, repository and reference in one string: built once per target, not on every request. */
  readonly key: string
}

export function manifestTarget(client: RegistryClient, repository: string, reference: string): ManifestTarget {
  return { client, repository, reference, key: `${client.registry.namespace}\n${repository}\n${reference}` }
}

export interface ManifestRequest extends ManifestTarget {
  readonly accept: AcceptList
  readonly method: 'GET' | 'HEAD'
}

export interface ManifestAnswer {
  readonly outcome: Exclude<CacheOutcome, 'error'>
  readonly digest: string
  readonly mediaType: string
  readonly size: number
  /** The exact upstream bytes; undefined for HEAD answers. */
  readonly bytes: Buffer | undefined
}

export interface ManifestListener {
  mismatch(registry: string, digest: string, reason: string): void
  committed(digest: string, size: number): void
  /** The manifest could not be written to disk (it was still served, from memory). */
  storeFailed(digest: string, error: Error): void
}

export class ManifestCache {
  private readonly memory: LRUCache<string, Buffer>
  private readonly inFlight = new Map<string, Promise<ManifestAnswer>>()
  /**
   * Tag rows by target key, then by accept key, written through to SQLite: a fresh hit touches no database and
   * builds no key string.
   */
  private readonly tagRows = new LRUCache<string, Map<string, TagRow>>({ max: 50_000 })
  /** Accept keys by parsed Accept (the HTTP layer hands the same object for the same header). */
  private readonly acceptKeys = new WeakMap<AcceptList, string>()

  constructor(
    private readonly store: BlobStore,
    private readonly index: CacheIndex,
    private readonly ttlMsFor: (client: RegistryClient) => number,
    private readonly listener: ManifestListener,
    memoryBytes = 64 << 20,
  ) {
    this.memory = new LRUCache<string, Buffer>({ maxSize: memoryBytes, sizeCalculation: (b) => Math.max(1, b.length) })
  }

  /** Drops evicted bytes from memory too, so the cache never answers from content it no longer holds. */
  forget(digest: string): void {
    this.memory.delete(digest)
  }

  get(req: ManifestRequest): Promise<ManifestAnswer> {
    return isDigest(req.reference) ? this.byDigest(req, parseDigest(req.reference)) : this.byTag(req)
  }

  /**
   * A hit answered from memory alone, with no I/O and no await (the warm cache's hot path), or undefined when
   * the request needs more (stale tag, bytes not in memory, Accept not satisfied): then call get().
   * `reference` must already be validated.
   */
  peek(req: ManifestRequest): ManifestAnswer | undefined {
    let found: Omit<TagRow, 'checkedMs'> | undefined
    if (isDigest(req.reference)) {
      const blob = this.index.getBlob(req.reference)
      if (blob?.mediaType && accepts(req.accept, blob.mediaType)) found = { digest: blob.digest, mediaType: blob.mediaType, size: blob.size }
    } else {
      const row = this.readTag(req, this.keyOf(req.accept))
      if (row && Date.now() - row.checkedMs < this.ttlMsFor(req.client)) found = row
    }
    if (!found) return undefined
    if (req.method === 'HEAD') return { outcome: 'hit', digest: found.digest, mediaType: found.mediaType, size: found.size, bytes: undefined }
    const bytes = this.memory.get(found.digest)
    if (!bytes) return undefined
    this.index.touchBlob(found.digest)
    return { outcome: 'hit', digest: found.digest, mediaType: found.mediaType, size: bytes.length, bytes }
  }

  /** Cached bytes of a manifest digest, from memory or disk; undefined when not (or no longer) cached. */
  private async cachedBytes(digest: string): Promise<Buffer | undefined> {
    const inMemory = this.memory.get(digest)
    if (inMemory) return inMemory
    try {
      const bytes = await readFile(this.store.path(parseDigest(digest)))
      this.memory.set(digest, bytes)
      return bytes
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.index.deleteBlob(digest)
      return undefined
    }
  }

  /** An answer from what is cached for this digest, or undefined when a GET would need bytes we lack. */
  private async fromCache(req: ManifestRequest, row: Omit<TagRow, 'checkedMs'>, outcome: ManifestAnswer['outcome']): Promise<ManifestAnswer | undefined> {
    if (req.method === 'HEAD') return { outcome, digest: row.digest, mediaType: row.mediaType, size: row.size, bytes: undefined }
    const bytes = await this.cachedBytes(row.digest)
    if (!bytes) return undefined
    this.index.touchBlob(row.digest)
    return { outcome, digest: row.digest, mediaType: row.mediaType, size: bytes.length, bytes }
  }

  /** Runs upstream work once for every identical request in flight; the joiners see 'coalesced'. */
  private coalesce(key: string, work: () => Promise<ManifestAnswer>): Promise<ManifestAnswer> {
    const pending = this.inFlight.get(key)
    if (pending) return pending.then((answer) => ({ ...answer, outcome: answer.outcome === 'miss' ? 'coalesced' : answer.outcome }))
    const started = work().finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, started)
    return started
  }

  private async byDigest(req: ManifestRequest, digest: Digest): Promise<ManifestAnswer> {
    const row = this.index.getBlob(digest.value)
    // Even by digest, a client is only given a type its Accept allows; otherwise the upstream decides (the
    // Distribution registry answers 404 there), with the client's own Accept.
    if (row?.mediaType && accepts(req.accept, row.mediaType)) {
      const answer = await this.fromCache(req, { digest: row.digest, mediaType: row.mediaType, size: row.size }, 'hit')
      if (answer) return answer
    }
    const key = `${req.client.registry.namespace}\n${req.repository}\n${digest.value}\n${this.keyOf(req.accept)}\n${req.method}`
    return this.coalesce(key, async () => {
      if (req.method === 'HEAD') return this.headUpstream(req, digest.value)
      return this.getUpstream(req, digest)
    })
  }

  private keyOf(accept: AcceptList): string {
    let key = this.acceptKeys.get(accept)
    if (key === undefined) {
      key = acceptKey(accept)
      this.acceptKeys.set(accept, key)
    }
    return key
  }

  private readTag(req: ManifestRequest, accepted: string): TagRow | undefined {
    const cached = this.tagRows.get(req.key)?.get(accepted)
    if (cached !== undefined) return cached
    const row = this.index.getTag(req.client.registry.namespace, req.repository, req.reference, accepted)
    if (row !== undefined) this.rememberTag(req, accepted, row)
    return row
  }

  private writeTag(req: ManifestRequest, accepted: string, row: TagRow): void {
    this.index.putTag(req.client.registry.namespace, req.repository, req.reference, accepted, row)
    this.rememberTag(req, accepted, row)
  }

  private rememberTag(req: ManifestRequest, accepted: string, row: TagRow): void {
    let rows = this.tagRows.get(req.key)
    if (!rows) this.tagRows.set(req.key, (rows = new Map()))
    rows.set(accepted, row)
  }

  /** The tag is gone upstream: forget it under every accept key. */
  private dropTag(req: ManifestRequest): void {
    this.index.deleteTag(req.client.registry.namespace, req.repository, req.reference)
    this.tagRows.delete(req.key)
  }

  private async byTag(req: ManifestRequest): Promise<ManifestAnswer> {
    const accepted = this.keyOf(req.accept)
    const row = this.readTag(req, accepted)
    if (row && Date.now() - row.checkedMs < this.ttlMsFor(req.client)) {
      const answer = await this.fromCache(req, row, 'hit')
      if (answer) return answer
      // Fresh tag known from a HEAD, bytes not cached: fetch by digest, which cannot move under us.
      return this.byDigest(req, parseDigest(row.digest))
    }
    const key = `${req.key}\n${accepted}\n${req.method}`
    return this.coalesce(key, () => (row ? this.revalidate(req, row, accepted) : this.fetchTag(req, accepted)))
  }

  /** A stale tag: HEAD upstream; same digest -> fresh again; new digest -> fetch; upstream trouble -> stale copy. */
  private async revalidate(req: ManifestRequest, row: TagRow, accepted: string): Promise<ManifestAnswer> {
    let res: UpstreamResponse
    try {
      res = await this.send(req, 'HEAD', req.reference)
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) return this.stale(req, row, err)
      throw err
    }
    if (res.status === 429 || res.status >= 500) return this.stale(req, row, await upstreamStatusError(res, 'manifest'))
    // (An upstream that cannot be reached at all is caught above; one that answers 429/5xx just here.)
    if (res.status === 404) this.dropTag(req)
    if (res.status !== 200) throw await upstreamStatusError(res, 'manifest')
    if (headerValue(res.headers, 'docker-content-digest') === row.digest) {
      const answer = await this.fromCache(req, row, 'revalidated')
      if (answer) {
        this.writeTag(req, accepted, { ...row, checkedMs: Date.now() })
        return answer
      }
    }
    try {
      return await this.fetchTag(req, accepted, res)
    } catch (err) {
      // The digest moved, but the GET for it failed (Docker Hub rate-limits GETs, not HEADs): serve stale.
      if (upstreamTrouble(err)) return this.stale(req, row, err as Error)
      throw err
    }
  }

  private async stale(req: ManifestRequest, row: TagRow, cause: Error): Promise<ManifestAnswer> {
    const answer = await this.fromCache(req, row, 'stale')
    if (!answer) throw cause instanceof OciError ? cause : unavailable(cause)
    return answer
  }

  /** A tag with nothing usable cached. A HEAD is answered from an upstream HEAD (no pull counted). */
  private async fetchTag(req: ManifestRequest, accepted: string, head?: UpstreamResponse): Promise<ManifestAnswer> {
    if (req.method === 'HEAD') {
      const answer = head ? await this.readHead(head) : await this.headUpstream(req, req.reference)
      this.writeTag(req, accepted, tagRowOf(answer))
      return answer
    }
    const answer = await this.getUpstream(req, undefined)
    this.writeTag(req, accepted, tagRowOf(answer))
    return answer
  }

  private async send(req: ManifestRequest, method: 'GET' | 'HEAD', reference: string): Promise<UpstreamResponse> {
    return req.client.request({
      method,
      path: `/v2/${req.repository}/manifests/${reference}`,
      repository: req.repository,
      headers: { accept: upstreamAccept(req.accept) },
    })
  }

  private async headUpstream(req: ManifestRequest, reference: string): Promise<ManifestAnswer> {
    return this.readHead(await this.send(req, 'HEAD', reference), isDigest(reference) ? reference : undefined)
  }

  /** A HEAD answer; `knownDigest` stands in when a HEAD by digest comes back without Docker-Content-Digest. */
  private async readHead(res: UpstreamResponse, knownDigest?: string): Promise<ManifestAnswer> {
    if (res.status !== 200) throw await upstreamStatusError(res, 'manifest')
    const digest = headerValue(res.headers, 'docker-content-digest') ?? knownDigest
    const mediaType = mediaTypeOf(headerValue(res.headers, 'content-type'), undefined)
    if (digest === undefined || mediaType === undefined) {
      throw new OciError('MANIFEST_INVALID', 'upstream answered HEAD without Docker-Content-Digest or Content-Type')
    }
    parseDigest(digest)
    return { outcome: 'miss', digest, mediaType, size: Number(headerValue(res.headers, 'content-length') ?? 0), bytes: undefined }
  }

  /** GETs a manifest, checks its bytes against the digest asked for (or the one the upstream claims) and stores it. */
  private async getUpstream(req: ManifestRequest, expected: Digest | undefined): Promise<ManifestAnswer> {
    const res = await this.send(req, 'GET', expected?.value ?? req.reference)
    if (res.status !== 200) throw await upstreamStatusError(res, 'manifest')
    const bytes = await readLimited(res)
    const claimed = headerValue(res.headers, 'docker-content-digest')
    const algorithm = expected?.algorithm ?? (claimed?.startsWith('sha512:') ? 'sha512' : 'sha256')
    const mediaType = mediaTypeOf(headerValue(res.headers, 'content-type'), bytes)
    if (mediaType === undefined) throw new OciError('MANIFEST_INVALID', 'upstream manifest has no media type')
    // A signed schema1 manifest is named by its payload; its bytes (re-signed on every request) are not.
    const signed = mediaType === mediaTypes.dockerSchema1Signed
    const digest = (signed ? schema1PayloadDigest(bytes, algorithm) : undefined) ?? digestOf(bytes, algorithm)
    const wanted = expected?.value ?? claimed
    if (wanted !== undefined && wanted !== digest) {
      this.listener.mismatch(req.client.registry.namespace, wanted, `manifest hashes to ${digest}`)
      throw new OciError('DIGEST_INVALID', `upstream sent a manifest that hashes to ${digest}, not ${wanted}`, { status: 502 })
    }
    this.memory.set(digest, bytes)
    // On disk every file must hash to its name (start-up repair and `verify` check it): schema1 stays in memory.
    if (signed) return { outcome: 'miss', digest, mediaType, size: bytes.length, bytes }
    try {
      await this.store.writeVerified(parseDigest(digest), bytes)
      this.index.putBlob(digest, bytes.length, mediaType)
      this.listener.committed(digest, bytes.length)
    } catch (err) {
      // A full (or failing) disk must not cost the client its manifest: it is verified and in memory.
      this.listener.storeFailed(digest, err as Error)
    }
    return { outcome: 'miss', digest, mediaType, size: bytes.length, bytes }
  }
}

/** What a tag row keeps of an answer: never its bytes (those live in the size-bounded memory cache). */
function tagRowOf(answer: ManifestAnswer): TagRow {
  return { mediaType: answer.mediaType, digest: answer.digest, size: answer.size, checkedMs: Date.now() }
}

/** Failures that mean "the upstream cannot answer now", for which a stale copy is the better answer. */
function upstreamTrouble(err: unknown): boolean {
  return err instanceof UpstreamUnavailableError || (err instanceof OciError && (err.code === 'TOOMANYREQUESTS' || err.code === 'UNAVAILABLE'))
}

function unavailable(cause: Error): OciError {
  return new OciError('UNAVAILABLE', `upstream unavailable and nothing cached: ${cause.message}`)
}

/** The Content-Type without parameters, else the manifest's own mediaType field. */
function mediaTypeOf(contentType: string | undefined, bytes: Buffer | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim()
  if (type && type !== 'application/octet-stream' && type !== 'text/plain') return type
  if (!bytes) return type || undefined
  try {
    const field = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType
    return typeof field === 'string' ? field : type
  } catch {
    return type
  }
}

async function readLimited(res: UpstreamResponse): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > maxManifestBytes) {
      discard(res.body)
      throw new OciError('MANIFEST_INVALID', `upstream manifest is larger than ${maxManifestBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
