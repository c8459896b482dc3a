import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { digestOf, parseDigest } from '../../src/oci/digest.js'
import { BlobStore } from '../../src/cache/blob-store.js'
import { FakeRegistry } from '../support/fake-registry.js'
import { client, registryFor, startDockside } from '../support/dockside.js'

async function setup(t: Test, opts: Parameters<typeof FakeRegistry.start>[0] = {}) {
  const upstream = await FakeRegistry.start(opts)
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })] })
  return { upstream, app, get: client(t) }
}

const blobGets = { kind: 'blob', method: 'GET', host: 'registry' } as const

t.test('a cold blob GET streams the upstream bytes once; the second GET is a hit with no upstream request', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(300_000)
  const digest = upstream.addBlob('library/alpine', bytes)
  const first = await get(`${app.url}/v2/alpine/blobs/${digest}`)
  t.equal(first.status, 200)
  t.equal(first.headers['docker-content-digest'], digest)
  t.equal(first.headers['content-length'], String(bytes.length))
  t.equal(first.headers['x-dockside-cache'], 'miss')
  t.ok(first.body.equals(bytes), 'exact bytes')
  t.equal(upstream.count(blobGets), 1)
  t.ok(upstream.requests.some((r) => r.path === `/v2/library/alpine/blobs/${digest}`), 'library/ prefix added upstream')

  const second = await get(`${app.url}/v2/library/alpine/blobs/${digest}`)
  t.equal(second.headers['x-dockside-cache'], 'hit')
  t.ok(second.body.equals(bytes))
  t.equal(upstream.count(blobGets), 1, 'no second upstream GET')
})

t.test('20 concurrent cold GETs of one blob cause exactly one upstream GET and 20 identical bodies', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(2_000_000)
  const digest = upstream.addBlob('library/big', bytes)
  const hold = upstream.holdBlob(digest, 1000)
  const first = get(`${app.url}/v2/big/blobs/${digest}`)
  await hold.reached
  const rest = Array.from({ length: 19 }, () => get(`${app.url}/v2/big/blobs/${digest}`))
  await upstream.waitForRequests(blobGets, 1)
  hold.release()
  const all = await Promise.all([first, ...rest])
  t.equal(upstream.count(blobGets), 1)
  t.ok(all.every((r) => r.status === 200 && r.body.equals(bytes)), 'every body is the blob')
  t.same(all.map((r) => r.headers['x-dockside-cache']).sort(), ['miss', ...Array(19).fill('coalesced')].sort())
})

t.test('a client arriving mid-fill starts at once from byte 0 out of the temp file', async (t) => {
  const { upstream, app } = await setup(t)
  const bytes = randomBytes(1_000_000)
  const digest = upstream.addBlob('library/mid', bytes)
  const hold = upstream.holdBlob(digest, 400_000)
  const first = request(`${app.url}/v2/mid/blobs/${digest}`)
  await hold.reached
  // While the upstream is paused, the joiner already gets headers and the bytes written so far.
  const joiner = await request(`${app.url}/v2/mid/blobs/${digest}`)
  t.equal(joiner.statusCode, 200)
  t.equal(joiner.headers['x-dockside-cache'], 'coalesced')
  const chunks: Buffer[] = []
  let received = 0
  const firstBytes = new Promise<void>((resolve) => {
    joiner.body.on('data', (c: Buffer) => {
      chunks.push(c)
      received += c.length
      if (received >= 300_000) resolve()
    })
  })
  await firstBytes
  t.ok(received < bytes.length, 'bytes flowed before the upstream resumed')
  hold.release()
  await new Promise((resolve) => joiner.body.on('end', resolve))
  t.ok(Buffer.concat(chunks).equals(bytes))
  t.ok(Buffer.from(await (await first).body.arrayBuffer()).equals(bytes))
  t.equal(upstream.count(blobGets), 1)
})

t.test('a client joining further behind than the in-memory tail reads the file, then follows in memory', async (t) => {
  const { upstream, app } = await setup(t)
  const bytes = randomBytes(9_000_000)
  const digest = upstream.addBlob('library/behind', bytes)
  const hold = upstream.holdBlob(digest, 6_000_000) // past the 4 MiB kept in memory
  const first = request(`${app.url}/v2/behind/blobs/${digest}`)
  await hold.reached
  const joiner = await request(`${app.url}/v2/behind/blobs/${digest}`)
  t.equal(joiner.headers['x-dockside-cache'], 'coalesced')
  const body = joiner.body.arrayBuffer()
  hold.release()
  t.ok(Buffer.from(await body).equals(bytes), 'the joiner got every byte, in order')
  t.ok(Buffer.from(await (await first).body.arrayBuffer()).equals(bytes))
  t.equal(upstream.count(blobGets), 1)
})

