// Shared by every benchmark: run a bench with a time limit and cleanup, child processes (Dockside, nginx, the
// bare server), temp dirs, HTTP downloads, timing, statistics and result tables. Linux only (/proc is read).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:net'
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('..', import.meta.url))
export const docksideMain = join(repoRoot, 'dist', 'main.js')

// ---- running a bench ----------------------------------------------------------------------------------------

const tempDirs = new Set<string>()
const children = new Set<ChildProcess>()
const cleanups: (() => Promise<void> | void)[] = []
const failures: string[] = []

// Last resort on any exit (time limit, signal, crash): nothing we started may outlive us.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** Runs `cleanup` before the bench exits normally (in reverse order of registration). */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup)
}

/** A correctness check: a failure is printed at once and makes the bench exit 1 (results are still printed). */
export function check(ok: boolean, message: string): boolean {
  if (!ok) {
    failures.push(message)
    console.error(`CHECK FAILED: ${message}`)
  }
  return ok
}

/**
 * Runs a benchmark: prints the machine, enforces a time limit (exit 3), stops children and removes temp dirs
 * however it ends, and exits 1 if a check failed or main threw.
 */
export function runBench(title: string, limitSeconds: number, main: () => Promise<void>): void {
  const limit = setTimeout(() => {
    console.error(`${title}: time limit of ${limitSeconds} s exceeded; stopping everything`)
    process.exit(3)
  }, limitSeconds * 1000)
  limit.unref()
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`${title}: ${signal}, stopping everything`)
      process.exit(130)
    })
  }
  console.log(`# ${title}`)
  console.log(machineLine())
  console.log('')
  const finish = async (error: unknown): Promise<void> => {
    if (error !== undefined) {
      failures.push(String(error))
      console.error(error)
    }
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (err) {
        console.error('cleanup failed:', err)
      }
    }
    await Promise.all([...children].map((child) => stopChild(child)))
    if (failures.length > 0) {
      console.error(`\n${title}: ${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`)
      process.exit(1)
    }
    process.exit(0)
  }
  main().then(
    () => finish(undefined),
    (err: unknown) => finish(err ?? new Error('main rejected')),
  )
}

// ---- machine ---------------------------------------------------------------------------------------------------

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== ''
    if (dirty) commit += ' (dirty tree)'
  } catch {
    // not a git checkout
  }
  const gib = (n: number): string => `${(n / 2 ** 30).toFixed(1)} GiB`
  return `machine: ${cpus().length} x ${cpu}, ${gib(totalmem())} RAM (${gib(freemem())} free), node ${process.version}, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}, commit ${commit}, ${new Date().toISOString()}`
}

// ---- temp dirs -------------------------------------------------------------------------------------------------

/** A fresh directory under os.tmpdir(), removed when the bench exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dockside-bench-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

// ---- child processes -----------------------------------------------------------------------------------------

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  readonly pid: number
  /** The last lines the child wrote to stderr (and stdout when piped), for error messages. */
  readonly tail: string[]
  stop(): Promise<void>
}

export interface StartOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** 'pipe': read line by line (onLine); 'null': /dev/null (nothing read, nothing buffered). Default 'pipe'. */
  stdout?: 'pipe' | 'null'
  onLine?: (line: string) => void
}

/** Spawns a child we own: it is stopped when the bench ends, however it ends. */
export function startChild(name: string, command: string, args: string[], opts: StartOptions = {}): Child {
  const devNull = opts.stdout === 'null' ? openSync('/dev/null', 'w') : undefined
  const child = spawn(command, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
  })
  if (devNull !== undefined) closeSync(devNull)
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  children.add(child)
  child.once('exit', () => children.delete(child))
  const tail: string[] = []
  const keep = (line: string): void => {
    tail.push(line)
    if (tail.length > 20) tail.shift()
  }
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line)
      opts.onLine?.(line)
    })
  }
  createInterface({ input: child.stderr! }).on('line', keep)
  return { name, process: child, pid: child.pid, tail, stop: () => stopChild(child) }
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

/** Rejects when the child exits, with its last output: raced against readiness so a crash is not a timeout. */
function exitedEarly(child: Child): Promise<never> {
  return new Promise((_, reject) => {
    child.process.once('exit', (code, signal) =>
      reject(new Error(`${child.name} exited (${signal ?? code}) before it was ready:\n  ${child.tail.join('\n  ')}`)),
    )
  })
}

async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not ready after ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The `url` field of the first stdout line that is JSON with one (and `msg` equal to `msg`, when given). */
function urlLine(line: string, msg?: string): string | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const parsed = JSON.parse(line) as { url?: unknown; msg?: unknown }
    if (msg !== undefined && parsed.msg !== msg) return undefined
    return typeof parsed.url === 'string' ? parsed.url : undefined
  } catch {
    return undefined
  }
}

