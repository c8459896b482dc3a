// What Dockside costs the upstream, counted by a front between Dockside and the real registry: a second
// pull of every image makes no blob request and, with a manifest TTL of 0, only HEAD revalidations of the
// tags; a moved tag costs one manifest GET; two nodes pulling a 200 MB image at once share one download.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { defaultConfig } from '../../src/config/config.js'
import { registryFor, tempDir } from '../support/dockside.js'
import { startContainerd, writeHostsToml } from '../support/e2e/containerd.js'
import { CountingProxy } from '../support/e2e/counting-proxy.js'
import { describeAccess, e2eRegistries, startLoggedDockside } from '../support/e2e/dockside.js'
import { bigLayerBytes, blobsOf, pushImage, type BuiltImage } from '../support/e2e/images.js'
import { run } from '../support/e2e/process.js'
import { pushUser } from '../support/e2e/token-server.js'
import { requireRoot, requireTools } from '../support/e2e/tools.js'
import { startUpstream, type Upstream } from '../support/e2e/upstream.js'

const ready = (await requireTools(t, ['docker-registry', 'skopeo', 'containerd', 'ctr'])) && requireRoot(t, 'containerd')

let upstream: Upstream
if (ready) {
  t.before(async () => {
    upstream = await startUpstream(t, { big: true })
  })
}

function clientName(image: BuiltImage): string {
  return image.repository.startsWith('library/') ? `docker.io/${image.repository}` : `registry.e2e.test/${image.repository}`
}

