// The built-in dashboard: the route, and the page itself in headless Chromium over real pulls through Dockside.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'
import { chromium, type Browser, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import type { StatsSnapshot } from '../../src/stats.js'
import { FakeRegistry, type ImageResult } from '../support/fake-registry.js'
import { answered, client, registryFor, startDockside } from '../support/dockside.js'
import { requireTool } from '../support/tools.js'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url))
const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** Chromium with its own throw-away profile, closed when the test ends; undefined when it is not installed. */
async function browser(t: Test): Promise<Browser | undefined> {
  if (!(await requireTool(t, CHROMIUM, 'apt-get install chromium'))) return undefined
  const b = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => b.close())
  return b
}

/** A page that records every URL it requests. */
async function openPage(b: Browser): Promise<{ page: Page; requested: string[] }> {
  const context = await b.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light', deviceScaleFactor: 1 })
  const page = await context.newPage()
  const requested: string[] = []
  page.on('request', (r) => requested.push(r.url()))
  return { page, requested }
}

/** Everything the page asked for went to Dockside itself (data: URLs are not requests to anyone). */
function onlyDockside(t: Test, requested: string[], origin: string): void {
  const elsewhere = requested.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)
  t.same(elsewhere, [], 'no request to any host other than Dockside')
  t.ok(requested.includes(`${origin}/api/stats`), 'the page polled /api/stats')
}

const text = async (page: Page, selector: string): Promise<string> => ((await page.locator(selector).first().textContent()) ?? '').trim()

