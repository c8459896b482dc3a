import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { configError } from '../support/thrown.js'
import { defaultConfig, registryTtlMs, shippedHostsDir } from '../../src/config/config.js'
import { loadConfig, loadRegistries, readConfig } from '../../src/config/load.js'


const ghcr = 'namespace: ghcr.io\nurl: https://ghcr.io\n'
const hub = 'namespace: docker.io\naliases: [index.docker.io]\nurl: https://registry-1.docker.io\nshortNamePrefix: library\n'

t.test('readConfig of an empty mapping is the defaults', async (t) => {
  const { registries: _registries, ...defaults } = defaultConfig
  t.strictSame(readConfig('config.yaml', {}), defaults)
  t.strictSame(readConfig('config.yaml', null), defaults)
})

t.test('readConfig reads every option', async (t) => {
  const config = readConfig('config.yaml', {
    listen: { host: '127.0.0.1', port: 8080 },
    cacheDir: '/var/cache/dockside',
    hostsDir: '/etc/dockside/hosts',
    defaultRegistry: 'ghcr.io',
    manifestTtl: '1m',
    cache: { maxBytes: '10GiB', highWatermark: '95%', lowWatermark: 0.7, pinned: ['alpine:3.20'] },
    upstream: { connectTimeout: '2s', headersTimeout: '10s', bodyTimeout: '20s', maxConcurrency: 8, retries: 0, retryBackoff: '50ms' },
    fillTimeout: '1h',
    shutdownGrace: '5s',
    clientIdleTimeout: '90s',
    indexFlushInterval: 250,
    statsSampleInterval: '1m',
    logLevel: 'debug',
  })
  t.strictSame(config, {
    listen: { host: '127.0.0.1', port: 8080 },
    cacheDir: '/var/cache/dockside',
    hostsDir: '/etc/dockside/hosts',
    defaultRegistry: 'ghcr.io',
    manifestTtlMs: 60_000,
    cache: { maxBytes: 10 * 2 ** 30, highWatermark: 0.95, lowWatermark: 0.7, pinned: ['alpine:3.20'] },
    upstream: { connectTimeoutMs: 2000, headersTimeoutMs: 10_000, bodyTimeoutMs: 20_000, maxConcurrency: 8, retries: 0, retryBackoffMs: 50 },
    fillTimeoutMs: 3_600_000,
    shutdownGraceMs: 5000,
    clientIdleTimeoutMs: 90_000,
    indexFlushIntervalMs: 250,
    statsSampleIntervalMs: 60_000,
    logLevel: 'debug',
  })
})

t.test('readConfig keeps defaults for options a partial file leaves out', async (t) => {
  const config = readConfig('config.yaml', { upstream: { retries: 5 } })
  t.strictSame(config.upstream, { ...defaultConfig.upstream, retries: 5 })
  t.strictSame(config.listen, defaultConfig.listen)
})

t.test('every bad option is a ConfigError naming the file, the dotted key and the value', async (t) => {
  const cases: [unknown, string, unknown][] = [
    [{ upstream: { retries: 11 } }, 'upstream.retries', 11],
    [{ upstream: { retries: -1 } }, 'upstream.retries', -1],
    [{ upstream: { maxConcurrency: 0 } }, 'upstream.maxConcurrency', 0],
    [{ upstream: { connectTimeout: '5 seconds' } }, 'upstream.connectTimeout', '5 seconds'],
    [{ listen: { port: 70000 } }, 'listen.port', 70000],
    [{ listen: { port: '5000' } }, 'listen.port', '5000'],
    [{ listen: { host: '' } }, 'listen.host', ''],
    [{ manifestTtl: 'forever' }, 'manifestTtl', 'forever'],
    [{ logLevel: 'verbose' }, 'logLevel', 'verbose'],
    [{ cacheDir: 7 }, 'cacheDir', 7],
    [{ upstrem: { retries: 3 } }, 'upstrem', { retries: 3 }],
    [{ listen: { prot: 80 } }, 'listen.prot', 80],
    [{ upstream: { retry: 3 } }, 'upstream.retry', 3],
  ]
  for (const [value, key, bad] of cases) {
    const err = configError(() => readConfig('/etc/dockside/config.yaml', value))
    t.equal(err.key, key, key)
    t.strictSame(err.value, bad, key)
    t.ok(err.message.startsWith(`/etc/dockside/config.yaml: ${key}: ${JSON.stringify(bad)} is not valid (expected `), err.message)
  }
})

