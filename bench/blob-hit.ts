// Serving a cached 1 GiB blob: Dockside (hit path: one file handle, 1 MiB reads through Node streams) against
// nginx with sendfile serving the very same file. Full downloads alternate between the two, several rounds;
// the result is the ratio of median throughputs, plus Dockside's memory before, during and after.
//
//   npm run build && npx tsx bench/blob-hit.ts [--rounds N] [--size-mib N] [--trace-gc]
//
// --trace-gc runs Dockside under node --trace-gc and counts its collections during the timed downloads.
import { execFile } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { FakeRegistry } from '../test/support/fake-registry.js'
import {
  check,
  cpuSeconds,
  ensureDir,
  fmt,
  freePort,
  hostsDirFor,
  httpGet,
  max,
  median,
  memoryOf,
  onCleanup,
  printTable,
  runBench,
  startChild,
  startDockside,
  tempDir,
  verdict,
  waitForHttp,
  type Dockside,
} from './support.js'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, 'size-mib': { type: 'string', default: '1024' }, 'trace-gc': { type: 'boolean', default: false } },
})
const rounds = Number(values.rounds)
const size = Number(values['size-mib']) * 2 ** 20
const nginxBin = '/usr/sbin/nginx'

interface Download {
  mbPerSec: number
  bytes: number
  /** CPU seconds the server used per GiB sent. */
  cpuPerGiB: number
}

interface Server {
  name: 'dockside' | 'nginx'
  url: string
  pid: number
}

/** Writes `bytes` random bytes to `path`, returning their sha256 hex. */
function writeRandomFile(path: string, bytes: number): string {
  const hash = createHash('sha256')
  const chunk = Buffer.allocUnsafe(4 << 20)
  const fd = openSync(path, 'w')
  try {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(left, chunk.length)
      randomFillSync(chunk, 0, n)
      hash.update(chunk.subarray(0, n))
      writeSync(fd, chunk, 0, n)
      left -= n
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

/** nginx as one process (no master: the process we measure is the one serving), sendfile on, one location aliasing `file`. */
async function startNginx(file: string): Promise<Server> {
  const dir = tempDir('nginx')
  const port = await freePort()
  const temp = (name: string): string => ensureDir(join(dir, name))
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${port};
    location = /blob { alias ${file}; default_type application/octet-stream; }
    location = /ready { return 200; }
  }
}
`
  const confPath = join(dir, 'nginx.conf')
  writeFileSync(confPath, conf)
  const child = startChild('nginx', nginxBin, ['-p', dir, '-c', confPath])
  await waitForHttp(`http://127.0.0.1:${port}/ready`)
  return { name: 'nginx', url: `http://127.0.0.1:${port}/blob`, pid: child.pid }
}

/** One full download with node:http: bytes counted and dropped. */
async function nodeDownload(server: Server, onData?: (chunk: Buffer) => void): Promise<Download> {
  const cpuBefore = cpuSeconds(server.pid)
  const res = await httpGet(server.url, { onData })
  const cpu = cpuSeconds(server.pid) - cpuBefore
  check(res.status === 200, `${server.name}: status ${res.status}`)
  check(res.bytes === size, `${server.name}: got ${res.bytes} bytes, expected ${size}`)
  check(Number(res.headers['content-length']) === size, `${server.name}: content-length ${res.headers['content-length']}`)
  if (server.name === 'dockside') check(res.headers['x-dockside-cache'] === 'hit', `dockside: x-dockside-cache ${res.headers['x-dockside-cache']}`)
  return { mbPerSec: res.bytes / 1e6 / ((res.doneMs - res.sentMs) / 1000), bytes: res.bytes, cpuPerGiB: cpu / (res.bytes / 2 ** 30) }
}

