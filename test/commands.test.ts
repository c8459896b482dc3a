// The maintenance commands, run from the built binary against a cache folder a real server filled.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { BlobStore } from '../src/cache/blob-store.js'
import { CacheIndex } from '../src/cache/cache-index.js'
import { parseDigest } from '../src/oci/digest.js'
import { FakeRegistry, MEDIA_TYPES } from './support/fake-registry.js'
import { dockside } from './support/cli.js'
import { answered, client, registryFor, startDockside, tempDir } from './support/dockside.js'

/** An upstream, a hosts folder naming it as docker.io, and a cache folder. */
async function fixture(t: Test) {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const dir = tempDir(t)
  const hostsDir = join(dir, 'hosts')
  mkdirSync(hostsDir)
  writeFileSync(join(hostsDir, 'docker.io.yaml'), `namespace: docker.io\nurl: ${upstream.url}\nshortNamePrefix: library\n`)
  writeFileSync(join(hostsDir, 'ghcr.io.yaml'), `namespace: ghcr.io\naliases: [ghcr.example]\nurl: ${upstream.url}\n`)
  const cacheDir = join(dir, 'cache')
  const flags = ['--cache-dir', cacheDir, '--hosts-dir', hostsDir]
  return { upstream, dir, hostsDir, cacheDir, flags }
}

/** Fills the cache through a real server, then stops it (so the commands see a settled folder). */
async function fill(t: Test, f: Awaited<ReturnType<typeof fixture>>, blobs: Buffer[]): Promise<string[]> {
  const app = await startDockside(t, { registries: [registryFor('docker.io', f.upstream.url, { shortNamePrefix: 'library' })], cacheDir: f.cacheDir })
  const get = client(t)
  const digests = blobs.map((b) => f.upstream.addBlob('library/app', b))
  for (const d of digests) await get(`${app.url}/v2/app/blobs/${d}`)
  await get(`${app.url}/v2/app/blobs/${digests[0]}`)
  await answered(app, digests.length + 1)
  await app.close()
  return digests
}

t.test('stats prints hit ratios per registry and top repositories, as a table or JSON', async (t) => {
  const f = await fixture(t)
  await fill(t, f, [randomBytes(1000), randomBytes(3000)])
  const json = await dockside(['stats', '--json', ...f.flags]).exited
  t.equal(json.code, 0, json.stderr)
  const stats = JSON.parse(json.stdout)
  t.match(stats.totals, { requests: 3, hits: 1, misses: 2, bytesFromCache: 1000, bytesFromUpstream: 4000 })
  t.equal(stats.registries[0].registry, 'docker.io')
  t.equal(stats.topRepositories[0].repository, 'library/app')
  t.equal(stats.disk.count, 2)
  const table = await dockside(['stats', ...f.flags]).exited
  t.match(table.stdout, /docker\.io\s+3\s+33\.3%\s+20\.0%/)
  t.match(table.stdout, /docker\.io\/library\/app/)
  t.match(table.stdout, /bytes saved from upstream: 1000 B/)
})

t.test('gc --to evicts least-recently-used blobs down to the size asked for', async (t) => {
  const f = await fixture(t)
  const [a, b] = await fill(t, f, [randomBytes(1000), randomBytes(3000)])
  // Fix the access order outright: b is the least recently used.
  const db = new Database(join(f.cacheDir, 'index.sqlite'))
  db.prepare('UPDATE blobs SET last_access_ms = ? WHERE digest = ?').run(2000, a)
  db.prepare('UPDATE blobs SET last_access_ms = ? WHERE digest = ?').run(1000, b)
  db.close()
  const gc = await dockside(['gc', '--to', '2000', ...f.flags]).exited
  t.equal(gc.code, 0, gc.stderr)
  t.match(gc.stdout, /evicted 1 blobs/)
  const index = new CacheIndex(join(f.cacheDir, 'index.sqlite'))
  t.teardown(() => index.close())
  t.ok(index.getBlob(a as string), 'the blob used last is kept')
  t.equal(index.getBlob(b as string), undefined)
  t.notOk(existsSync(new BlobStore(f.cacheDir).path(parseDigest(b as string))))
  t.equal((await dockside(['gc', '--to', 'lots', ...f.flags]).exited).code, 2)
})

