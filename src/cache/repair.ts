// Start-up repair: after a crash the index and the disk must agree before the first request is answered.
import { createReadStream } from 'node:fs'
import { stat, unlink } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { newHash, parseDigest } from '../oci/digest.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex } from './cache-index.js'

export interface RepairReport {
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

export async function repairCache(store: BlobStore, index: CacheIndex): Promise<RepairReport> {
  store.prepare()
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
  return { missingFiles: missing.size, adopted, removed }
}
