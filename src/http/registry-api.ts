// The pull side of the Distribution API: routes a /v2/ request to its registry and answers it from the cache.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import { pipeline } from 'node:stream/promises'
import type { BlobCache } from '../cache/blob-cache.js'
import { manifestTarget, type ManifestAnswer, type ManifestCache, type ManifestRequest, type ManifestTarget } from '../cache/manifest-cache.js'
import type { CacheOutcome, RequestKind } from '../cache/outcome.js'
import { isDigest, parseDigest, type Digest } from '../oci/digest.js'
import { OciError } from '../oci/errors.js'
import { parseAccept, type AcceptList } from '../oci/media-types.js'
import { assertTag } from '../oci/reference.js'
import { headerValue, type RegistryClient, type UpstreamResponse } from '../upstream/registry-client.js'
import type { RegistryRouter } from '../upstream/router.js'
import { upstreamStatusError } from '../upstream/status-error.js'
import { parseApiPath } from './api-path.js'
import { apiVersionHeader, sendError, toOciError } from './error-response.js'
import { parseRange } from './range.js'

/** The path and query of a request. */
export interface RequestTarget {
  readonly pathname: string
  readonly searchParams: URLSearchParams
}

/** What one request was, for the access log, metrics and per-repository counters. */
export interface RequestRecord {
  kind: RequestKind
  registry: string | undefined
  repository: string | undefined
  outcome: CacheOutcome | undefined
  /** Body bytes the answer carries. */
  bodyBytes: number
}

export interface RegistryApiDeps {
  readonly router: RegistryRouter
  readonly clients: ReadonlyMap<string, RegistryClient>
  readonly blobs: BlobCache
  readonly manifests: ManifestCache
  readonly log: Logger
}

const cacheHeader = 'x-dockside-cache'

/** A GET or HEAD path resolved: its endpoint, and for all but /v2/ the registry's client and the repository. */
type Target =
  | { readonly kind: 'base' }
  | (Routed & { readonly kind: 'manifest'; readonly manifest: ManifestTarget })
  | (Routed & { readonly kind: 'tags' })
  | (Routed & { readonly kind: 'blob' | 'referrers'; readonly digest: Digest })

interface Routed {
  readonly client: RegistryClient
  /** The repository as the upstream knows it. */
  readonly repository: string
  /** The name as the client wrote it (for Link headers pointing back at this mirror). */
  readonly name: string
}

/**
 * Resolved targets kept; the map starts over when full (a warm cache asks for the same few again). Only paths
 * that passed every check are kept, so a key is a few hundred characters at most.
 */
const maxTargets = 10_000

function notAnApiPath(pathname: string): OciError {
  return new OciError('NAME_INVALID', `not a registry API path: ${pathname}`, { status: 404 })
}

export class RegistryApi {
  /** Resolved GET/HEAD targets by path (and ns): parsing, routing and grammar checks showed in hit profiles. */
  private readonly targets = new Map<string, Target>()
  /** Parsed Accept headers by their text: most clients send one of a handful, on every request. */
  private readonly accepts = new LRUCache<string, AcceptList>({ max: 256 })

  constructor(private readonly deps: RegistryApiDeps) {}

  private acceptOf(header: string | undefined): AcceptList {
    if (header === undefined) return parseAccept(undefined)
    let accept = this.accepts.get(header)
    if (accept === undefined) {
      accept = parseAccept(header)
      this.accepts.set(header, accept)
    }
    return accept
  }

