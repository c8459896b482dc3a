// The built command line, as a user runs it: help, configuration errors, and a serve that answers and stops.
import { once } from 'node:events'
import { existsSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FakeRegistry } from './support/fake-registry.js'
import { client, tempDir } from './support/dockside.js'
import { dockside } from './support/cli.js'

t.test('--help prints the usage and exits 0', async (t) => {
  const { code, stdout } = await dockside(['--help']).exited
  t.equal(code, 0)
  t.match(stdout, /Usage: dockside <command> \[options\]/)
  t.match(stdout, /--cache-dir DIR/)
})

t.test('a bad config value stops start-up with exit 2 and a line naming the key and the value', async (t) => {
  const dir = tempDir(t)
  const config = join(dir, 'dockside.yaml')
  writeFileSync(config, 'upstream:\n  retries: lots\n')
  const { code, stderr } = await dockside(['serve', '--config', config]).exited
  t.equal(code, 2)
  t.equal(stderr.trim(), `dockside: ${config}: upstream.retries: "lots" is not valid (expected a whole number from 0 to 10)`)
})

t.test('an unknown option and an unknown command are refused with exit 2', async (t) => {
  t.equal((await dockside(['--nope']).exited).code, 2)
  const unknown = await dockside(['frobnicate']).exited
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
})

t.test('serve answers pulls through a configured upstream and exits 0 on SIGTERM', async (t) => {
  const upstream = await FakeRegistry.start()
  t.teardown(() => upstream.close())
  const blob = upstream.addBlob('library/alpine', Buffer.from('layer bytes'))
  const dir = tempDir(t)
  const hosts = join(dir, 'hosts')
  mkdirSync(hosts)
  writeFileSync(join(hosts, 'docker.io.yaml'), `namespace: docker.io\nurl: ${upstream.url}\nshortNamePrefix: library\n`)
  const run = dockside(['serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', join(dir, 'cache'), '--hosts-dir', hosts])
  t.teardown(() => void run.child.kill('SIGKILL'))
  while (!/"msg":"dockside listening"/.test(run.output())) await once(run.child.stdout, 'data')
  const url = (JSON.parse(run.output().split('\n').find((l) => l.includes('dockside listening')) as string) as { url: string }).url
  const get = client(t)
  t.equal((await get(`${url}/v2/`)).status, 200)
  t.equal((await get(`${url}/v2/alpine/blobs/${blob}`)).body.toString(), 'layer bytes')
  t.ok(existsSync(join(dir, 'cache', 'index.sqlite')), 'the cache folder was created with its index')
  run.child.kill('SIGTERM')
  const { code, stdout } = await run.exited
  t.equal(code, 0)
  // Log lines are written in batches; every one of them is out, whole and in order, once the process exits.
  const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { msg?: string; path?: string; outcome?: string })
  t.same(
    lines.filter((l) => l.path !== undefined).map((l) => [l.path, l.outcome]),
    [['/v2/', 'hit'], [`/v2/alpine/blobs/${blob}`, 'miss']],
    'one access line per request',
  )
  t.ok(lines.findIndex((l) => l.msg === 'shutting down') > lines.findIndex((l) => l.path !== undefined), 'the shutdown line follows them')
})
