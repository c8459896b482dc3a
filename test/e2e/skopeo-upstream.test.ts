// skopeo against the real, token-protected Distribution upstream through Dockside: addressed directly with a
// path prefix (127.0.0.1:PORT/<registry>/<repo>:<tag>) and through a registries.conf mirror, with the exact
// manifest and blob bytes that were pushed, for an OCI image, an OCI index, a schema2 image and a second
// registry namespace.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../support/dockside.js'
import { describeAccess, startSuite, type LoggedDockside } from '../support/e2e/dockside.js'
import { acceptAll, blobsOf, readBlob, type BuiltImage } from '../support/e2e/images.js'
import { run } from '../support/e2e/process.js'
import { requireTools } from '../support/e2e/tools.js'
import type { Upstream } from '../support/e2e/upstream.js'

const ready = await requireTools(t, ['docker-registry', 'skopeo'])

let upstream: Upstream
let dockside: LoggedDockside
if (ready) {
  t.before(async () => {
    ;({ upstream, dockside } = await startSuite(t))
  })
}

/** The name a client uses for an image of the catalogue: docker.io/<repo> or registry.e2e.test/<repo>. */
function clientName(image: BuiltImage): string {
  return image.repository.startsWith('library/') ? `docker.io/${image.repository}` : `registry.e2e.test/${image.repository}`
}

/** A dir: copy holds the image exactly as pushed: the top manifest, every instance manifest, every blob. */
function checkDirCopy(t: Test, dir: string, image: BuiltImage, what: string): void {
  t.ok(readFileSync(join(dir, 'manifest.json')).equals(image.bytes), `${what}: manifest.json is the exact upstream manifest`)
  if (image.manifests.length > 1) {
    for (const manifest of image.manifests) {
      const file = join(dir, `${manifest.digest.slice('sha256:'.length)}.manifest.json`)
      t.ok(existsSync(file) && readFileSync(file).equals(manifest.bytes), `${what}: ${manifest.platform.architecture} manifest, exact bytes`)
    }
  }
  for (const blob of blobsOf(image)) {
    const file = join(dir, blob.digest.slice('sha256:'.length))
    t.ok(existsSync(file) && readFileSync(file).equals(readBlob(upstream.images, blob.digest)), `${what}: blob ${blob.digest.slice(0, 19)} exact bytes`)
  }
}

if (ready) {
  t.test('skopeo copy by path prefix (127.0.0.1:PORT/<registry>/<repo>:<tag>) gives the exact pushed image', async (t) => {
    const { small, multi, schema2, tool } = upstream.images
    const before = dockside.access.length
    for (const image of [small, multi, schema2, tool]) {
      const dir = tempDir(t)
      await run('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${dockside.host}/${clientName(image)}:${image.tag}`, `dir:${dir}`])
      checkDirCopy(t, dir, image, clientName(image))
    }
    const access = dockside.access.slice(before).filter((a) => a.kind === 'manifest' || a.kind === 'blob')
    const wrong = access.filter((a) => !a.path.startsWith(`/v2/${a.registry}/`) || a.path.includes('ns=') || a.status !== 200)
    t.same(wrong, [], 'every request named its registry as the first path segment and was answered 200', { access: describeAccess(access) })
    t.ok(access.some((a) => a.registry === 'registry.e2e.test'), 'the second namespace was reached by its path prefix')
  })

  t.test('skopeo through a registries.conf mirror (location 127.0.0.1:PORT/<registry>, insecure)', async (t) => {
    const scratch = tempDir(t)
    const conf = join(scratch, 'registries.conf')
    const mirror = (registry: string): string => `[[registry]]\nprefix = "${registry}"\nlocation = "${registry}"\n\n[[registry.mirror]]\nlocation = "${dockside.host}/${registry}"\ninsecure = true\n`
    writeFileSync(conf, `${mirror('docker.io')}\n${mirror('registry.e2e.test')}`)
    const { familyA, multi, tool } = upstream.images
    const before = dockside.access.length
    for (const image of [familyA, tool]) {
      const dir = join(scratch, image.repository.replaceAll('/', '_'))
      // The real docker.io and registry.e2e.test are unreachable here: only the mirror can answer.
      await run('skopeo', ['--registries-conf', conf, 'copy', '--preserve-digests', `docker://${clientName(image)}:${image.tag}`, `dir:${dir}`])
      checkDirCopy(t, dir, image, `${clientName(image)} via the mirror`)
    }
    // A platform pick from the index: the arm64 instance, by digest, through the mirror.
    const arm64 = multi.manifests.find((m) => m.platform.architecture === 'arm64')
    if (!arm64) throw new Error('multi has an arm64 manifest')
    const dir = join(scratch, 'multi-arm64')
    await run('skopeo', ['--registries-conf', conf, '--override-arch', 'arm64', '--override-os', 'linux', 'copy', '--preserve-digests', `docker://docker.io/library/multi:1.0`, `dir:${dir}`])
    t.ok(readFileSync(join(dir, 'manifest.json')).equals(arm64.bytes), 'the arm64 manifest, exact bytes')
    t.same(readdirSync(dir).sort(), ['manifest.json', 'version', ...[arm64.config, ...arm64.layers].map((d) => d.digest.slice('sha256:'.length))].sort(), 'only the arm64 blobs were copied')

    const access = dockside.access.slice(before).filter((a) => a.kind === 'manifest' || a.kind === 'blob')
    t.ok(access.length > 0, 'the mirror was used')
    const wrong = access.filter((a) => !a.path.startsWith(`/v2/${a.registry}/`) || a.status !== 200)
    t.same(wrong, [], 'the mirror location put the registry in the path, and every request was answered 200', { access: describeAccess(access) })
  })

  t.test('skopeo inspect --raw: the exact upstream bytes for an index, an OCI manifest and a schema2 manifest, by tag and digest', async (t) => {
    const { small, multi, schema2 } = upstream.images
    for (const image of [multi, small, schema2]) {
      const expected = await upstream.fetch(`/v2/${image.repository}/manifests/${image.tag}`, { accept: acceptAll })
      t.equal(expected.headers['content-type'], image.mediaType, `the upstream serves ${image.repository} as ${image.mediaType}`)
      const byTag = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dockside.host}/${clientName(image)}:${image.tag}`])
      t.ok(byTag.stdout.equals(expected.body), `${image.mediaType} by tag: exact bytes`)
      const byDigest = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dockside.host}/${clientName(image)}@${image.digest}`])
      t.ok(byDigest.stdout.equals(expected.body), `${image.mediaType} by digest: exact bytes`)
    }
    for (const manifest of multi.manifests) {
      const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${dockside.host}/docker.io/library/multi@${manifest.digest}`])
      t.ok(raw.stdout.equals(manifest.bytes), `index entry ${manifest.platform.architecture}: exact bytes`)
    }
    // skopeo inspect (not raw) reads the config blob too: the platform picked from the index is the one asked for.
    for (const arch of ['amd64', 'arm64']) {
      const out = await run('skopeo', ['inspect', '--override-arch', arch, '--override-os', 'linux', '--tls-verify=false', `docker://${dockside.host}/docker.io/library/multi:1.0`])
      const info = JSON.parse(out.stdout.toString()) as { Architecture: string; Labels: Record<string, string>; Digest: string }
      t.equal(info.Architecture, arch, `${arch}: the config of the ${arch} instance`)
      t.equal(info.Labels['org.example.e2e'], `multi-${arch}`, `${arch}: its label`)
      t.equal(info.Digest, multi.digest, `${arch}: the digest skopeo reports is the index's`)
    }
  })
}
