// Files by digest under <cacheDir>/blobs/<algorithm>/<2 hex>/<hex>, and the tmp/ folder fills write into.
// A file only ever appears under blobs/ by rename of a complete, verified, fsynced temp file.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest, DigestAlgorithm } from '../oci/digest.js'

export class BlobStore {
  readonly blobsDir: string
  readonly tmpDir: string

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs')
    this.tmpDir = join(root, 'tmp')
  }

  /** Creates the folders and removes temp files a previous run left behind (their fills died with it). */
  prepare(): void {
    mkdirSync(this.blobsDir, { recursive: true })
    rmSync(this.tmpDir, { recursive: true, force: true })
    mkdirSync(this.tmpDir, { recursive: true })
  }

  path(digest: Digest): string {
    return join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2), digest.hex)
  }

  /** A new, exclusively created temp file. */
  async createTemp(): Promise<{ path: string; handle: FileHandle }> {
    const path = join(this.tmpDir, randomBytes(12).toString('hex'))
    return { path, handle: await open(path, 'wx+') }
  }

  /** Moves a verified temp file into place (the caller has fsynced it). */
  async commit(tempPath: string, digest: Digest): Promise<string> {
    const target = this.path(digest)
    await mkdir(join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2)), { recursive: true })
    await rename(tempPath, target)
    return target
  }

  /** Writes small verified content (a manifest) in place atomically. */
  async writeVerified(digest: Digest, bytes: Uint8Array): Promise<void> {
    const { path, handle } = await this.createTemp()
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } catch (err) {
      await handle.close()
      await unlink(path).catch(() => {})
      throw err
    }
    await handle.close()
    await this.commit(path, digest)
  }

  async remove(digest: Digest): Promise<void> {
    await unlink(this.path(digest)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** Every file under blobs/, as (algorithm, hex, path); names that are no digest are reported as such. */
  *walk(): Generator<{ algorithm: DigestAlgorithm; hex: string; path: string } | { stray: string }> {
    for (const algorithm of safeReaddir(this.blobsDir)) {
      for (const prefix of safeReaddir(join(this.blobsDir, algorithm))) {
        for (const hex of safeReaddir(join(this.blobsDir, algorithm, prefix))) {
          const path = join(this.blobsDir, algorithm, prefix, hex)
          const wellFormed = (algorithm === 'sha256' || algorithm === 'sha512') && hex.startsWith(prefix) && /^[a-f0-9]+$/.test(hex)
          yield wellFormed ? { algorithm, hex, path } : { stray: path }
        }
      }
    }
  }
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path)
  } catch {
    return []
  }
}
