import t, { type Test } from 'tap'
import { FakeRegistry, MEDIA_TYPES, type FakeRegistryOptions } from '../support/fake-registry.js'
import { answered, client, registryFor, startDockside } from '../support/dockside.js'
import type { RegistryConfig } from '../../src/config/config.js'
import type { Config } from '../../src/config/config.js'

async function setup(t: Test, opts: { fake?: FakeRegistryOptions; registry?: Partial<RegistryConfig>; config?: Partial<Config> } = {}) {
  const upstream = await FakeRegistry.start(opts.fake ?? {})
  t.teardown(() => upstream.close())
  const app = await startDockside(t, {
    registries: [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library', ...opts.registry })],
    config: opts.config ?? {},
  })
  return { upstream, app, get: client(t) }
}

const manifestGets = { kind: 'manifest', method: 'GET', host: 'registry' } as const
const manifestHeads = { kind: 'manifest', method: 'HEAD', host: 'registry' } as const

t.test('a tag is served with the exact upstream bytes, media type and digest, then from cache while fresh', async (t) => {
  const { upstream, app, get } = await setup(t)
  const image = upstream.addImage('library/alpine', '3.20', { format: 'docker' })
  const first = await get(`${app.url}/v2/alpine/manifests/3.20`)
  t.equal(first.status, 200)
  t.ok(first.body.equals(image.manifestBytes), 'exact bytes (not re-serialized)')
  t.equal(first.headers['content-type'], MEDIA_TYPES.dockerManifest)
  t.equal(first.headers['docker-content-digest'], image.manifestDigest)
  t.equal(first.headers['x-dockside-cache'], 'miss')
  const second = await get(`${app.url}/v2/alpine/manifests/3.20`)
  t.equal(second.headers['x-dockside-cache'], 'hit')
  t.ok(second.body.equals(image.manifestBytes))
  t.equal(upstream.count(manifestGets), 1)
  t.equal(upstream.count(manifestHeads), 0)
})

t.test('a stale tag whose digest did not move is revalidated with one HEAD and no GET', async (t) => {
  const { upstream, app, get } = await setup(t, { registry: { manifestTtlMs: 0 } })
  const image = upstream.addImage('library/alpine', 'latest')
  await get(`${app.url}/v2/alpine/manifests/latest`)
  const again = await get(`${app.url}/v2/alpine/manifests/latest`)
  t.equal(again.headers['x-dockside-cache'], 'revalidated')
  t.ok(again.body.equals(image.manifestBytes))
  t.equal(upstream.count(manifestGets), 1, 'one GET in all')
  t.equal(upstream.count(manifestHeads), 1, 'one HEAD to revalidate')
})

t.test('a stale tag that moved upstream is fetched again and the new manifest served', async (t) => {
  const { upstream, app, get } = await setup(t, { registry: { manifestTtlMs: 0 } })
  upstream.addImage('library/alpine', 'latest')
  await get(`${app.url}/v2/alpine/manifests/latest`)
  const moved = upstream.addImage('library/alpine', 'latest')
  const again = await get(`${app.url}/v2/alpine/manifests/latest`)
  t.equal(again.headers['docker-content-digest'], moved.manifestDigest)
  t.ok(again.body.equals(moved.manifestBytes))
  t.equal(upstream.count(manifestGets), 2)
  t.equal(upstream.count(manifestHeads), 1)
})

for (const mode of ['reset', 'status503', 'status429'] as const) {
  t.test(`a stale tag is served stale, and says so, when the upstream ${mode === 'reset' ? 'drops connections' : `answers ${mode.slice(6)}`}`, async (t) => {
    const { upstream, app, get } = await setup(t, { registry: { manifestTtlMs: 0 } })
    const image = upstream.addImage('library/alpine', 'latest')
    await get(`${app.url}/v2/alpine/manifests/latest`)
    upstream.mode = mode
    const stale = await get(`${app.url}/v2/alpine/manifests/latest`)
    t.equal(stale.status, 200)
    t.equal(stale.headers['x-dockside-cache'], 'stale')
    t.match(stale.headers.warning, /110/)
    t.ok(stale.body.equals(image.manifestBytes))
    await answered(app, 2)
    const metrics = await app.metrics.registry.getSingleMetricAsString('dockside_requests_total')
    t.match(metrics, /kind="manifest",outcome="stale",registry="docker.io"\} 1/)
  })
}

