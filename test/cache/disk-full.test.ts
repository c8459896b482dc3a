import { randomBytes } from 'node:crypto'
import { readdirSync, existsSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import { BlobCache, type BlobSource } from '../../src/cache/blob-cache.js'
import { BlobStore } from '../../src/cache/blob-store.js'
import { CacheIndex } from '../../src/cache/cache-index.js'
import { ManifestCache, manifestTarget } from '../../src/cache/manifest-cache.js'
import { parseAccept } from '../../src/oci/media-types.js'
import { defaultConfig } from '../../src/config/config.js'
import { parseDigest } from '../../src/oci/digest.js'
import { RegistryClient } from '../../src/upstream/registry-client.js'
import { TokenCache } from '../../src/upstream/token-cache.js'
import { FakeRegistry } from '../support/fake-registry.js'
import { tempDir } from '../support/dockside.js'

/** A store whose temp files take at most `capacity` bytes: the write that crosses it is short, later ones fail. */
class FullDiskStore extends BlobStore {
  constructor(
    root: string,
    private readonly capacity: number,
  ) {
    super(root)
  }

  override async createTemp(): Promise<{ path: string; handle: FileHandle }> {
    const { path, handle } = await super.createTemp()
    let written = 0
    const capacity = this.capacity
    const limited = new Proxy(handle, {
      get(target, key) {
        if (key === 'write') {
          // Like Linux on a filling disk: a write takes what still fits (a short write), the next one fails.
          return async (chunk: Buffer, offset = 0, length = chunk.length - offset, position?: number) => {
            const room = capacity - written
            if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
            const result = await target.write(chunk, offset, Math.min(room, length), position)
            written += result.bytesWritten
            return result
          }
        }
        const value = Reflect.get(target, key) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    return { path, handle: limited }
  }
}

async function setup(t: Test, capacity: number) {
  const upstream = await FakeRegistry.start()
  const dispatcher = new Agent()
  const dir = tempDir(t)
  const store = new FullDiskStore(dir, capacity)
  store.prepare()
  const index = new CacheIndex(join(dir, 'index.sqlite'))
  const registry = { namespace: 'docker.io', aliases: [], url: upstream.url, shortNamePrefix: undefined, manifestTtlMs: undefined, credentials: undefined }
  const client = new RegistryClient(registry, dispatcher, new TokenCache(dispatcher, 5000), defaultConfig.upstream, { response: () => {} })
  const diskFull: string[] = []
  const outcomes: string[] = []
  const cache = new BlobCache(store, index, 60_000, {
    mismatch: () => {},
    committed: () => {},
    diskFull: (digest) => diskFull.push(digest),
    finished: (outcome) => outcomes.push(outcome),
  })
  t.teardown(async () => {
    await cache.settle()
    index.close()
    await dispatcher.destroy()
    await upstream.close()
  })
  return { upstream, store, index, client, cache, diskFull, outcomes, dir }
}

/** Everything a source sends, as the HTTP layer would take it (rejects when the transfer breaks). */
async function received(source: BlobSource, sink = collector()): Promise<Buffer> {
  await source.send(sink.out)
  return Buffer.concat(sink.chunks)
}

function collector(): { out: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = []
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk))
      done()
    },
  })
  return { out, chunks }
}

t.test('disk full mid-fill: every waiting client still gets the verified bytes, and nothing is committed', async (t) => {
  const s = await setup(t, 1_000_000)
  const bytes = randomBytes(40_000_000) // more than the relay buffer, so the upstream must be paused and resumed
  const digest = s.upstream.addBlob('team/app', bytes)
  const hold = s.upstream.holdBlob(digest, 100_000)
  const first = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  const second = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  t.equal(second.outcome, 'coalesced')
  const both = Promise.all([received(first), received(second)])
  await hold.reached
  hold.release()
  const [a, b] = await both
  t.ok(a?.equals(bytes), 'first client got every byte')
  t.ok(b?.equals(bytes), 'second client got every byte')
  await s.cache.settle()
  t.same(s.diskFull, [digest], 'the disk-full event was reported once')
  t.same(s.outcomes, ['relayed'])
  t.equal(s.index.getBlob(digest), undefined, 'no index row')
  t.notOk(existsSync(s.store.path(parseDigest(digest))), 'no committed file')
  t.same(readdirSync(join(s.dir, 'tmp')), [], 'no temp file left behind')
  const again = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  t.equal(again.outcome, 'miss', 'a later request starts a fresh download')
  void received(again)
})

