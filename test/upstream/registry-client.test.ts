import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { Agent } from 'undici'
import { defaultConfig, type Config, type RegistryConfig } from '../../src/config/config.js'
import { RegistryClient } from '../../src/upstream/registry-client.js'
import { TokenCache } from '../../src/upstream/token-cache.js'
import { FakeRegistry, type FakeRegistryOptions } from '../support/fake-registry.js'

async function setup(t: Test, fake: FakeRegistryOptions = {}, limits: Partial<Config['upstream']> = {}) {
  const upstream = await FakeRegistry.start(fake)
  const dispatcher = new Agent()
  t.teardown(async () => {
    await dispatcher.destroy()
    await upstream.close()
  })
  const registry: RegistryConfig = { namespace: 'fake.io', aliases: [], url: upstream.url, shortNamePrefix: undefined, manifestTtlMs: undefined, credentials: undefined }
  const statuses: (number | 'error')[] = []
  const client = new RegistryClient(registry, dispatcher, new TokenCache(dispatcher, 5000), { ...defaultConfig.upstream, retries: 0, ...limits }, {
    response: (_r, _m, status) => statuses.push(status),
  })
  const get = async (path: string, repository = 'team/app') => {
    const res = await client.request({ method: 'GET', path, repository })
    const body = await text(res.body)
    return { status: res.status, body }
  }
  return { upstream, client, get, statuses }
}

t.test('a 503 before any body byte is retried with backoff, and the retry is answered', async (t) => {
  const { upstream, get } = await setup(t, {}, { retries: 2, retryBackoffMs: 20 })
  const image = upstream.addImage('team/app', 'v1')
  upstream.mode = 'status503'
  const answer = get('/v2/team/app/manifests/v1')
  await upstream.waitForRequests({ kind: 'manifest' }, 1)
  upstream.mode = 'ok'
  const res = await answer
  t.equal(res.status, 200)
  t.equal(res.body, image.manifestBytes.toString())
  t.equal(upstream.count({ kind: 'manifest' }), 2)
})

t.test('retries stop at the configured number and the last answer stands', async (t) => {
  const { upstream, get } = await setup(t, {}, { retries: 2, retryBackoffMs: 1 })
  upstream.mode = 'status503'
  t.equal((await get('/v2/team/app/manifests/v1')).status, 503)
  t.equal(upstream.count({ kind: 'manifest' }), 3)
})

t.test('a 429 is not retried: the rate limit would only get worse', async (t) => {
  const { upstream, get } = await setup(t, {}, { retries: 3, retryBackoffMs: 1 })
  upstream.mode = 'status429'
  t.equal((await get('/v2/team/app/manifests/v1')).status, 429)
  t.equal(upstream.count({ kind: 'manifest' }), 1)
})

t.test('a token the registry stops accepting is replaced once and the request retried', async (t) => {
  const { upstream, get } = await setup(t, { auth: 'bearer' })
  upstream.addImage('team/app', 'v1')
  t.equal((await get('/v2/team/app/manifests/v1')).status, 200)
  t.equal(upstream.count({ kind: 'token' }), 1)
  upstream.revokeTokens()
  t.equal((await get('/v2/team/app/manifests/v1')).status, 200)
  t.equal(upstream.count({ kind: 'token' }), 2)
  t.equal((await get('/v2/team/app/manifests/v1')).status, 200)
  t.equal(upstream.count({ kind: 'token' }), 2, 'the new token is reused')
})

t.test('a token without expires_in is kept for the spec default, and one close to expiry is not reused', async (t) => {
  const noExpiry = await setup(t, { auth: 'bearer', tokenExpiresInSec: null })
  noExpiry.upstream.addImage('team/app', 'v1')
  await noExpiry.get('/v2/team/app/manifests/v1')
  await noExpiry.get('/v2/team/app/manifests/v1')
  t.equal(noExpiry.upstream.count({ kind: 'token' }), 1, 'kept (60 s by default)')

  const shortLived = await setup(t, { auth: 'bearer', tokenExpiresInSec: 5 })
  shortLived.upstream.addImage('team/app', 'v1')
  await shortLived.get('/v2/team/app/manifests/v1')
  await shortLived.get('/v2/team/app/manifests/v1')
  t.equal(shortLived.upstream.count({ kind: 'token' }), 2, 'a token expiring within the safety margin is fetched anew')
})

