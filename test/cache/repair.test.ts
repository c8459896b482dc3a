import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { BlobStore } from '../../src/cache/blob-store.js'
import { digestOf, parseDigest } from '../../src/oci/digest.js'
import { FakeRegistry } from '../support/fake-registry.js'
import { client, registryFor, startDockside, tempDir } from '../support/dockside.js'

t.test('a restart repairs the cache: temp files go, lost files leave the index, unknown files are re-hashed first', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const cacheDir = tempDir(t)
  const store = new BlobStore(cacheDir)
  const registries = [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })]
  const kept = upstream.addBlob('library/r', randomBytes(1000))
  const lost = upstream.addBlob('library/r', randomBytes(1000))

  const first = await startDockside(t, { registries, cacheDir })
  const get = client(t)
  await get(`${first.url}/v2/r/blobs/${kept}`)
  await get(`${first.url}/v2/r/blobs/${lost}`)
  await first.close()

  // What a crash and a careless operator leave behind (a crash leaves no clean-shutdown marker):
  t.ok(existsSync(join(cacheDir, 'clean-shutdown')), 'the clean stop left its marker')
  unlinkSync(join(cacheDir, 'clean-shutdown'))
  writeFileSync(join(cacheDir, 'tmp', 'half-written'), 'partial')
  unlinkSync(store.path(parseDigest(lost)))
  const goodBytes = randomBytes(500)
  const good = parseDigest(digestOf(goodBytes))
  mkdirSync(join(cacheDir, 'blobs', 'sha256', good.hex.slice(0, 2)), { recursive: true })
  writeFileSync(store.path(good), goodBytes)
  const liar = parseDigest(digestOf(Buffer.from('what the name promises')))
  mkdirSync(join(cacheDir, 'blobs', 'sha256', liar.hex.slice(0, 2)), { recursive: true })
  writeFileSync(store.path(liar), 'something else entirely')

  const second = await startDockside(t, { registries, cacheDir })
  t.same(second.repair, { skipped: false, missingFiles: 1, adopted: 1, removed: 1 })
  t.same(readdirSync(join(cacheDir, 'tmp')), [], 'temp folder emptied')
  t.equal(second.index.getBlob(lost), undefined, 'lost file no longer claimed')
  t.equal(second.index.getBlob(good.value)?.size, 500, 'verified stray adopted')
  t.equal(second.index.getBlob(liar.value), undefined)
  t.notOk(existsSync(store.path(liar)), 'file that does not match its name removed')
  t.ok(second.index.getBlob(kept), 'intact blob kept')

  upstream.reset()
  const again = await get(`${second.url}/v2/r/blobs/${kept}`)
  t.equal(again.headers['x-dockside-cache'], 'hit')
  const refetched = await get(`${second.url}/v2/r/blobs/${lost}`)
  t.equal(refetched.headers['x-dockside-cache'], 'miss', 'the lost blob is fetched again, not served from nothing')
  t.equal(upstream.count({ kind: 'blob', method: 'GET' }), 1)
})

t.test('after a clean stop the next start skips the full check, but still empties tmp/', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const cacheDir = tempDir(t)
  const registries = [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })]
  const digest = upstream.addBlob('library/r', randomBytes(1000))
  const first = await startDockside(t, { registries, cacheDir })
  await client(t)(`${first.url}/v2/r/blobs/${digest}`)
  await first.close()
  writeFileSync(join(cacheDir, 'tmp', 'left-over'), 'x')
  const second = await startDockside(t, { registries, cacheDir })
  t.same(second.repair, { skipped: true, missingFiles: 0, adopted: 0, removed: 0 })
  t.same(readdirSync(join(cacheDir, 'tmp')), [])
  t.notOk(existsSync(join(cacheDir, 'clean-shutdown')), 'the marker is consumed: a crash from here on gets the full check')
  t.ok(second.index.getBlob(digest))
})
