// A thundering herd on a cold blob: 20 clients GET the same uncached 50 MiB blob at once, against one client
// GETting another uncached blob of the same size, each through a fresh Dockside (fresh cache dir) in front of a
// FakeRegistry in this process. The herd must cause exactly one upstream GET, every body must equal the blob
// byte for byte, and its wall time (first request sent to last body received) is compared with the single cold
// GET.
//
// Two upstream speeds: unthrottled (loopback from memory: the herd's cost is all Dockside serving 20x the
// bytes) and throttled (--upstream-mbps, default 200 Mbit/s: the download dominates, as it does for real).
//
//   npm run build && npx tsx bench/cold-herd.ts [--rounds N] [--clients N] [--size-mib N] [--upstream-mbps N]
import { randomFillSync } from 'node:crypto'
import { Agent } from 'node:http'
import { parseArgs } from 'node:util'
import { FakeRegistry } from '../test/support/fake-registry.js'
import { check, cpuSeconds, fmt, hostsDirFor, httpGet, max, median, min, onCleanup, printTable, removeDir, runBench, startDockside, tempDir, verdict, type Fetched } from './support.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '20' },
    'size-mib': { type: 'string', default: '50' },
    'upstream-mbps': { type: 'string', default: '200' },
  },
})
const rounds = Number(values.rounds)
const clients = Number(values.clients)
const size = Number(values['size-mib']) * 2 ** 20
const upstreamMbps = Number(values['upstream-mbps'])
const repo = 'library/herd'

interface Measurement {
  wallMs: number
  upstreamGets: number
  outcomes: Record<string, number>
  /** Fastest and slowest single request, first byte sent to last byte received. */
  fastestMs: number
  slowestMs: number
  /** CPU seconds (user + system) used by Dockside, and by this process (FakeRegistry and clients), during the GETs. */
  docksideCpu: number
  benchCpu: number
}

function randomBlob(bytes: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(bytes))
}

/**
 * `n` concurrent cold GETs of `digest` (whose bytes are `expected`) through a fresh Dockside with an empty
 * cache. Each body is compared with `expected` as it arrives: as strict as hashing it, at a fraction of the
 * CPU, which the clients share with Dockside on this machine.
 */
async function coldGets(upstream: FakeRegistry, hostsDir: string, digest: string, expected: Buffer, n: number): Promise<Measurement> {
  const cacheDir = tempDir('cache')
  const dockside = await startDockside({ hostsDir, cacheDir, logLevel: 'warn' })
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  upstream.reset()
  let responses: (Fetched & { mismatchAt: number | undefined })[]
  let docksideCpu = 0
  let benchCpu = 0
  try {
    const url = `${dockside.url}/v2/${repo}/blobs/${digest}`
    const cpuBefore = cpuSeconds(dockside.pid)
    const benchBefore = process.cpuUsage()
    responses = await Promise.all(
      Array.from({ length: n }, async () => {
        let offset = 0
        let mismatchAt: number | undefined
        const onData = (chunk: Buffer): void => {
          if (mismatchAt === undefined && !chunk.equals(expected.subarray(offset, offset + chunk.length))) mismatchAt = offset
          offset += chunk.length
        }
        const res = await httpGet(url, { agent, onData })
        return { ...res, mismatchAt }
      }),
    )
    docksideCpu = cpuSeconds(dockside.pid) - cpuBefore
    const bench = process.cpuUsage(benchBefore)
    benchCpu = (bench.user + bench.system) / 1e6
  } finally {
    agent.destroy()
    await dockside.stop()
    removeDir(cacheDir)
  }
  const wallMs = max(responses.map((r) => r.doneMs)) - min(responses.map((r) => r.sentMs))
  const upstreamGets = upstream.count({ kind: 'blob', method: 'GET' })
  const outcomes: Record<string, number> = {}
  for (const [i, r] of responses.entries()) {
    const outcome = String(r.headers['x-dockside-cache'])
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    check(r.status === 200, `client ${i}: status ${r.status}`)
    check(r.bytes === size, `client ${i}: ${r.bytes} bytes, expected ${size}`)
    check(r.mismatchAt === undefined, `client ${i}: body differs from the blob from byte ${r.mismatchAt}`)
  }
  check(upstreamGets === 1, `${n} cold GET(s) caused ${upstreamGets} upstream blob GETs, expected exactly 1`)
  check((outcomes.miss ?? 0) === 1, `expected exactly one miss, got ${JSON.stringify(outcomes)}`)
  const times = responses.map((r) => r.doneMs - r.sentMs)
  return { wallMs, upstreamGets, outcomes, fastestMs: min(times), slowestMs: max(times), docksideCpu, benchCpu }
}

