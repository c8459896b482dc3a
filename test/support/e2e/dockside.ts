// Dockside in-process, as the harness starts it, but with its access log kept in memory so end-to-end
// tests can see exactly which requests real clients sent (path with ?ns=, registry, outcome).
import { pino } from 'pino'
import type { Test } from 'tap'
import { createApp, type App } from '../../../src/app.js'
import type { RegistryConfig } from '../../../src/config/config.js'
import { registryFor, testConfig, type DocksideOptions } from '../dockside.js'
import { startUpstream, type Upstream } from './upstream.js'

export interface AccessLine {
  method: string
  /** Path and query as the client sent them. */
  path: string
  status: number
  kind: string
  registry?: string
  repository?: string
  outcome: string
  bytes: number
  complete: boolean
}

export interface LoggedDockside {
  readonly app: App
  /** One entry per /v2/ request answered, in order. */
  readonly access: AccessLine[]
  /** Every log line (JSON), for failure messages. */
  readonly lines: string[]
  /** The mirror's address without the scheme, e.g. 127.0.0.1:40111. */
  readonly host: string
}

export async function startLoggedDockside(t: Test, opts: DocksideOptions): Promise<LoggedDockside> {
  const access: AccessLine[] = []
  const lines: string[] = []
  const destination = {
    write(line: string): void {
      lines.push(line)
      const entry = JSON.parse(line) as Partial<AccessLine>
      if (typeof entry.path === 'string' && typeof entry.status === 'number') access.push(entry as AccessLine)
    },
  }
  const app = await createApp(testConfig(t, opts), pino({ level: 'info' }, destination))
  await app.listen()
  t.teardown(() => app.close())
  return { app, access, lines, host: app.url.slice('http://'.length) }
}

/** The access lines for blobs and manifests, one per line, for failure messages. */
export function describeAccess(access: AccessLine[]): string {
  return access.map((a) => `${a.method} ${a.path} -> ${a.status} ${a.outcome} (${a.registry ?? '-'} ${a.repository ?? '-'})`).join('\n') || '(none)'
}

/** The suite's two namespaces, both served by one upstream: docker.io (with library/) and registry.e2e.test. */
export function e2eRegistries(upstreamUrl: string, extra: Partial<RegistryConfig> = {}): Partial<RegistryConfig>[] {
  return [registryFor('docker.io', upstreamUrl, { shortNamePrefix: 'library', ...extra }), registryFor('registry.e2e.test', upstreamUrl, extra)]
}

/** The seeded, token-protected upstream and a Dockside in front of it (both namespaces), for a test file. */
export async function startSuite(t: Test): Promise<{ upstream: Upstream; dockside: LoggedDockside }> {
  const upstream = await startUpstream(t)
  const dockside = await startLoggedDockside(t, { registries: e2eRegistries(upstream.front.url) })
  return { upstream, dockside }
}