/** One full download with curl -o /dev/null (a C client, to see whether the Node client is the bottleneck). */
function curlDownload(server: Server): Promise<Download> {
  return new Promise((resolve, reject) => {
    const cpuBefore = cpuSeconds(server.pid)
    const started = performance.now()
    execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', server.url], (err, stdout) => {
      if (err) return reject(err)
      const seconds = (performance.now() - started) / 1000
      const cpu = cpuSeconds(server.pid) - cpuBefore
      const [status, bytes] = stdout.trim().split(' ').map(Number) as [number, number]
      check(status === 200, `curl ${server.name}: status ${status}`)
      check(bytes === size, `curl ${server.name}: got ${bytes} bytes, expected ${size}`)
      resolve({ mbPerSec: bytes / 1e6 / seconds, bytes, cpuPerGiB: cpu / (bytes / 2 ** 30) })
    })
  })
}

/** Samples Dockside's RSS every 50 ms while `work` runs; returns the largest value seen. */
async function sampledPeak(dockside: Dockside, work: () => Promise<unknown>): Promise<number> {
  let peak = memoryOf(dockside.pid).rssMiB
  const timer = setInterval(() => (peak = Math.max(peak, memoryOf(dockside.pid).rssMiB)), 50)
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  return Math.max(peak, memoryOf(dockside.pid).rssMiB)
}