/**
 * Starts a server child that prints {"url": ...} on stdout once listening (like bench/bare-manifest-server.ts)
 * and resolves with that URL.
 */
export async function startServerChild(
  name: string,
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; readyMs?: number; onLine?: (line: string) => void } = {},
): Promise<Child & { url: string }> {
  let found: (url: string) => void = () => {}
  const url = new Promise<string>((resolve) => (found = resolve))
  const child = startChild(name, command, args, {
    cwd: opts.cwd,
    env: opts.env,
    onLine: (line) => {
      const u = urlLine(line)
      if (u !== undefined) found(u)
      opts.onLine?.(line)
    },
  })
  return { ...child, url: await withTimeout(name, opts.readyMs ?? 30_000, Promise.race([url, exitedEarly(child)])) }
}

/** The TCP port a process listens on, found through /proc (for children that do not print their URL). */
export async function listeningPort(pid: number, ms = 60_000): Promise<number> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const inodes = new Set<string>()
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m) inodes.add(m[1]!)
      } catch {
        // fd closed meanwhile
      }
    }
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(table)) continue
      for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = row.trim().split(/\s+/)
        if (f[3] === '0A' && inodes.has(f[9] ?? '')) return Number.parseInt(f[1]!.split(':')[1]!, 16)
      }
    }
    await sleep(20)
  }
  throw new Error(`pid ${pid} is not listening on TCP after ${ms} ms`)
}

/** A port free right now on 127.0.0.1 (for servers that cannot be told to use port 0, like nginx). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

/** Polls until `url` answers 2xx. */
export async function waitForHttp(url: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      const res = await httpGet(url)
      if (res.status >= 200 && res.status < 300) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms} ms`)
    await sleep(25)
  }
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** CPU time (user + system) a process has used so far, in seconds (/proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  // The command name (field 2) may hold spaces; fields after it are plain.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}

// ---- Dockside --------------------------------------------------------------------------------------------------

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Dockside extends Child {
  readonly url: string
  readonly cacheDir: string
}

/** A hosts dir with one file: docker.io (with `library/` for one-part names) at `upstreamUrl`. */
export function hostsDirFor(upstreamUrl: string): string {
  const dir = tempDir('hosts')
  writeFileSync(join(dir, 'docker.io.yaml'), `namespace: docker.io\nurl: ${upstreamUrl}\nshortNamePrefix: library\n`)
  return dir
}

/**
 * Starts `node dist/main.js serve` on 127.0.0.1:0. The URL comes from the "dockside listening" log line when
 * Dockside logs at info and stdout is read; otherwise (warn and quieter print nothing when listening, and
 * 'null' sends the log to /dev/null) from the listening socket in /proc. Resolves once /healthz answers.
 */
export async function startDockside(opts: {
  hostsDir: string
  cacheDir?: string
  logLevel: LogLevel
  stdout?: 'pipe' | 'null'
  /** Options for node itself, e.g. --trace-gc. */
  nodeArgs?: string[]
  /** Every stdout line (when stdout is 'pipe'). */
  onLine?: (line: string) => void
}): Promise<Dockside> {
  if (!existsSync(docksideMain)) throw new Error(`${docksideMain} is missing: run \`npm run build\` first`)
  warnIfStaleBuild()
  const cacheDir = opts.cacheDir ?? tempDir('cache')
  let found: (url: string) => void = () => {}
  const logged = new Promise<string>((resolve) => (found = resolve))
  // DOCKSIDE_BENCH_NODE_ARGS: extra node options for every Dockside a bench starts (--cpu-prof, --trace-gc, ...).
  const extra = (process.env.DOCKSIDE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
  const args = [...extra, ...(opts.nodeArgs ?? []), docksideMain, 'serve', '--host', '127.0.0.1', '--port', '0', '--cache-dir', cacheDir, '--hosts-dir', opts.hostsDir, '--log-level', opts.logLevel]
  const child = startChild('dockside', process.execPath, args, {
    stdout: opts.stdout ?? 'pipe',
    onLine: (line) => {
      const url = urlLine(line, 'dockside listening')
      if (url !== undefined) found(url)
      opts.onLine?.(line)
    },
  })
  const logsListening = (opts.stdout ?? 'pipe') === 'pipe' && (opts.logLevel === 'info' || opts.logLevel === 'debug')
  const ready = async (): Promise<string> => {
    const url = logsListening ? await logged : `http://127.0.0.1:${await listeningPort(child.pid)}`
    await waitForHttp(`${url}/healthz`)
    return url
  }
  // Start-up repair re-hashes unknown files (1 GiB takes seconds), hence the generous limit.
  const url = await withTimeout('dockside', 60_000, Promise.race([ready(), exitedEarly(child)]))
  return { ...child, url, cacheDir }
}