t.test('concurrent requests needing the same token cause one token fetch', async (t) => {
  const { upstream, get } = await setup(t, { auth: 'bearer' })
  upstream.addImage('team/app', 'v1')
  const all = await Promise.all(Array.from({ length: 8 }, () => get('/v2/team/app/manifests/v1')))
  t.ok(all.every((r) => r.status === 200))
  t.equal(upstream.count({ kind: 'token' }), 1)
})

t.test('an unreachable upstream is reported as unavailable, and a HEAD frees its slot at once', async (t) => {
  const { upstream, client, statuses } = await setup(t, {}, { maxConcurrency: 1 })
  upstream.addImage('team/app', 'v1')
  for (let i = 0; i < 3; i++) {
    const res = await client.request({ method: 'HEAD', path: '/v2/team/app/manifests/v1', repository: 'team/app' })
    t.equal(res.status, 200, `HEAD ${i} got a slot`)
  }
  upstream.mode = 'reset'
  await t.rejects(client.request({ method: 'GET', path: '/v2/team/app/manifests/v1', repository: 'team/app' }), { name: 'UpstreamUnavailableError' })
  t.equal(statuses.at(-1), 'error')
  t.equal(client.health.consecutiveFailures, 1)
})

t.test('a token service that answers 503 makes the upstream unavailable (so a stale copy can be served), not unauthorized', async (t) => {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/token')) {
      res.writeHead(503).end()
      return
    }
    const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="s",scope="repository:team/app:pull"` }).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dispatcher = new Agent()
  t.teardown(async () => {
    await dispatcher.destroy()
    server.close()
  })
  const registry: RegistryConfig = { namespace: 'x.io', aliases: [], url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, shortNamePrefix: undefined, manifestTtlMs: undefined, credentials: undefined }
  const client = new RegistryClient(registry, dispatcher, new TokenCache(dispatcher, 5000), { ...defaultConfig.upstream, retries: 0 }, { response: () => {} })
  await t.rejects(client.request({ method: 'GET', path: '/v2/team/app/manifests/v1', repository: 'team/app' }), { name: 'UpstreamUnavailableError' })
})

/** A throwaway HTTP server on 127.0.0.1:0 whose handler sees its own base URL; closed with the test. */
async function tinyServer(t: Test, handle: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, base: string) => void): Promise<{ base: string; paths: string[] }> {
  const paths: string[] = []
  const server = createServer((req, res) => {
    paths.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`)
    handle(req, res, `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths }
}

function clientFor(t: Test, url: string, credentials?: { username: string; password: string }): RegistryClient {
  const dispatcher = new Agent()
  t.teardown(() => dispatcher.destroy())
  const registry: RegistryConfig = { namespace: 'x.io', aliases: [], url, shortNamePrefix: undefined, manifestTtlMs: undefined, credentials }
  return new RegistryClient(registry, dispatcher, new TokenCache(dispatcher, 5000), { ...defaultConfig.upstream, retries: 0 }, { response: () => {} })
}

t.test('a token asked for with the scope the registry named (not the repository scope) is still reused', async (t) => {
  const registry = await tinyServer(t, (req, res, base) => {
    if (req.url?.startsWith('/token')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'aws-token', expires_in: 300 }))
    } else if (req.headers.authorization === 'Bearer aws-token') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    } else {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="public.ecr.aws",scope="aws"` }).end()
    }
  })
  const client = clientFor(t, registry.base)
  for (let i = 0; i < 5; i++) {
    const res = await client.request({ method: 'GET', path: '/v2/team/app/manifests/v1', repository: 'team/app' })
    t.equal(res.status, 200)
    await text(res.body)
  }
  t.equal(registry.paths.filter((p) => p.startsWith('GET /token')).length, 1, 'one token fetch')
  t.match(registry.paths.find((p) => p.startsWith('GET /token')), /scope=aws/)
  t.equal(registry.paths.filter((p) => p.startsWith('GET /v2/') && p.endsWith(' -')).length, 1, 'only the first request went without the token')
})

t.test('a 401 from a redirect target never gets the registry credentials', async (t) => {
  const cdn = await tinyServer(t, (_req, res, base) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="cdn"` }).end()
  })
  const registry = await tinyServer(t, (_req, res) => {
    res.writeHead(307, { location: `${cdn.base}/blob?sig=1` }).end()
  })
  const client = clientFor(t, registry.base, { username: 'svc', password: 's3cret' })
  const res = await client.request({ method: 'GET', path: '/v2/team/app/blobs/sha256:00', repository: 'team/app' })
  t.equal(res.status, 401, 'the CDN refusal is passed on')
  await text(res.body)
  t.same(cdn.paths, ['GET /blob?sig=1 -'], 'no token request and no Authorization at the CDN')
})