t.test('an unknown top-level key says no such option exists', async (t) => {
  const err = configError(() => readConfig('config.yaml', { upstrem: { retries: 3 } }))
  t.equal(err.message, 'config.yaml: upstrem: {"retries":3} is not valid (expected a known key (no option "upstrem" exists))')
})

t.test('a listen that is not a mapping is an error naming the key listen', async (t) => {
  const err = configError(() => readConfig('config.yaml', { listen: 5000 }))
  t.equal(err.key, 'listen')
  t.equal(err.message, 'config.yaml: listen: 5000 is not valid (expected a mapping)')
})

t.test('loadConfig with no file loads the shipped hosts folder', async (t) => {
  const config = loadConfig(undefined, {}, {})
  t.equal(config.hostsDir, resolve(shippedHostsDir))
  t.equal(config.defaultRegistry, 'docker.io')
  t.strictSame(config.registries.map((r) => r.namespace).sort(), [
    'docker.io',
    'gcr.io',
    'ghcr.io',
    'mcr.microsoft.com',
    'public.ecr.aws',
    'quay.io',
    'registry.k8s.io',
  ])
  const hub = config.registries.find((r) => r.namespace === 'docker.io')
  t.strictSame(hub, {
    namespace: 'docker.io',
    aliases: ['index.docker.io', 'registry-1.docker.io'],
    url: 'https://registry-1.docker.io',
    shortNamePrefix: 'library',
    manifestTtlMs: undefined,
    credentials: undefined,
  })
  t.strictSame(config.registries.find((r) => r.namespace === 'registry.k8s.io')?.aliases, ['k8s.gcr.io'])
  for (const r of config.registries.filter((r) => r.namespace !== 'docker.io')) t.equal(r.shortNamePrefix, undefined, r.namespace)
})

t.test('loadConfig with no file has the default settings, with folders made absolute', async (t) => {
  const config = loadConfig(undefined, {}, {})
  t.strictSame(config.listen, { host: '0.0.0.0', port: 5000 })
  t.equal(config.cacheDir, resolve('./cache-data'))
  t.equal(config.manifestTtlMs, 300_000)
  t.strictSame(config.upstream, defaultConfig.upstream)
  t.equal(config.logLevel, 'info')
})

t.test('loadConfig reads a YAML file and its hosts folder', async (t) => {
  const dir = t.testdir({ hosts: { 'ghcr.io.yaml': ghcr, 'docker.io.yml': hub, 'README.md': 'not a registry' } })
  const path = join(dir, 'config.yaml')
  writeFileSync(path, `listen:\n  port: 5001\nhostsDir: ${JSON.stringify(join(dir, 'hosts'))}\ndefaultRegistry: ghcr.io\nupstream:\n  retries: 4\n`)
  const config = loadConfig(path, {}, {})
  t.equal(config.listen.port, 5001)
  t.equal(config.upstream.retries, 4)
  t.equal(config.defaultRegistry, 'ghcr.io')
  t.equal(config.hostsDir, join(dir, 'hosts'))
  t.strictSame(config.registries.map((r) => r.namespace), ['docker.io', 'ghcr.io'], 'both .yaml and .yml files, sorted by file name')
})

t.test('command-line overrides win over the file', async (t) => {
  const dir = t.testdir({
    'config.yaml': 'listen: { host: 10.0.0.1, port: 5001 }\nlogLevel: warn\ncacheDir: /from/file\n',
    hosts: { 'docker.io.yaml': hub },
    other: { 'docker.io.yaml': hub, 'ghcr.io.yaml': ghcr },
  })
  const config = loadConfig(
    join(dir, 'config.yaml'),
    { host: '127.0.0.1', port: 6000, cacheDir: join(dir, 'cache'), hostsDir: join(dir, 'other'), logLevel: 'error' },
    {},
  )
  t.strictSame(config.listen, { host: '127.0.0.1', port: 6000 })
  t.equal(config.cacheDir, join(dir, 'cache'))
  t.equal(config.hostsDir, join(dir, 'other'))
  t.equal(config.logLevel, 'error')
  t.equal(config.registries.length, 2)
})

t.test('a bad option in a config file is an error naming that file', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'upstream:\n  retries: 99\n' })
  const path = join(dir, 'config.yaml')
  const err = configError(() => loadConfig(path, {}, {}))
  t.equal(err.message, `${path}: upstream.retries: 99 is not valid (expected a whole number from 0 to 10)`)
})

