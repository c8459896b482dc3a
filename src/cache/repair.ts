// Start-up repair: after a crash the index and the disk must agree before the first request is answered.
// A clean shutdown leaves a marker file; a start that finds it skips the full check (one stat per row and a
// walk of every file), which grows with the cache, and only empties tmp/.
import { createReadStream, existsSync, rmSync, writeFileSync } from 'node:fs'
import { stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { newHash, parseDigest } from '../oci/digest.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex } from './cache-index.js'

export interface RepairReport {
  /** True when the last run shut down cleanly, so the full check was skipped. */
  readonly skipped: boolean
  /** Index rows dropped because their file was gone. */
  readonly missingFiles: number
  /** Files not in the index that hashed to their name and were adopted. */
  readonly adopted: number
  /** Files removed because they did not match their name (or had no digest name at all). */
  readonly removed: number
}

async function hashFile(path: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const hash = newHash(algorithm)
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash)
  return hash.digest('hex')
}

const cleanMarker = 'clean-shutdown'

/** Marks the cache as consistent: called after the index is flushed and closed at shutdown. */
export function markCleanShutdown(store: BlobStore): void {
  writeFileSync(join(store.root, cleanMarker), `${new Date().toISOString()}\n`)
}

export async function repairCache(store: BlobStore, index: CacheIndex): Promise<RepairReport> {
  store.prepare()
  const marker = join(store.root, cleanMarker)
  if (existsSync(marker)) {
    rmSync(marker) // from now on the cache is in use: a crash before the next clean stop leaves no marker
    return { skipped: true, missingFiles: 0, adopted: 0, removed: 0 }
  }
  const known = new Set<string>()
  const missing = new Set<string>()
  for (const row of index.allBlobs()) {
    known.add(row.digest)
    const file = await stat(store.path(parseDigest(row.digest))).catch(() => undefined)
    if (!file || file.size !== row.size) missing.add(row.digest)
  }
  index.deleteBlobs([...missing])
  let adopted = 0
  let removed = 0
  for (const entry of store.walk()) {
    if ('stray' in entry) {
      await unlink(entry.stray).catch(() => {})
      removed++
      continue
    }
    const digest = `${entry.algorithm}:${entry.hex}`
    if (known.has(digest) && !missing.has(digest)) continue
    const size = (await stat(entry.path)).size
    if ((await hashFile(entry.path, entry.algorithm)) === entry.hex) {
      index.putBlob(digest, size, null)
      adopted++
    } else {
      await unlink(entry.path).catch(() => {})
      removed++
    }
  }
  return { skipped: false, missingFiles: missing.size, adopted, removed }
}
