// `dockside verify`: re-hash every cached blob; remove (row and file) and report any that do not match.
import { createReadStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'
import type { Logger } from 'pino'
import { openCache } from '../app.js'
import type { Config } from '../config/config.js'
import { formatBytes } from '../config/units.js'
import { newHash, parseDigest } from '../oci/digest.js'
import { Progress } from './progress.js'

export interface VerifyReport {
  checked: number
  bytes: number
  bad: { digest: string; reason: string }[]
}

export async function verifyCommand(config: Config, log: Logger, out: NodeJS.WritableStream = process.stdout): Promise<VerifyReport> {
  const { index, store } = await openCache(config, log, { repair: false })
  try {
    const rows = [...index.allBlobs()]
    const total = rows.reduce((sum, r) => sum + r.size, 0)
    const progress = new Progress('verify', total, 'bytes')
    const report: VerifyReport = { checked: 0, bytes: 0, bad: [] }
    for (const row of rows) {
      const digest = parseDigest(row.digest)
      const hash = newHash(digest.algorithm)
      let size = 0
      let reason: string | undefined
      try {
        await pipeline(
          createReadStream(store.path(digest), { highWaterMark: 1 << 20 }),
          new Transform({
            transform(chunk: Buffer, _enc, done) {
              size += chunk.length
              report.bytes += chunk.length
              progress.update(report.bytes)
              done(null, chunk)
            },
          }),
          hash,
        )
        const actual = `${digest.algorithm}:${hash.digest('hex')}`
        if (size !== row.size) reason = `size ${size}, index says ${row.size}`
        else if (actual !== digest.value) reason = `content hashes to ${actual}`
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !index.getBlob(row.digest)) continue // evicted meanwhile
        reason = `unreadable: ${(err as Error).message}`
      }
      report.checked++
      if (reason !== undefined) {
        index.deleteBlob(row.digest)
        await unlink(store.path(digest)).catch(() => {})
        report.bad.push({ digest: row.digest, reason })
      }
    }
    progress.finish(report.bytes)
    for (const bad of report.bad) out.write(`removed ${bad.digest}: ${bad.reason}\n`)
    out.write(`verified ${report.checked} blobs, ${formatBytes(report.bytes)}: ${report.bad.length === 0 ? 'all good' : `${report.bad.length} bad, removed`}\n`)
    return report
  } finally {
    index.close()
  }
}