t.test('a misspelt option in a config file is an error naming it', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'upstrem:\n  retries: 3\n' })
  const path = join(dir, 'config.yaml')
  const err = configError(() => loadConfig(path, {}, {}))
  t.equal(err.source, path)
  t.equal(err.key, 'upstrem')
})

t.test('a missing config file is an error naming it', async (t) => {
  const dir = t.testdir({})
  const path = join(dir, 'nope.yaml')
  const err = configError(() => loadConfig(path, {}, {}))
  t.equal(err.source, path)
  t.equal(err.key, '(file)')
  t.match(err.message, `${path}: (file): ${JSON.stringify(path)} is not valid (expected a readable file (ENOENT`)
})

t.test('a config file that is not YAML is an error naming it', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'listen: [unclosed\n' })
  const path = join(dir, 'config.yaml')
  const err = configError(() => loadConfig(path, {}, {}))
  t.equal(err.source, path)
  t.equal(err.key, '(file)')
  t.match(err.message, 'expected valid YAML (')
})

t.test('registry credentials come from the environment given to loadConfig', async (t) => {
  const dir = t.testdir({
    hosts: { 'docker.io.yaml': `${hub}credentials: { usernameEnv: HUB_USER, passwordEnv: HUB_TOKEN }\n` },
  })
  const config = loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, { HUB_USER: 'bob', HUB_TOKEN: 'tok' })
  t.strictSame(config.registries[0]?.credentials, { username: 'bob', password: 'tok' })
})

t.test('registry credentials come from a password file', async (t) => {
  const dir = t.testdir({ 'token.txt': 'file-token\n', hosts: {} })
  writeFileSync(join(dir, 'hosts', 'docker.io.yaml'), `${hub}credentials:\n  username: carol\n  passwordFile: ${JSON.stringify(join(dir, 'token.txt'))}\n`)
  const config = loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, {})
  t.strictSame(config.registries[0]?.credentials, { username: 'carol', password: 'file-token' })
})

t.test('a missing password variable is an error naming the hosts file and credentials.passwordEnv', async (t) => {
  const dir = t.testdir({
    hosts: { 'docker.io.yaml': `${hub}credentials: { username: bob, passwordEnv: HUB_TOKEN }\n` },
  })
  const err = configError(() => loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, {}))
  t.equal(err.source, join(dir, 'hosts', 'docker.io.yaml'))
  t.equal(err.key, 'credentials.passwordEnv')
  t.equal(err.value, 'HUB_TOKEN')
  t.equal(
    err.message,
    `${join(dir, 'hosts', 'docker.io.yaml')}: credentials.passwordEnv: "HUB_TOKEN" is not valid (expected the name of a set, non-empty environment variable)`,
  )
})

t.test('a bad hosts file is an error naming that file', async (t) => {
  const dir = t.testdir({ hosts: { 'docker.io.yaml': hub, 'ghcr.io.yaml': 'namespace: ghcr.io\nurl: ftp://ghcr.io\n' } })
  const err = configError(() => loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, {}))
  t.equal(err.source, join(dir, 'hosts', 'ghcr.io.yaml'))
  t.equal(err.key, 'url')
  t.equal(err.value, 'ftp://ghcr.io')
})

t.test('a hosts file that is not YAML is an error naming that file', async (t) => {
  const dir = t.testdir({ hosts: { 'docker.io.yaml': hub, 'bad.yaml': 'namespace: [x\n' } })
  const err = configError(() => loadRegistries(join(dir, 'hosts'), {}))
  t.equal(err.source, join(dir, 'hosts', 'bad.yaml'))
  t.equal(err.key, '(file)')
})

t.test('two files claiming the same namespace are an error naming both', async (t) => {
  const dir = t.testdir({ hosts: { 'a.yaml': ghcr, 'b.yaml': 'namespace: ghcr.io\nurl: https://mirror.example\n' } })
  const err = configError(() => loadRegistries(join(dir, 'hosts'), {}))
  t.equal(err.source, join(dir, 'hosts', 'b.yaml'))
  t.equal(err.key, 'namespace')
  t.equal(err.value, 'ghcr.io')
  t.equal(err.message, `${join(dir, 'hosts', 'b.yaml')}: namespace: "ghcr.io" is not valid (expected a name no other file uses (a.yaml has it))`)
})

t.test('a file whose namespace is another file\'s alias is an error', async (t) => {
  const dir = t.testdir({ hosts: { 'docker.io.yaml': hub, 'index.yaml': 'namespace: index.docker.io\nurl: https://index.docker.io\n' } })
  const err = configError(() => loadRegistries(join(dir, 'hosts'), {}))
  t.equal(err.source, join(dir, 'hosts', 'index.yaml'))
  t.equal(err.value, 'index.docker.io')
  t.match(err.message, '(docker.io.yaml has it)')
})

