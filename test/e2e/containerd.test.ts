// containerd nodes pull through Dockside exactly as a Kubernetes node does: certs.d/<registry>/hosts.toml with
// the real (token-protected) upstream as `server` and Dockside as a pull/resolve mirror, `ctr images pull
// --hosts-dir`. containerd adds ?ns=<registry>, Dockside routes by it, the layers unpack, and a second node
// is served without a single upstream request.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t, { type Test } from 'tap'
import { hostsCommand } from '../../src/commands/hosts.js'
import { registryFor, tempDir } from '../support/dockside.js'
import { startContainerd, writeHostsToml, type ContainerdNode } from '../support/e2e/containerd.js'
import { describeAccess, e2eRegistries, startLoggedDockside, type LoggedDockside } from '../support/e2e/dockside.js'
import { blobsOf, type BuiltImage } from '../support/e2e/images.js'
import { requireRoot, requireTools } from '../support/e2e/tools.js'
import { startUpstream, type Upstream } from '../support/e2e/upstream.js'

const ready = (await requireTools(t, ['docker-registry', 'skopeo', 'containerd', 'ctr'])) && requireRoot(t, 'containerd')

let upstream: Upstream
if (ready) {
  t.before(async () => {
    upstream = await startUpstream(t)
  })
}

interface Pull {
  /** What the node asks for. */
  ref: string
  registry: string
  image: BuiltImage
  platform?: string
}

function pulls(): Pull[] {
  const { small, multi, schema2, familyA, familyB, familyC, tool } = upstream.images
  return [
    { ref: 'docker.io/library/small:1.0', registry: 'docker.io', image: small },
    { ref: 'docker.io/library/schema2:1.0', registry: 'docker.io', image: schema2 },
    { ref: 'docker.io/library/multi:1.0', registry: 'docker.io', image: multi, platform: 'linux/arm64' },
    { ref: 'docker.io/library/family-a:1.0', registry: 'docker.io', image: familyA },
    { ref: 'docker.io/library/family-b:1.0', registry: 'docker.io', image: familyB },
    { ref: 'docker.io/library/family-c:1.0', registry: 'docker.io', image: familyC },
    { ref: 'registry.e2e.test/team/tool:1.0', registry: 'registry.e2e.test', image: tool },
  ]
}

/** The manifests a pull of `p` needs: the one manifest, or the index entry for its platform. */
function pulledManifests(p: Pull): BuiltImage['manifests'] {
  if (p.platform === undefined) return p.image.manifests
  const architecture = p.platform.split('/')[1]
  return p.image.manifests.filter((m) => m.platform.architecture === architecture)
}

async function startNode(t: Test, dir: string): Promise<ContainerdNode> {
  const node = await startContainerd(dir)
  t.teardown(() => node.stop())
  return node
}

function checkUnpacked(t: Test, node: ContainerdNode, p: Pull): void {
  for (const manifest of pulledManifests(p)) {
    for (const file of manifest.files) {
      const contents = node.unpacked(file.path).map((path) => readFileSync(path, 'utf8'))
      t.ok(contents.includes(file.content), `${p.ref}: ${file.path} unpacked by the ${node.snapshotter} snapshotter`)
    }
  }
}

