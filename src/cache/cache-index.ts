// The SQLite index of what is cached: blobs (and manifests) by digest, tags, and per repository counters.
// Synchronous by nature (better-sqlite3): statements are prepared once, hot-path writes are batched in memory
// and flushed in one transaction, and nothing on the request path scans a table.
import Database from 'better-sqlite3'
import type { CacheOutcome } from './outcome.js'

export interface BlobRow {
  readonly digest: string
  readonly size: number
  /** Set for manifests: the media type they were served with. */
  readonly mediaType: string | null
}

export interface TagRow {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly checkedMs: number
}

export interface RepositoryCounters {
  requests: number
  hits: number
  misses: number
  coalesced: number
  revalidated: number
  stale: number
  errors: number
  bytesFromCache: number
  bytesFromUpstream: number
}

const schema = `
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  media_type TEXT,
  created_ms INTEGER NOT NULL,
  last_access_ms INTEGER NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
DROP INDEX IF EXISTS blobs_by_last_access;
CREATE INDEX IF NOT EXISTS blobs_lru ON blobs(last_access_ms, digest);
CREATE TABLE IF NOT EXISTS tags (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  accept_key TEXT NOT NULL,
  media_type TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  checked_ms INTEGER NOT NULL,
  PRIMARY KEY (registry, repository, tag, accept_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_stats (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  hits INTEGER NOT NULL DEFAULT 0,
  misses INTEGER NOT NULL DEFAULT 0,
  coalesced INTEGER NOT NULL DEFAULT 0,
  revalidated INTEGER NOT NULL DEFAULT 0,
  stale INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  bytes_from_cache INTEGER NOT NULL DEFAULT 0,
  bytes_from_upstream INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (registry, repository)
) WITHOUT ROWID;
`

const outcomeColumn: Record<CacheOutcome, keyof RepositoryCounters> = {
  hit: 'hits',
  miss: 'misses',
  coalesced: 'coalesced',
  revalidated: 'revalidated',
  stale: 'stale',
  error: 'errors',
}

function emptyCounters(): RepositoryCounters {
  return { requests: 0, hits: 0, misses: 0, coalesced: 0, revalidated: 0, stale: 0, errors: 0, bytesFromCache: 0, bytesFromUpstream: 0 }
}

export class CacheIndex {
  private readonly db: Database.Database
  private readonly statements
  /** Access times and hit counts waiting for the next flush, by digest. */
  private readonly pendingAccess = new Map<string, { lastAccessMs: number; hits: number }>()
  /** Counters waiting for the next flush, by "registry\nrepository". */
  private readonly pendingCounters = new Map<string, RepositoryCounters>()
  /** Bytes and rows in `blobs`, kept in step with every write so that nobody needs a SUM over the table. */
  private readonly usage: { count: number; bytes: number }

  constructor(
    path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(schema)
    this.statements = {
      getBlob: this.db.prepare<[string], { digest: string; size: number; mediaType: string | null }>(
        'SELECT digest, size, media_type AS mediaType FROM blobs WHERE digest = ?',
      ),
      putBlob: this.db.prepare<[string, number, string | null, number, number]>(
        `INSERT INTO blobs (digest, size, media_type, created_ms, last_access_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (digest) DO UPDATE SET size = excluded.size, media_type = coalesce(excluded.media_type, blobs.media_type)`,
      ),
      deleteBlob: this.db.prepare<[string]>('DELETE FROM blobs WHERE digest = ?'),
      touchBlob: this.db.prepare<[number, number, string]>(
        'UPDATE blobs SET last_access_ms = max(last_access_ms, ?), hits = hits + ? WHERE digest = ?',
      ),
      allBlobs: this.db.prepare<[], { digest: string; size: number }>('SELECT digest, size FROM blobs'),
      getTag: this.db.prepare<[string, string, string, string], TagRow>(
        `SELECT media_type AS mediaType, digest, size, checked_ms AS checkedMs FROM tags
         WHERE registry = ? AND repository = ? AND tag = ? AND accept_key = ?`,
      ),
      putTag: this.db.prepare<[string, string, string, string, string, string, number, number]>(
        `INSERT INTO tags (registry, repository, tag, accept_key, media_type, digest, size, checked_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (registry, repository, tag, accept_key) DO UPDATE
         SET media_type = excluded.media_type, digest = excluded.digest, size = excluded.size, checked_ms = excluded.checked_ms`,
      ),
      deleteTag: this.db.prepare<[string, string, string]>('DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?'),
      addCounters: this.db.prepare<[string, string, number, number, number, number, number, number, number, number, number]>(
        `INSERT INTO repository_stats (registry, repository, requests, hits, misses, coalesced, revalidated, stale, errors,
           bytes_from_cache, bytes_from_upstream) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (registry, repository) DO UPDATE SET
           requests = requests + excluded.requests, hits = hits + excluded.hits, misses = misses + excluded.misses,
           coalesced = coalesced + excluded.coalesced, revalidated = revalidated + excluded.revalidated,
           stale = stale + excluded.stale, errors = errors + excluded.errors,
           bytes_from_cache = bytes_from_cache + excluded.bytes_from_cache,
           bytes_from_upstream = bytes_from_upstream + excluded.bytes_from_upstream`,
      ),
      repositoryStats: this.db.prepare<[], RepositoryCounters & { registry: string; repository: string }>(
        `SELECT registry, repository, requests, hits, misses, coalesced, revalidated, stale, errors,
           bytes_from_cache AS bytesFromCache, bytes_from_upstream AS bytesFromUpstream FROM repository_stats`,
      ),
      totals: this.db.prepare<[], { count: number; bytes: number }>('SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM blobs'),
      lruPage: this.db.prepare<[number, string, number], { digest: string; size: number; lastAccessMs: number; mediaType: string | null }>(
        `SELECT digest, size, last_access_ms AS lastAccessMs, media_type AS mediaType FROM blobs
         WHERE (last_access_ms, digest) > (?, ?) ORDER BY last_access_ms, digest LIMIT ?`,
      ),
      tagsOf: this.db.prepare<[string, string, string], { digest: string }>(
        'SELECT DISTINCT digest FROM tags WHERE registry = ? AND repository = ? AND tag = ?',
      ),
    }
    this.usage = this.statements.totals.get() as { count: number; bytes: number }
  }