t.test('nothing cached and the upstream down: a quick 503 with an OCI error', async (t) => {
  const { upstream, app, get } = await setup(t, { config: { upstream: { connectTimeoutMs: 500, headersTimeoutMs: 500, bodyTimeoutMs: 500, maxConcurrency: 4, retries: 0, retryBackoffMs: 10 } } })
  upstream.mode = 'reset'
  const down = await get(`${app.url}/v2/alpine/manifests/latest`)
  t.equal(down.status, 503)
  t.equal(JSON.parse(down.body.toString()).errors[0].code, 'UNAVAILABLE')
  upstream.mode = 'hang'
  const hung = await get(`${app.url}/v2/alpine/manifests/latest`)
  t.equal(hung.status, 503, 'a hanging upstream times out into a 503 rather than a hanging client')
})

t.test('a tag cached as an index is not served to a client whose Accept excludes indexes', async (t) => {
  const { upstream, app, get } = await setup(t)
  const amd = upstream.addImage('library/multi', 'amd')
  const index = upstream.addIndex('library/multi', 'latest', [
    { digest: amd.manifestDigest, size: amd.manifestBytes.length, mediaType: amd.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
  ])
  const all = await get(`${app.url}/v2/multi/manifests/latest`, { headers: { accept: [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest] } })
  t.equal(all.headers['content-type'], MEDIA_TYPES.ociIndex)
  t.ok(all.body.equals(index.bytes))
  const narrow = await get(`${app.url}/v2/multi/manifests/latest`, { headers: { accept: MEDIA_TYPES.dockerManifest } })
  t.not(narrow.headers['content-type'], MEDIA_TYPES.ociIndex, 'never the index')
  t.equal(narrow.status, 404, 'the fake upstream has nothing for that Accept')
  const asked = upstream.requests.filter((r) => r.kind === 'manifest').map((r) => r.headers.accept)
  t.equal(asked.length, 2, 'the narrow client went upstream')
  t.equal(asked[1], MEDIA_TYPES.dockerManifest)
  t.match(String(asked[0]), MEDIA_TYPES.ociIndex, 'several Accept lines were merged and passed on')
  const again = await get(`${app.url}/v2/multi/manifests/latest`, { headers: { accept: `${MEDIA_TYPES.ociManifest}, ${MEDIA_TYPES.ociIndex}` } })
  t.equal(again.headers['x-dockside-cache'], 'hit', 'an equivalent Accept in another order shares the cache entry')
})

t.test('a manifest by digest is verified, kept, and served again with no upstream request', async (t) => {
  const { upstream, app, get } = await setup(t)
  const image = upstream.addImage('library/d', 'v1')
  const byDigest = `${app.url}/v2/d/manifests/${image.manifestDigest}`
  const first = await get(byDigest)
  t.ok(first.body.equals(image.manifestBytes))
  const head = await get(byDigest, { method: 'HEAD' })
  t.equal(head.headers['content-length'], String(image.manifestBytes.length))
  t.equal(head.headers['x-dockside-cache'], 'hit')
  const second = await get(byDigest)
  t.equal(second.headers['x-dockside-cache'], 'hit')
  t.equal(upstream.count({ kind: 'manifest' }), 1)
})

t.test('HEAD of a tag goes upstream as HEAD (no pull counted), and a GET after it fetches by digest', async (t) => {
  const { upstream, app, get } = await setup(t)
  const image = upstream.addImage('library/h', 'v1')
  const head = await get(`${app.url}/v2/h/manifests/v1`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.headers['docker-content-digest'], image.manifestDigest)
  t.equal(head.headers['content-type'], image.mediaType)
  t.equal(upstream.count(manifestGets), 0)
  const headAgain = await get(`${app.url}/v2/h/manifests/v1`, { method: 'HEAD' })
  t.equal(headAgain.headers['x-dockside-cache'], 'hit')
  const body = await get(`${app.url}/v2/h/manifests/v1`)
  t.ok(body.body.equals(image.manifestBytes))
  const gets = upstream.requests.filter((r) => r.kind === 'manifest' && r.method === 'GET')
  t.same(gets.map((r) => r.path), [`/v2/library/h/manifests/${image.manifestDigest}`])
  t.equal(upstream.count(manifestHeads), 1)
})

t.test('10 concurrent GETs of an uncached tag cause one upstream GET', async (t) => {
  const { upstream, app, get } = await setup(t)
  const image = upstream.addImage('library/c', 'v1')
  const all = await Promise.all(Array.from({ length: 10 }, () => get(`${app.url}/v2/c/manifests/v1`)))
  t.ok(all.every((r) => r.body.equals(image.manifestBytes)))
  t.equal(upstream.count(manifestGets), 1)
})

t.test('a tag deleted upstream is MANIFEST_UNKNOWN, not served stale', async (t) => {
  const { upstream, app, get } = await setup(t, { registry: { manifestTtlMs: 0 } })
  upstream.addImage('library/del', 'v1')
  t.equal((await get(`${app.url}/v2/del/manifests/v1`)).status, 200)
  upstream.deleteTag('library/del', 'v1')
  const gone = await get(`${app.url}/v2/del/manifests/v1`)
  t.equal(gone.status, 404)
  t.equal(JSON.parse(gone.body.toString()).errors[0].code, 'MANIFEST_UNKNOWN')
})

t.test('Bearer tokens are fetched once per repository and reused by later requests', async (t) => {
  const { upstream, app, get } = await setup(t, { fake: { auth: 'bearer' } })
  const a = upstream.addImage('library/a', 'v1')
  upstream.addImage('library/b', 'v1')
  await get(`${app.url}/v2/a/manifests/v1`)
  await get(`${app.url}/v2/a/manifests/${a.manifestDigest}`)
  await get(`${app.url}/v2/a/blobs/${a.layerDigests[0]}`)
  await get(`${app.url}/v2/a/blobs/${a.configDigest}`)
  t.equal(upstream.count({ kind: 'token' }), 1, 'one token for repository a')
  const b = await get(`${app.url}/v2/b/manifests/v1`)
  t.equal(b.status, 200)
  t.equal(upstream.count({ kind: 'token' }), 2, 'a second scope needs its own token')
  t.equal(upstream.requests.filter((r) => r.host === 'registry' && r.headers.authorization === undefined).length, 2, 'only the first request per repository went without a token')
})

t.test('Bearer tokens are fetched with the configured credentials, and Basic registries get them directly', async (t) => {
  const credentials = { username: 'robot', password: 's3cret' }
  const { upstream, app, get } = await setup(t, { fake: { auth: 'bearer', credentials }, registry: { credentials } })
  upstream.addImage('library/p', 'v1')
  t.equal((await get(`${app.url}/v2/p/manifests/v1`)).status, 200)
  const tokenReq = upstream.requests.find((r) => r.kind === 'token')
  t.equal(tokenReq?.headers.authorization, `Basic ${Buffer.from('robot:s3cret').toString('base64')}`)

  const basic = await setup(t, { fake: { auth: 'basic', credentials }, registry: { credentials } })
  basic.upstream.addImage('library/p', 'v1')
  t.equal((await basic.get(`${basic.app.url}/v2/p/manifests/v1`)).status, 200)
})

t.test('wrong credentials give the client UNAUTHORIZED and the password never appears in the answer', async (t) => {
  const { upstream, app, get } = await setup(t, {
    fake: { auth: 'bearer', credentials: { username: 'robot', password: 'right' } },
    registry: { credentials: { username: 'robot', password: 'wrong-password' } },
  })
  upstream.addImage('library/p', 'v1')
  const res = await get(`${app.url}/v2/p/manifests/v1`)
  t.equal(res.status, 401)
  t.equal(JSON.parse(res.body.toString()).errors[0].code, 'UNAUTHORIZED')
  t.notMatch(res.body.toString(), 'wrong-password')
})

t.test('a manifest cached by digest is not handed to a client whose Accept excludes its type', async (t) => {
  const { upstream, app, get } = await setup(t)
  const image = upstream.addImage('library/d', 'v1') // an OCI manifest
  const url = `${app.url}/v2/d/manifests/${image.manifestDigest}`
  t.equal((await get(url)).status, 200, 'cached now')
  const narrow = await get(url, { headers: { accept: MEDIA_TYPES.dockerManifest } })
  t.equal(narrow.status, 404, 'the upstream (asked with that Accept) has nothing for it')
  t.equal(upstream.requests.filter((r) => r.kind === 'manifest').at(-1)?.headers.accept, MEDIA_TYPES.dockerManifest)
  const wide = await get(url, { headers: { accept: MEDIA_TYPES.ociManifest } })
  t.equal(wide.headers['x-dockside-cache'], 'hit')
})

t.test('a stale tag whose digest moved is served stale when the GET for the new manifest is rate-limited', async (t) => {
  const { upstream, app, get } = await setup(t, { registry: { manifestTtlMs: 0 } })
  const old = upstream.addImage('library/rl', 'latest')
  await get(`${app.url}/v2/rl/manifests/latest`)
  upstream.addImage('library/rl', 'latest') // moved
  const heads = upstream.count(manifestHeads)
  const answer = get(`${app.url}/v2/rl/manifests/latest`)
  await upstream.waitForRequests(manifestHeads, heads + 1)
  upstream.mode = 'status429' // the HEAD is already answered; the GET that follows is refused
  const res = await answer
  t.equal(res.status, 200)
  t.equal(res.headers['x-dockside-cache'], 'stale')
  t.ok(res.body.equals(old.manifestBytes))
})
