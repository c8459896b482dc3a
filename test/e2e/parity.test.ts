// Parity with the reference: the Distribution registry in proxy mode (pull-through cache of the same
// token-protected upstream, authenticating anonymously) and Dockside answer the same pulls with the same
// bytes: manifests (with their media type, digest and length) and blobs.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { client, tempDir } from '../support/dockside.js'
import { startDistribution, type Distribution } from '../support/e2e/distribution.js'
import { startSuite, type LoggedDockside } from '../support/e2e/dockside.js'
import { acceptAll, blobsOf, type BuiltImage } from '../support/e2e/images.js'
import { run } from '../support/e2e/process.js'
import { requireTools } from '../support/e2e/tools.js'
import type { Upstream } from '../support/e2e/upstream.js'

const ready = await requireTools(t, ['docker-registry', 'skopeo'])

let upstream: Upstream
let dockside: LoggedDockside
let reference: Distribution
if (ready) {
  t.before(async () => {
    ;({ upstream, dockside } = await startSuite(t))
    // The proxy discovers the upstream's token realm at start-up, so it starts after the upstream is up.
    reference = await startDistribution({ dir: tempDir(t), proxyRemoteUrl: upstream.registry.url })
    t.teardown(() => reference.stop())
  })
}

/** Dockside's name for an image (path prefix); the proxy mirrors a single upstream, so it takes the bare repository. */
function docksideName(image: BuiltImage): string {
  return image.repository.startsWith('library/') ? `docker.io/${image.repository}` : `registry.e2e.test/${image.repository}`
}

/** Every file of a dir: copy, by name. */
function files(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

if (ready) {
  t.test('skopeo copies of every image through the reference proxy and through Dockside are byte-identical', async (t) => {
    for (const image of upstream.images.all) {
      const viaReference = tempDir(t)
      const viaDockside = tempDir(t)
      const copy = (source: string, dest: string): Promise<unknown> =>
        run('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${source}:${image.tag}`, `dir:${dest}`])
      await copy(`${reference.host}/${image.repository}`, viaReference)
      await copy(`${dockside.host}/${docksideName(image)}`, viaDockside)
      const expected = files(viaReference)
      const got = files(viaDockside)
      t.same([...got.keys()].sort(), [...expected.keys()].sort(), `${image.repository}: the same files`)
      for (const [name, bytes] of expected) t.ok(got.get(name)?.equals(bytes), `${image.repository}: ${name} byte-identical`)
      t.ok(got.get('manifest.json')?.equals(image.bytes), `${image.repository}: and both are the pushed manifest`)
    }
  })

  t.test('HEAD and GET of manifests (tag and digest) and blobs: the same status, media type, digest, length and bytes', async (t) => {
    const get = client(t)
    for (const image of upstream.images.all) {
      const references = [image.tag, image.digest, ...(image.manifests.length > 1 ? image.manifests.map((m) => m.digest) : [])]
      for (const ref of references) {
        for (const method of ['HEAD', 'GET'] as const) {
          const fromReference = await get(`${reference.url}/v2/${image.repository}/manifests/${ref}`, { method, headers: { accept: acceptAll } })
          const fromDockside = await get(`${dockside.app.url}/v2/${docksideName(image)}/manifests/${ref}`, { method, headers: { accept: acceptAll } })
          const what = `${method} ${image.repository} manifest ${ref.slice(0, 19)}`
          const summary = (r: typeof fromReference): Record<string, unknown> => ({
            status: r.status,
            type: header(r.headers, 'content-type'),
            digest: header(r.headers, 'docker-content-digest'),
            length: header(r.headers, 'content-length'),
          })
          t.same(summary(fromDockside), summary(fromReference), `${what}: as the reference proxy`)
          t.ok(fromDockside.body.equals(fromReference.body), `${what}: the same body`)
        }
      }
      if (image === upstream.images.big) continue
      for (const blob of blobsOf(image)) {
        const fromReference = await get(`${reference.url}/v2/${image.repository}/blobs/${blob.digest}`)
        const fromDockside = await get(`${dockside.app.url}/v2/${docksideName(image)}/blobs/${blob.digest}`)
        t.same(
          { status: fromDockside.status, digest: header(fromDockside.headers, 'docker-content-digest'), length: header(fromDockside.headers, 'content-length') },
          { status: fromReference.status, digest: header(fromReference.headers, 'docker-content-digest'), length: header(fromReference.headers, 'content-length') },
          `${image.repository} blob ${blob.digest.slice(0, 19)}: status, digest and length as the reference`,
        )
        t.ok(fromDockside.body.equals(fromReference.body), `${image.repository} blob ${blob.digest.slice(0, 19)}: the same bytes`)
      }
    }
  })

  t.test('unknown tags and blobs: the same status and error code as the reference', async (t) => {
    const get = client(t)
    const unknownDigest = `sha256:${'1'.repeat(64)}`
    // (An unknown manifest *digest* is left out: the 2.8 proxy answers it 500 UNKNOWN, Dockside 404
    // MANIFEST_UNKNOWN as the upstream itself does; spec.test.ts checks that against the upstream.)
    for (const path of ['library/small/manifests/no-such-tag', 'library/nothing-here/manifests/1.0', `library/small/blobs/${unknownDigest}`]) {
      const fromReference = await get(`${reference.url}/v2/${path}`, { headers: { accept: acceptAll } })
      const fromDockside = await get(`${dockside.app.url}/v2/docker.io/${path}`, { headers: { accept: acceptAll } })
      const code = (body: Buffer): string | undefined => (JSON.parse(body.toString()) as { errors?: { code: string }[] }).errors?.[0]?.code
      t.same({ status: fromDockside.status, code: code(fromDockside.body) }, { status: fromReference.status, code: code(fromReference.body) }, `${path}: as the reference`)
    }
  })
}
