// `dockside stats`: hit ratio per registry, top repositories and bytes saved, from the SQLite index.
import { join } from 'node:path'
import { CacheIndex } from '../cache/cache-index.js'
import type { Config } from '../config/config.js'
import { formatBytes } from '../config/units.js'
import { summarize, withRatios } from '../stats.js'
import { percent, renderTable } from './table.js'

export function statsCommand(config: Config, opts: { json: boolean; top: number }, out: NodeJS.WritableStream = process.stdout): void {
  const index = new CacheIndex(join(config.cacheDir, 'index.sqlite'))
  try {
    const { totals, byRegistry, topRepositories } = summarize(index.repositoryStats(), opts.top)
    const disk = { ...index.totals(), maxBytes: config.cache.maxBytes }
    const registries = [...byRegistry].map(([registry, counters]) => ({ registry, ...withRatios(counters) }))
    if (opts.json) {
      out.write(JSON.stringify({ totals, registries, topRepositories, disk }, null, 2) + '\n')
      return
    }
    const row = (name: string, c: typeof totals): string[] => [
      name,
      String(c.requests),
      percent(c.hitRatio),
      percent(c.byteHitRatio),
      formatBytes(c.bytesFromCache),
      formatBytes(c.bytesFromUpstream),
    ]
    const header = ['registry', 'requests', 'hit ratio', 'byte hit ratio', 'served from cache', 'fetched upstream']
    out.write(renderTable(header, [...registries.map((r) => row(r.registry, r)), row('all', totals)]))
    out.write('\n')
    out.write(renderTable(['top repositories', 'requests', 'hit ratio', 'byte hit ratio', 'served from cache', 'fetched upstream'],
      topRepositories.map((r) => row(`${r.registry}/${r.repository}`, r))))
    out.write(`\nbytes saved from upstream: ${formatBytes(totals.bytesFromCache)}\n`)
    out.write(`disk: ${formatBytes(disk.bytes)} in ${disk.count} blobs of a ${formatBytes(disk.maxBytes)} budget (${percent(disk.bytes / disk.maxBytes)})\n`)
  } finally {
    index.close()
  }
}
