import t from 'tap'
import { parseChallenge } from '../../src/upstream/challenge.js'

t.test('a Docker Hub Bearer challenge gives realm, service and scope', async (t) => {
  const header =
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'
  t.strictSame(parseChallenge(header), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
  })
})

t.test('a comma inside a quoted scope stays part of the scope', async (t) => {
  const header = 'Bearer realm="https://ghcr.io/token",scope="repository:org/app:pull,push",service="ghcr.io"'
  t.strictSame(parseChallenge(header)?.params, { realm: 'https://ghcr.io/token', scope: 'repository:org/app:pull,push', service: 'ghcr.io' })
})

t.test('an error param after the scope is read too', async (t) => {
  const header = 'Bearer realm="https://r/token",service="s",scope="repository:a:pull",error="insufficient_scope"'
  t.equal(parseChallenge(header)?.params.error, 'insufficient_scope')
})

t.test('the scheme and parameter names are case-insensitive, values keep their case', async (t) => {
  t.strictSame(parseChallenge('BEARER Realm="https://R/Token", SERVICE="Svc"'), {
    scheme: 'bearer',
    params: { realm: 'https://R/Token', service: 'Svc' },
  })
})

t.test('spaces around commas and equals signs are allowed', async (t) => {
  t.strictSame(parseChallenge('  Bearer realm = "https://r/token" ,  service = "s"')?.params, { realm: 'https://r/token', service: 's' })
})

t.test('unquoted parameter values are read up to the next comma', async (t) => {
  t.strictSame(parseChallenge('Bearer realm=https://r/token?a=b,service=reg')?.params, { realm: 'https://r/token?a=b', service: 'reg' })
})

t.test('backslash escapes inside quoted values are undone', async (t) => {
  t.equal(parseChallenge('Bearer realm="https://r/token",scope="a\\"b\\\\c"')?.params.scope, 'a"b\\c')
})

t.test('a Basic challenge gives its realm', async (t) => {
  t.strictSame(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } })
})

t.test('a bare Basic challenge has no params', async (t) => {
  t.strictSame(parseChallenge('Basic'), { scheme: 'basic', params: {} })
})

t.test('with several header lines the first Bearer or Basic one is read', async (t) => {
  t.strictSame(parseChallenge(['Negotiate', 'Basic realm="b"', 'Bearer realm="https://r/token"']), {
    scheme: 'basic',
    params: { realm: 'b' },
  })
  t.strictSame(parseChallenge(['NTLM', 'Bearer realm="https://r/token",service="s"']), {
    scheme: 'bearer',
    params: { realm: 'https://r/token', service: 's' },
  })
})

t.test('a line holding two challenges gives only the first one its params', async (t) => {
  t.strictSame(parseChallenge('Bearer realm="https://r/token",service="s", Basic realm="Registry Realm"'), {
    scheme: 'bearer',
    params: { realm: 'https://r/token', service: 's' },
  })
})

t.test('no header, an empty list, or only other schemes give undefined', async (t) => {
  t.equal(parseChallenge(undefined), undefined)
  t.equal(parseChallenge([]), undefined)
  t.equal(parseChallenge(''), undefined)
  t.equal(parseChallenge('Negotiate'), undefined)
  t.equal(parseChallenge(['Digest realm="x"', 'NTLM']), undefined)
})

t.test('a scheme name that merely starts with Bearer or Basic is not one', async (t) => {
  t.equal(parseChallenge('BearerToken realm="x"'), undefined)
  t.equal(parseChallenge('Basically realm="x"'), undefined)
})
