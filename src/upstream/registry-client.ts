// The one way Dockside talks to an upstream registry: bounded concurrency, token and Basic auth, redirects
// followed without leaking Authorization, retries before the first body byte, rate-limit headers read.
import type { Readable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import pLimit, { type LimitFunction } from 'p-limit'
import type { Dispatcher } from 'undici'
import type { Config, RegistryConfig } from '../config/config.js'
import { parseChallenge, type AuthChallenge } from './challenge.js'
import { TokenRefusedError, type TokenCache, type TokenRequest } from './token-cache.js'
import { UpstreamUnavailableError } from './upstream-error.js'

export type UpstreamHeaders = Record<string, string | string[] | undefined>

export interface UpstreamRequest {
  readonly method: 'GET' | 'HEAD'
  /** Path below the registry's URL, starting with /v2/, query included. */
  readonly path: string
  /** Repository the request is about (for the token scope); undefined for /v2/ itself. */
  readonly repository: string | undefined
  readonly headers?: Record<string, string>
  readonly signal?: AbortSignal
  /** A blob download: it queues in a pool of its own, so long downloads never starve manifest and HEAD requests. */
  readonly download?: boolean
}

export interface UpstreamResponse {
  readonly status: number
  readonly headers: UpstreamHeaders
  /** Must be read to the end or destroyed: the request holds one of the registry's concurrency slots until then. */
  readonly body: Readable
}

export interface RegistryHealth {
  lastOkMs: number | undefined
  lastFailureMs: number | undefined
  lastFailure: string | undefined
  consecutiveFailures: number
  ratelimitLimit: string | undefined
  ratelimitRemaining: string | undefined
}

export interface UpstreamObserver {
  response(registry: string, method: string, status: number | 'error', seconds: number): void
}

const redirectStatuses = new Set([301, 302, 303, 307, 308])
const retryStatuses = new Set([502, 503, 504])
const maxRedirects = 5
const userAgent = 'dockside/0.1'

/** Drops a response body we will not read; undici reports that as an error, which must not go unhandled. */
export function discard(body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}

export function headerValue(headers: UpstreamHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

export class RegistryClient {
  readonly health: RegistryHealth = {
    lastOkMs: undefined,
    lastFailureMs: undefined,
    lastFailure: undefined,
    consecutiveFailures: 0,
    ratelimitLimit: undefined,
    ratelimitRemaining: undefined,
  }
  private readonly base: URL
  private readonly downloads: LimitFunction
  private readonly lookups: LimitFunction
  /** The registry's last Bearer challenge, so later requests can carry a token before being asked. */
  private bearer: AuthChallenge | undefined

  constructor(
    readonly registry: RegistryConfig,
    private readonly dispatcher: Dispatcher,
    private readonly tokens: TokenCache,
    private readonly limits: Config['upstream'],
    private readonly observer: UpstreamObserver,
  ) {
    this.base = new URL(registry.url)
    this.downloads = pLimit(limits.maxConcurrency)
    this.lookups = pLimit(limits.maxConcurrency)
  }

  request(req: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const limit = req.download ? this.downloads : this.lookups
      void limit(async () => {
        let res: UpstreamResponse
        try {
          res = await this.withRetries(req)
        } catch (err) {
          reject(err)
          return
        }
        if (req.method === 'HEAD') await closed(res.body.resume()) // a HEAD has no body: free the slot at once
        resolve(res)
        await closed(res.body)
      })
    })
  }

  private async withRetries(req: UpstreamRequest): Promise<UpstreamResponse> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.limits.retries
      try {
        const res = await this.authenticated(req)
        if (last || !retryStatuses.has(res.status)) return res
        discard(res.body)
      } catch (err) {
        if (last || !(err instanceof UpstreamUnavailableError)) throw err
      }
      await delay(this.limits.retryBackoffMs * 2 ** attempt, undefined, { signal: req.signal })
    }
  }

  private scopeOf(req: UpstreamRequest): string | undefined {
    return req.repository === undefined ? undefined : `repository:${req.repository}:pull`
  }

  private tokenRequest(challenge: AuthChallenge, scope: string | undefined): TokenRequest {
    return {
      realm: challenge.params.realm as string,
      service: challenge.params.service,
      scope,
      credentials: this.registry.credentials,
    }
  }

  private basicAuthorization(): string | undefined {
    const c = this.registry.credentials
    return c && `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`
  }

  /** One request with auth: a cached token first, then on a 401 a new token (or Basic) and exactly one retry. */
  private async authenticated(req: UpstreamRequest): Promise<UpstreamResponse> {
    const scope = this.scopeOf(req)
    const known = this.bearer && this.tokens.cached(this.tokenRequest(this.bearer, scope))
    const { res: first, own } = await this.followRedirects(req, known ? `Bearer ${known}` : undefined)
    // Only the registry itself may ask for credentials: a 401 from a redirect target gets nothing.
    if (first.status !== 401 || !own) return first
    const challenge = parseChallenge(first.headers['www-authenticate'])
    let authorization: string | undefined
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      this.bearer = challenge
      try {
        // Cached under the repository's scope, fetched with the scope the registry named (ECR Public: "aws").
        const token = await this.tokens.refresh({ ...this.tokenRequest(challenge, scope), fetchScope: challenge.params.scope ?? scope })
        authorization = `Bearer ${token}`
      } catch (err) {
        if (err instanceof TokenRefusedError) return first // the 401 stands; the caller reports UNAUTHORIZED
        discard(first.body)
        throw err
      }
    } else if (challenge?.scheme === 'basic') {
      authorization = this.basicAuthorization()
    }
    if (authorization === undefined) return first
    discard(first.body)
    return (await this.followRedirects(req, authorization)).res
  }

  /** Follows redirects itself: Authorization goes only to the registry's own origin, never to a CDN. */
  private async followRedirects(req: UpstreamRequest, authorization: string | undefined): Promise<{ res: UpstreamResponse; own: boolean }> {
    let url = new URL(this.base.pathname.replace(/\/$/, '') + req.path, this.base)
    for (let hop = 0; ; hop++) {
      const own = url.origin === this.base.origin
      const headers: Record<string, string> = { 'user-agent': userAgent, ...req.headers }
      if (own && authorization !== undefined) headers.authorization = authorization
      const res = await this.send(url, req, headers, own)
      const location = headerValue(res.headers, 'location')
      if (!redirectStatuses.has(res.status) || location === undefined || hop >= maxRedirects) return { res, own }
      discard(res.body)
      url = new URL(location, url)
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new UpstreamUnavailableError(`upstream redirected to an unsupported URL: ${url.protocol}`)
      }
    }
  }

  private async send(url: URL, req: UpstreamRequest, headers: Record<string, string>, own: boolean): Promise<UpstreamResponse> {
    const started = performance.now()
    const observe = (status: number | 'error'): void =>
      this.observer.response(this.registry.namespace, req.method, status, (performance.now() - started) / 1000)
    try {
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers,
        signal: req.signal,
        headersTimeout: this.limits.headersTimeoutMs,
        bodyTimeout: this.limits.bodyTimeoutMs,
      })
      observe(res.statusCode)
      if (own) this.noteAnswer(res.statusCode, res.headers)
      return { status: res.statusCode, headers: res.headers, body: res.body }
    } catch (err) {
      observe('error')
      if (req.signal?.aborted) throw err
      const message = `${url.origin} unreachable: ${(err as Error).message}`
      this.noteFailure(message)
      throw new UpstreamUnavailableError(message, err)
    }
  }

  private noteAnswer(status: number, headers: UpstreamHeaders): void {
    const limit = headerValue(headers, 'ratelimit-limit')
    const remaining = headerValue(headers, 'ratelimit-remaining')
    if (limit !== undefined) this.health.ratelimitLimit = limit
    if (remaining !== undefined) this.health.ratelimitRemaining = remaining
    if (status >= 500 || status === 429) {
      this.noteFailure(`answered ${status}`)
    } else {
      this.health.lastOkMs = Date.now()
      this.health.consecutiveFailures = 0
    }
  }

  private noteFailure(message: string): void {
    this.health.lastFailureMs = Date.now()
    this.health.lastFailure = message
    this.health.consecutiveFailures++
  }
}

function closed(body: Readable): Promise<void> {
  return body.destroyed ? Promise.resolve() : new Promise((done) => body.once('close', () => done()))
}

/** The number before any ";w=" window in a rate-limit header ("100;w=21600" -> 100). */
export function ratelimitCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number.parseInt(value, 10)
  return Number.isFinite(n) ? n : undefined
}