t.test('two files sharing an alias is an error', async (t) => {
  const dir = t.testdir({
    hosts: {
      'a.yaml': 'namespace: a.example\naliases: [shared.example]\nurl: https://a.example\n',
      'b.yaml': 'namespace: b.example\naliases: [shared.example]\nurl: https://b.example\n',
    },
  })
  const err = configError(() => loadRegistries(join(dir, 'hosts'), {}))
  t.equal(err.source, join(dir, 'hosts', 'b.yaml'))
  t.equal(err.value, 'shared.example')
})

t.test('two files claiming the same namespace in different letter case is an error', async (t) => {
  const dir = t.testdir({ hosts: { 'a.yaml': ghcr, 'b.yaml': 'namespace: GHCR.io\nurl: https://mirror.example\n' } })
  const err = configError(() => loadRegistries(join(dir, 'hosts'), {}))
  t.equal(err.source, join(dir, 'hosts', 'b.yaml'))
  t.equal(err.key, 'namespace')
})

t.test('an unreadable hosts folder is an error naming hostsDir and the folder', async (t) => {
  const dir = t.testdir({})
  const missing = join(dir, 'no-such-folder')
  const err = configError(() => loadConfig(undefined, { hostsDir: missing }, {}))
  t.equal(err.key, 'hostsDir')
  t.equal(err.value, missing)
  t.match(err.message, `hostsDir: ${JSON.stringify(missing)} is not valid (expected a readable folder (ENOENT`)
})

t.test('a defaultRegistry that no hosts file declares is an error', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'defaultRegistry: quay.io\n', hosts: { 'docker.io.yaml': hub, 'ghcr.io.yaml': ghcr } })
  const path = join(dir, 'config.yaml')
  const err = configError(() => loadConfig(path, { hostsDir: join(dir, 'hosts') }, {}))
  t.equal(err.source, path)
  t.equal(err.key, 'defaultRegistry')
  t.equal(err.value, 'quay.io')
  t.equal(err.message, `${path}: defaultRegistry: "quay.io" is not valid (expected the namespace of a file in ${join(dir, 'hosts')})`)
})

t.test('a defaultRegistry that is only an alias is an error', async (t) => {
  const dir = t.testdir({ 'config.yaml': 'defaultRegistry: index.docker.io\n', hosts: { 'docker.io.yaml': hub } })
  const err = configError(() => loadConfig(join(dir, 'config.yaml'), { hostsDir: join(dir, 'hosts') }, {}))
  t.equal(err.key, 'defaultRegistry')
})

t.test('without a config file, a hosts folder lacking docker.io fails the default registry check', async (t) => {
  const dir = t.testdir({ hosts: { 'ghcr.io.yaml': ghcr } })
  const err = configError(() => loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, {}))
  t.equal(err.source, 'defaults')
  t.equal(err.key, 'defaultRegistry')
  t.equal(err.value, 'docker.io')
})

t.test('an empty hosts folder has no registries', async (t) => {
  const dir = t.testdir({ hosts: {} })
  t.strictSame(loadRegistries(join(dir, 'hosts'), {}), [])
})

t.test('registryTtlMs is the registry\'s own TTL, else the global one', async (t) => {
  const dir = t.testdir({ hosts: { 'docker.io.yaml': `${hub}manifestTtl: 30s\n`, 'ghcr.io.yaml': ghcr } })
  const config = loadConfig(undefined, { hostsDir: join(dir, 'hosts') }, {})
  const [hubConfig, ghcrConfig] = config.registries
  t.equal(registryTtlMs(config, hubConfig!), 30_000)
  t.equal(registryTtlMs(config, ghcrConfig!), 300_000)
})

t.test('a low watermark at or above the high one is refused, naming cache.lowWatermark', async (t) => {
  const err = configError(() => readConfig('config.yaml', { cache: { highWatermark: 0.8, lowWatermark: '80%' } }))
  t.equal(err.key, 'cache.lowWatermark')
  t.equal(err.value, 0.8)
})

t.test('a watermark that is no fraction is refused with its key and value', async (t) => {
  const err = configError(() => readConfig('config.yaml', { cache: { highWatermark: '120%' } }))
  t.equal(err.key, 'cache.highWatermark')
  t.equal(err.value, '120%')
})
