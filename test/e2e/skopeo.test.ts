// A real client: skopeo pulls through Dockside from a token-protected upstream, then again from cache.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { FakeRegistry, MEDIA_TYPES } from '../support/fake-registry.js'
import { registryFor, startDockside, tempDir } from '../support/dockside.js'
import { requireTool } from '../support/tools.js'

const run = promisify(execFile)

t.test('skopeo copies an image through Dockside from a token-protected registry, and a second copy needs no upstream blob GET', async (t) => {
  if (!(await requireTool(t, 'skopeo', 'apt-get install skopeo'))) return
  const upstream = await FakeRegistry.start({ auth: 'bearer', redirectBlobs: true })
  t.teardown(() => upstream.close())
  const app = await startDockside(t, { registries: [registryFor('docker.io', upstream.url, { shortNamePrefix: 'library' })] })
  const layers = [randomBytes(3_000_000), randomBytes(10_000)]
  const image = upstream.addImage('library/app', 'v1', { layers, format: 'docker' })
  const index = upstream.addIndex('library/app', 'multi', [
    { digest: image.manifestDigest, size: image.manifestBytes.length, mediaType: image.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
  ])
  const mirror = app.url.replace('http://', '')

  const copy = async (ref: string, dest: string): Promise<void> => {
    await run('skopeo', ['copy', '--src-tls-verify=false', '--override-os=linux', '--override-arch=amd64', `docker://${mirror}/${ref}`, `dir:${dest}`])
  }
  const first = tempDir(t)
  await copy('docker.io/library/app:v1', first)
  t.ok(readFileSync(join(first, 'manifest.json')).equals(image.manifestBytes), 'exact manifest bytes')
  for (const digest of image.layerDigests) {
    t.ok(readFileSync(join(first, digest.slice('sha256:'.length))).equals(layers[image.layerDigests.indexOf(digest)] as Buffer))
  }
  t.equal(upstream.count({ kind: 'blob', method: 'GET', host: 'registry' }), 3, 'config and two layers fetched once each')
  t.equal(upstream.cdnAuthorizationSeen, 0)

  upstream.reset()
  const second = tempDir(t)
  await copy('app:v1', second)
  t.ok(readFileSync(join(second, 'manifest.json')).equals(image.manifestBytes))
  t.equal(upstream.count({ kind: 'blob', method: 'GET' }), 0, 'no upstream blob GET on the second pull')
  t.equal(upstream.count({ kind: 'manifest', method: 'GET' }), 0, 'the fresh tag came from cache')

  const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${mirror}/app:multi`], { encoding: 'buffer' })
  t.ok(raw.stdout.equals(index.bytes), 'skopeo inspect --raw returns the exact index bytes')
  t.equal(JSON.parse(index.bytes.toString()).mediaType, MEDIA_TYPES.ociIndex)
})
