import t from 'tap'
import { ociError } from '../support/thrown.js'
import type { RegistryConfig } from '../../src/config/config.js'
import { RegistryRouter } from '../../src/upstream/router.js'

function registry(namespace: string, extra: Partial<RegistryConfig> = {}): RegistryConfig {
  return {
    namespace,
    aliases: [],
    url: `https://${namespace}`,
    shortNamePrefix: undefined,
    manifestTtlMs: undefined,
    credentials: undefined,
    ...extra,
  }
}

const hub = registry('docker.io', { aliases: ['index.docker.io', 'registry-1.docker.io'], url: 'https://registry-1.docker.io', shortNamePrefix: 'library' })
const ghcr = registry('ghcr.io')
const k8s = registry('registry.k8s.io', { aliases: ['k8s.gcr.io'] })
const local = registry('registry.local:5000')
const router = new RegistryRouter([hub, ghcr, k8s, local], 'docker.io')


t.test('the ns parameter picks the registry and the whole name is the repository', async (t) => {
  const route = router.route('org/app', 'ghcr.io')
  t.equal(route.registry, ghcr)
  t.equal(route.repository, 'org/app')
})

t.test('the ns parameter matches aliases and ignores letter case', async (t) => {
  t.equal(router.route('pause', 'K8S.GCR.IO').registry, k8s)
  t.equal(router.route('org/app', 'GHCR.io').registry, ghcr)
})

t.test('with ns, a first segment that names a registry stays part of the repository', async (t) => {
  t.strictSame(router.route('ghcr.io/org/app', 'docker.io'), { registry: hub, repository: 'ghcr.io/org/app' })
})

t.test('a one-part docker.io name gets library/ in front', async (t) => {
  t.strictSame(router.route('nginx', 'docker.io'), { registry: hub, repository: 'library/nginx' })
  t.strictSame(router.route('docker.io/nginx', null), { registry: hub, repository: 'library/nginx' })
  t.strictSame(router.route('nginx', null), { registry: hub, repository: 'library/nginx' })
})

t.test('a docker.io name with a slash gets no library/ prefix', async (t) => {
  t.strictSame(router.route('bitnami/redis', 'docker.io'), { registry: hub, repository: 'bitnami/redis' })
  t.strictSame(router.route('library/nginx', null), { registry: hub, repository: 'library/nginx' })
})

t.test('a one-part name on a registry without shortNamePrefix is kept as is', async (t) => {
  t.strictSame(router.route('app', 'ghcr.io'), { registry: ghcr, repository: 'app' })
  t.strictSame(router.route('ghcr.io/app', null), { registry: ghcr, repository: 'app' })
})

t.test('a first path segment naming a registry routes there and is stripped', async (t) => {
  t.strictSame(router.route('ghcr.io/org/team/app', null), { registry: ghcr, repository: 'org/team/app' })
  t.strictSame(router.route('registry.local:5000/tools/jq', null), { registry: local, repository: 'tools/jq' })
})

t.test('a first path segment naming an alias routes to its registry', async (t) => {
  t.strictSame(router.route('index.docker.io/nginx', null), { registry: hub, repository: 'library/nginx' })
  t.strictSame(router.route('registry-1.docker.io/bitnami/redis', null), { registry: hub, repository: 'bitnami/redis' })
  t.strictSame(router.route('k8s.gcr.io/pause', null), { registry: k8s, repository: 'pause' })
})

t.test('the first path segment matches a registry whatever its letter case', async (t) => {
  t.strictSame(router.route('GHCR.IO/org/app', null), { registry: ghcr, repository: 'org/app' })
})

t.test('a name whose first segment is no host goes to the default registry whole', async (t) => {
  t.strictSame(router.route('bitnami/redis', null), { registry: hub, repository: 'bitnami/redis' })
  t.strictSame(router.route('a/b/c', null), { registry: hub, repository: 'a/b/c' })
})

t.test('the default registry is whichever namespace the router was given', async (t) => {
  const r = new RegistryRouter([hub, ghcr], 'ghcr.io')
  t.strictSame(r.route('org/app', null), { registry: ghcr, repository: 'org/app' })
  t.strictSame(r.route('app', null), { registry: ghcr, repository: 'app' })
  t.strictSame(r.route('docker.io/nginx', null), { registry: hub, repository: 'library/nginx' })
})

t.test('a host-looking first segment of an unconfigured registry is refused with DENIED', async (t) => {
  for (const [name, host] of [
    ['evil.example.com/app', 'evil.example.com'],
    ['quay.io/org/app', 'quay.io'],
    ['myhost:5000/app', 'myhost:5000'],
    ['localhost/app', 'localhost'],
  ]) {
    const err = ociError(() => router.route(name as string, null))
    t.equal(err.code, 'DENIED', name)
    t.equal(err.status, 403)
    t.equal(err.message, `registry ${JSON.stringify(host)} is not configured on this mirror`)
    t.strictSame(err.detail, { registry: host })
  }
})

t.test('an unknown ns parameter is refused with DENIED', async (t) => {
  const err = ociError(() => router.route('org/app', 'quay.io'))
  t.equal(err.code, 'DENIED')
  t.equal(err.status, 403)
  t.equal(err.message, 'registry "quay.io" is not configured on this mirror')
  t.strictSame(err.detail, { registry: 'quay.io' })
})

t.test('an empty ns parameter is refused rather than ignored', async (t) => {
  t.equal(ociError(() => router.route('org/app', '')).code, 'DENIED')
})

t.test('invalid repository names are NAME_INVALID', async (t) => {
  for (const [name, ns] of [
    ['Nginx', null],
    ['library/Nginx', 'docker.io'],
    ['bitnami//redis', null],
    ['ghcr.io/org/App', null],
    ['ghcr.io/', null],
    ['org/app/', 'ghcr.io'],
    ['-app', 'ghcr.io'],
  ] as const) {
    const err = ociError(() => router.route(name, ns))
    t.equal(err.code, 'NAME_INVALID', `${name} ns=${ns}`)
    t.equal(err.status, 400)
  }
})

t.test('the name checked is the one sent upstream, library/ prefix included', async (t) => {
  const long = 'a'.repeat(250)
  t.equal(router.route(long, 'ghcr.io').repository, long)
  const err = ociError(() => router.route(long, 'docker.io'))
  t.equal(err.code, 'NAME_INVALID')
  t.equal(err.message, `invalid repository name: ${JSON.stringify(`library/${long}`)}`)
})

t.test('find looks a registry up by namespace or alias, case-insensitively', async (t) => {
  t.equal(router.find('docker.io'), hub)
  t.equal(router.find('Index.Docker.IO'), hub)
  t.equal(router.find('k8s.gcr.io'), k8s)
  t.equal(router.find('quay.io'), undefined)
})

t.test('registries lists each registry once, aliases notwithstanding', async (t) => {
  t.strictSame(router.registries, [hub, ghcr, k8s, local])
})

t.test('a default namespace that no registry has is refused at construction', async (t) => {
  t.throws(() => new RegistryRouter([ghcr], 'docker.io'), new Error('default registry docker.io is not configured'))
})

t.test('the default namespace may be given as an alias', async (t) => {
  const r = new RegistryRouter([hub], 'index.docker.io')
  t.equal(r.route('nginx', null).registry, hub)
})
