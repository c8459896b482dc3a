// Starts a Dockside app on 127.0.0.1:0 in front of fake registries, with a temporary cache folder.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Test } from 'tap'
import { request as undiciRequest, Agent } from 'undici'
import { createApp, type App } from '../../src/app.js'
import { defaultConfig, type Config, type RegistryConfig } from '../../src/config/config.js'

export interface DocksideOptions {
  registries: Partial<RegistryConfig>[]
  defaultRegistry?: string
  config?: Partial<Omit<Config, 'registries'>>
  cacheDir?: string
}

/** A fresh folder removed when the test ends (t.testdir() allows only one per test). */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'dockside-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function registryFor(namespace: string, url: string, extra: Partial<RegistryConfig> = {}): Partial<RegistryConfig> {
  return { namespace, url, ...extra }
}

export function testConfig(t: Test, opts: DocksideOptions): Config {
  const registries: RegistryConfig[] = opts.registries.map((r) => ({
    namespace: r.namespace as string,
    url: r.url as string,
    aliases: r.aliases ?? [],
    shortNamePrefix: r.shortNamePrefix,
    manifestTtlMs: r.manifestTtlMs,
    credentials: r.credentials,
  }))
  return {
    ...defaultConfig,
    listen: { host: '127.0.0.1', port: 0 },
    cacheDir: opts.cacheDir ?? tempDir(t),
    defaultRegistry: opts.defaultRegistry ?? (registries[0] as RegistryConfig).namespace,
    logLevel: 'silent',
    upstream: { ...defaultConfig.upstream, retries: 0, connectTimeoutMs: 2_000, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 },
    ...opts.config,
    registries,
  }
}

/** A running Dockside; closed when the test ends. */
export async function startDockside(t: Test, opts: DocksideOptions): Promise<App> {
  const config = testConfig(t, opts)
  const app = await createApp(config, pino({ level: process.env.DOCKSIDE_TEST_LOG ?? 'silent' }))
  await app.listen()
  t.teardown(() => app.close())
  return app
}

export interface Fetched {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request with a fresh connection pool per test (so keep-alive sockets never outlive it). */
export function client(t: Test): (url: string, opts?: { method?: string; headers?: Record<string, string | string[]>; signal?: AbortSignal }) => Promise<Fetched> {
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  return async (url, opts = {}) => {
    const res = await undiciRequest(url, { dispatcher: agent, method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, signal: opts.signal })
    const body = Buffer.from(await res.body.arrayBuffer())
    return { status: res.statusCode, headers: res.headers, body }
  }
}

/** Resolves once the app has accounted for `total` requests since it started (metrics and counters written). */
export function answered(app: App, total: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (app.answered < total) return
      app.events.off('answered', check)
      resolve()
    }
    app.events.on('answered', check)
    check()
  })
}