if (ready) {
  t.test('containerd pulls through Dockside via hosts.toml (?ns=), unpacks, and a second node causes no upstream request', async (t) => {
    const dockside: LoggedDockside = await startLoggedDockside(t, {
      registries: e2eRegistries(upstream.front.url),
    })
    const scratch = tempDir(t)
    const hostsDir = join(scratch, 'certs.d')
    // Rendered as `dockside hosts` renders them, for every configured registry. `server` is the upstream too
    // (through the counting front), so a fallback past Dockside would show there.
    hostsCommand(dockside.app.config, { mirror: dockside.app.url, outDir: hostsDir }, new PassThrough())
    const hostsToml = readFileSync(join(hostsDir, 'docker.io', 'hosts.toml'), 'utf8')
    t.match(hostsToml, /\nserver = "http:\/\/127\.0\.0\.1:\d+"\n\n\[host\."http:\/\/127\.0\.0\.1:\d+"\]\n {2}capabilities = \["pull", "resolve"\]\n$/)

    upstream.front.reset()
    const first = await startNode(t, join(scratch, 'n1'))
    for (const p of pulls()) {
      await first.pull(p.ref, { hostsDir, platform: p.platform })
      checkUnpacked(t, first, p)
    }
    const listed = (await first.ctr(['images', 'ls', '-q'])).stdout.toString().split('\n')
    for (const p of pulls()) t.ok(listed.includes(p.ref), `${p.ref} is listed by ctr images ls`)

    // Every request containerd sent carried ?ns= and was routed by it.
    const registryRequests = dockside.access.filter((a) => a.kind === 'manifest' || a.kind === 'blob')
    t.ok(registryRequests.length > 0, 'containerd went through Dockside')
    const nsOf = (path: string): string | null => new URL(path, 'http://x').searchParams.get('ns')
    const unrouted = registryRequests.filter((a) => a.registry === undefined || nsOf(a.path) !== a.registry || a.status !== 200)
    t.same(unrouted, [], 'every manifest and blob request carried ?ns=<registry>, was routed by it and answered 200', { access: describeAccess(dockside.access) })
    t.ok(registryRequests.some((a) => nsOf(a.path) === 'registry.e2e.test' && a.repository === 'team/tool'), 'the second namespace was routed by ns too')
    const direct = upstream.front.seen.filter((s) => s.userAgent.startsWith('containerd'))
    t.same(direct, [], 'containerd never fell back to the server itself', { upstream: upstream.front.describe() })

    // Each blob the pulls needed reached the upstream exactly once, the shared base layer included; the
    // index's other platform was never fetched.
    const needed = new Set<string>()
    for (const p of pulls()) for (const m of pulledManifests(p)) for (const d of [m.config, ...m.layers]) needed.add(d.digest)
    const notOnce = [...needed].filter((digest) => upstream.front.count({ kind: 'blob', method: 'GET', reference: digest }) !== 1)
    t.same(notOnce, [], `each of the ${needed.size} blobs the pulls needed was fetched from the upstream exactly once`, { upstream: upstream.front.describe() })
    t.equal(upstream.front.count({ kind: 'blob', method: 'GET' }), needed.size, 'no other upstream blob GET', { upstream: upstream.front.describe() })
    const amd64 = upstream.images.multi.manifests.find((m) => m.platform.architecture === 'amd64')
    t.equal(upstream.front.count({ reference: amd64?.digest }), 0, 'the amd64 manifest of the index was not fetched for an arm64 pull')
    t.equal(upstream.front.count({ reference: upstream.images.baseLayer.digest }), 1, 'the base layer shared by four images (two registries) was fetched once')

    // A second node (fresh root) pulls the same images: Dockside answers everything from its cache.
    upstream.front.reset()
    const before = dockside.access.length
    const second = await startNode(t, join(scratch, 'n2'))
    for (const p of pulls()) {
      await second.pull(p.ref, { hostsDir, platform: p.platform })
      checkUnpacked(t, second, p)
    }
    t.equal(upstream.front.count({ kind: 'blob' }), 0, 'no upstream blob request for the second node')
    t.same(upstream.front.seen, [], 'no upstream request at all while the tags are fresh', { upstream: upstream.front.describe() })
    const again = dockside.access.slice(before).filter((a) => a.kind === 'blob' && a.method === 'GET')
    t.ok(again.length >= needed.size, 'the second node fetched every blob from Dockside')
    t.same(again.filter((a) => a.outcome !== 'hit'), [], 'every blob was a cache hit')
  })

  t.test('a mirror that refuses a registry makes containerd fall back to the server (hosts.toml order)', async (t) => {
    // Dockside knows only docker.io here: for registry.e2e.test it answers 403 DENIED, and containerd must
    // then use `server`, as the docs promise ("pulls keep working if Dockside is down").
    const dockside = await startLoggedDockside(t, { registries: [registryFor('docker.io', upstream.front.url, { shortNamePrefix: 'library' })] })
    const scratch = tempDir(t)
    const hostsDir = join(scratch, 'certs.d')
    writeHostsToml(hostsDir, 'registry.e2e.test', upstream.front.url, dockside.app.url)
    const node = await startNode(t, join(scratch, 'n'))
    upstream.front.reset()
    const tool = upstream.images.tool
    await node.pull('registry.e2e.test/team/tool:1.0', { hostsDir })
    checkUnpacked(t, node, { ref: 'registry.e2e.test/team/tool:1.0', registry: 'registry.e2e.test', image: tool })
    t.ok(dockside.access.some((a) => a.status === 403 && a.path.includes('ns=registry.e2e.test')), 'Dockside refused the unconfigured registry', { access: describeAccess(dockside.access) })
    const direct = upstream.front.filter({ kind: 'blob', method: 'GET' }).filter((s) => s.userAgent.startsWith('containerd'))
    t.equal(direct.length, blobsOf(tool).length, 'containerd then fetched every blob from the server itself', { upstream: upstream.front.describe() })
  })
}
