// Pinned images: the digests eviction must keep, found by walking cached manifests from each pinned reference.
import { readFileSync } from 'node:fs'
import { parseDigest } from '../oci/digest.js'
import type { BlobStore } from './blob-store.js'
import type { CacheIndex } from './cache-index.js'

export interface PinnedImage {
  readonly registry: string
  readonly repository: string
  readonly tag: string | undefined
  readonly digest: string | undefined
}

interface ManifestShape {
  config?: { digest?: unknown }
  layers?: { digest?: unknown }[]
  manifests?: { digest?: unknown }[]
  blobs?: { digest?: unknown }[]
}

/** Digests a manifest refers to (config, layers, child manifests), when it is cached and readable. */
function referencedDigests(store: BlobStore, digest: string): string[] {
  let manifest: ManifestShape
  try {
    manifest = JSON.parse(readFileSync(store.path(parseDigest(digest)), 'utf8')) as ManifestShape
  } catch {
    return [] // not cached (or not a manifest): nothing below it to keep
  }
  const refs = [manifest.config, ...(manifest.layers ?? []), ...(manifest.manifests ?? []), ...(manifest.blobs ?? [])]
  return refs.map((r) => r?.digest).filter((d): d is string => typeof d === 'string')
}

/** Every cached digest that belongs to a pinned image: manifests, indexes, their children and blobs. */
export function pinnedDigests(pins: readonly PinnedImage[], index: CacheIndex, store: BlobStore): Set<string> {
  const keep = new Set<string>()
  const pending: string[] = []
  for (const pin of pins) {
    if (pin.digest !== undefined) pending.push(pin.digest)
    if (pin.tag !== undefined) pending.push(...index.tagDigests(pin.registry, pin.repository, pin.tag))
  }
  for (let digest = pending.pop(); digest !== undefined; digest = pending.pop()) {
    if (keep.has(digest)) continue
    keep.add(digest)
    if (index.getBlob(digest)?.mediaType) pending.push(...referencedDigests(store, digest))
  }
  return keep
}