  /**
   * Answers a request under /v2/; never throws (errors are rendered as OCI errors). Returns undefined when the
   * answer was given synchronously (a warm manifest hit), else a promise that settles when it was given.
   */
  handle(req: IncomingMessage, res: ServerResponse, url: RequestTarget, record: RequestRecord): Promise<void> | undefined {
    const fail = (err: unknown): void => {
      record.outcome = 'error'
      const error = toOciError(err)
      if (error.status >= 500 && !(err instanceof OciError)) this.deps.log.error({ err, path: url.pathname }, 'request failed')
      sendError(res, error, req.method ?? 'GET')
    }
    try {
      return this.dispatch(req, res, url, record)?.catch(fail)
    } catch (err) {
      fail(err)
      return undefined
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, url: RequestTarget, record: RequestRecord): Promise<void> | undefined {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') {
      const api = parseApiPath(url.pathname)
      if (!api) throw notAnApiPath(url.pathname)
      record.kind = api.kind === 'upload' ? 'other' : api.kind
      throw new OciError('UNSUPPORTED', `${method} ${api.kind === 'upload' ? 'blob upload' : api.kind}: this registry is a read-only pull-through cache`)
    }
    const ns = url.searchParams.get('ns')
    const key = ns === null ? url.pathname : `${url.pathname}?ns=${ns}`
    const target = this.targets.get(key) ?? this.resolve(url.pathname, ns, key, record)
    record.kind = target.kind
    if (target.kind === 'base') {
      res.writeHead(200, { ...apiVersionHeader, 'content-type': 'application/json', 'content-length': 2 })
      res.end(method === 'HEAD' ? undefined : '{}')
      return
    }
    const { client, repository } = target
    record.registry = client.registry.namespace
    record.repository = repository
    switch (target.kind) {
      case 'manifest':
        return this.manifest(req, res, target.manifest, record)
      case 'blob':
        return this.blob(req, res, client, repository, target.digest, record)
      case 'tags':
        return this.passThrough(req, res, client, repository, tagsPath(repository, url), 'tags', record, (link) => rewriteLink(link, target.name, url))
      case 'referrers': {
        const query = url.searchParams.get('artifactType')
        const path = `/v2/${repository}/referrers/${target.digest.value}${query ? `?artifactType=${encodeURIComponent(query)}` : ''}`
        return this.passThrough(req, res, client, repository, path, 'referrers', record, () => undefined)
      }
    }
  }

  /**
   * Parses and routes a GET or HEAD path and checks its name, tag or digest against the grammar (throwing the
   * OCI error when one fails; `record.kind` is set first so that the error is counted under its kind). All of
   * it is pure, so a success is remembered under `key`.
   */
  private resolve(pathname: string, ns: string | null, key: string, record: RequestRecord): Target {
    const api = parseApiPath(pathname)
    if (!api) throw notAnApiPath(pathname)
    if (api.kind === 'upload') {
      record.kind = 'other'
      throw new OciError('UNSUPPORTED', 'blob upload: this registry is a read-only pull-through cache')
    }
    record.kind = api.kind
    if (api.kind === 'base') return api // not remembered: it ignores ns, which could be anything
    const { registry, repository } = this.deps.router.route(api.name, ns)
    const client = this.deps.clients.get(registry.namespace) as RegistryClient
    const routed = { client, repository, name: api.name }
    let target: Target
    if (api.kind === 'manifest') {
      if (isDigest(api.reference)) parseDigest(api.reference)
      else assertTag(api.reference)
      target = { ...routed, kind: 'manifest', manifest: manifestTarget(client, repository, api.reference) }
    } else if (api.kind === 'tags') {
      target = { ...routed, kind: 'tags' }
    } else {
      target = { ...routed, kind: api.kind, digest: parseDigest(api.digest) }
    }
    if (this.targets.size >= maxTargets) this.targets.clear()
    this.targets.set(key, target)
    return target
  }

  private manifest(req: IncomingMessage, res: ServerResponse, target: ManifestTarget, record: RequestRecord): Promise<void> | undefined {
    const method = req.method === 'HEAD' ? 'HEAD' : 'GET'
    const { client, repository, reference, key } = target
    const request: ManifestRequest = { client, repository, reference, key, accept: this.acceptOf(req.headers.accept), method }
    const hit = this.deps.manifests.peek(request)
    if (hit) {
      this.sendManifest(res, hit, method, record)
      return undefined
    }
    return this.deps.manifests.get(request).then((answer) => this.sendManifest(res, answer, method, record))
  }

