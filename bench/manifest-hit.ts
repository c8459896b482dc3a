// Manifest-by-tag hits under load: wrk, 32 connections, containerd's Accept header, against Dockside with a warm
// tag (logging at warn, and at info with the access log sent to /dev/null) and against a bare node:http server
// that answers the same path with the same bytes and headers (bench/bare-manifest-server.ts): the ceiling for
// Node on this machine. Two rounds, alternating; the ratio is Dockside's req/s over the bare server's.
//
//   npm run build && npx tsx bench/manifest-hit.ts [--seconds N] [--rounds N] [--threads N]
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { FakeRegistry, MEDIA_TYPES, type IndexEntry } from '../test/support/fake-registry.js'
import {
  check,
  cpuSeconds,
  docksideRequestCounts,
  fmt,
  hostsDirFor,
  httpGet,
  median,
  onCleanup,
  printTable,
  runBench,
  startDockside,
  startServerChild,
  tempDir,
  runWrk,
  verdict,
  type WrkResult,
} from './support.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
  },
})
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const threads = Number(values.threads)
const connections = 32

/** What containerd sends when it resolves a tag. */
const accept = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.dockerManifest].join(', ')
/** The headers both servers must send identically. */
const comparedHeaders = ['content-type', 'content-length', 'docker-content-digest', 'etag', 'docker-distribution-api-version'] as const


/** An OCI index of a few platforms, tagged `latest`, as docker.io/library/bench would serve it. */
function addMultiPlatformImage(upstream: FakeRegistry, repo: string): void {
  const platforms = [
    ['linux', 'amd64'],
    ['linux', 'arm64'],
    ['linux', 'arm'],
    ['linux', 'ppc64le'],
    ['linux', 's390x'],
    ['linux', '386'],
  ] as const
  const entries: IndexEntry[] = platforms.map(([os, architecture]) => {
    const image = upstream.addImage(repo, `${os}-${architecture}`)
    return { digest: image.manifestDigest, size: image.manifestBytes.length, mediaType: image.mediaType, platform: { os, architecture } }
  })
  upstream.addIndex(repo, 'latest', entries)
}

