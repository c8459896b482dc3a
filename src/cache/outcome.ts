/** How a request was answered. */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced' | 'revalidated' | 'stale' | 'error'

export const cacheOutcomes: readonly CacheOutcome[] = ['hit', 'miss', 'coalesced', 'revalidated', 'stale', 'error']

/** Which kind of API call a request was. */
export type RequestKind = 'base' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'other'
