import t, { type Test } from 'tap'
import { FakeRegistry, MEDIA_TYPES } from '../support/fake-registry.js'
import { answered, client, registryFor, startDockside } from '../support/dockside.js'

/** Two upstreams: a default docker.io and a ghcr.io, each a fake registry of its own. */
async function setup(t: Test) {
  const hub = await FakeRegistry.start()
  const ghcr = await FakeRegistry.start()
  t.teardown(() => Promise.all([hub.close(), ghcr.close()]))
  const app = await startDockside(t, {
    registries: [
      registryFor('docker.io', hub.url, { shortNamePrefix: 'library', aliases: ['index.docker.io'] }),
      registryFor('ghcr.io', ghcr.url),
    ],
    defaultRegistry: 'docker.io',
  })
  return { hub, ghcr, app, get: client(t) }
}

function errorCode(body: Buffer): string {
  return (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors[0]?.code ?? ''
}

t.test('GET /v2/ answers 200 with the Distribution API version header', async (t) => {
  const { app, get } = await setup(t)
  const res = await get(`${app.url}/v2/`)
  t.equal(res.status, 200)
  t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0')
  t.equal(res.body.toString(), '{}')
})

t.test('requests reach the registry named by ns, by path prefix (or alias), or the default one', async (t) => {
  const { hub, ghcr, app, get } = await setup(t)
  const g = ghcr.addImage('owner/tool', 'v1')
  const h = hub.addImage('library/alpine', 'v1')
  t.ok((await get(`${app.url}/v2/owner/tool/manifests/v1?ns=ghcr.io`)).body.equals(g.manifestBytes), 'containerd ?ns=')
  t.ok((await get(`${app.url}/v2/ghcr.io/owner/tool/blobs/${g.configDigest}`)).status === 200, 'path prefix')
  t.ok((await get(`${app.url}/v2/alpine/manifests/v1`)).body.equals(h.manifestBytes), 'default registry, library/ added')
  t.equal((await get(`${app.url}/v2/index.docker.io/library/alpine/blobs/${h.configDigest}`)).status, 200, 'alias prefix')
  t.same(
    ghcr.requests.map((r) => r.path),
    ['/v2/owner/tool/manifests/v1', `/v2/owner/tool/blobs/${g.configDigest}`],
    'ghcr.io saw the repository without the prefix and without ns',
  )
  t.equal(hub.count({ kind: 'manifest' }), 1)
})

t.test('one path asked for with different ns values reaches each registry, and the resolved route is reused', async (t) => {
  const { hub, ghcr, app, get } = await setup(t)
  const g = ghcr.addImage('owner/tool', 'v1')
  const h = hub.addImage('owner/tool', 'v1')
  const path = `${app.url}/v2/owner/tool/manifests/v1`
  for (let round = 0; round < 2; round++) {
    t.ok((await get(`${path}?ns=ghcr.io`)).body.equals(g.manifestBytes), `round ${round}: ns=ghcr.io`)
    t.ok((await get(`${path}?ns=docker.io`)).body.equals(h.manifestBytes), `round ${round}: ns=docker.io`)
    t.ok((await get(path)).body.equals(h.manifestBytes), `round ${round}: no ns, the default registry`)
    const refused = await get(`${path}?ns=evil.example.com`)
    t.equal(refused.status, 403, `round ${round}: an unknown ns stays refused`)
  }
  t.equal(ghcr.count({ kind: 'manifest' }), 1, 'ghcr.io asked once, then cached')
  t.equal(hub.count({ kind: 'manifest' }), 1, 'docker.io asked once: with and without ns it is the same repository')
})

t.test('a registry that is not configured is refused and nothing is fetched', async (t) => {
  const { hub, ghcr, app, get } = await setup(t)
  const byNs = await get(`${app.url}/v2/owner/repo/manifests/v1?ns=evil.example.com`)
  t.equal(byNs.status, 403)
  t.equal(errorCode(byNs.body), 'DENIED')
  const byPrefix = await get(`${app.url}/v2/127.0.0.1:9/owner/repo/manifests/v1`)
  t.equal(byPrefix.status, 403)
  t.equal(hub.requests.length + ghcr.requests.length, 0)
})

t.test('names, tags and digests are checked against the grammar before any upstream request', async (t) => {
  const { hub, app, get } = await setup(t)
  const cases: [string, number, string][] = [
    ['/v2/Upper/Case/manifests/v1', 400, 'NAME_INVALID'],
    ['/v2/ok/manifests/bad:tag:here', 400, 'DIGEST_INVALID'],
    ['/v2/ok/manifests/-dash', 400, 'TAG_INVALID'],
    ['/v2/ok/blobs/sha256:abc', 400, 'DIGEST_INVALID'],
    ['/v2/ok/blobs/md5:d41d8cd98f00b204e9800998ecf8427e', 400, 'DIGEST_INVALID'],
  ]
  for (const [path, status, code] of cases) {
    const res = await get(`${app.url}${path}`)
    t.equal(res.status, status, path)
    t.equal(errorCode(res.body), code, path)
    t.equal(res.headers['content-type'], 'application/json')
  }
  t.equal(hub.requests.length, 0)
})

t.test('pushes and other methods are UNSUPPORTED (405)', async (t) => {
  const { hub, app, get } = await setup(t)
  for (const [method, path] of [
    ['POST', '/v2/alpine/blobs/uploads/'],
    ['PUT', '/v2/alpine/manifests/v1'],
    ['PATCH', '/v2/alpine/blobs/uploads/abc'],
    ['DELETE', '/v2/alpine/manifests/v1'],
    ['GET', '/v2/alpine/blobs/uploads/abc'],
  ] as const) {
    const res = await get(`${app.url}${path}`, { method })
    t.equal(res.status, 405, `${method} ${path}`)
    t.equal(errorCode(res.body), 'UNSUPPORTED')
  }
  t.equal(hub.requests.length, 0)
})

t.test('unknown manifests and repositories upstream become MANIFEST_UNKNOWN and NAME_UNKNOWN', async (t) => {
  const { app, get } = await setup(t)
  const m = await get(`${app.url}/v2/alpine/manifests/nope`)
  t.equal(m.status, 404)
  t.equal(errorCode(m.body), 'MANIFEST_UNKNOWN')
  const tags = await get(`${app.url}/v2/nobody/tags/list`)
  t.equal(tags.status, 404)
  t.equal(errorCode(tags.body), 'NAME_UNKNOWN')
})

t.test('tags/list passes n and last upstream and points the next-page Link back at the mirror', async (t) => {
  const { ghcr, app, get } = await setup(t)
  for (const tag of ['a', 'b', 'c']) ghcr.addImage('owner/tool', tag)
  const page = await get(`${app.url}/v2/ghcr.io/owner/tool/tags/list?n=2`)
  t.same(JSON.parse(page.body.toString()), { name: 'owner/tool', tags: ['a', 'b'] })
  t.equal(page.headers.link, '</v2/ghcr.io/owner/tool/tags/list?n=2&last=b>; rel="next"')
  const next = await get(`${app.url}/v2/owner/tool/tags/list?n=2&last=b&ns=ghcr.io`)
  t.same(JSON.parse(next.body.toString()).tags, ['c'])
  t.equal(ghcr.requests.at(-1)?.path, '/v2/owner/tool/tags/list?n=2&last=b')
})

t.test('the referrers API is passed through with its filter', async (t) => {
  const { ghcr, app, get } = await setup(t)
  const image = ghcr.addImage('owner/tool', 'v1')
  ghcr.addManifest('owner/tool', {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: 'application/vnd.example.sbom',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: image.configDigest, size: 2 },
    layers: [],
    subject: { mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifestBytes.length },
  }, MEDIA_TYPES.ociManifest)
  const res = await get(`${app.url}/v2/ghcr.io/owner/tool/referrers/${image.manifestDigest}?artifactType=application/vnd.example.sbom`)
  t.equal(res.status, 200)
  t.equal(res.headers['content-type'], MEDIA_TYPES.ociIndex)
  t.equal(res.headers['oci-filters-applied'], 'artifactType')
  t.equal(JSON.parse(res.body.toString()).manifests.length, 1)
})

