// Which Distribution API endpoint a request path names (pure; the name is checked later, after routing).

export type ApiPath =
  | { readonly kind: 'base' }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: string }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string }
  | { readonly kind: 'tags'; readonly name: string }
  | { readonly kind: 'referrers'; readonly name: string; readonly digest: string }
  /** Blob uploads: the push side, which a cache refuses. */
  | { readonly kind: 'upload'; readonly name: string }

const patterns: [RegExp, (m: RegExpExecArray) => ApiPath][] = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/, (m) => ({ kind: 'upload', name: m[1] as string })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1] as string, reference: m[2] as string })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1] as string, digest: m[2] as string })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1] as string })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1] as string, digest: m[2] as string })],
]

/** The endpoint of a /v2/ path, or undefined when the path is no Distribution API path. */
export function parseApiPath(pathname: string): ApiPath | undefined {
  for (const [pattern, build] of patterns) {
    const match = pattern.exec(pathname)
    if (match) return build(match)
  }
  return undefined
}