runBench('manifest-hit: warm manifest-by-tag hits under wrk, Dockside vs bare node:http', 240, async () => {
  const upstream = await FakeRegistry.start()
  onCleanup(() => upstream.close())
  addMultiPlatformImage(upstream, 'library/bench')
  const hostsDir = hostsDirFor(upstream.url)
  const path = '/v2/library/bench/manifests/latest'

  const docksides = {
    'dockside (warn)': await startDockside({ hostsDir, logLevel: 'warn' }),
    'dockside (info > /dev/null)': await startDockside({ hostsDir, logLevel: 'info', stdout: 'null' }),
  }

  // Warm each Dockside: the first GET is a miss, the next a hit; both give the same bytes and headers.
  let reference: { body: Buffer; headers: Record<string, string> } | undefined
  for (const [name, d] of Object.entries(docksides)) {
    const first = await httpGet(`${d.url}${path}`, { headers: { accept }, collect: true })
    const second = await httpGet(`${d.url}${path}`, { headers: { accept }, collect: true })
    check(first.status === 200 && first.headers['x-dockside-cache'] === 'miss', `${name}: warm-up GET ${first.status} ${first.headers['x-dockside-cache']}`)
    check(second.status === 200 && second.headers['x-dockside-cache'] === 'hit', `${name}: second GET ${second.status} ${second.headers['x-dockside-cache']}`)
    check(second.headers['content-type'] === MEDIA_TYPES.ociIndex, `${name}: content-type ${second.headers['content-type']}`)
    const headers = Object.fromEntries(comparedHeaders.map((h) => [h, String(second.headers[h])]))
    reference ??= { body: second.body!, headers }
    check(second.body!.equals(reference.body), `${name}: manifest bytes differ`)
  }
  check(upstream.count({ kind: 'manifest', method: 'GET' }) === 2, `upstream manifest GETs after warm-up: ${upstream.count({ kind: 'manifest', method: 'GET' })}, expected 2`)
  const upstreamBefore = upstream.requests.length

  // The bare server answers the same path with the same bytes and headers.
  const specPath = join(tempDir('bare'), 'spec.json')
  writeFileSync(specPath, JSON.stringify({ path, bodyBase64: reference!.body.toString('base64'), headers: reference!.headers }))
  const bare = await startServerChild('bare-manifest-server', process.execPath, ['--import', 'tsx', 'bench/bare-manifest-server.ts', specPath])
  const fromBare = await httpGet(`${bare.url}${path}`, { headers: { accept }, collect: true })
  check(fromBare.status === 200 && fromBare.body!.equals(reference!.body), 'bare server: bytes differ')
  for (const h of comparedHeaders) check(fromBare.headers[h] === reference!.headers[h], `bare server: ${h} ${fromBare.headers[h]} != ${reference!.headers[h]}`)
  console.log(`manifest: ${reference!.body.length} bytes, ${reference!.headers['content-type']}, ${reference!.headers['docker-content-digest']}`)
  console.log(`wrk: ${threads} threads, ${connections} connections, ${seconds} s per run, ${rounds} rounds; Accept: ${accept}\n`)

  const targets = [
    { name: 'bare node:http', url: `${bare.url}${path}`, pid: bare.pid, dockside: undefined },
    ...Object.entries(docksides).map(([name, d]) => ({ name, url: `${d.url}${path}`, pid: d.pid, dockside: d })),
  ]
  const results = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]))

  // A short unmeasured run each, so every server is JIT-warm before the first measured run.
  const wrk = (url: string, secs: number): Promise<WrkResult> => runWrk(url, { seconds: secs, threads, connections, headers: { Accept: accept } })
  for (const t of targets) await wrk(t.url, 1)

  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse()
    for (const t of order) {
      const before = t.dockside ? await docksideRequestCounts(t.dockside.url) : undefined
      const cpuBefore = cpuSeconds(t.pid)
      const r = await wrk(t.url, seconds)
      r.cpuUsPerReq = ((cpuSeconds(t.pid) - cpuBefore) * 1e6) / r.requests
      check(r.non2xx === 0, `${t.name}: ${r.non2xx} non-2xx responses`)
      check(r.socketErrors === 0, `${t.name}: ${r.socketErrors} socket errors`)
      check(r.requests > 0, `${t.name}: wrk completed no request`)
      if (t.dockside && before) {
        // Every answer during the run must be a hit: nothing but manifest/hit may have moved.
        const after = await docksideRequestCounts(t.dockside.url)
        for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
          const delta = (after[key] ?? 0) - (before[key] ?? 0)
          if (key === 'manifest/hit') check(delta >= r.requests, `${t.name}: ${delta} hits counted for ${r.requests} wrk requests`)
          else check(delta === 0, `${t.name}: ${delta} requests with ${key} during the run`)
        }
      }
      results.get(t.name)!.push(r)
    }
  }
  check(upstream.requests.length === upstreamBefore, `the upstream saw ${upstream.requests.length - upstreamBefore} requests during the runs`)

  const rows: string[][] = []
  for (const t of targets) {
    const rs = results.get(t.name)!
    rs.forEach((r, i) => rows.push([t.name, String(i + 1), fmt(r.reqPerSec, 0), fmt(r.p50ms, 2), fmt(r.p99ms, 2), fmt(r.cpuUsPerReq!, 1)]))
  }
  printTable(['server', 'round', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req'], rows)

  const bareRps = median(results.get('bare node:http')!.map((r) => r.reqPerSec))
  console.log('')
  const summary: string[][] = []
  const verdicts: string[] = []
  for (const t of targets) {
    const rs = results.get(t.name)!
    const rps = median(rs.map((r) => r.reqPerSec))
    const p99 = Math.max(...rs.map((r) => r.p99ms))
    summary.push([t.name, fmt(rps, 0), fmt(median(rs.map((r) => r.p50ms)), 2), fmt(p99, 2), fmt(rps / bareRps, 2)])
    if (t.dockside) verdicts.push(`${t.name}: ${verdict(rps / bareRps, '>=', 0.75)}, worst p99 ${fmt(p99, 2)} ms (target < 20 ms: ${p99 < 20 ? 'met' : 'MISSED'})`)
  }
  printTable(['server', 'req/s (median)', 'p50 ms (median)', 'p99 ms (worst)', 'vs bare'], summary)
  console.log(`\nresult: ${verdicts.join('\n        ')}`)
})