  private sendManifest(res: ServerResponse, answer: ManifestAnswer, method: 'GET' | 'HEAD', record: RequestRecord): void {
    record.outcome = answer.outcome
    // A flat [name, value, ...] list: the cheapest form of headers for node:http on this hot path.
    const headers = [
      'docker-distribution-api-version', 'registry/2.0',
      'content-type', answer.mediaType,
      'content-length', String(answer.size),
      'docker-content-digest', answer.digest,
      'etag', `"${answer.digest}"`,
      cacheHeader, answer.outcome,
    ]
    if (answer.outcome === 'stale') headers.push('warning', '110 dockside "Response is Stale"')
    res.writeHead(200, headers)
    if (method === 'HEAD' || !answer.bytes) {
      res.end()
      return
    }
    record.bodyBytes = answer.bytes.length
    res.end(answer.bytes)
  }

  private async blob(req: IncomingMessage, res: ServerResponse, client: RegistryClient, repository: string, digest: Digest, record: RequestRecord): Promise<void> {
    const common = { ...apiVersionHeader, 'docker-content-digest': digest.value, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
    if (req.method === 'HEAD') {
      const { size, outcome } = await this.deps.blobs.head(client, repository, digest)
      record.outcome = outcome
      res.writeHead(200, { ...common, 'content-length': size, [cacheHeader]: outcome })
      res.end()
      return
    }
    const source = await this.deps.blobs.get(client, repository, digest)
    record.outcome = source.outcome
    let range
    try {
      range = source.size === undefined ? undefined : parseRange(headerValue(req.headers, 'range'), source.size)
    } catch (err) {
      source.abandon()
      throw err
    }
    const headers: Record<string, string | number> = { ...common, [cacheHeader]: source.outcome }
    if (range && source.size !== undefined) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${source.size}`
      headers['content-length'] = range.end - range.start + 1
    } else if (source.size !== undefined) {
      headers['content-length'] = source.size
    }
    record.bodyBytes = Number(headers['content-length'] ?? 0)
    res.writeHead(range ? 206 : 200, headers)
    // Once headers are out, a failure can only be a destroyed socket.
    await source.send(res, range?.start, range?.end).catch((err: Error) => res.destroy(err))
  }

  /** tags/list and referrers: streamed from upstream, not cached. */
  private async passThrough(req: IncomingMessage, res: ServerResponse, client: RegistryClient, repository: string, path: string, kind: 'tags' | 'referrers', record: RequestRecord, link: (value: string) => string | undefined): Promise<void> {
    const upstream: UpstreamResponse = await client.request({ method: 'GET', path, repository, headers: { accept: req.headers.accept ?? 'application/json' } })
    if (upstream.status !== 200) throw await upstreamStatusError(upstream, kind)
    record.outcome = 'miss'
    const headers: Record<string, string> = { ...apiVersionHeader, [cacheHeader]: 'miss' }
    for (const name of ['content-type', 'content-length', 'oci-filters-applied']) {
      const value = headerValue(upstream.headers, name)
      if (value !== undefined) headers[name] = value
    }
    const upstreamLink = headerValue(upstream.headers, 'link')
    const rewritten = upstreamLink === undefined ? undefined : link(upstreamLink)
    if (rewritten !== undefined) headers.link = rewritten
    res.writeHead(200, headers)
    record.bodyBytes = Number(headers['content-length'] ?? 0)
    await pipeline(upstream.body, res).catch(() => {})
  }
}

function tagsPath(repository: string, url: RequestTarget): string {
  const query = new URLSearchParams()
  for (const key of ['n', 'last']) {
    const value = url.searchParams.get(key)
    if (value !== null) query.set(key, value)
  }
  const text = query.toString()
  return `/v2/${repository}/tags/list${text ? `?${text}` : ''}`
}

/** Points an upstream's "next page" Link at this mirror, in the form the client used (path prefix, ns). */
function rewriteLink(link: string, clientName: string, url: RequestTarget): string | undefined {
  const target = /<([^>]*)>/.exec(link)?.[1]
  if (target === undefined) return undefined
  const query = new URL(target, 'http://upstream.invalid').searchParams
  const ns = url.searchParams.get('ns')
  if (ns !== null) query.set('ns', ns)
  return `</v2/${clientName}/tags/list?${query.toString()}>; rel="next"`
}
