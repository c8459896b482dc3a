// The pull API at the HTTP level, against the real upstream: what Dockside answers (status, media type,
// digest, length, bytes, error codes) is what the Distribution registry itself answers for the same request.
import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { client } from '../support/dockside.js'
import { startSuite, type LoggedDockside } from '../support/e2e/dockside.js'
import { acceptAll, blobsOf, mediaTypes, readBlob } from '../support/e2e/images.js'
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

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** The headers a client relies on, as the upstream or Dockside sent them. */
function essentials(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const one = (name: string): string | undefined => {
    const value = headers[name]
    return Array.isArray(value) ? value.join(', ') : value
  }
  return { 'content-type': one('content-type'), 'content-length': one('content-length'), 'docker-content-digest': one('docker-content-digest') }
}

/** Dockside's path for an upstream repository: docker.io by path prefix, the second namespace by ?ns=. */
function viaDockside(repository: string, rest: string): string {
  if (repository.startsWith('library/')) return `${dockside.app.url}/v2/docker.io/${repository}/${rest}`
  return `${dockside.app.url}/v2/${repository}/${rest}?ns=registry.e2e.test`
}

if (ready) {
  t.test('GET /v2/ answers like a registry', async (t) => {
    const get = client(t)
    const res = await get(`${dockside.app.url}/v2/`)
    t.equal(res.status, 200)
    t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0')
    t.same(JSON.parse(res.body.toString()), {})
  })

  const variants: Record<string, string> = {
    'every type (multi-platform client)': acceptAll,
    'OCI index and manifest': `${mediaTypes.ociIndex}, ${mediaTypes.ociManifest}`,
    'Docker list and schema2 only': `${mediaTypes.dockerManifestList}, ${mediaTypes.dockerManifest}`,
    'OCI manifest only': mediaTypes.ociManifest,
  }

  /** Asks the upstream and Dockside the same thing (HEAD, then GET) and compares the answers. */
  async function compareManifest(t: Test, get: ReturnType<typeof client>, repository: string, reference: string, variant: string): Promise<void> {
    const accept = variants[variant] as string
    const expected = await upstream.fetch(`/v2/${repository}/manifests/${reference}`, { accept })
    if (expected.headers['content-type'] === 'application/vnd.docker.distribution.manifest.v1+prettyjws') return // re-signed on each request
    const what = `${repository}@${reference.length > 20 ? reference.slice(0, 19) : reference} accepting ${variant}`
    for (const method of ['HEAD', 'GET'] as const) {
      const res = await get(viaDockside(repository, `manifests/${reference}`), { method, headers: { accept } })
      const code = (body: Buffer): string | undefined => (body.length === 0 ? undefined : (JSON.parse(body.toString()) as { errors?: { code: string }[] }).errors?.[0]?.code)
      if (expected.status !== 200) {
        t.same({ status: res.status, code: method === 'GET' ? code(res.body) : undefined }, { status: expected.status, code: method === 'GET' ? code(expected.body) : undefined }, `${method} ${what}: ${expected.status} as upstream`)
        continue
      }
      t.same({ status: res.status, ...essentials(res.headers) }, { status: 200, ...essentials(expected.headers) }, `${method} ${what}: status, type, length and digest as upstream`)
      if (method === 'GET') t.ok(res.body.equals(expected.body), `GET ${what}: the exact upstream bytes`)
    }
  }

  t.test('manifests by tag: HEAD and GET agree with the upstream for every Accept variant (the answer is cached per Accept)', async (t) => {
    const get = client(t)
    for (const image of upstream.images.all) {
      for (const variant of Object.keys(variants)) await compareManifest(t, get, image.repository, image.tag, variant)
      // Again, now that every variant is cached: still each client's own answer.
      for (const variant of Object.keys(variants)) await compareManifest(t, get, image.repository, image.tag, variant)
    }
  })

  t.test('manifests by digest: HEAD and GET agree with the upstream when the Accept allows the type', async (t) => {
    const get = client(t)
    for (const image of upstream.images.all) {
      const manifests = [{ digest: image.digest, mediaType: image.mediaType }, ...(image.manifests.length > 1 ? image.manifests : [])]
      for (const { digest, mediaType } of manifests) {
        for (const [variant, accept] of Object.entries(variants)) {
          if (accept.includes(mediaType)) await compareManifest(t, get, image.repository, digest, variant)
        }
      }
    }
  })

  t.test('manifests by digest with an Accept that excludes the type: the upstream says 404 MANIFEST_UNKNOWN', async (t) => {
    // Distribution 2.8 refuses an OCI manifest or index to a client that does not accept it, even by digest;
    // Dockside, holding it in cache, must not hand it over either, but ask the upstream with that Accept.
    const get = client(t)
    for (const image of [upstream.images.small, upstream.images.multi]) {
      await get(viaDockside(image.repository, `manifests/${image.digest}`), { headers: { accept: acceptAll } }) // cached now
      for (const [variant, accept] of Object.entries(variants)) {
        if (!accept.includes(image.mediaType)) {
          await compareManifest(t, get, image.repository, image.digest, variant)
        }
      }
    }
  })

  t.test('a client that accepts only schema1 gets the signed schema1 manifest the upstream converts to', async (t) => {
    // Distribution converts a schema2 manifest for such a client (old Docker engines) and signs it on each
    // request; its Docker-Content-Digest is the digest of the payload without the signatures, not of the
    // bytes, and Dockside verifies it that way.
    const get = client(t)
    const schema1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws'
    const image = upstream.images.schema2
    const expected = await upstream.fetch(`/v2/${image.repository}/manifests/${image.tag}`, { accept: schema1 })
    t.equal(expected.status, 200, 'the upstream converts')
    t.equal(expected.headers['content-type'], schema1)
    const res = await get(viaDockside(image.repository, `manifests/${image.tag}`), { headers: { accept: schema1 } })
    t.same(
      { status: res.status, type: res.headers['content-type'], digest: res.headers['docker-content-digest'] },
      { status: 200, type: schema1, digest: expected.headers['docker-content-digest'] },
      'Dockside passes the converted manifest on, with the upstream digest',
      { body: res.body.toString().slice(0, 300) },
    )
  })

  t.test('blobs: HEAD and GET agree with the upstream; a HEAD on a miss downloads nothing', async (t) => {
    const get = client(t)
    const image = upstream.images.schema2
    upstream.front.reset()
    for (const blob of blobsOf(image)) {
      const path = `/v2/${image.repository}/blobs/${blob.digest}`
      const expected = await upstream.fetch(path, { method: 'HEAD' })
      const head = await get(viaDockside(image.repository, `blobs/${blob.digest}`), { method: 'HEAD' })
      t.equal(head.status, 200)
      t.equal(head.headers['docker-content-digest'], blob.digest, 'HEAD: digest')
      t.equal(head.headers['content-length'], expected.headers['content-length'], 'HEAD: length as upstream')
      t.equal(Number(head.headers['content-length']), blob.size)
    }
    t.equal(upstream.front.count({ kind: 'blob', method: 'GET' }), 0, 'HEADs on uncached blobs fetched no blob', { upstream: upstream.front.describe() })
    for (const blob of blobsOf(image)) {
      const res = await get(viaDockside(image.repository, `blobs/${blob.digest}`))
      t.equal(res.status, 200)
      t.equal(res.headers['docker-content-digest'], blob.digest, 'GET: digest')
      t.equal(Number(res.headers['content-length']), blob.size, 'GET: length')
      t.equal(sha256(res.body), blob.digest, 'GET: the bytes hash to the digest')
      t.ok(res.body.equals(readBlob(upstream.images, blob.digest)), 'GET: the bytes pushed')
    }
  })

  t.test('Range on blobs: 206 with the upstream bytes, on a miss and on a hit', async (t) => {
    const get = client(t)
    const image = upstream.images.small
    const layer = image.manifests[0]?.layers[0]
    if (!layer) throw new Error('small has a layer')
    const bytes = readBlob(upstream.images, layer.digest)
    const url = viaDockside(image.repository, `blobs/${layer.digest}`)
    for (const round of ['miss', 'hit']) {
      for (const [range, start, end] of [
        ['bytes=10-99', 10, 99],
        ['bytes=0-0', 0, 0],
        [`bytes=${bytes.length - 20}-`, bytes.length - 20, bytes.length - 1],
        ['bytes=-16', bytes.length - 16, bytes.length - 1],
      ] as const) {
        const res = await get(url, { headers: { range } })
        t.equal(res.status, 206, `${round}: ${range} -> 206`)
        t.equal(res.headers['content-range'], `bytes ${start}-${end}/${bytes.length}`, `${round}: ${range} content-range`)
        t.equal(Number(res.headers['content-length']), end - start + 1, `${round}: ${range} content-length`)
        t.ok(res.body.equals(bytes.subarray(start, end + 1)), `${round}: ${range} the right bytes`)
        const expected = await upstream.fetch(`/v2/${image.repository}/blobs/${layer.digest}`, { headers: { range } })
        t.same({ status: expected.status, range: expected.headers['content-range'] }, { status: 206, range: res.headers['content-range'] }, `${round}: ${range} as the upstream answers it`)
        t.ok(expected.body.equals(res.body), `${round}: ${range} the upstream's bytes`)
      }
    }
    const outcomes = dockside.access.filter((a) => a.kind === 'blob' && a.path.includes(layer.digest)).map((a) => a.outcome)
    t.equal(outcomes[0], 'miss', 'the first range was served while the blob was being fetched', { outcomes })
    t.equal(outcomes.at(-1), 'hit', 'the later ranges were served from the cache', { outcomes })
    const unsatisfiable = await get(url, { headers: { range: `bytes=${bytes.length + 10}-` } })
    t.equal(unsatisfiable.status, 416, 'a range past the end: 416')
  })

  t.test('OCI errors: bad names, unknown manifests and blobs, pushes, unconfigured registries', async (t) => {
    const get = client(t)
    const base = dockside.app.url
    const unknownDigest = `sha256:${'0'.repeat(64)}`
    const cases: { what: string; method?: string; path: string; status: number; code: string; upstreamPath?: string }[] = [
      { what: 'an upper-case repository name', path: '/v2/docker.io/library/Small/manifests/1.0', status: 400, code: 'NAME_INVALID' },
      { what: 'an invalid tag', path: '/v2/docker.io/library/small/manifests/-bad-', status: 400, code: 'TAG_INVALID' },
      { what: 'a malformed digest', path: '/v2/docker.io/library/small/blobs/sha256:xyz', status: 400, code: 'DIGEST_INVALID' },
      { what: 'an unknown tag', path: '/v2/docker.io/library/small/manifests/9.9', status: 404, code: 'MANIFEST_UNKNOWN', upstreamPath: '/v2/library/small/manifests/9.9' },
      { what: 'an unknown manifest digest', path: `/v2/docker.io/library/small/manifests/${unknownDigest}`, status: 404, code: 'MANIFEST_UNKNOWN', upstreamPath: `/v2/library/small/manifests/${unknownDigest}` },
      { what: 'an unknown blob', path: `/v2/docker.io/library/small/blobs/${unknownDigest}`, status: 404, code: 'BLOB_UNKNOWN', upstreamPath: `/v2/library/small/blobs/${unknownDigest}` },
      { what: 'a tag in an unknown repository', path: '/v2/docker.io/library/nothing-here/manifests/1.0', status: 404, code: 'MANIFEST_UNKNOWN', upstreamPath: '/v2/library/nothing-here/manifests/1.0' },
      { what: 'the tags of an unknown repository', path: '/v2/docker.io/library/nothing-here/tags/list', status: 404, code: 'NAME_UNKNOWN', upstreamPath: '/v2/library/nothing-here/tags/list' },
      { what: 'a blob upload', method: 'POST', path: '/v2/docker.io/library/small/blobs/uploads/', status: 405, code: 'UNSUPPORTED' },
      { what: 'a manifest push', method: 'PUT', path: '/v2/docker.io/library/small/manifests/2.0', status: 405, code: 'UNSUPPORTED' },
      { what: 'a manifest delete', method: 'DELETE', path: `/v2/docker.io/library/small/manifests/${upstream.images.small.digest}`, status: 405, code: 'UNSUPPORTED' },
      { what: 'an unconfigured registry by path', path: '/v2/quay.io/org/app/manifests/1.0', status: 403, code: 'DENIED' },
      { what: 'an unconfigured registry by ns', path: '/v2/org/app/manifests/1.0?ns=quay.io', status: 403, code: 'DENIED' },
    ]
    for (const c of cases) {
      const res = await get(`${base}${c.path}`, { method: c.method ?? 'GET', headers: { accept: acceptAll } })
      t.equal(res.status, c.status, `${c.what}: ${c.status}`)
      const body = JSON.parse(res.body.toString()) as { errors?: { code: string; message: string }[] }
      t.equal(body.errors?.[0]?.code, c.code, `${c.what}: ${c.code}`)
      t.match(res.headers['content-type'], /^application\/json/, `${c.what}: JSON`)
      if (c.upstreamPath !== undefined) {
        const expected = await upstream.fetch(c.upstreamPath, { accept: acceptAll })
        const upstreamCode = (JSON.parse(expected.body.toString()) as { errors?: { code: string }[] }).errors?.[0]?.code
        t.equal(res.status, expected.status, `${c.what}: the upstream's status`)
        t.equal(body.errors?.[0]?.code, upstreamCode, `${c.what}: the upstream's code`)
      }
    }
    const stillThere = await upstream.fetch(`/v2/library/small/manifests/${upstream.images.small.tag}`, { accept: acceptAll })
    t.ok(stillThere.body.equals(upstream.images.small.bytes), 'the refused writes changed nothing upstream')
  })

  t.test('Dockside reaches the token-protected upstream with anonymous pull tokens only', async (t) => {
    const seeded = upstream.tokens.grants.findLastIndex((g) => g.subject !== '') + 1
    const later = upstream.tokens.grants.slice(seeded)
    t.ok(later.length > 0, 'tokens were fetched for the pulls')
    const wider = later.filter((g) => g.scopes.some((scope) => !/^repository:[a-z0-9/._-]+:pull$/.test(scope)))
    t.same(wider, [], 'every scope asked for after seeding was repository:<name>:pull')
    t.same(upstream.front.seen.filter((s) => s.status === 403), [], 'the upstream refused none of the requests Dockside sent with those tokens')
  })

  t.test('tags/list is passed through', async (t) => {
    const get = client(t)
    const expected = await upstream.fetch('/v2/library/family-a/tags/list')
    const res = await get(`${dockside.app.url}/v2/docker.io/library/family-a/tags/list`)
    t.equal(res.status, 200)
    t.same(JSON.parse(res.body.toString()), JSON.parse(expected.body.toString()))
    t.same(JSON.parse(res.body.toString()), { name: 'library/family-a', tags: ['1.0'] })
  })
}