  getBlob(digest: string): BlobRow | undefined {
    return this.statements.getBlob.get(digest)
  }

  putBlob(digest: string, size: number, mediaType: string | null): void {
    const before = this.getBlob(digest)
    const now = this.now()
    this.statements.putBlob.run(digest, size, mediaType, now, now)
    this.usage.bytes += size - (before?.size ?? 0)
    if (!before) this.usage.count++
  }

  deleteBlob(digest: string): void {
    this.pendingAccess.delete(digest)
    const before = this.getBlob(digest)
    if (!before) return
    this.statements.deleteBlob.run(digest)
    this.usage.bytes -= before.size
    this.usage.count--
  }

  /** Notes a cache hit; written at the next flush. */
  touchBlob(digest: string): void {
    const entry = this.pendingAccess.get(digest)
    if (entry) {
      entry.lastAccessMs = this.now()
      entry.hits++
    } else {
      this.pendingAccess.set(digest, { lastAccessMs: this.now(), hits: 1 })
    }
  }

  allBlobs(): IterableIterator<{ digest: string; size: number }> {
    return this.statements.allBlobs.iterate()
  }

  /** Deletes many blob rows in one transaction (start-up repair). */
  deleteBlobs(digests: readonly string[]): void {
    this.db.transaction(() => {
      for (const digest of digests) this.deleteBlob(digest)
    })()
  }

  /** True while the database answers a query. */
  answers(): boolean {
    try {
      return this.db.open && this.db.prepare('SELECT 1 AS one').get() !== undefined
    } catch {
      return false
    }
  }

  /** Re-reads the totals from the table (another process, such as `dockside gc`, may have changed it). */
  recount(): void {
    Object.assign(this.usage, this.statements.totals.get())
  }

  /** Rows and bytes in the cache (kept in memory, no table scan). */
  totals(): { count: number; bytes: number } {
    return { ...this.usage }
  }

  /**
   * The next `limit` blobs in least-recently-used order after the given position (keyset paging, so a
   * page never rescans what an earlier one returned). Pending access times are flushed first.
   */
  leastRecentlyUsed(after: { lastAccessMs: number; digest: string }, limit: number): { digest: string; size: number; lastAccessMs: number; mediaType: string | null }[] {
    this.flush()
    return this.statements.lruPage.all(after.lastAccessMs, after.digest, limit)
  }

  /** Digests a tag points at (one per accept key). */
  tagDigests(registry: string, repository: string, tag: string): string[] {
    return this.statements.tagsOf.all(registry, repository, tag).map((r) => r.digest)
  }

  /** Runs fn in one transaction. */
  transaction(fn: () => void): void {
    this.db.transaction(fn)()
  }

  /**
   * A tag is cached per accept key (the manifest types a client accepts): a client that cannot read an index
   * must never be handed one, and a multi-platform client must never get the single-platform answer.
   */
  getTag(registry: string, repository: string, tag: string, acceptKey: string): TagRow | undefined {
    return this.statements.getTag.get(registry, repository, tag, acceptKey)
  }

  putTag(registry: string, repository: string, tag: string, acceptKey: string, row: TagRow): void {
    this.statements.putTag.run(registry, repository, tag, acceptKey, row.mediaType, row.digest, row.size, row.checkedMs)
  }

  deleteTag(registry: string, repository: string, tag: string): void {
    this.statements.deleteTag.run(registry, repository, tag)
  }

  /** Counts one answered request for a repository; written at the next flush. */
  count(registry: string, repository: string, outcome: CacheOutcome, bytesFromCache: number, bytesFromUpstream: number): void {
    const key = `${registry}\n${repository}`
    let counters = this.pendingCounters.get(key)
    if (!counters) {
      counters = emptyCounters()
      this.pendingCounters.set(key, counters)
    }
    counters.requests++
    counters[outcomeColumn[outcome]]++
    counters.bytesFromCache += bytesFromCache
    counters.bytesFromUpstream += bytesFromUpstream
  }

  repositoryStats(): (RepositoryCounters & { registry: string; repository: string })[] {
    this.flush()
    return this.statements.repositoryStats.all()
  }

  /** Writes batched access times and counters in one transaction. */
  flush(): void {
    if (this.pendingAccess.size === 0 && this.pendingCounters.size === 0) return
    // Cleared only once committed: a failed flush (disk full, say) keeps its figures for the next one.
    this.db.transaction(() => {
      for (const [digest, a] of this.pendingAccess) this.statements.touchBlob.run(a.lastAccessMs, a.hits, digest)
      for (const [key, c] of this.pendingCounters) {
        const [registry, repository] = key.split('\n') as [string, string]
        this.statements.addCounters.run(registry, repository, c.requests, c.hits, c.misses, c.coalesced, c.revalidated,
          c.stale, c.errors, c.bytesFromCache, c.bytesFromUpstream)
      }
    })()
    this.pendingAccess.clear()
    this.pendingCounters.clear()
  }

  close(): void {
    try {
      this.flush()
    } finally {
      this.db.close()
    }
  }
}