t.test('a fill finishes and commits even when its only client hangs up', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(500_000)
  const digest = upstream.addBlob('library/gone', bytes)
  const hold = upstream.holdBlob(digest, 1000)
  const controller = new AbortController()
  const res = await request(`${app.url}/v2/gone/blobs/${digest}`, { signal: controller.signal })
  await hold.reached
  res.body.on('error', () => {})
  controller.abort()
  hold.release()
  await app.blobs.settle()
  t.ok(app.index.getBlob(digest), 'committed to the index')
  const again = await get(`${app.url}/v2/gone/blobs/${digest}`)
  t.equal(again.headers['x-dockside-cache'], 'hit')
  t.ok(again.body.equals(bytes))
  t.equal(upstream.count(blobGets), 1)
})

for (const fault of ['corrupt', 'drop'] as const) {
  t.test(`${fault === 'corrupt' ? 'wrong bytes' : 'a dropped upstream connection'}: the client's transfer breaks and nothing is committed`, async (t) => {
    const { upstream, app } = await setup(t)
    const bytes = randomBytes(200_000)
    const digest = upstream.addBlob('library/bad', bytes)
    if (fault === 'corrupt') upstream.corruptBlob(digest)
    else upstream.dropBlobMidway(digest)
    // Headers may or may not have reached the client; either way the transfer must not complete.
    await t.rejects(request(`${app.url}/v2/bad/blobs/${digest}`).then((res) => res.body.arrayBuffer()), 'the transfer breaks')
    await app.blobs.settle()
    t.equal(app.index.getBlob(digest), undefined, 'no index row')
    t.notOk(existsSync(new BlobStore(app.config.cacheDir).path(parseDigest(digest))), 'no file')
    if (fault === 'corrupt') {
      const metrics = await app.metrics.registry.getSingleMetricAsString('dockside_digest_mismatches_total')
      t.match(metrics, /dockside_digest_mismatches_total\{registry="docker.io"\} 1/)
    }
    upstream.clearBlobFault(digest)
    const retry = await request(`${app.url}/v2/bad/blobs/${digest}`)
    t.ok(Buffer.from(await retry.body.arrayBuffer()).equals(bytes), 'a later request fetches again and succeeds')
    t.equal(upstream.count(blobGets), 2)
  })
}

t.test('HEAD of an uncached blob asks upstream with HEAD and starts no download', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(1234)
  const digest = upstream.addBlob('library/h', bytes)
  const head = await get(`${app.url}/v2/h/blobs/${digest}`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.headers['content-length'], '1234')
  t.equal(head.headers['docker-content-digest'], digest)
  t.equal(upstream.count({ kind: 'blob', method: 'HEAD' }), 1)
  t.equal(upstream.count(blobGets), 0)
  t.equal(app.blobs.fillsInFlight, 0)
})

t.test('Range on a cached blob answers 206 with exactly that slice', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(100_000)
  const digest = upstream.addBlob('library/r', bytes)
  await get(`${app.url}/v2/r/blobs/${digest}`)
  const part = await get(`${app.url}/v2/r/blobs/${digest}`, { headers: { range: 'bytes=1000-1999' } })
  t.equal(part.status, 206)
  t.equal(part.headers['content-range'], `bytes 1000-1999/100000`)
  t.ok(part.body.equals(bytes.subarray(1000, 2000)))
  const tail = await get(`${app.url}/v2/r/blobs/${digest}`, { headers: { range: 'bytes=-10' } })
  t.ok(tail.body.equals(bytes.subarray(-10)))
  const bad = await get(`${app.url}/v2/r/blobs/${digest}`, { headers: { range: 'bytes=100000-' } })
  t.equal(bad.status, 416)
  t.equal(bad.headers['content-range'], 'bytes */100000')
  t.equal(upstream.count(blobGets), 1)
})

t.test('Range on an uncached blob starts the fill and is served once its bytes are present', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(300_000)
  const digest = upstream.addBlob('library/rr', bytes)
  const part = await get(`${app.url}/v2/rr/blobs/${digest}`, { headers: { range: 'bytes=250000-259999' } })
  t.equal(part.status, 206)
  t.ok(part.body.equals(bytes.subarray(250_000, 260_000)))
  await app.blobs.settle()
  t.ok(app.index.getBlob(digest), 'the whole blob was committed')
  t.equal(upstream.count(blobGets), 1)
  t.notOk(upstream.requests.some((r) => r.headers.range !== undefined), 'upstream was asked for the whole blob')
})

