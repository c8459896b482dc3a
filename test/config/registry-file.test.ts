import { join } from 'node:path'
import t from 'tap'
import { configError } from '../support/thrown.js'
import { readRegistry } from '../../src/config/registry-file.js'

const source = '/etc/dockside/hosts/example.yaml'


t.test('a minimal file has a namespace and a url, and nothing else set', async (t) => {
  t.strictSame(readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io' }, {}), {
    namespace: 'ghcr.io',
    aliases: [],
    url: 'https://ghcr.io',
    shortNamePrefix: undefined,
    manifestTtlMs: undefined,
    credentials: undefined,
  })
})

t.test('every optional field is read', async (t) => {
  const registry = readRegistry(
    source,
    {
      namespace: 'docker.io',
      aliases: ['index.docker.io', 'registry-1.docker.io'],
      url: 'https://registry-1.docker.io',
      shortNamePrefix: 'library',
      manifestTtl: '10m',
      credentials: { username: 'alice', password: 's3cret' },
    },
    {},
  )
  t.strictSame(registry, {
    namespace: 'docker.io',
    aliases: ['index.docker.io', 'registry-1.docker.io'],
    url: 'https://registry-1.docker.io',
    shortNamePrefix: 'library',
    manifestTtlMs: 600_000,
    credentials: { username: 'alice', password: 's3cret' },
  })
})

t.test('trailing slashes of the url are dropped, a path is kept', async (t) => {
  t.equal(readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io/' }, {}).url, 'https://ghcr.io')
  t.equal(readRegistry(source, { namespace: 'x.io', url: 'http://mirror.local:5000/prefix//' }, {}).url, 'http://mirror.local:5000/prefix')
})

t.test('a namespace may carry a port or be a single label', async (t) => {
  t.equal(readRegistry(source, { namespace: 'registry.local:5000', url: 'http://r' }, {}).namespace, 'registry.local:5000')
  t.equal(readRegistry(source, { namespace: 'localhost', url: 'http://r' }, {}).namespace, 'localhost')
})

t.test('a missing namespace is an error naming the key', async (t) => {
  const err = configError(() => readRegistry(source, { url: 'https://ghcr.io' }, {}))
  t.equal(err.source, source)
  t.equal(err.key, 'namespace')
  t.equal(err.message, `${source}: namespace: undefined is not valid (expected a registry host name such as "ghcr.io")`)
})

t.test('a namespace that is no host name is an error naming it', async (t) => {
  for (const namespace of ['https://ghcr.io', 'ghcr.io/org', '-bad.io', 'bad-.io', 'a..b', 'ghcr.io:port']) {
    const err = configError(() => readRegistry(source, { namespace, url: 'https://ghcr.io' }, {}))
    t.equal(err.key, 'namespace', namespace)
    t.equal(err.value, namespace)
    t.equal(err.message, `${source}: namespace: ${JSON.stringify(namespace)} is not valid (expected a registry host name such as "ghcr.io")`)
  }
})

t.test('a namespace that is not a string is an error naming it', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 42, url: 'https://ghcr.io' }, {}))
  t.equal(err.key, 'namespace')
  t.equal(err.value, 42)
})

t.test('a missing url is an error naming the key', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io' }, {}))
  t.equal(err.key, 'url')
  t.equal(err.message, `${source}: url: undefined is not valid (expected an http(s) URL such as "https://ghcr.io")`)
})

t.test('a url that is not plain http(s) is an error naming it', async (t) => {
  for (const url of ['ghcr.io', 'ftp://ghcr.io', 'https://ghcr.io/?x=1', 'https://ghcr.io/#frag', 'https://']) {
    const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url }, {}))
    t.equal(err.key, 'url', url)
    t.equal(err.value, url)
    t.equal(err.message, `${source}: url: ${JSON.stringify(url)} is not valid (expected an http(s) URL such as "https://ghcr.io")`)
  }
})

t.test('an alias that is no host name is an error naming it', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', aliases: ['ok.io', 'not a host'] }, {}))
  t.equal(err.key, 'aliases')
  t.equal(err.value, 'not a host')
  t.equal(err.message, `${source}: aliases: "not a host" is not valid (expected registry host names)`)
})

t.test('aliases that are not a list of strings are an error', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', aliases: 'index.docker.io' }, {}))
  t.equal(err.key, 'aliases')
  t.equal(err.value, 'index.docker.io')
})

