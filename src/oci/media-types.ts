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

/** A parsed Accept: the media ranges a client allows, and the exact types it refused with q=0. */
export interface AcceptList {
  readonly ranges: readonly string[]
  /** Types (or ranges) sent with q=0: not acceptable, even where a wildcard would allow them. */
  readonly refused: readonly string[]
  /** True when the client sent no Accept at all. */
  readonly absent: boolean
}

/**
 * Merges every Accept line a client sent (Node joins repeated headers with ", ") into one list.
 * Parameters other than q are dropped.
 */
export function parseAccept(header: string | string[] | undefined): AcceptList {
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header]
  const ranges: string[] = []
  const refused: string[] = []
  for (const line of lines) {
    for (const part of line.split(',')) {
      const [rawType, ...params] = part.split(';')
      const type = rawType?.trim().toLowerCase()
      if (!type) continue
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
      const list = q !== undefined && Number(q.slice(2)) === 0 ? refused : ranges
      if (!list.includes(type)) list.push(type)
    }
  }
  return { ranges, refused, absent: ranges.length === 0 && refused.length === 0 }
}

function matches(range: string, type: string): boolean {
  return range === type || range === '*/*' || range === `${type.split('/')[0]}/*`
}

/** Whether a client takes a media type; a q=0 entry beats a wildcard, since the more specific range wins. */
export function accepts(accept: AcceptList, mediaType: string): boolean {
  if (accept.absent) return true
  const type = mediaType.toLowerCase()
  if (accept.refused.includes(type)) return false
  if (accept.ranges.includes(type)) return true
  if (accept.refused.some((r) => matches(r, type))) return false // e.g. "application/*;q=0"
  return accept.ranges.some((r) => matches(r, type))
}

/**
 * The Accept header sent upstream: the client's own list; where it gave none or a wildcard, every manifest
 * type first, so that a registry does not fall back to a legacy format on a bare "*\/*".
 */
export function upstreamAccept(accept: AcceptList): string {
  const wildcard = accept.absent || accept.ranges.some((r) => r.endsWith('/*'))
  if (!wildcard) return accept.ranges.join(', ')
  const manifestTypes = allManifestTypes.filter((type) => accepts(accept, type))
  return [...manifestTypes, ...accept.ranges.filter((r) => !manifestTypes.includes(r))].join(', ')
}