t.test('the upstream rate-limit headers are read and exported, and /metrics counts requests by outcome', async (t) => {
  const { hub, app, get } = await setup(t)
  hub.ratelimit = { limit: '100;w=21600', remaining: '76;w=21600' }
  const image = hub.addImage('library/alpine', 'v1')
  const size = image.manifestBytes.length
  await get(`${app.url}/v2/alpine/manifests/v1`)
  await get(`${app.url}/v2/alpine/manifests/v1`)
  t.equal(app.clients.get('docker.io')?.health.ratelimitRemaining, '76;w=21600')
  await answered(app, 2)
  const metrics = (await get(`${app.url}/metrics`)).body.toString()
  t.match(metrics, /dockside_upstream_ratelimit_remaining\{registry="docker.io"\} 76/)
  t.match(metrics, /dockside_requests_total\{kind="manifest",outcome="miss",registry="docker.io"\} 1\n/)
  t.match(metrics, /dockside_requests_total\{kind="manifest",outcome="hit",registry="docker.io"\} 1\n/)
  t.match(metrics, new RegExp(`dockside_served_bytes_total\\{source="cache"\\} ${size}\n`))
  t.match(metrics, new RegExp(`dockside_served_bytes_total\\{source="upstream"\\} ${size}\n`))
  // Counts are tallied between scrapes: each scrape must add what came since the last one, once.
  await get(`${app.url}/v2/alpine/manifests/v1`)
  await get(`${app.url}/v2/alpine/manifests/v1`)
  await answered(app, 4)
  const later = (await get(`${app.url}/metrics`)).body.toString()
  t.match(later, /dockside_requests_total\{kind="manifest",outcome="miss",registry="docker.io"\} 1\n/)
  t.match(later, /dockside_requests_total\{kind="manifest",outcome="hit",registry="docker.io"\} 3\n/)
  t.match(later, new RegExp(`dockside_served_bytes_total\\{source="cache"\\} ${3 * size}\n`))
  t.match(later, new RegExp(`dockside_served_bytes_total\\{source="upstream"\\} ${size}\n`))
})