t.test('a bad manifestTtl is an error naming the key and value', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', manifestTtl: 'soon' }, {}))
  t.equal(err.key, 'manifestTtl')
  t.equal(err.value, 'soon')
  t.equal(err.source, source)
})

t.test('an unknown key is an error naming it', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', shortnameprefix: 'library' }, {}))
  t.equal(err.key, 'shortnameprefix')
  t.equal(err.message, `${source}: shortnameprefix: "library" is not valid (expected a known key (no option "shortnameprefix" exists))`)
})

t.test('a top level that is not a mapping is an error naming the file', async (t) => {
  const err = configError(() => readRegistry(source, ['ghcr.io'], {}))
  t.equal(err.source, source)
  t.equal(err.key, '(top level)')
})

t.test('credentials are read from environment variables', async (t) => {
  const registry = readRegistry(
    source,
    { namespace: 'docker.io', url: 'https://registry-1.docker.io', credentials: { usernameEnv: 'HUB_USER', passwordEnv: 'HUB_TOKEN' } },
    { HUB_USER: 'bob', HUB_TOKEN: 'dckr_pat_x' },
  )
  t.strictSame(registry.credentials, { username: 'bob', password: 'dckr_pat_x' })
})

t.test('a password is read from a file, without its trailing newline', async (t) => {
  const dir = t.testdir({ 'token.txt': '  tok-from-file\n' })
  const registry = readRegistry(
    source,
    { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'carol', passwordFile: join(dir, 'token.txt') } },
    {},
  )
  t.strictSame(registry.credentials, { username: 'carol', password: 'tok-from-file' })
})

t.test('an unreadable passwordFile is an error naming the key and the path', async (t) => {
  const dir = t.testdir({})
  const path = join(dir, 'missing.txt')
  const err = configError(() =>
    readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'carol', passwordFile: path } }, {}),
  )
  t.equal(err.source, source)
  t.equal(err.key, 'credentials.passwordFile')
  t.equal(err.value, path)
  t.match(err.message, `${source}: credentials.passwordFile: ${JSON.stringify(path)} is not valid (expected a readable file (ENOENT`)
})

t.test('a literal password wins over passwordEnv and passwordFile', async (t) => {
  const registry = readRegistry(
    source,
    { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'u', password: 'literal', passwordEnv: 'TOKEN', passwordFile: '/nonexistent' } },
    { TOKEN: 'from-env' },
  )
  t.equal(registry.credentials?.password, 'literal')
})

t.test('a missing passwordEnv variable is an error naming the key and the variable', async (t) => {
  const err = configError(() =>
    readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'u', passwordEnv: 'GHCR_TOKEN' } }, { OTHER: 'x' }),
  )
  t.equal(err.source, source)
  t.equal(err.key, 'credentials.passwordEnv')
  t.equal(err.value, 'GHCR_TOKEN')
  t.equal(err.message, `${source}: credentials.passwordEnv: "GHCR_TOKEN" is not valid (expected the name of a set, non-empty environment variable)`)
})

t.test('an empty passwordEnv variable is an error too', async (t) => {
  const err = configError(() =>
    readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'u', passwordEnv: 'GHCR_TOKEN' } }, { GHCR_TOKEN: '' }),
  )
  t.equal(err.key, 'credentials.passwordEnv')
})

t.test('a missing usernameEnv variable is an error naming the key and the variable', async (t) => {
  const err = configError(() =>
    readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { usernameEnv: 'GHCR_USER', password: 'p' } }, {}),
  )
  t.equal(err.key, 'credentials.usernameEnv')
  t.equal(err.value, 'GHCR_USER')
})

t.test('credentials without a username are an error', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { password: 'p' } }, {}))
  t.equal(err.key, 'credentials.username')
  t.equal(err.expected, 'username or usernameEnv')
})

t.test('credentials without a password are an error', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'u' } }, {}))
  t.equal(err.key, 'credentials.password')
  t.equal(err.expected, 'password, passwordEnv or passwordFile')
})

t.test('an unknown key under credentials is an error naming the dotted key', async (t) => {
  const err = configError(() =>
    readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: { username: 'u', password: 'p', token: 't' } }, {}),
  )
  t.equal(err.key, 'credentials.token')
  t.equal(err.value, 't')
})

t.test('credentials that are not a mapping are an error naming the key', async (t) => {
  const err = configError(() => readRegistry(source, { namespace: 'ghcr.io', url: 'https://ghcr.io', credentials: 'u:p' }, {}))
  t.equal(err.key, 'credentials')
  t.equal(err.value, 'u:p')
})