t.test('disk full: a reader far behind another still gets the relayed bytes the faster one has passed', async (t) => {
  const s = await setup(t, 1_000_000)
  const bytes = randomBytes(12_000_000)
  const digest = s.upstream.addBlob('team/app', bytes)
  const fast = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  const slow = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  // The slow reader's first write is held until the fast one is 6 MB in: by then it is more than the 4 MiB
  // kept for readers close behind, but past the disk those bytes exist nowhere else.
  let openGate = (): void => {}
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  const slowChunks: Buffer[] = []
  const slowOut = new Writable({
    write(chunk: Buffer, _encoding, done) {
      slowChunks.push(Buffer.from(chunk))
      void gate.then(() => done())
    },
  })
  const fastChunks: Buffer[] = []
  let fastBytes = 0
  const fastOut = new Writable({
    write(chunk: Buffer, _encoding, done) {
      fastChunks.push(Buffer.from(chunk))
      fastBytes += chunk.length
      if (fastBytes >= 6_000_000) openGate()
      done()
    },
  })
  await Promise.all([fast.send(fastOut), slow.send(slowOut)])
  t.ok(Buffer.concat(fastChunks).equals(bytes), 'the fast reader got every byte')
  t.ok(Buffer.concat(slowChunks).equals(bytes), 'the slow reader got every byte')
  await s.cache.settle()
  t.same(s.outcomes, ['relayed'])
})

t.test('disk full with wrong upstream bytes: the relayed transfer breaks before the last byte', async (t) => {
  const s = await setup(t, 100_000)
  const bytes = randomBytes(2_000_000)
  const digest = s.upstream.addBlob('team/app', bytes)
  s.upstream.corruptBlob(digest)
  const source = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  await t.rejects(received(source), { code: 'DIGEST_INVALID' })
  await s.cache.settle()
  t.same(s.outcomes, ['failed'])
})

t.test('disk full with no client left: the download stops instead of running on for nobody', async (t) => {
  const s = await setup(t, 100_000)
  const digest = s.upstream.addBlob('team/app', randomBytes(5_000_000))
  const hold = s.upstream.holdBlob(digest, 50_000)
  const source = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  const gone = collector()
  gone.out.destroy() // the client hung up before a byte arrived
  await t.rejects(received(source, gone))
  await hold.reached
  hold.release()
  await s.cache.settle()
  t.same(s.outcomes, ['failed'])
  t.same(s.diskFull, [digest])
})

t.test('disk full while storing a manifest: the client still gets the verified manifest, served from memory', async (t) => {
  const s = await setup(t, 0)
  class NoSpaceStore extends BlobStore {
    override async writeVerified(): Promise<void> {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    }
  }
  const failures: string[] = []
  const manifests = new ManifestCache(new NoSpaceStore(s.dir), s.index, () => 60_000, {
    mismatch: () => {},
    committed: () => t.fail('nothing may be committed'),
    storeFailed: (digest) => failures.push(digest),
  })
  const image = s.upstream.addImage('team/app', 'v1')
  const request = { ...manifestTarget(s.client, 'team/app', 'v1'), accept: parseAccept(undefined), method: 'GET' } as const
  const first = await manifests.get(request)
  t.ok(first.bytes?.equals(image.manifestBytes))
  t.same(failures, [image.manifestDigest])
  t.equal(s.index.getBlob(image.manifestDigest), undefined, 'no index row for bytes that are not on disk')
  const again = await manifests.get(request)
  t.equal(again.outcome, 'hit', 'served from memory while the tag is fresh')
  t.ok(again.bytes?.equals(image.manifestBytes))
})

t.test('a blob whose last write only partly fits is relayed, never committed short', async (t) => {
  const s = await setup(t, 12_288)
  const bytes = randomBytes(20_000)
  const digest = s.upstream.addBlob('team/app', bytes)
  const source = await s.cache.get(s.client, 'team/app', parseDigest(digest))
  t.ok((await received(source)).equals(bytes))
  await s.cache.settle()
  t.same(s.outcomes, ['relayed'])
  t.equal(s.index.getBlob(digest), undefined)
  t.notOk(existsSync(s.store.path(parseDigest(digest))))
})
