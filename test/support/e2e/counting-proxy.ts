// A tiny counting reverse proxy: put in front of a registry (or of Dockside), it forwards every request
// unchanged and records what it saw, so a test can assert exactly which requests reached the other side.
// It can also hold a response's body after its first chunk until the test lets it go (to make concurrent
// clients meet on one download deterministically).
import { EventEmitter, once } from 'node:events'
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type SeenKind = 'base' | 'manifest' | 'blob' | 'upload' | 'tags' | 'other'

export interface Seen {
  method: string
  /** Path and query as received. */
  url: string
  kind: SeenKind
  /** Repository name as it appeared in the path (for manifest, blob, tags). */
  name: string | undefined
  /** Tag or digest for manifests, digest for blobs. */
  reference: string | undefined
  /** containerd's ?ns= parameter, if any. */
  ns: string | null
  userAgent: string
  range: string | undefined
  /** Upstream status, once its headers came back. */
  status?: number
}

export interface SeenFilter {
  method?: string
  kind?: SeenKind
  reference?: string
  name?: string
}

/** Body bytes forwarded before a held response stops. */
const heldAfter = 64 * 1024

export class CountingProxy extends EventEmitter {
  readonly seen: Seen[] = []
  private readonly holds: { match: (s: Seen) => boolean; released: Promise<void>; release: () => void }[] = []
  private readonly agent = new Agent({ keepAlive: true })

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {
    super()
  }

  static async start(target: string): Promise<CountingProxy> {
    let self: CountingProxy | undefined
    const server = createServer((req, res) => self?.forward(req, res))
    self = new CountingProxy(server, new URL(target))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    return self
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  get host(): string {
    return this.url.slice('http://'.length)
  }

  reset(): void {
    this.seen.length = 0
  }

  filter(f: SeenFilter = {}): Seen[] {
    return this.seen.filter(
      (s) => (f.method === undefined || s.method === f.method) && (f.kind === undefined || s.kind === f.kind) && (f.reference === undefined || s.reference === f.reference) && (f.name === undefined || s.name === f.name),
    )
  }

  count(f: SeenFilter = {}): number {
    return this.filter(f).length
  }

  /** One line per request seen, for failure messages. */
  describe(seen: Seen[] = this.seen): string {
    return seen.map((s) => `${s.method} ${s.url} -> ${s.status ?? '...'} (${s.userAgent})`).join('\n') || '(no requests)'
  }

  /**
   * Holds the body of the next responses matching `match` after their first 64 KiB, until release() is
   * called. Headers and those first bytes go through at once.
   */
  hold(match: (s: Seen) => boolean): { release: () => void } {
    let release = (): void => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const entry = { match, released, release: () => release() }
    this.holds.push(entry)
    return {
      release: () => {
        this.holds.splice(this.holds.indexOf(entry), 1)
        entry.release()
      },
    }
  }

  /** Resolves once `count` requests matching the filter have had their response headers (past ones count). */
  async headersSent(f: SeenFilter, count: number, timeoutMs = 60_000): Promise<void> {
    const enough = (): boolean => this.filter(f).filter((s) => s.status !== undefined).length >= count
    if (enough()) return
    const timeout = AbortSignal.timeout(timeoutMs)
    try {
      while (!enough()) await once(this, 'response', { signal: timeout })
    } catch {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} answered ${JSON.stringify(f)}; seen:\n${this.describe()}`)
    }
  }

  async close(): Promise<void> {
    for (const hold of [...this.holds]) hold.release()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.agent.destroy()
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const seen = describeRequest(req)
    this.seen.push(seen)
    this.emit('request', seen)
    const headers = { ...req.headers, host: this.target.host }
    delete headers.connection
    const upstream = request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers, agent: this.agent },
      (answer) => {
        seen.status = answer.statusCode
        const out = { ...answer.headers }
        delete out.connection
        delete out['keep-alive']
        res.writeHead(answer.statusCode ?? 502, out)
        this.emit('response', seen)
        const hold = this.holds.find((h) => h.match(seen))
        if (hold === undefined) {
          answer.pipe(res)
          return
        }
        let forwarded = 0
        let held = false
        let holding = false
        let draining = false
        const resumeIfFree = (): void => {
          if (!holding && !draining) answer.resume()
        }
        answer.on('data', (chunk: Buffer) => {
          forwarded += chunk.length
          if (!res.write(chunk) && !draining) {
            draining = true
            answer.pause()
            res.once('drain', () => {
              draining = false
              resumeIfFree()
            })
          }
          if (!held && forwarded >= heldAfter) {
            held = true
            holding = true
            answer.pause()
            void hold.released.then(() => {
              holding = false
              resumeIfFree()
            })
          }
        })
        answer.on('end', () => res.end())
        answer.on('error', () => res.destroy())
      },
    )
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`counting proxy: ${err.message}\n`)
    })
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.pipe(upstream)
  }
}

const apiPath = /^\/v2\/(.+)\/(manifests|blobs|tags)\/(.+)$/

function describeRequest(req: IncomingMessage): Seen {
  const url = new URL(req.url ?? '/', 'http://proxy.invalid')
  const base = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    ns: url.searchParams.get('ns'),
    userAgent: req.headers['user-agent'] ?? '',
    range: req.headers.range,
  }
  if (url.pathname === '/v2/' || url.pathname === '/v2') return { ...base, kind: 'base', name: undefined, reference: undefined }
  const match = apiPath.exec(url.pathname)
  if (!match) return { ...base, kind: 'other', name: undefined, reference: undefined }
  const [, name, what, rest] = match as unknown as [string, string, string, string]
  if (what === 'blobs' && rest.startsWith('uploads')) return { ...base, kind: 'upload', name, reference: undefined }
  if (what === 'tags') return { ...base, kind: 'tags', name, reference: undefined }
  return { ...base, kind: what === 'manifests' ? 'manifest' : 'blob', name, reference: rest }
}