if (ready) {
  t.test('a second pull of every image: no upstream blob request, only HEAD revalidations of the tags (manifest TTL 0)', async (t) => {
    const ttl0 = { manifestTtlMs: 0 }
    const dockside = await startLoggedDockside(t, {
      registries: e2eRegistries(upstream.front.url, ttl0),
    })
    const images = upstream.images.all.filter((image) => image !== upstream.images.big)
    const pullAll = async (): Promise<void> => {
      for (const image of images) {
        const dir = tempDir(t)
        await run('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${dockside.host}/${clientName(image)}:${image.tag}`, `dir:${dir}`])
        t.ok(readFileSync(join(dir, 'manifest.json')).equals(image.bytes), `${clientName(image)}: exact manifest`)
      }
    }

    upstream.front.reset()
    await pullAll()
    const blobs = new Set(images.flatMap((image) => blobsOf(image).map((b) => b.digest)))
    const fetchedTwice = [...blobs].filter((digest) => upstream.front.count({ kind: 'blob', method: 'GET', reference: digest }) !== 1)
    t.same(fetchedTwice, [], 'first pull: every blob fetched from the upstream exactly once (the shared base layer too)', { upstream: upstream.front.describe() })
    t.equal(upstream.front.count({ kind: 'blob', method: 'GET' }), blobs.size, 'first pull: no other blob GET')

    upstream.front.reset()
    const before = dockside.access.length
    await pullAll()
    t.equal(upstream.front.count({ kind: 'blob' }), 0, 'second pull: no upstream blob request', { upstream: upstream.front.describe() })
    const tags = new Map(images.map((image) => [image.repository, image.tag]))
    const other = upstream.front.seen.filter((s) => !(s.method === 'HEAD' && s.kind === 'manifest' && s.name !== undefined && tags.get(s.name) === s.reference))
    t.same(other, [], 'second pull: the upstream saw only HEADs of tags', { upstream: upstream.front.describe() })
    for (const image of images) {
      t.ok(upstream.front.count({ method: 'HEAD', kind: 'manifest', name: image.repository, reference: image.tag }) >= 1, `${image.repository}:${image.tag} was revalidated with HEAD`)
    }
    const tagAnswers = dockside.access.slice(before).filter((a) => a.kind === 'manifest' && tags.get(a.repository ?? '') !== undefined && a.path.includes(`/manifests/${tags.get(a.repository ?? '')}`))
    t.ok(tagAnswers.length >= images.length, 'every tag was asked for again')
    t.same(tagAnswers.filter((a) => a.outcome !== 'revalidated'), [], 'every tag answer was revalidated', { access: describeAccess(tagAnswers) })
    const blobAnswers = dockside.access.slice(before).filter((a) => a.kind === 'blob')
    t.same(blobAnswers.filter((a) => a.outcome !== 'hit'), [], 'every blob answer was a hit')
  })

  t.test('a moved tag costs one manifest GET and no blob already cached', async (t) => {
    const dockside = await startLoggedDockside(t, { registries: [registryFor('docker.io', upstream.front.url, { shortNamePrefix: 'library', manifestTtlMs: 0 })] })
    const { familyA, familyB } = upstream.images
    const copy = async (): Promise<Buffer> => {
      const dir = tempDir(t)
      await run('skopeo', ['copy', '--preserve-digests', '--src-tls-verify=false', `docker://${dockside.host}/docker.io/library/moving:1.0`, `dir:${dir}`])
      return readFileSync(join(dir, 'manifest.json'))
    }
    await pushImage(upstream.images, familyA, `${upstream.registry.host}/library/moving:1.0`, pushUser)
    // family-b's blobs are in the cache already (its base layer is family-a's).
    for (const blob of blobsOf(familyB)) {
      const res = await fetch(`${dockside.app.url}/v2/docker.io/library/family-b/blobs/${blob.digest}`)
      await res.arrayBuffer()
    }
    t.ok((await copy()).equals(familyA.bytes), 'the tag first points at family-a')
    await pushImage(upstream.images, familyB, `${upstream.registry.host}/library/moving:1.0`, pushUser)
    upstream.front.reset()
    t.ok((await copy()).equals(familyB.bytes), 'after the push it is family-b')
    t.equal(upstream.front.count({ kind: 'blob' }), 0, 'no blob fetched: all of family-b was cached', { upstream: upstream.front.describe() })
    t.equal(upstream.front.count({ kind: 'manifest', method: 'HEAD', reference: '1.0' }), 1, 'one HEAD saw the digest move', { upstream: upstream.front.describe() })
    t.equal(upstream.front.count({ kind: 'manifest', method: 'GET' }), 1, 'and one GET fetched the new manifest')
  })

  t.test('two nodes pulling a 200 MB image at once share one upstream download; a third node causes no upstream GET', async (t) => {
    const big = upstream.images.big
    const layer = big?.manifests[0]?.layers[0]
    if (!big || !layer) throw new Error('the big image was built')
    const dockside = await startLoggedDockside(t, {
      registries: [registryFor('docker.io', upstream.front.url, { shortNamePrefix: 'library' })],
      config: { upstream: { ...defaultConfig.upstream, retries: 0, bodyTimeoutMs: 120_000 } },
    })
    // A second counting front, on the clients' side, shows when both nodes are attached to the download.
    const clientSide = await CountingProxy.start(dockside.app.url)
    t.teardown(() => clientSide.close())
    const scratch = tempDir(t)
    const hostsDir = join(scratch, 'certs.d')
    writeHostsToml(hostsDir, 'docker.io', upstream.front.url, clientSide.url)
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((name) => startContainerd(join(scratch, name))))
    for (const node of nodes) t.teardown(() => node.stop())
    const [n1, n2, n3] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]]

    upstream.front.reset()
    // The upstream's answer for the big layer stops after its first 64 KiB until both nodes are reading it.
    const gate = upstream.front.hold((s) => s.kind === 'blob' && s.reference === layer.digest)
    const pulls = [n1, n2].map((node) => node.pull('docker.io/library/big:1.0', { hostsDir }))
    const settled = Promise.allSettled(pulls)
    await clientSide.headersSent({ kind: 'blob', method: 'GET', reference: layer.digest }, 2)
    t.equal(upstream.front.count({ kind: 'blob', method: 'GET', reference: layer.digest }), 1, 'both nodes attached while one upstream download was in flight')
    gate.release()
    const results = await settled
    t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled'], 'both pulls succeeded', { errors: results.map((r) => (r.status === 'rejected' ? String(r.reason) : '')) })
    t.equal(upstream.front.count({ kind: 'blob', method: 'GET', reference: layer.digest }), 1, 'the 200 MB layer was fetched from the upstream once')
    const outcomes = dockside.access.filter((a) => a.kind === 'blob' && a.path.includes(layer.digest)).map((a) => a.outcome)
    t.same(outcomes.sort(), ['coalesced', 'miss'], 'one miss, one coalesced')
    for (const node of [n1, n2]) {
      const files = node.unpacked('e2e/big.bin')
      t.ok(files.length === 1 && statSync(files[0] as string).size === bigLayerBytes, `${node.dir}: the 200 MB file unpacked`)
    }

    upstream.front.reset()
    await n3.pull('docker.io/library/big:1.0', { hostsDir })
    t.equal(upstream.front.count({ kind: 'blob' }), 0, 'a third node: no upstream blob request', { upstream: upstream.front.describe() })
    const third = dockside.access.filter((a) => a.kind === 'blob' && a.path.includes(layer.digest)).slice(2)
    t.same(third.map((a) => a.outcome), ['hit'], 'the third node read the layer from the cache')
    const files = n3.unpacked('e2e/big.bin')
    t.ok(files.length === 1 && statSync(files[0] as string).size === bigLayerBytes, 'the third node unpacked it too')
  })
}