let staleChecked = false
function warnIfStaleBuild(): void {
  if (staleChecked) return
  staleChecked = true
  const built = statSync(docksideMain).mtimeMs
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.ts') && statSync(join(dir, e.name)).mtimeMs > built,
    )
  if (newer(join(repoRoot, 'src'))) console.error('warning: src/ has files newer than dist/main.js; run `npm run build`')
}

/** Dockside's own count of answered requests by kind and outcome, from /metrics. */
export async function docksideRequestCounts(url: string): Promise<Record<string, number>> {
  const res = await httpGet(`${url}/metrics`, { collect: true })
  const counts: Record<string, number> = {}
  for (const m of res.body!.toString().matchAll(/^dockside_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    counts[`${labels.kind}/${labels.outcome}`] = Number(m[2])
  }
  return counts
}

// ---- HTTP client -----------------------------------------------------------------------------------------------

export interface Fetched {
  status: number
  headers: IncomingHttpHeaders
  /** Body bytes received. */
  bytes: number
  /** The body, when asked for with `collect`. */
  body: Buffer | undefined
  /** performance.now() when the request was sent and when the last body byte arrived. */
  sentMs: number
  doneMs: number
}

/**
 * One GET with node:http. The body is counted and dropped, or kept (`collect`). Rejects if the connection
 * breaks before the end, so a short body cannot pass for a complete one.
 */
export function httpGet(
  url: string,
  opts: { headers?: Record<string, string>; agent?: Agent; collect?: boolean; onData?: (chunk: Buffer) => void } = {},
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const sentMs = performance.now()
    const req = request(url, { headers: opts.headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (opts.collect) chunks.push(chunk)
        opts.onData?.(chunk)
      })
      res.once('error', reject)
      res.once('aborted', () => reject(new Error(`${url}: connection broken after ${bytes} bytes`)))
      res.once('end', () => {
        if (!res.complete) return reject(new Error(`${url}: incomplete body after ${bytes} bytes`))
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes,
          body: opts.collect ? Buffer.concat(chunks) : undefined,
          sentMs,
          doneMs: performance.now(),
        })
      })
    })
    req.once('error', reject)
    req.end()
  })
}

// ---- timing, statistics, output ---------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function min(values: readonly number[]): number {
  return Math.min(...values)
}

export function max(values: readonly number[]): number {
  return Math.max(...values)
}

/** A number with `digits` decimals (and thousands separators for big ones). */
export function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** "0.93x (target >= 0.9: met)" */
export function verdict(ratio: number, op: '>=' | '<=', target: number): string {
  const met = op === '>=' ? ratio >= target : ratio <= target
  return `${fmt(ratio, 2)}x (target ${op} ${target}: ${met ? 'met' : 'MISSED'})`
}

/** A plain-text table with right-aligned numbers and left-aligned text. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const numeric = headers.map((_, i) => rows.every((r) => /^[-\d.,]+$/.test(String(r[i] ?? ''))))
  const line = (r: string[]): string =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of cells.slice(1)) console.log(line(r))
}

/** mkdir -p that returns the path. */
export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true })
  return path
}

// ---- wrk ----------------------------------------------------------------------------------------------------

export interface WrkResult {
  /** Server CPU (user + system) per request, microseconds; filled in by the caller. */
  cpuUsPerReq?: number
  requests: number
  reqPerSec: number
  p50ms: number
  p99ms: number
  non2xx: number
  socketErrors: number
}

export function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value)
  if (!m) throw new Error(`wrk: cannot read latency ${JSON.stringify(value)}`)
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm']
}

/** Runs wrk against one URL (needs Debian's wrk) and reads its summary. */
export function runWrk(url: string, opts: { seconds: number; threads: number; connections: number; headers?: Record<string, string> }): Promise<WrkResult> {
  const headerArgs = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const durationSeconds = opts.seconds
  const args = ['--latency', '-t', String(opts.threads), '-c', String(opts.connections), '-d', `${durationSeconds}s`, '--timeout', '5s', ...headerArgs, url]
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/wrk', args, { timeout: (durationSeconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`))
      const number = (re: RegExp): number | undefined => {
        const m = re.exec(stdout)
        return m ? Number(m[1]) : undefined
      }
      const latency = (pct: string): number => toMs(new RegExp(`^\\s+${pct}%\\s+(\\S+)`, 'm').exec(stdout)?.[1] ?? '')
      const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
      resolve({
        requests: number(/^\s+(\d+) requests in/m) ?? NaN,
        reqPerSec: number(/^Requests\/sec:\s+([\d.]+)/m) ?? NaN,
        p50ms: latency('50'),
        p99ms: latency('99'),
        non2xx: number(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
        socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      })
    })
  })
}