t.test('GET and HEAD on / and /dashboard serve the self-contained page', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)] })
  const get = client(t)
  for (const path of ['/', '/dashboard']) {
    const res = await get(`${app.url}${path}`)
    t.equal(res.status, 200, path)
    t.equal(res.headers['content-type'], 'text/html; charset=utf-8', path)
    t.equal(res.headers['cache-control'], 'no-store', path)
    const html = res.body.toString('utf8')
    t.equal(Number(res.headers['content-length']), res.body.length, 'content-length is the byte length')
    t.match(html, /^<!doctype html>/i)
    t.notMatch(html, /https?:/i, 'no absolute URL of any kind: nothing is loaded from elsewhere')
    t.notMatch(html, /@import|url\(|<link rel="stylesheet"|<script src/i, 'no external stylesheet, font or script')
    t.match(html, /fetch\('api\/stats'/, 'polls the JSON stats endpoint')
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? ''
    t.doesNotThrow(() => new Script(script), 'the inline script parses')

    const head = await get(`${app.url}${path}`, { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers['content-type'], 'text/html; charset=utf-8')
    t.equal(head.body.length, 0, 'HEAD has no body')
  }
  t.equal(upstream.requests.length, 0, 'the page costs the upstream nothing')
})

t.test('the dashboard shows the figures of real pulls, draws the hit-ratio chart and talks only to Dockside', async (t) => {
  const b = await browser(t)
  if (!b) return
  const hub = await FakeRegistry.start()
  const ghcr = await FakeRegistry.start()
  t.teardown(() => Promise.all([hub.close(), ghcr.close()]))
  hub.ratelimit = { limit: '100;w=21600', remaining: '76;w=21600' }
  const app = await startDockside(t, {
    registries: [registryFor('docker.io', hub.url, { shortNamePrefix: 'library' }), registryFor('ghcr.io', ghcr.url)],
    defaultRegistry: 'docker.io',
    // The test takes the history samples itself, between batches; the timer must not add any of its own.
    config: { statsSampleIntervalMs: 3_600_000 },
  })
  const get = client(t)
  const alpine = hub.addImage('library/alpine', '3.20', { layers: [randomBytes(3 * MiB), randomBytes(512 * 1024)] })
  const nginx = hub.addImage('library/nginx', '1.27', { layers: [randomBytes(2 * MiB)] })
  const tool = ghcr.addImage('owner/tool', 'v1', { layers: [randomBytes(1 * MiB)] })

  let sent = 0
  /** A client pull: the manifest by tag, then the config and every layer. */
  const pull = async (path: string, tag: string, image: ImageResult): Promise<void> => {
    const manifest = await get(`${app.url}/v2/${path}/manifests/${tag}`, { headers: { accept: image.mediaType } })
    t.equal(manifest.status, 200, `${path}:${tag}`)
    for (const digest of [image.configDigest, ...image.layerDigests]) {
      t.equal((await get(`${app.url}/v2/${path}/blobs/${digest}`)).status, 200, `${path}@${digest}`)
    }
    sent += 2 + image.layerDigests.length
  }
  const batch = async (pulls: (() => Promise<void>)[]): Promise<void> => {
    for (const p of pulls) await p()
    await answered(app, sent)
    app.stats.sample()
  }
  const alpinePull = (): Promise<void> => pull('alpine', '3.20', alpine)
  const nginxPull = (): Promise<void> => pull('nginx', '1.27', nginx)
  const toolPull = (): Promise<void> => pull('ghcr.io/owner/tool', 'v1', tool)

  await batch([alpinePull, toolPull]) // 7 misses
  await batch([alpinePull, alpinePull, alpinePull, toolPull]) // 15 hits
  await batch([
    alpinePull, // 4 hits
    nginxPull, // 3 misses
    async () => {
      ghcr.mode = 'status503'
      t.equal((await get(`${app.url}/v2/ghcr.io/owner/tool/manifests/v2`)).status, 503, 'upstream down, nothing cached')
      ghcr.mode = 'ok'
      sent++
    },
  ])
  // The last interval runs from the last sample to the snapshot ("now").
  for (const p of [alpinePull, nginxPull, toolPull]) await p() // 10 hits
  await answered(app, sent)
  app.index.flush()

  const stats = JSON.parse((await get(`${app.url}/api/stats`)).body.toString()) as StatsSnapshot
  t.same(
    [stats.totals.requests, stats.totals.errors, stats.totals.hits, stats.totals.misses],
    [40, 1, 29, 10],
    'the pulls are accounted as planned',
  )
  t.equal(stats.totals.hitRatio, 29 / 39)
  t.equal(stats.topRepositories[0]?.repository, 'library/alpine')
  t.equal(stats.topRepositories[0]?.requests, 24)

  const { page, requested } = await openPage(b)
  await page.goto(`${app.url}/dashboard`)
  await page.locator('#hit-ratio', { hasText: '%' }).waitFor()

  t.equal(await text(page, '#hit-ratio'), '74.4%', 'hit ratio by requests: 29 of 39 answered')
  t.match(await text(page, '#hit-ratio-sub'), '29 of 39 requests')
  t.equal(await text(page, '#byte-hit-ratio'), `${((stats.totals.byteHitRatio ?? 0) * 100).toFixed(1)}%`)
  t.match(await text(page, '#bytes-saved'), /^\d+(\.\d+)? MiB$/, 'bytes saved, in MiB')
  t.match(await text(page, '#disk-used'), / MiB$/)
  t.match(await text(page, '#disk-sub'), stats.disk.maxBytes === null ? 'no disk budget set' : /% of the [\d.]+ [KMGT]?i?B budget/)
  t.equal(await text(page, '#fills .value'), '0')
  t.equal(await text(page, '#errors .value'), '1')

  const top = page.locator('#repos-body tr')
  t.equal(await top.count(), 3, 'three repositories')
  t.match(await text(page, '#repos-body tr:first-child .repo'), 'docker.io/library/alpine', 'top repository')
  t.equal(await text(page, '#repos-body tr:first-child td:nth-child(3)'), '24')

  const hubRow = await text(page, '#registries-body tr[data-registry="docker.io"]')
  t.match(hubRow, 'healthy')
  t.match(hubRow, '76 / 100', 'rate limit left')
  const ghcrRow = await text(page, '#registries-body tr[data-registry="ghcr.io"]')
  t.match(ghcrRow, 'degraded')
  t.match(ghcrRow, 'answered 503', 'last failure')
  t.equal(await text(page, '#upstreams-failing .value'), '1 of 2')

  const chart = page.locator('#chart svg')
  t.equal(await chart.getAttribute('data-points'), '4', 'four intervals with requests: 0%, 100%, 50%, 100%')
  const line = (await page.locator('#chart path.line-req').getAttribute('d')) ?? ''
  t.equal(line.match(/[ML]/g)?.length, 4, 'the request hit-ratio line joins the four intervals')
  t.equal(await page.locator('#chart circle.pt-req').count(), 4)
  t.ok((await page.locator('#chart rect.vol').count()) >= 4, 'request volume bars')

  const png = await page.screenshot({ fullPage: true })
  t.equal(png.subarray(1, 4).toString(), 'PNG')
  // The README shows it: DOCKSIDE_UPDATE_SCREENSHOT=1 npx tap test/http/dashboard.test.ts writes it anew.
  if (process.env.DOCKSIDE_UPDATE_SCREENSHOT) writeFileSync(SCREENSHOT, png)
  onlyDockside(t, requested, app.url)
})

t.test('the page escapes every string from the JSON, shows null ratios as a dash, disk against budget, and going offline', async (t) => {
  const b = await browser(t)
  if (!b) return
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)] })
  const now = Date.now()
  const zero = { requests: 0, hits: 0, misses: 0, coalesced: 0, revalidated: 0, stale: 0, errors: 0, bytesFromCache: 0, bytesFromUpstream: 0 }
  const hostile = '<img src=x onerror="window.__xss=1">'
  const snapshot: StatsSnapshot = {
    generatedAt: new Date(now).toISOString(),
    uptimeSeconds: 93_784,
    totals: { ...zero, requests: 1, errors: 1, hitRatio: null, byteHitRatio: null },
    registries: [
      {
        ...zero,
        registry: '<b>evil</b>',
        hitRatio: null,
        byteHitRatio: null,
        health: {
          lastOkMs: null,
          lastFailureMs: now - 5_000,
          lastFailure: '<script>window.__xss=2</script>',
          consecutiveFailures: 5,
          ratelimitLimit: null,
          ratelimitRemaining: '<i>7</i>',
        },
      },
    ],
    topRepositories: [{ ...zero, requests: 1, errors: 1, registry: 'docker.io', repository: hostile, hitRatio: null, byteHitRatio: null }],
    disk: { usedBytes: 45 * GiB, blobCount: 1234, maxBytes: 50 * GiB },
    fillsInFlight: 2,
    history: [
      { t: now - 10_000, requests: 0, cached: 0, bytesFromCache: 0, bytesFromUpstream: 0 },
      { t: now, requests: 0, cached: 0, bytesFromCache: 0, bytesFromUpstream: 0 },
    ],
  }
  let failing = false
  const { page, requested } = await openPage(b)
  await page.clock.install()
  await page.route('**/api/stats', (route) =>
    failing ? route.fulfill({ status: 503, body: 'down' }) : route.fulfill({ status: 200, json: snapshot }),
  )
  await page.goto(`${app.url}/`)
  await page.locator('#disk-used', { hasText: 'GiB' }).waitFor()

  t.equal(await text(page, '#hit-ratio'), '—', 'a null ratio is a dash')
  t.equal(await text(page, '#byte-hit-ratio'), '—')
  t.match(await text(page, '#repos-body .repo'), hostile, 'the repository name is shown as text')
  t.equal(await page.locator('#repos-body img').count(), 0, 'and never becomes markup')
  t.equal(await page.locator('#registries-body b, #registries-body script, #registries-body i').count(), 0)
  t.match(await text(page, '#registries-body'), '<b>evil</b>')
  t.match(await text(page, '#registries-body'), '<script>window.__xss=2</script>')
  t.match(await text(page, '#registries-body'), 'failing')
  t.equal(await page.evaluate('window.__xss'), undefined, 'no injected script ran')
  t.equal(await text(page, '#disk-used'), '45.0 GiB')
  t.match(await text(page, '#disk-sub'), '90.0% of the 50.0 GiB budget')
  t.equal(await page.locator('#disk-meter').getAttribute('class'), 'meter warn', 'the budget meter warns at 90%')
  t.match(await text(page, '#chart'), 'No requests', 'no chart without requests')
  t.equal(await text(page, '#uptime .value'), '1 d 2 h')

  failing = true
  await page.clock.runFor(5_000) // the next poll
  await page.locator('#banner', { hasText: 'HTTP 503' }).waitFor()
  t.match(await text(page, '#status-text'), 'Offline')
  t.equal(await text(page, '#disk-used'), '45.0 GiB', 'the last figures stay on screen')
  onlyDockside(t, requested, app.url)
})
