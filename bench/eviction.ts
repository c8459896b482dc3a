// Eviction at scale: 100,000 small blobs indexed; evict half while wrk hammers a cache hit, side by side with
// the same load and no eviction. Reports the time to evict, and the worst event-loop delay and request p99
// during eviction against the baseline. Dockside runs in this process (so the event loop can be watched).
//
//   npx tsx bench/eviction.ts [--blobs 100000] [--seconds 6]
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { createApp } from '../src/app.js'
import { BlobStore } from '../src/cache/blob-store.js'
import { CacheIndex } from '../src/cache/cache-index.js'
import { defaultConfig, type Config } from '../src/config/config.js'
import { parseDigest } from '../src/oci/digest.js'
import { FakeRegistry } from '../test/support/fake-registry.js'
import { check, fmt, onCleanup, printTable, runBench, runWrk, tempDir, verdict, type WrkResult } from './support.js'

const { values } = parseArgs({ options: { blobs: { type: 'string', default: '100000' }, seconds: { type: 'string', default: '6' } } })
const blobCount = Number(values.blobs)
const seconds = Number(values.seconds)
const blobBytes = 1024

runBench(`eviction: ${blobCount.toLocaleString('en-US')} indexed blobs, evict half under load`, 600, async () => {
  const dir = tempDir('eviction')
  const seedStarted = performance.now()
  const store = new BlobStore(dir)
  store.prepare()
  const seedIndex = new CacheIndex(join(dir, 'index.sqlite'), (() => {
    let clock = 1_000_000
    return () => clock++ // distinct access times: a strict LRU order, oldest first
  })())
  const digests: string[] = []
  const body = Buffer.alloc(blobBytes, 7)
  for (let start = 0; start < blobCount; start += 5000) {
    const batch: { digest: string }[] = []
    for (let i = start; i < Math.min(blobCount, start + 5000); i++) {
      body.writeUInt32BE(i, 0)
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
      const path = store.path(parseDigest(digest))
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, body)
      batch.push({ digest })
      digests.push(digest)
    }
    seedIndex.transaction(() => {
      for (const { digest } of batch) seedIndex.putBlob(digest, blobBytes, null)
    })
  }
  seedIndex.close()
  const seedSeconds = (performance.now() - seedStarted) / 1000

  const upstream = await FakeRegistry.start()
  onCleanup(() => upstream.close())
  const config: Config = {
    ...defaultConfig,
    listen: { host: '127.0.0.1', port: 0 },
    cacheDir: dir,
    logLevel: 'silent',
    cache: { maxBytes: 10 * blobCount * blobBytes, highWatermark: 0.9, lowWatermark: 0.8, pinned: [] },
    registries: [{ namespace: 'docker.io', aliases: [], url: upstream.url, shortNamePrefix: 'library', manifestTtlMs: undefined, credentials: undefined }],
  }
  const startupStarted = performance.now()
  const app = await createApp(config, pino({ level: 'silent' }))
  const startupSeconds = (performance.now() - startupStarted) / 1000
  await app.listen()
  onCleanup(() => app.close())
  const hot = digests.at(-1) as string
  const url = `${app.url}/v2/library/bench/blobs/${hot}`

  const measure = async (evict: boolean): Promise<{ wrk: WrkResult; maxDelayMs: number; p99DelayMs: number; evictMs?: number; evicted?: number }> => {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    const wrk = runWrk(url, { seconds, threads: 1, connections: 16 })
    let evictMs: number | undefined
    let evicted: number | undefined
    if (evict) {
      await once(app.events, 'answered') // the load is on
      const report = await app.evictor.evict((blobCount * blobBytes) / 2)
      evictMs = report.durationMs
      evicted = report.evictedBlobs
    }
    const result = await wrk
    delay.disable()
    return { wrk: result, maxDelayMs: delay.max / 1e6, p99DelayMs: delay.percentile(99) / 1e6, evictMs, evicted }
  }
  await runWrk(url, { seconds: 1, threads: 1, connections: 16 }) // warm-up
  const baseline = await measure(false)
  const during = await measure(true)

  console.log(`seeded ${blobCount.toLocaleString('en-US')} blobs of ${blobBytes} B in ${fmt(seedSeconds)} s; start-up (repair check of every row) ${fmt(startupSeconds)} s\n`)
  printTable(
    ['run', 'req/s', 'p99 ms', 'max loop delay ms', 'p99 loop delay ms', 'evicted', 'evict ms'],
    [
      ['baseline (no eviction)', fmt(baseline.wrk.reqPerSec, 0), fmt(baseline.wrk.p99ms, 2), fmt(baseline.maxDelayMs, 1), fmt(baseline.p99DelayMs, 1), '-', '-'],
      ['evicting half', fmt(during.wrk.reqPerSec, 0), fmt(during.wrk.p99ms, 2), fmt(during.maxDelayMs, 1), fmt(during.p99DelayMs, 1), String(during.evicted), fmt(during.evictMs ?? 0, 0)],
    ],
  )
  check(during.evicted === blobCount / 2, `evicted ${during.evicted}, expected ${blobCount / 2}`)
  check(app.index.getBlob(hot) !== undefined, 'the hot blob (most recently used) survived')
  check(app.index.getBlob(digests[0] as string) === undefined, 'the oldest blob was evicted')
  check(baseline.wrk.non2xx === 0 && during.wrk.non2xx === 0, 'every request under load was a 2xx')
  console.log(`\nresult: worst event-loop delay while evicting ${fmt(during.maxDelayMs, 1)} ms (target < 50 ms: ${during.maxDelayMs < 50 ? 'met' : 'MISSED'})`)
  console.log(`        req/s while evicting vs baseline: ${verdict(during.wrk.reqPerSec / baseline.wrk.reqPerSec, '>=', 0.5)}`)
  console.log(`        eviction rate: ${fmt(((during.evicted ?? 0) / (during.evictMs ?? 1)) * 1000, 0)} blobs/s`)
})
