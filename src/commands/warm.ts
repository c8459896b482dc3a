// `dockside warm IMAGE...`: pulls manifests and every blob of the given images through a running Dockside,
// so that an edge site has them cached before a rollout. It is an ordinary client of the registry API.
import pLimit from 'p-limit'
import { Agent, request } from 'undici'
import { formatBytes } from '../config/units.js'
import { newHash, parseDigest } from '../oci/digest.js'
import { allManifestTypes } from '../oci/media-types.js'
import { parseImageReference } from '../oci/reference.js'
import { Progress } from './progress.js'

export interface WarmOptions {
  readonly url: string
  readonly images: readonly string[]
  /** "os/arch[/variant]" or "all". */
  readonly platform: string
  readonly concurrency: number
}

export interface WarmReport {
  images: number
  failed: string[]
  blobs: number
  bytes: number
  alreadyCached: number
  seconds: number
}

interface Descriptor {
  digest: string
  size: number
  mediaType?: string
  platform?: { os?: string; architecture?: string; variant?: string }
}

interface ManifestJson {
  mediaType?: string
  manifests?: Descriptor[]
  config?: Descriptor
  layers?: Descriptor[]
}

function platformMatches(wanted: string, platform: Descriptor['platform']): boolean {
  if (wanted === 'all') return platform?.os !== 'unknown' // attestation manifests say unknown/unknown
  const [os, architecture, variant] = wanted.split('/')
  return platform?.os === os && platform?.architecture === architecture && (variant === undefined || platform?.variant === variant)
}

export async function warmCommand(opts: WarmOptions, out: NodeJS.WritableStream = process.stdout): Promise<WarmReport> {
  const started = performance.now()
  const base = opts.url.replace(/\/+$/, '')
  const dispatcher = new Agent({ connections: opts.concurrency + 2 })
  const report: WarmReport = { images: 0, failed: [], blobs: 0, bytes: 0, alreadyCached: 0, seconds: 0 }
  const blobs = new Map<string, { path: string; size: number }>()

  const getManifest = async (name: string, reference: string): Promise<ManifestJson> => {
    const res = await request(`${base}/v2/${name}/manifests/${reference}`, { dispatcher, headers: { accept: allManifestTypes.join(', ') } })
    const body = await res.body.text()
    if (res.statusCode !== 200) throw new Error(`${name}:${reference}: ${res.statusCode} ${body.slice(0, 200)}`)
    return JSON.parse(body) as ManifestJson
  }

  for (const image of opts.images) {
    try {
      const ref = parseImageReference(image)
      const top = await getManifest(ref.name, ref.digest ?? (ref.tag as string))
      const manifests = top.manifests
        ? await Promise.all(top.manifests.filter((m) => platformMatches(opts.platform, m.platform)).map((m) => getManifest(ref.name, m.digest)))
        : [top]
      if (manifests.length === 0) throw new Error(`${image}: no manifest for platform ${opts.platform}`)
      for (const m of manifests) {
        for (const d of [m.config, ...(m.layers ?? [])]) {
          if (d) blobs.set(d.digest, { path: `/v2/${ref.name}/blobs/${d.digest}`, size: d.size })
        }
      }
      report.images++
    } catch (err) {
      report.failed.push(`${image}: ${(err as Error).message}`)
    }
  }

  const total = [...blobs.values()].reduce((sum, b) => sum + b.size, 0)
  const progress = new Progress('warm', total, 'bytes')
  const limit = pLimit(opts.concurrency)
  await Promise.all(
    [...blobs].map(([digest, blob]) =>
      limit(async () => {
        try {
          const res = await request(`${base}${blob.path}`, { dispatcher })
          if (res.statusCode !== 200) {
            await res.body.dump()
            throw new Error(`${res.statusCode}`)
          }
          if (res.headers['x-dockside-cache'] === 'hit') report.alreadyCached++
          const expected = parseDigest(digest)
          const hash = newHash(expected.algorithm)
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            hash.update(chunk)
            report.bytes += chunk.length
            progress.update(report.bytes)
          }
          if (hash.digest('hex') !== expected.hex) throw new Error('content does not match its digest')
          report.blobs++
        } catch (err) {
          report.failed.push(`blob ${digest}: ${(err as Error).message}`)
        }
      }),
    ),
  )
  progress.finish(report.bytes)
  await dispatcher.close()
  report.seconds = (performance.now() - started) / 1000
  for (const failure of report.failed) out.write(`failed: ${failure}\n`)
  out.write(
    `warmed ${report.images} of ${opts.images.length} images: ${report.blobs} blobs, ${formatBytes(report.bytes)} ` +
      `(${report.alreadyCached} already cached) in ${report.seconds.toFixed(1)} s\n`,
  )
  return report
}
