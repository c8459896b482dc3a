import t from 'tap'
import { parseApiPath } from '../../src/http/api-path.js'

const digest = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

t.test('/v2/ and /v2 are the base endpoint', async (t) => {
  t.strictSame(parseApiPath('/v2/'), { kind: 'base' })
  t.strictSame(parseApiPath('/v2'), { kind: 'base' })
})

t.test('a manifest path gives the name and the tag', async (t) => {
  t.strictSame(parseApiPath('/v2/nginx/manifests/latest'), { kind: 'manifest', name: 'nginx', reference: 'latest' })
})

t.test('a manifest path gives the name and a digest reference', async (t) => {
  t.strictSame(parseApiPath(`/v2/library/nginx/manifests/${digest}`), { kind: 'manifest', name: 'library/nginx', reference: digest })
})

t.test('a name with several slashes is kept whole', async (t) => {
  t.strictSame(parseApiPath('/v2/ghcr.io/org/team/app/manifests/v1.2.3'), {
    kind: 'manifest',
    name: 'ghcr.io/org/team/app',
    reference: 'v1.2.3',
  })
  t.strictSame(parseApiPath(`/v2/a/b/c/d/blobs/${digest}`), { kind: 'blob', name: 'a/b/c/d', digest })
})

t.test('a name that contains an endpoint word keeps it', async (t) => {
  t.strictSame(parseApiPath('/v2/org/manifests/app/manifests/latest'), { kind: 'manifest', name: 'org/manifests/app', reference: 'latest' })
  t.strictSame(parseApiPath(`/v2/org/blobs/${digest.slice(0, 10)}/blobs/${digest}`), {
    kind: 'blob',
    name: `org/blobs/${digest.slice(0, 10)}`,
    digest,
  })
})

t.test('a blob path gives the name and the digest', async (t) => {
  t.strictSame(parseApiPath(`/v2/library/nginx/blobs/${digest}`), { kind: 'blob', name: 'library/nginx', digest })
})

t.test('the digest is passed on unchecked, to be validated later', async (t) => {
  t.strictSame(parseApiPath('/v2/app/blobs/not-a-digest'), { kind: 'blob', name: 'app', digest: 'not-a-digest' })
})

t.test('blob upload paths are uploads, with or without a session id', async (t) => {
  t.strictSame(parseApiPath('/v2/org/app/blobs/uploads/'), { kind: 'upload', name: 'org/app' })
  t.strictSame(parseApiPath('/v2/org/app/blobs/uploads'), { kind: 'upload', name: 'org/app' })
  t.strictSame(parseApiPath('/v2/org/app/blobs/uploads/3f1c9b2e-uuid'), { kind: 'upload', name: 'org/app' })
  t.strictSame(parseApiPath('/v2/a/b/c/blobs/uploads/x/y'), { kind: 'upload', name: 'a/b/c' })
})

t.test('tags/list gives the name', async (t) => {
  t.strictSame(parseApiPath('/v2/library/nginx/tags/list'), { kind: 'tags', name: 'library/nginx' })
  t.strictSame(parseApiPath('/v2/docker.io/bitnami/redis/tags/list'), { kind: 'tags', name: 'docker.io/bitnami/redis' })
})

t.test('a referrers path gives the name and the digest', async (t) => {
  t.strictSame(parseApiPath(`/v2/org/app/referrers/${digest}`), { kind: 'referrers', name: 'org/app', digest })
})

t.test('paths that are no Distribution API path give undefined', async (t) => {
  for (const path of [
    '/',
    '',
    '/metrics',
    '/healthz',
    '/v1/nginx/manifests/latest',
    '/v2x/nginx/manifests/latest',
    '/v2/nginx',
    '/v2/nginx/',
    '/v2/nginx/manifests',
    '/v2/nginx/manifests/',
    '/v2/nginx/manifests/latest/extra',
    '/v2/nginx/blobs/',
    '/v2/nginx/tags',
    '/v2/nginx/tags/list/',
    '/v2/nginx/referrers/',
    '/v2/_catalog',
    '/v2//manifests/latest',
    '/prefix/v2/nginx/manifests/latest',
  ]) {
    t.equal(parseApiPath(path), undefined, JSON.stringify(path))
  }
})