runBench('blob-hit: cached 1 GiB blob, Dockside vs nginx sendfile', 300, async () => {
  // An empty upstream: every Dockside answer must be a hit, and it must see no request at all.
  const upstream = await FakeRegistry.start()
  onCleanup(() => upstream.close())

  // Place the blob under the cache dir before start: start-up repair re-hashes it and adopts it.
  const cacheDir = tempDir('cache')
  const generated = join(cacheDir, 'generating')
  let started = performance.now()
  const hex = writeRandomFile(generated, size)
  const blobFile = join(ensureDir(join(cacheDir, 'blobs', 'sha256', hex.slice(0, 2))), hex)
  renameSync(generated, blobFile)
  console.log(`generated ${fmt(size / 2 ** 20, 0)} MiB of random bytes in ${fmt((performance.now() - started) / 1000)} s: sha256:${hex}`)

  const gc = { scavenge: 0, markCompact: 0 }
  started = performance.now()
  const dockside = await startDockside({
    hostsDir: hostsDirFor(upstream.url),
    cacheDir,
    logLevel: 'warn',
    nodeArgs: values['trace-gc'] ? ['--trace-gc'] : [],
    onLine: (line) => {
      if (line.includes(': Scavenge ')) gc.scavenge++
      if (line.includes(': Mark-Compact ')) gc.markCompact++
    },
  })
  console.log(`dockside ${dockside.url} (pid ${dockside.pid}) up in ${fmt((performance.now() - started) / 1000)} s (start-up repair hashed the blob)`)
  check(
    dockside.tail.some((line) => line.includes('"adopted":1')),
    `dockside did not report adopting the placed blob at start-up:\n  ${dockside.tail.join('\n  ')}`,
  )
  const nginx = await startNginx(blobFile)
  console.log(`nginx ${nginx.url} (pid ${nginx.pid})`)
  const servers: Record<'dockside' | 'nginx', Server> = {
    dockside: { name: 'dockside', url: `${dockside.url}/v2/library/big/blobs/sha256:${hex}`, pid: dockside.pid },
    nginx,
  }

  // Warm-up (not timed): both serve the right bytes, and the page cache holds the file for both.
  for (const server of Object.values(servers)) {
    const hash = createHash('sha256')
    await nodeDownload(server, (chunk) => hash.update(chunk))
    check(hash.digest('hex') === hex, `${server.name}: body does not hash to sha256:${hex}`)
  }
  const memBefore = memoryOf(dockside.pid)
  const gcBefore = { ...gc }

  type Client = 'node' | 'curl'
  const download: Record<Client, (server: Server) => Promise<Download>> = { node: (s) => nodeDownload(s), curl: curlDownload }
  const results: Record<Client, Record<'dockside' | 'nginx', Download[]>> = {
    node: { dockside: [], nginx: [] },
    curl: { dockside: [], nginx: [] },
  }
  let peakDuring = 0
  for (const client of ['node', 'curl'] as const) {
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so drift (page cache, CPU frequency, neighbours) hits both alike.
      const order = round % 2 === 0 ? (['dockside', 'nginx'] as const) : (['nginx', 'dockside'] as const)
      for (const name of order) {
        if (name === 'dockside') {
          let d: Download | undefined
          peakDuring = Math.max(peakDuring, await sampledPeak(dockside, async () => (d = await download[client](servers.dockside))))
          results[client].dockside.push(d!)
        } else {
          results[client].nginx.push(await download[client](servers.nginx))
        }
      }
    }
  }
  const memAfter = memoryOf(dockside.pid)
  check(upstream.requests.length === 0, `the upstream saw ${upstream.requests.length} requests; every answer should have been a hit`)

  const med = (ds: Download[], key: 'mbPerSec' | 'cpuPerGiB'): number => median(ds.map((d) => d[key]))
  for (const client of ['node', 'curl'] as const) {
    const r = results[client]
    console.log(`\nclient: ${client === 'node' ? 'node:http (bytes counted, dropped)' : 'curl -o /dev/null'}; MB/s = 10^6 bytes/s; CPU = server user+sys seconds per GiB sent`)
    printTable(
      ['round', 'dockside MB/s', 'nginx MB/s', 'dockside/nginx', 'dockside CPU s/GiB', 'nginx CPU s/GiB'],
      [
        ...r.dockside.map((d, i) => {
          const n = r.nginx[i]!
          return [String(i + 1), fmt(d.mbPerSec, 0), fmt(n.mbPerSec, 0), fmt(d.mbPerSec / n.mbPerSec, 2), fmt(d.cpuPerGiB, 2), fmt(n.cpuPerGiB, 2)]
        }),
        [
          'median',
          fmt(med(r.dockside, 'mbPerSec'), 0),
          fmt(med(r.nginx, 'mbPerSec'), 0),
          fmt(med(r.dockside, 'mbPerSec') / med(r.nginx, 'mbPerSec'), 2),
          fmt(med(r.dockside, 'cpuPerGiB'), 2),
          fmt(med(r.nginx, 'cpuPerGiB'), 2),
        ],
      ],
    )
  }
  const ratio = (client: Client): number => med(results[client].dockside, 'mbPerSec') / med(results[client].nginx, 'mbPerSec')

  console.log(`\nDockside memory (MiB, /proc/${dockside.pid}/status)`)
  printTable(
    ['when', 'VmRSS', 'VmHWM (peak so far)'],
    [
      ['after warm-up downloads', fmt(memBefore.rssMiB), fmt(memBefore.peakMiB)],
      ['max sampled during timed downloads', fmt(peakDuring), ''],
      ['after all downloads', fmt(memAfter.rssMiB), fmt(memAfter.peakMiB)],
    ],
  )
  if (values['trace-gc']) {
    const gib = (2 * rounds * size) / 2 ** 30
    console.log(`\nDockside GC during the timed downloads (${fmt(gib, 0)} GiB): ${gc.scavenge - gcBefore.scavenge} scavenges, ${gc.markCompact - gcBefore.markCompact} mark-compacts`)
  }
  console.log(`\nresult: dockside/nginx (node client) = ${verdict(ratio('node'), '>=', 0.9)}`)
  console.log(`        dockside/nginx (curl client) = ${verdict(ratio('curl'), '>=', 0.9)}`)
  console.log(`        CPU per GiB (curl client): dockside ${fmt(med(results.curl.dockside, 'cpuPerGiB'), 2)} s, nginx ${fmt(med(results.curl.nginx, 'cpuPerGiB'), 2)} s`)
  console.log(
    `        RSS growth over ${2 * rounds} timed downloads of ${fmt(size / 2 ** 20, 0)} MiB: ${fmt(memAfter.rssMiB - memBefore.rssMiB)} MiB ` +
      `(highest sample ${fmt(max([peakDuring, memAfter.rssMiB]) - memBefore.rssMiB)} MiB above the start)`,
  )
})
