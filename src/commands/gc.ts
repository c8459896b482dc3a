// `dockside gc [--to SIZE]`: evict least-recently-used content now, down to SIZE (default: the low watermark).
import type { Logger } from 'pino'
import { openCache } from '../app.js'
import type { Config } from '../config/config.js'
import { formatBytes } from '../config/units.js'

export async function gcCommand(config: Config, log: Logger, opts: { toBytes: number | undefined }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const { index, evictor } = await openCache(config, log, { repair: false })
  try {
    const before = index.totals()
    const report = await evictor.evict(opts.toBytes ?? evictor.lowBytes)
    out.write(`evicted ${report.evictedBlobs} blobs, ${formatBytes(report.evictedBytes)} in ${report.durationMs.toFixed(0)} ms: ` +
      `${formatBytes(before.bytes)} -> ${formatBytes(report.usedBytes)}\n`)
  } finally {
    index.close()
  }
}
