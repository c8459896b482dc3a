import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import t from 'tap'
import { BlobStore } from '../src/cache/blob-store.js'
import { parseDigest } from '../src/oci/digest.js'
import { request } from 'undici'
import { FakeRegistry, MEDIA_TYPES } from './support/fake-registry.js'
import { answered, registryFor, startDockside } from './support/dockside.js'

t.test('closing lets a download in flight finish and commit, and refuses new connections', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)] })
  const bytes = randomBytes(200_000)
  const digest = upstream.addBlob('team/app', bytes)
  const hold = upstream.holdBlob(digest, 1000)
  const inFlight = await request(`${app.url}/v2/team/app/blobs/${digest}`)
  await hold.reached
  const closed = app.close()
  await t.rejects(request(`${app.url}/v2/`), { code: 'ECONNREFUSED' }, 'no new connections')
  hold.release()
  t.ok(Buffer.from(await inFlight.body.arrayBuffer()).equals(bytes), 'the download in flight completed')
  await closed
  t.ok(existsSync(new BlobStore(app.config.cacheDir).path(parseDigest(digest))), 'the blob was committed before the process let go')
})

t.test('closing cuts connections still open after the grace period', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)], config: { shutdownGraceMs: 50 } })
  const digest = upstream.addBlob('team/app', randomBytes(100_000))
  const hold = upstream.holdBlob(digest, 1000)
  const inFlight = await request(`${app.url}/v2/team/app/blobs/${digest}`)
  await hold.reached
  await app.close()
  await t.rejects(inFlight.body.arrayBuffer(), 'the stuck transfer was cut, not completed')
})

t.test('a client that stops reading is disconnected after the idle timeout, releasing what it held', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)], config: { clientIdleTimeoutMs: 300 } })
  const bytes = randomBytes(32_000_000)
  const digest = upstream.addBlob('team/app', bytes)
  const warm = await request(`${app.url}/v2/team/app/blobs/${digest}`)
  await warm.body.arrayBuffer()
  await answered(app, 1)
  const stalled = await request(`${app.url}/v2/team/app/blobs/${digest}`) // a cache hit whose body nobody reads
  stalled.body.on('error', () => {})
  t.equal(stalled.statusCode, 200)
  const record = await new Promise((resolve) => app.events.once('answered', resolve))
  t.match(record, { kind: 'blob', outcome: 'hit' }, 'the stalled response was closed by the server')
})

t.test('a manifest hit too large for the socket buffers is cut too when its client stops reading', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url)], config: { clientIdleTimeoutMs: 300 } })
  // 7.5 MiB (under the 8 MiB manifest limit): more than loopback's send buffer (4 MiB at most) and a silent
  // reader's receive window can take, so the response cannot be handed to the kernel whole.
  const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: {}, layers: [], annotations: { padding: 'x'.repeat(7.5 * 2 ** 20) } }
  upstream.addManifest('team/app', manifest, MEDIA_TYPES.ociManifest, 'big')
  const url = `${app.url}/v2/team/app/manifests/big`
  const headers = { accept: MEDIA_TYPES.ociManifest }
  const warm = await request(url, { headers })
  const bytes = Buffer.from(await warm.body.arrayBuffer())
  await answered(app, 1)
  const stalled = await request(url, { headers }) // a warm hit whose body nobody reads
  t.equal(stalled.statusCode, 200)
  t.equal(stalled.headers['x-dockside-cache'], 'hit')
  const record = await new Promise((resolve) => app.events.once('answered', resolve))
  t.match(record, { kind: 'manifest', outcome: 'hit' }, 'the stalled response was accounted for when the server closed it')
  await t.rejects(stalled.body.arrayBuffer(), 'the connection was cut before the last byte')
  t.ok(bytes.length > 7.5 * 2 ** 20, 'the warm-up read the whole manifest')
})
