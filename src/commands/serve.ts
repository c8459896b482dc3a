// `dockside serve`: run the cache until SIGTERM or SIGINT, then drain and stop.
import { destination as logDestination, pino, type DestinationStream } from 'pino'
import { createApp } from '../app.js'
import type { Config } from '../config/config.js'

/** Log lines are buffered (up to 4 KiB, or 1 s) rather than written one syscall per request line. */
const logBufferChars = 4096
const logFlushMs = 1000

/**
 * Gathers log lines into chunks of about `limit` characters before they reach sonic-boom, which writes each
 * chunk at once and synchronously (pino's own default), so that nothing is left in flight when the process
 * exits. Handed lines one by one with a minLength, sonic-boom measures the UTF-8 length of its whole pending
 * buffer on every line: a tenth of an access-logged manifest hit's CPU.
 */
class LineBatcher implements DestinationStream {
  private lines: string[] = []
  private chars = 0

  constructor(
    private readonly out: ReturnType<typeof logDestination>,
    private readonly limit: number,
  ) {}

  write(line: string): void {
    this.lines.push(line)
    this.chars += line.length
    if (this.chars >= this.limit) this.flush()
  }

  flush(): void {
    if (this.chars === 0) return
    this.out.write(this.lines.join(''))
    this.lines = []
    this.chars = 0
  }
}

export async function serveCommand(config: Config): Promise<void> {
  const destination = new LineBatcher(logDestination({ dest: 1, sync: true }), logBufferChars)
  process.once('exit', () => destination.flush()) // a fatal error's last lines are not lost in the batch
  const flushTimer = setInterval(() => destination.flush(), logFlushMs)
  flushTimer.unref()
  const app = await createApp(config, pino({ level: config.logLevel }, destination))
  const url = await app.listen()
  app.log.info({ url, cacheDir: config.cacheDir, registries: config.registries.map((r) => r.namespace) }, 'dockside listening')
  destination.flush() // the line a supervisor or a test waits for goes out at once
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  app.log.info({ signal }, 'shutting down')
  await app.close()
  clearInterval(flushTimer)
  destination.flush()
}