runBench(`cold-herd: ${clients} concurrent cold GETs of one blob vs one cold GET`, 300, async () => {
  const upstream = await FakeRegistry.start()
  onCleanup(() => upstream.close())
  const hostsDir = hostsDirFor(upstream.url)
  const herdBytes = randomBlob(size)
  const singleBytes = randomBlob(size)
  const herdBlob = upstream.addBlob(repo, herdBytes)
  const singleBlob = upstream.addBlob(repo, singleBytes)
  console.log(`blobs: ${fmt(size / 2 ** 20, 0)} MiB each; herd ${herdBlob}, single ${singleBlob}`)

  const ratios: string[] = []
  for (const speed of ['unthrottled', 'throttled'] as const) {
    if (speed === 'throttled') {
      // trickle: chunkBytes every 10 ms.
      const chunk = Math.max(1, Math.round((upstreamMbps * 1e6) / 8 / 100))
      for (const d of [herdBlob, singleBlob]) upstream.trickleBlob(d, chunk, 10)
    }
    const single: Measurement[] = []
    const herd: Measurement[] = []
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so drift hits both alike.
      if (round % 2 === 0) {
        single.push(await coldGets(upstream, hostsDir, singleBlob, singleBytes, 1))
        herd.push(await coldGets(upstream, hostsDir, herdBlob, herdBytes, clients))
      } else {
        herd.push(await coldGets(upstream, hostsDir, herdBlob, herdBytes, clients))
        single.push(await coldGets(upstream, hostsDir, singleBlob, singleBytes, 1))
      }
    }
    for (const d of [herdBlob, singleBlob]) upstream.clearBlobFault(d)

    const label = speed === 'unthrottled' ? 'upstream unthrottled (loopback, from memory)' : `upstream throttled to ${upstreamMbps} Mbit/s`
    console.log(`\n${label}; ${rounds} rounds, fresh Dockside and cache dir for every measurement`)
    console.log('(a / b = single / herd; "herd clients ms" = fastest..slowest client; the last byte waits for the verified commit)')
    printTable(
      ['round', 'single ms', 'herd ms', 'herd/single', 'upstream GETs', 'herd outcomes', 'herd clients ms', 'dockside CPU s', 'bench CPU s'],
      herd.map((h, i) => {
        const s = single[i]!
        return [
          String(i + 1),
          fmt(s.wallMs, 0),
          fmt(h.wallMs, 0),
          fmt(h.wallMs / s.wallMs, 2),
          `${s.upstreamGets} / ${h.upstreamGets}`,
          Object.entries(h.outcomes).map(([k, v]) => `${k} ${v}`).join(', '),
          `${fmt(h.fastestMs, 0)}..${fmt(h.slowestMs, 0)}`,
          `${fmt(s.docksideCpu, 2)} / ${fmt(h.docksideCpu, 2)}`,
          `${fmt(s.benchCpu, 2)} / ${fmt(h.benchCpu, 2)}`,
        ]
      }),
    )
    const ratio = median(herd.map((h) => h.wallMs)) / median(single.map((s) => s.wallMs))
    console.log(`median: single ${fmt(median(single.map((s) => s.wallMs)), 0)} ms, herd ${fmt(median(herd.map((h) => h.wallMs)), 0)} ms`)
    ratios.push(`${label}: herd/single = ${verdict(ratio, '<=', 1.5)}; upstream GETs per herd: ${herd.map((h) => h.upstreamGets).join(', ')}`)
  }
  console.log(`\nresult: ${ratios.join('\n        ')}`)
})
