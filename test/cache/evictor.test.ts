import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { BlobStore } from '../../src/cache/blob-store.js'
import { CacheIndex } from '../../src/cache/cache-index.js'
import { Evictor, type EvictionReport } from '../../src/cache/evictor.js'
import { pinnedDigests } from '../../src/cache/pins.js'
import { digestOf, parseDigest } from '../../src/oci/digest.js'
import { FakeRegistry } from '../support/fake-registry.js'
import { answered, client, registryFor, startDockside, tempDir } from '../support/dockside.js'

/** A cache folder with an index whose clock the test moves by hand. */
function cacheWithClock(t: Test) {
  const dir = tempDir(t)
  const store = new BlobStore(dir)
  store.prepare()
  let clock = 1_000
  const index = new CacheIndex(join(dir, 'index.sqlite'), () => clock)
  t.teardown(() => index.close())
  const put = (bytes: Buffer, mediaType: string | null = null): string => {
    const digest = parseDigest(digestOf(bytes))
    mkdirSync(dirname(store.path(digest)), { recursive: true })
    writeFileSync(store.path(digest), bytes)
    index.putBlob(digest.value, bytes.length, mediaType)
    return digest.value
  }
  return { dir, store, index, put, tick: (ms = 1) => (clock += ms) }
}

function evictorFor(c: ReturnType<typeof cacheWithClock>, maxBytes: number, pinned: () => Set<string> = () => new Set()) {
  const evicted: string[] = []
  const reports: EvictionReport[] = []
  const evictor = new Evictor(c.index, c.store, { maxBytes, highWatermark: 0.9, lowWatermark: 0.5 }, pinned, {
    evicted: (digest) => evicted.push(digest),
    finished: (report) => reports.push(report),
    failed: (err) => {
      throw err
    },
  })
  return { evictor, evicted, reports }
}

t.test('above the high watermark the least recently used go first, down to the low watermark', async (t) => {
  const c = cacheWithClock(t)
  const a = c.put(randomBytes(1000))
  c.tick()
  const b = c.put(randomBytes(1000))
  c.tick()
  const d = c.put(randomBytes(1000))
  c.tick()
  c.index.touchBlob(a) // a is now the most recently used
  c.tick()
  const e = c.put(randomBytes(1000))
  const { evictor, evicted } = evictorFor(c, 4000) // high 3600, low 2000: 4000 used
  evictor.check()
  const report = await evictor.evict()
  t.same(evicted, [b, d], 'b and d were least recently used; a was touched, e is newest')
  t.equal(report.evictedBytes, 2000)
  t.equal(c.index.totals().bytes, 2000)
  t.notOk(existsSync(c.store.path(parseDigest(b))), 'file gone with its row')
  t.ok(c.index.getBlob(a) && c.index.getBlob(e))
})

t.test('below the high watermark nothing is evicted', async (t) => {
  const c = cacheWithClock(t)
  c.put(randomBytes(1000))
  const { evictor, reports } = evictorFor(c, 10_000)
  evictor.check()
  await evictor.idle()
  t.same(reports, [], 'no eviction ran')
})

t.test('pinned images keep their manifests and blobs, whatever their age', async (t) => {
  const c = cacheWithClock(t)
  const layer = c.put(randomBytes(1000))
  const config = c.put(Buffer.from('{"config":true}'))
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: config }, layers: [{ digest: layer }] }))
  const manifest = c.put(manifestBytes, 'application/vnd.oci.image.manifest.v1+json')
  c.index.putTag('docker.io', 'library/alpine', '3.20', 'k', { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: manifestBytes.length, checkedMs: 0 })
  c.tick()
  const other = c.put(randomBytes(1000))
  const pins = [{ registry: 'docker.io', repository: 'library/alpine', tag: '3.20', digest: undefined }]
  t.same([...pinnedDigests(pins, c.index, c.store)].sort(), [layer, config, manifest].sort())
  const { evictor, evicted } = evictorFor(c, 1000, () => pinnedDigests(pins, c.index, c.store))
  await evictor.evict()
  t.same(evicted, [other], 'only the unpinned blob went, though it was the newest')
  t.ok(c.index.getBlob(layer) && c.index.getBlob(manifest) && c.index.getBlob(config))
})

t.test('eviction pages through many rows in batches and leaves exactly the newest', async (t) => {
  const c = cacheWithClock(t)
  const digests: string[] = []
  for (let i = 0; i < 1000; i++) {
    digests.push(c.put(Buffer.from(`blob ${i}`.padEnd(100, '.'))))
    c.tick()
  }
  const { evictor } = evictorFor(c, 100 * 1000 * 0.99)
  const report = await evictor.evict()
  t.equal(report.evictedBlobs, 1000 - Math.floor((100 * 1000 * 0.99 * 0.5) / 100))
  t.ok(c.index.getBlob(digests.at(-1) as string), 'newest kept')
  t.equal(c.index.getBlob(digests[0] as string), undefined, 'oldest gone')
})

t.test('through the server: the budget holds, evicted blobs are fetched again, and a client mid-read keeps its bytes', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, {
    registries: [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })],
    config: { cache: { maxBytes: 2_000_000, highWatermark: 0.9, lowWatermark: 0.5, pinned: [] } },
  })
  const get = client(t)
  const first = randomBytes(800_000)
  const firstDigest = upstream.addBlob('library/e', first)
  await get(`${app.url}/v2/e/blobs/${firstDigest}`)
  // A client starts reading the first blob, then the cache fills past the high watermark.
  const reader = await request(`${app.url}/v2/e/blobs/${firstDigest}`)
  for (let i = 0; i < 2; i++) await get(`${app.url}/v2/e/blobs/${upstream.addBlob('library/e', randomBytes(600_000))}`)
  await app.evictor.idle()
  t.ok(app.index.totals().bytes <= 1_000_000, `under the low watermark (${app.index.totals().bytes} bytes)`)
  t.equal(app.index.getBlob(firstDigest), undefined, 'the least recently used blob was evicted')
  t.ok(Buffer.from(await reader.body.arrayBuffer()).equals(first), 'the client reading it still got every byte')
  const again = await get(`${app.url}/v2/e/blobs/${firstDigest}`)
  t.equal(again.headers['x-dockside-cache'], 'miss')
  t.ok(again.body.equals(first))
  await answered(app, 5)
  const metrics = await app.metrics.registry.metrics()
  t.match(metrics, /dockside_evictions_total [1-9]/)
  t.match(metrics, /dockside_cache_max_bytes 2000000/)
})

t.test('a pinned reference that names no configured registry is a config error', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  await t.rejects(
    startDockside(t, {
      registries: [registryFor('docker.io', upstream.url)],
      config: { cache: { maxBytes: 1000, highWatermark: 0.9, lowWatermark: 0.5, pinned: ['evil.example.com/x:1'] } },
    }),
    { name: 'ConfigError', key: 'cache.pinned', value: 'evil.example.com/x:1' },
  )
})