t.test('verify re-hashes every blob and removes one whose bytes changed on disk', async (t) => {
  const f = await fixture(t)
  const [good, bad] = await fill(t, f, [randomBytes(1000), randomBytes(3000)])
  const store = new BlobStore(f.cacheDir)
  t.equal((await dockside(['verify', ...f.flags]).exited).code, 0, 'all good at first')
  writeFileSync(store.path(parseDigest(bad as string)), randomBytes(3000))
  const run = await dockside(['verify', ...f.flags]).exited
  t.equal(run.code, 1)
  t.match(run.stdout, `removed ${bad}: content hashes to sha256:`)
  t.match(run.stdout, /verified 2 blobs, .*1 bad, removed/)
  t.notOk(existsSync(store.path(parseDigest(bad as string))))
  t.ok(existsSync(store.path(parseDigest(good as string))))
  const index = new CacheIndex(join(f.cacheDir, 'index.sqlite'))
  t.teardown(() => index.close())
  t.equal(index.getBlob(bad as string), undefined)
})

t.test('hosts writes a containerd hosts.toml for every registry and alias', async (t) => {
  const f = await fixture(t)
  const out = join(f.dir, 'certs.d')
  const run = await dockside(['hosts', '--mirror', 'http://dockside.example:5000/', '--out', out, ...f.flags]).exited
  t.equal(run.code, 0, run.stderr)
  const toml = readFileSync(join(out, 'ghcr.example', 'hosts.toml'), 'utf8')
  t.match(toml, `server = "${f.upstream.url}"`)
  t.match(toml, '[host."http://dockside.example:5000"]\n  capabilities = ["pull", "resolve"]')
  t.ok(existsSync(join(out, 'docker.io', 'hosts.toml')) && existsSync(join(out, 'ghcr.io', 'hosts.toml')))
  t.equal((await dockside(['hosts', '--out', out, ...f.flags]).exited).code, 2, '--mirror is required')
})

t.test('warm pulls every blob of an image (one platform of an index) once, and a second warm finds them cached', async (t) => {
  const f = await fixture(t)
  const app = await startDockside(t, { registries: [registryFor('docker.io', f.upstream.url, { shortNamePrefix: 'library' })], cacheDir: f.cacheDir })
  const amd = f.upstream.addImage('library/app', 'amd', { layers: [randomBytes(5000), randomBytes(7000)] })
  const arm = f.upstream.addImage('library/app', 'arm', { layers: [randomBytes(6000)] })
  f.upstream.addIndex('library/app', 'v1', [
    { digest: amd.manifestDigest, size: amd.manifestBytes.length, mediaType: MEDIA_TYPES.ociManifest, platform: { os: 'linux', architecture: 'amd64' } },
    { digest: arm.manifestDigest, size: arm.manifestBytes.length, mediaType: MEDIA_TYPES.ociManifest, platform: { os: 'linux', architecture: 'arm64' } },
  ])
  const list = join(f.dir, 'images.txt')
  writeFileSync(list, '# rollout\napp:v1\n')
  const first = await dockside(['warm', '--url', app.url, '--file', list, '--platform', 'linux/amd64']).exited
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /warmed 1 of 1 images: 3 blobs, .*\(0 already cached\)/)
  const blobGets = f.upstream.requests.filter((r) => r.kind === 'blob' && r.method === 'GET').map((r) => r.path.split('/').pop())
  t.same(blobGets.sort(), [amd.configDigest, ...amd.layerDigests].sort(), 'the amd64 blobs, each once; nothing of arm64')
  const second = await dockside(['warm', '--url', app.url, 'docker.io/library/app:v1']).exited
  t.match(second.stdout, /3 blobs, .*\(3 already cached\)/)
  const missing = await dockside(['warm', '--url', app.url, 'app:nope']).exited
  t.equal(missing.code, 1)
  t.match(missing.stdout, /failed: app:nope/)
})
