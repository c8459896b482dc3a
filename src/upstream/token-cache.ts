// Bearer tokens from a registry's token realm, cached per (realm, service, scope, credential) until shortly
// before they expire, with concurrent fetches of the same token coalesced.
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Dispatcher } from 'undici'
import type { RegistryCredentials } from '../config/config.js'
import { UpstreamUnavailableError } from './upstream-error.js'

/** A token is dropped this long before the registry says it expires, so a request never carries a dead one. */
const expirySafetyMs = 10_000
/** Lifetime assumed when the token response has no expires_in (the spec's default). */
const defaultLifetimeMs = 60_000

export interface TokenRequest {
  readonly realm: string
  readonly service: string | undefined
  /** The scope the token is cached under (the repository's pull scope). */
  readonly scope: string | undefined
  /** The scope to ask the realm for, when the registry's challenge named another one. */
  readonly fetchScope?: string | undefined
  readonly credentials: RegistryCredentials | undefined
}

export type TokenFetchListener = (realm: string, outcome: 'ok' | 'error') => void

export class TokenCache {
  private readonly tokens = new LRUCache<string, string>({ max: 10_000, ttlAutopurge: false })
  private readonly inFlight = new Map<string, Promise<string>>()

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly timeoutMs: number,
    private readonly onFetch: TokenFetchListener = () => {},
  ) {}

  private static key(req: TokenRequest): string {
    const credential = req.credentials
      ? createHash('sha256').update(`${req.credentials.username}\0${req.credentials.password}`).digest('hex').slice(0, 16)
      : 'anonymous'
    return [req.realm, req.service ?? '', req.scope ?? '', credential].join('\n')
  }

  cached(req: TokenRequest): string | undefined {
    return this.tokens.get(TokenCache.key(req))
  }

  /** A fresh token: the cached one is dropped (the registry refused it), and one fetch serves every caller. */
  refresh(req: TokenRequest): Promise<string> {
    const key = TokenCache.key(req)
    const pending = this.inFlight.get(key)
    if (pending) return pending
    this.tokens.delete(key)
    const fetching = this.fetch(req)
      .then(({ token, lifetimeMs }) => {
        const ttl = lifetimeMs - expirySafetyMs
        if (ttl > 0) this.tokens.set(key, token, { ttl })
        return token
      })
      .finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, fetching)
    return fetching
  }

  private async fetch(req: TokenRequest): Promise<{ token: string; lifetimeMs: number }> {
    const url = new URL(req.realm)
    if (req.service !== undefined) url.searchParams.set('service', req.service)
    const scope = req.fetchScope ?? req.scope
    if (scope !== undefined) url.searchParams.set('scope', scope)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (req.credentials) {
      headers.authorization = `Basic ${Buffer.from(`${req.credentials.username}:${req.credentials.password}`).toString('base64')}`
    }
    let status: number
    let text: string
    try {
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      })
      status = res.statusCode
      text = await res.body.text()
    } catch (err) {
      this.onFetch(req.realm, 'error')
      throw new UpstreamUnavailableError(`token service ${url.origin} unreachable: ${(err as Error).message}`, err)
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown } = {}
    try {
      body = JSON.parse(text) as typeof body
    } catch {
      // handled below: no token in the answer
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined
    if (status >= 500 || status === 429) {
      this.onFetch(req.realm, 'error')
      throw new UpstreamUnavailableError(`token service ${url.origin} answered ${status}`)
    }
    if (status !== 200 || token === undefined) {
      this.onFetch(req.realm, 'error')
      throw new TokenRefusedError(`token service ${url.origin} answered ${status} for scope ${scope ?? '(none)'}`, status)
    }
    this.onFetch(req.realm, 'ok')
    const expiresInS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : undefined
    return { token, lifetimeMs: expiresInS === undefined ? defaultLifetimeMs : expiresInS * 1000 }
  }
}

/** The token service answered, but gave no token (bad credentials, unknown scope). */
export class TokenRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'TokenRefusedError'
  }
}
