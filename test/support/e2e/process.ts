// Programs the end-to-end suite runs: daemons (registries, containerd) watched for a log line and stopped by
// their own pid, and one-shot commands whose output is kept for the failure message.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/** A free loopback port, for programs that cannot listen on port 0 and report it (the Distribution registry). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port bound')
  return address.port
}

export interface Daemon {
  readonly name: string
  readonly child: ChildProcess
  /** Everything it printed so far, stdout and stderr interleaved (the last 2 MB). */
  output(): string
  /** Resolves on the first output line (past or future) matching `pattern`; rejects if the process exits first or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. */
  stop(): Promise<void>
}

const keptOutput = 2_000_000

/** Daemons still running; killed if the test process exits without stopping them (a failed setup, a timeout). */
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export function startDaemon(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Daemon {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd })
  running.add(child)
  let text = ''
  const lines: string[] = []
  const watchers = new Set<(line: string) => void>()
  let partial = ''
  let exited: string | undefined
  const exitWatchers = new Set<(why: string) => void>()
  const onData = (chunk: Buffer): void => {
    const s = chunk.toString('utf8')
    text += s
    if (text.length > keptOutput) text = text.slice(-keptOutput)
    partial += s
    const parts = partial.split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      if (lines.length < 10_000) lines.push(line)
      for (const watcher of watchers) watcher(line)
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exit = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      running.delete(child)
      exited = `could not start: ${err.message}`
      for (const watcher of exitWatchers) watcher(exited)
      resolve()
    })
    child.once('exit', (code, signal) => {
      running.delete(child)
      exited = `exited with ${signal ?? `code ${code}`}`
      for (const watcher of exitWatchers) watcher(exited)
      resolve()
    })
  })
  const daemon: Daemon = {
    name,
    child,
    output: () => text,
    waitFor(pattern, timeoutMs = 30_000) {
      for (const line of lines) {
        const match = line.match(pattern)
        if (match) return Promise.resolve(match)
      }
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer)
          watchers.delete(onLine)
          exitWatchers.delete(onExit)
        }
        const onLine = (line: string): void => {
          const match = line.match(pattern)
          if (!match) return
          done()
          resolve(match)
        }
        const onExit = (why: string): void => {
          done()
          reject(new Error(`${name} ${why} before printing ${pattern}; its output:\n${text.slice(-4000)}`))
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${name} printed nothing matching ${pattern} within ${timeoutMs} ms; its output:\n${text.slice(-4000)}`))
        }, timeoutMs)
        watchers.add(onLine)
        exitWatchers.add(onExit)
        if (exited !== undefined) onExit(exited)
      })
    },
    async stop() {
      if (exited !== undefined) return
      child.kill('SIGTERM')
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exit
      clearTimeout(kill)
    },
  }
  return daemon
}

export interface RunResult {
  stdout: Buffer
  stderr: string
}

/** Runs a command to completion; a non-zero exit rejects with its command line, stdout and stderr. */
export function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 300_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) {
          const line = [command, ...args].join(' ')
          reject(new Error(`${line}\nfailed: ${err.message}\nstdout: ${stdout.toString().slice(-3000)}\nstderr: ${stderr.toString().slice(-3000)}`))
          return
        }
        resolve({ stdout, stderr: stderr.toString() })
      },
    )
  })
}
