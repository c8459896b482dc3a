// The HTTP front: /v2/ to the registry API, plus /metrics and /healthz; one access-log line per request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { CacheIndex } from '../cache/cache-index.js'
import type { Metrics } from '../metrics.js'
import type { StatsService } from '../stats.js'
import { OciError } from '../oci/errors.js'
import { dashboardHtml } from './dashboard-page.js'
import { sendError } from './error-response.js'
import type { RegistryApi, RequestRecord, RequestTarget } from './registry-api.js'

export interface HttpServerDeps {
  readonly api: RegistryApi
  readonly metrics: Metrics
  readonly index: CacheIndex
  readonly log: Logger
  readonly stats: StatsService
  /** Readiness checks for /readyz, each true when passing. */
  readonly readiness: () => Record<string, boolean>
  /** A response with no traffic this long is cut (see watch()); Node's keep-alive timeout covers idle sockets. */
  readonly clientIdleTimeoutMs: number
  /** Told once a request is fully accounted for (metrics, counters, log line written). */
  readonly answered: (record: RequestRecord) => void
}

/** Outcomes whose bytes cost the upstream nothing. */
const fromCache = new Set(['hit', 'revalidated', 'stale', 'coalesced'])

export interface HttpServer {
  readonly server: Server
  /**
   * Graceful stop: accept nothing new, let responses in flight finish (their connections then close), and
   * after graceMs cut whatever is still open.
   */
  drain(graceMs: number): Promise<void>
}

export function createHttpServer(deps: HttpServerDeps): HttpServer {
  let draining = false
  const closed = (): void => {
    if (draining) server.closeIdleConnections()
  }
  const server = createServer((req, res) => {
    if (draining) res.setHeader('connection', 'close')
    handle(deps, req, res, closed)
  })
  server.keepAliveTimeout = 65_000
  // No server.timeout: it re-arms a timer on every request. Responses that can stall arm their own (watch()).
  return {
    server,
    async drain(graceMs) {
      draining = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs)
      await closed
      clearTimeout(deadline)
    },
  }
}

/** Shared by every request without a query string; never written to. */
const noQuery: URLSearchParams = new URLSearchParams()

/** The request target split by hand: `new URL()` on every request was a measurable share of a cache hit. */
function requestTarget(raw: string | undefined): RequestTarget {
  const text = raw ?? '/'
  const question = text.indexOf('?')
  return question === -1
    ? { pathname: text, searchParams: noQuery }
    : { pathname: text.slice(0, question), searchParams: new URLSearchParams(text.slice(question + 1)) }
}

/** Synchronous up to the registry API, so that a warm hit is answered without a single await. */
function handle(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse, closed: () => void): void {
  const started = performance.now()
  const url = requestTarget(req.url)
  if (url.pathname === '/v2' || url.pathname.startsWith('/v2/')) {
    const record: RequestRecord = { kind: 'other', registry: undefined, repository: undefined, outcome: undefined, bodyBytes: 0 }
    const pending = deps.api.handle(req, res, url, record) // renders its own errors; never rejects
    if (pending === undefined && res.writableEnded && res.writableLength === 0) {
      // Answered synchronously and every byte already taken by the kernel (a warm manifest hit): nothing can
      // stall, so account for it now instead of arming a timer and a listener per request.
      finish(deps, req, res, record, started, true)
      closed()
      return
    }
    watch(deps, res, () => {
      finish(deps, req, res, record, started, res.writableFinished)
      closed()
    })
    return
  }
  watch(deps, res, closed)
  answerOther(deps, req, res, url).catch((err: unknown) => {
    deps.log.error({ err, path: url.pathname }, 'request failed')
    sendError(res, new OciError('UNAVAILABLE', 'internal error', { status: 500 }), req.method ?? 'GET')
  })
}

/**
 * For a response still in progress: cut its connection after clientIdleTimeout without traffic (a client that
 * stops reading must not hold its socket and file forever; Node puts the keep-alive timer back once the
 * response is done), and call `done` when it closes.
 */
function watch(deps: HttpServerDeps, res: ServerResponse, done: () => void): void {
  res.setTimeout(deps.clientIdleTimeoutMs)
  res.once('close', done)
}

/** Everything outside /v2/: health, readiness, stats, metrics, the dashboard. */
async function answerOther(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse, url: RequestTarget): Promise<void> {
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
  } else if (url.pathname === '/readyz') {
    const checks = deps.readiness()
    const ready = Object.values(checks).every(Boolean)
    res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ ready, checks }))
  } else if (url.pathname === '/api/stats') {
    const body = JSON.stringify(deps.stats.snapshot())
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body)
  } else if ((url.pathname === '/' || url.pathname === '/dashboard') && (req.method === 'GET' || req.method === 'HEAD')) {
    const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(dashboardHtml) }
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : dashboardHtml)
  } else if (url.pathname === '/metrics') {
    const body = await deps.metrics.registry.metrics()
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(body)
  } else {
    sendError(res, new OciError('NAME_UNKNOWN', `no such endpoint: ${url.pathname}`, { status: 404 }), req.method ?? 'GET')
  }
}

/** Accounts for a /v2/ request; `complete` when its whole response reached the client's socket. */
function finish(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse, record: RequestRecord, started: number, complete: boolean): void {
  const outcome = record.outcome ?? (res.statusCode >= 400 ? 'error' : 'hit')
  const bytes = complete ? record.bodyBytes : 0
  const registry = record.registry ?? 'none'
  deps.metrics.request(record.kind, outcome, registry)
  deps.metrics.served(fromCache.has(outcome) ? 'cache' : 'upstream', bytes)
  // Per-repository rows only for names that exist upstream: a 404 for a made-up name must not add a row.
  if (record.registry !== undefined && record.repository !== undefined && !(outcome === 'error' && res.statusCode === 404)) {
    const cached = fromCache.has(outcome)
    deps.stats.observe(cached, bytes)
    deps.index.count(record.registry, record.repository, outcome, cached ? bytes : 0, cached ? 0 : bytes)
  }
  if (deps.log.isLevelEnabled('info')) logAccess(deps.log, req, res, record, outcome, bytes, complete, started)
  deps.answered(record)
}

function logAccess(log: Logger, req: IncomingMessage, res: ServerResponse, record: RequestRecord, outcome: string, bytes: number, complete: boolean, started: number): void {
  log.info({
    method: req.method,
    path: req.url,
    status: res.statusCode,
    kind: record.kind,
    registry: record.registry,
    repository: record.repository,
    outcome,
    bytes,
    complete,
    ms: Math.round((performance.now() - started) * 10) / 10,
  })
}