t.test('a blob redirected to a CDN is fetched without sending Authorization there', async (t) => {
  const { upstream, app, get } = await setup(t, { auth: 'bearer', redirectBlobs: true })
  const bytes = randomBytes(50_000)
  const digest = upstream.addBlob('library/cdn', bytes)
  const res = await get(`${app.url}/v2/cdn/blobs/${digest}`)
  t.equal(res.status, 200)
  t.ok(res.body.equals(bytes))
  t.equal(upstream.cdnAuthorizationSeen, 0)
  t.equal(upstream.count({ host: 'cdn', method: 'GET' }), 1)
})

t.test('a blob unknown upstream is BLOB_UNKNOWN and a bad digest is DIGEST_INVALID', async (t) => {
  const { upstream, app, get } = await setup(t)
  const missing = digestOf(Buffer.from('nope'))
  const res = await get(`${app.url}/v2/x/blobs/${missing}`)
  t.equal(res.status, 404)
  t.equal(JSON.parse(res.body.toString()).errors[0].code, 'BLOB_UNKNOWN')
  const bad = await get(`${app.url}/v2/x/blobs/sha256:1234`)
  t.equal(bad.status, 400)
  t.equal(JSON.parse(bad.body.toString()).errors[0].code, 'DIGEST_INVALID')
  t.equal(upstream.count(blobGets), 1, 'the invalid digest never reached upstream')
})

t.test('a long blob download does not hold up manifest requests to the same registry', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, {
    registries: [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })],
    config: { upstream: { connectTimeoutMs: 2000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, maxConcurrency: 1, retries: 0, retryBackoffMs: 10 } },
  })
  const get = client(t)
  const image = upstream.addImage('library/slow', 'v1', { layers: [randomBytes(100_000)] })
  const layer = image.layerDigests[0] as string
  const hold = upstream.holdBlob(layer, 10)
  const download = get(`${app.url}/v2/slow/blobs/${layer}`)
  await hold.reached
  const manifest = await get(`${app.url}/v2/slow/manifests/v1`)
  t.equal(manifest.status, 200, 'answered while the only download slot is taken')
  t.equal((await get(`${app.url}/v2/slow/blobs/${layer}`, { method: 'HEAD' })).status, 200)
  hold.release()
  t.equal((await download).status, 200)
})

t.test('a client that stops reading does not slow the fill or the other clients', async (t) => {
  const { upstream, app, get } = await setup(t)
  const bytes = randomBytes(32_000_000)
  const digest = upstream.addBlob('library/slowclient', bytes)
  const stalled = await request(`${app.url}/v2/slowclient/blobs/${digest}`)
  t.equal(stalled.statusCode, 200)
  // `stalled` never reads its body; a second client and the fill itself must still finish.
  const reader = await get(`${app.url}/v2/slowclient/blobs/${digest}`)
  t.ok(reader.body.equals(bytes))
  await app.blobs.settle()
  t.ok(app.index.getBlob(digest), 'committed while a client still holds most of the body unread')
  t.equal(upstream.count(blobGets), 1)
  t.ok(Buffer.from(await stalled.body.arrayBuffer()).equals(bytes), 'the stalled client still gets every byte later')
})

t.test('a trickling upstream is streamed on to clients as its bytes arrive', async (t) => {
  const { upstream, app } = await setup(t)
  const bytes = randomBytes(64 * 1024)
  const digest = upstream.addBlob('library/trickle', bytes)
  upstream.trickleBlob(digest, 8 * 1024, 20)
  const res = await request(`${app.url}/v2/trickle/blobs/${digest}`)
  let chunks = 0
  const received: Buffer[] = []
  for await (const chunk of res.body) {
    chunks++
    received.push(chunk as Buffer)
  }
  t.ok(Buffer.concat(received).equals(bytes))
  t.ok(chunks >= 4, `the body arrived in pieces as the upstream sent them (${chunks} chunks), not in one go at the end`)
})

t.test('an upstream HEAD without Content-Length: the length comes from the download, never a made-up 0', async (t) => {
  const bytes = randomBytes(5000)
  const digest = digestOf(bytes)
  let gets = 0
  const server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'docker-content-digest': digest, 'transfer-encoding': 'chunked' }).end()
      return
    }
    gets++
    res.writeHead(200, { 'content-length': bytes.length }).end(bytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', `http://127.0.0.1:${(server.address() as AddressInfo).port}`)] })
  const head = await client(t)(`${app.url}/v2/team/app/blobs/${digest}`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.headers['content-length'], '5000')
  await app.blobs.settle()
  t.equal(gets, 1, 'one download, which the cache keeps')
  t.ok(app.index.getBlob(digest))
})