t.test('per-repository counters reach SQLite: requests, hits, misses and bytes by source', async (t) => {
  const { hub, app, get } = await setup(t)
  const image = hub.addImage('library/alpine', 'v1', { layers: [Buffer.alloc(5000, 1)] })
  const blob = `${app.url}/v2/alpine/blobs/${image.layerDigests[0]}`
  await get(blob)
  await get(blob)
  await get(blob)
  await answered(app, 3)
  const row = app.index.repositoryStats().find((r) => r.registry === 'docker.io' && r.repository === 'library/alpine')
  t.match(row, { requests: 3, hits: 2, misses: 1, bytesFromCache: 10000, bytesFromUpstream: 5000 })
})

t.test('/api/stats reports hit ratios per registry, top repositories, disk use and upstream health', async (t) => {
  const { hub, ghcr, app, get } = await setup(t)
  const image = hub.addImage('library/alpine', 'v1', { layers: [Buffer.alloc(4000, 7)] })
  const tool = ghcr.addImage('owner/tool', 'v1')
  const blob = `${app.url}/v2/alpine/blobs/${image.layerDigests[0]}`
  await get(blob) // miss
  await get(blob) // hit
  await get(blob) // hit
  await get(`${app.url}/v2/ghcr.io/owner/tool/manifests/v1`) // miss
  await answered(app, 4)
  const stats = JSON.parse((await get(`${app.url}/api/stats`)).body.toString())
  t.match(stats.totals, { requests: 4, hits: 2, misses: 2, bytesFromCache: 8000, bytesFromUpstream: 4000 + tool.manifestBytes.length })
  t.equal(stats.totals.hitRatio, 0.5)
  const hub1 = stats.registries.find((r: { registry: string }) => r.registry === 'docker.io')
  t.match(hub1, { requests: 3, hits: 2, hitRatio: 2 / 3, byteHitRatio: 8000 / 12000 })
  t.equal(typeof hub1.health.lastOkMs, 'number')
  t.same(stats.topRepositories.map((r: { repository: string }) => r.repository), ['library/alpine', 'owner/tool'])
  t.equal(stats.disk.blobCount, 2, 'the layer and the ghcr manifest')
  t.equal(stats.history.at(-1).requests, 4)
})

t.test('/readyz is 200 while the index answers, the cache folder is writable and the disk within budget; 503 otherwise', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, {
    registries: [registryFor('docker.io', upstream.url)],
    config: { cache: { maxBytes: 1_000_000, highWatermark: 0.9, lowWatermark: 0.5, pinned: ['team/app:pinned'] } },
  })
  const get = client(t)
  const ready = await get(`${app.url}/readyz`)
  t.equal(ready.status, 200)
  t.same(JSON.parse(ready.body.toString()), { ready: true, checks: { indexOpen: true, cacheDirWritable: true, withinBudget: true } })
  // A pinned image larger than the whole budget cannot be evicted: the cache is over budget and says so.
  upstream.addImage('team/app', 'pinned', { layers: [Buffer.alloc(1_200_000, 1)] })
  const image = await get(`${app.url}/v2/team/app/manifests/pinned`)
  const manifest = JSON.parse(image.body.toString()) as { layers: { digest: string }[] }
  await get(`${app.url}/v2/team/app/blobs/${manifest.layers[0]?.digest}`)
  await app.evictor.idle()
  const over = await get(`${app.url}/readyz`)
  t.equal(over.status, 503)
  t.same(JSON.parse(over.body.toString()).checks.withinBudget, false)
  t.equal((await get(`${app.url}/healthz`)).status, 200, 'still alive')
  const metrics = (await get(`${app.url}/metrics`)).body.toString()
  t.match(metrics, /dockside_hit_ratio\{registry="docker.io",by="requests"\} 0/)
})
