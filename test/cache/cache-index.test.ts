import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { CacheIndex } from '../../src/cache/cache-index.js'
import { tempDir } from '../support/dockside.js'

t.test('a flush the database refuses keeps its counters for the next flush', async (t) => {
  const path = join(tempDir(t), 'index.sqlite')
  const index = new CacheIndex(path)
  t.teardown(() => index.close())
  index.count('docker.io', 'library/alpine', 'hit', 100, 0)
  const other = new Database(path)
  other.exec('ALTER TABLE repository_stats RENAME TO parked') // the next write has nowhere to go
  t.throws(() => index.flush())
  other.exec('ALTER TABLE parked RENAME TO repository_stats')
  other.close()
  index.count('docker.io', 'library/alpine', 'miss', 0, 50)
  t.match(index.repositoryStats(), [{ registry: 'docker.io', repository: 'library/alpine', requests: 2, hits: 1, misses: 1, bytesFromCache: 100, bytesFromUpstream: 50 }])
})

t.test('usage totals follow inserts, replacements and deletes without a table scan', async (t) => {
  const index = new CacheIndex(join(tempDir(t), 'index.sqlite'))
  t.teardown(() => index.close())
  index.putBlob('sha256:a', 100, null)
  index.putBlob('sha256:b', 50, 'application/vnd.oci.image.manifest.v1+json')
  index.putBlob('sha256:a', 100, null) // the same blob again
  t.same(index.totals(), { count: 2, bytes: 150 })
  index.deleteBlob('sha256:a')
  index.deleteBlob('sha256:missing')
  t.same(index.totals(), { count: 1, bytes: 50 })
  index.recount()
  t.same(index.totals(), { count: 1, bytes: 50 })
})
