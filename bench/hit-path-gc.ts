// Diagnostic behind the blob-hit result: the hit path's code (FileHandle read stream, 1 MiB reads, piped to the
// response) in a bare process, with and without Dockside's dependencies imported, and with two reused buffers
// instead of a fresh buffer per read. Each variant is its own process (bench/file-server.ts) under
// node --trace-gc; curl downloads the same 1 GiB file from each in turn. Reports MB/s, server CPU per GiB and
// the collections V8 ran.
//
//   npx tsx bench/hit-path-gc.ts [--rounds N] [--size-mib N]
import { execFile } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { check, cpuSeconds, fmt, median, printTable, runBench, startServerChild, tempDir } from './support.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, 'size-mib': { type: 'string', default: '1024' } } })
const rounds = Number(values.rounds)
const size = Number(values['size-mib']) * 2 ** 20
/** Dockside's whole module graph (built), imported but not used: the process then looks like Dockside to V8. */
const docksideImports = new URL('../dist/app.js', import.meta.url).href

const variants = [
  { name: 'stream, bare process', mode: 'stream', imports: '' },
  { name: 'stream, dist/app.js imported', mode: 'stream', imports: docksideImports },
  { name: 'stream, undici imported', mode: 'stream', imports: 'undici' },
  { name: 'reused buffers, bare process', mode: 'reuse', imports: '' },
  { name: 'reused buffers, dist/app.js imported', mode: 'reuse', imports: docksideImports },
] as const

function curl(url: string): Promise<{ mbPerSec: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', url], (err, stdout) => {
      if (err) return reject(err)
      const bytes = Number(stdout.trim())
      resolve({ mbPerSec: bytes / 1e6 / ((performance.now() - started) / 1000), bytes })
    })
  })
}

runBench('hit-path-gc: the blob hit path in a bare process, GC and CPU', 300, async () => {
  const file = join(tempDir('file'), 'blob')
  const fd = openSync(file, 'w')
  const chunk = Buffer.allocUnsafe(4 << 20)
  for (let left = size; left > 0; left -= chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length))
  closeSync(fd)

  const servers = []
  for (const v of variants) {
    const gc = { scavenge: 0, markCompact: 0 }
    const child = await startServerChild(v.name, process.execPath, ['--trace-gc', '--import', 'tsx', 'bench/file-server.ts'], {
      env: { ...process.env, FILE: file, MODE: v.mode, IMPORTS: v.imports },
      onLine: (line) => {
        if (line.includes(': Scavenge ')) gc.scavenge++
        if (line.includes(': Mark-Compact ')) gc.markCompact++
      },
    })
    await curl(child.url) // warm-up: page cache, JIT
    servers.push({ ...v, child, gc, gcStart: { ...gc }, runs: [] as { mbPerSec: number; cpuPerGiB: number }[] })
  }
  for (const s of servers) s.gcStart = { ...s.gc }
  for (let round = 0; round < rounds; round++) {
    for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
      const before = cpuSeconds(s.child.pid)
      const r = await curl(s.child.url)
      check(r.bytes === size, `${s.name}: ${r.bytes} bytes, expected ${size}`)
      s.runs.push({ mbPerSec: r.mbPerSec, cpuPerGiB: (cpuSeconds(s.child.pid) - before) / (size / 2 ** 30) })
    }
  }
  printTable(
    ['variant', 'MB/s (median)', 'CPU s/GiB (median)', 'scavenges', 'mark-compacts'],
    servers.map((s) => [
      s.name,
      fmt(median(s.runs.map((r) => r.mbPerSec)), 0),
      fmt(median(s.runs.map((r) => r.cpuPerGiB)), 2),
      String(s.gc.scavenge - s.gcStart.scavenge),
      String(s.gc.markCompact - s.gcStart.markCompact),
    ]),
  )
  console.log(`\n(${rounds} downloads of ${fmt(size / 2 ** 20, 0)} MiB per variant with curl -o /dev/null; GC counted over those downloads)`)
})
