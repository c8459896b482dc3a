// The suite's real upstream: a token server, the Distribution registry it protects (storage in a temp
// folder), the seeded catalogue of images, and a counting front that Dockside is pointed at. Started once
// per test file (t.before) and stopped when the file ends.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { request } from 'undici'
import { CountingProxy } from './counting-proxy.js'
import { startDistribution, type Distribution } from './distribution.js'
import { buildCatalogue, pushCatalogue, type Catalogue } from './images.js'
import { pushUser, TokenServer } from './token-server.js'

export interface Upstream {
  readonly tokens: TokenServer
  readonly registry: Distribution
  /** Point Dockside here: it forwards to the registry and records every request. */
  readonly front: CountingProxy
  readonly images: Catalogue
  /** Scratch folder for the file's tests (removed at the end). */
  readonly dir: string
  /** GET or HEAD straight at the registry (anonymous pull token), for what the upstream itself answers. */
  fetch(path: string, opts?: { method?: 'GET' | 'HEAD'; accept?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>
}

/** Starts the upstream and seeds it; everything is stopped and removed by `t`'s teardown. */
export async function startUpstream(t: Test, opts: { big?: boolean } = {}): Promise<Upstream> {
  const dir = mkdtempSync(join(tmpdir(), 'dockside-e2e-'))
  // One teardown stops everything in reverse order of start, then removes the folder.
  const stops: (() => Promise<void>)[] = []
  t.teardown(async () => {
    for (const stop of stops.reverse()) await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const tokens = await TokenServer.start()
  stops.push(() => tokens.close())
  const registry = await startDistribution({ dir: join(dir, 'upstream'), auth: tokens })
  stops.push(() => registry.stop())
  const front = await CountingProxy.start(registry.url)
  stops.push(() => front.close())
  const images = await buildCatalogue(join(dir, 'layout'), { big: opts.big ?? false })
  await pushCatalogue(images, registry.host, pushUser)
  const fetch: Upstream['fetch'] = async (path, { method = 'GET', accept, headers = {} } = {}) => {
    const repository = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(path)?.[1]
    const scope = repository === undefined ? '' : `&scope=repository:${repository}:pull`
    const token = await request(`${tokens.realm}?service=${tokens.service}${scope}`)
    const { token: bearer } = (await token.body.json()) as { token: string }
    const res = await request(`${registry.url}${path}`, { method, headers: { ...headers, authorization: `Bearer ${bearer}`, ...(accept ? { accept } : {}) } })
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  }
  // The seed is what was built: the registry stores manifests byte for byte under their digests.
  for (const image of images.all) {
    const got = await fetch(`/v2/${image.repository}/manifests/${image.tag}`, { accept: image.mediaType })
    if (got.status !== 200 || !got.body.equals(image.bytes)) {
      throw new Error(`seeding ${image.repository}:${image.tag}: the registry answers ${got.status} with other bytes:\n${got.body.toString().slice(0, 500)}`)
    }
  }
  return { tokens, registry, front, images, dir, fetch }
}
