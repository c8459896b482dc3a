// Manifest media types and Accept negotiation (pure).

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const

/** What Dockside asks upstream for when the client states no preference. */
export const allManifestTypes: readonly string[] = [
  mediaTypes.ociIndex,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifestList,
  mediaTypes.dockerManifest,
]

/**
 * The manifest types a client accepts, as one string: clients with the same key get the same upstream answer,
 * so a tag cached for one serves the other.
 */
export function acceptKey(accept: AcceptList): string {
  return Object.values(mediaTypes)
    .filter((type) => accepts(accept, type))
    .join(',')
}

/** A parsed Accept: the media ranges a client allows (q=0 entries removed). */
export interface AcceptList {
  readonly ranges: readonly string[]
  /** True when the client sent no Accept at all. */
  readonly absent: boolean
}

/**
 * Merges every Accept line a client sent (Node joins repeated headers with ", ") into one list.
 * Parameters other than q are dropped; q=0 means "not acceptable".
 */
export function parseAccept(header: string | string[] | undefined): AcceptList {
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header]
  const ranges: string[] = []
  for (const line of lines) {
    for (const part of line.split(',')) {
      const [rawType, ...params] = part.split(';')
      const type = rawType?.trim().toLowerCase()
      if (!type) continue
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
      if (q !== undefined && Number(q.slice(2)) === 0) continue
      if (!ranges.includes(type)) ranges.push(type)
    }
  }
  return { ranges, absent: ranges.length === 0 }
}

export function accepts(accept: AcceptList, mediaType: string): boolean {
  if (accept.absent) return true
  const type = mediaType.toLowerCase()
  const major = type.split('/')[0]
  return accept.ranges.some((r) => r === type || r === '*/*' || r === `${major}/*`)
}

/**
 * The Accept header sent upstream: the client's own list; where it gave none or a wildcard, every manifest
 * type first, so that a registry does not fall back to a legacy format on a bare "*\/*".
 */
export function upstreamAccept(accept: AcceptList): string {
  const wildcard = accept.absent || accept.ranges.some((r) => r.endsWith('/*'))
  const ranges = wildcard ? [...allManifestTypes, ...accept.ranges.filter((r) => !allManifestTypes.includes(r))] : accept.ranges
  return ranges.join(', ')
}
