// One upstream download of one blob into a temp file, owned by the cache rather than by any request: it runs
// to the end (or its own timeout) even when every client hangs up. Readers follow the growing file; the last
// byte is withheld from them until the whole file is verified, so a bad download can never be taken as good.
import { EventEmitter, once } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import { unlink } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { OciError } from '../oci/errors.js'
import { newHash, type Digest } from '../oci/digest.js'
import { discard, headerValue, type RegistryClient, type UpstreamResponse } from '../upstream/registry-client.js'
import { upstreamStatusError } from '../upstream/status-error.js'
import type { BlobStore } from './blob-store.js'

export type FillState = 'starting' | 'streaming' | 'verified' | 'failed'

export interface FillListener {
  /** The bytes did not match their digest or length. */
  mismatch(registry: string, digest: string, reason: string): void
  committed(digest: string, size: number): void
  finished(outcome: 'verified' | 'failed'): void
}

const readChunkBytes = 1 << 20

export class Fill extends EventEmitter {
  state: FillState = 'starting'
  /** Expected length, from the upstream's Content-Length (undefined when it sent none). */
  size: number | undefined
  /** Bytes written to the temp file so far. */
  written = 0
  error: Error | undefined
  /** Settles when the upstream's headers are in (readers can answer) or the fill failed before that. */
  readonly headersReady: Promise<void>
  /** Settles when the blob is committed, or rejects when the fill failed. */
  readonly done: Promise<void>
  private handle: FileHandle | undefined
  private tempPath: string | undefined
  private readers = 0

  constructor(
    readonly digest: Digest,
    private readonly client: RegistryClient,
    private readonly repository: string,
    private readonly store: BlobStore,
    private readonly timeoutMs: number,
    private readonly listener: FillListener,
  ) {
    super()
    this.setMaxListeners(0)
    let headersSettled = false
    this.headersReady = new Promise((resolve, reject) => {
      this.once('headers', () => {
        headersSettled = true
        resolve()
      })
      this.once('failed', (err: Error) => {
        if (!headersSettled) reject(err)
      })
    })
    this.done = this.run()
    this.done.catch(() => {}) // observed through headersReady, readers and 'failed'
  }

  /** Bytes a reader may take now: all of them once verified, all but the last one before. */
  get readableBytes(): number {
    return this.state === 'verified' ? this.written : Math.max(0, this.written - 1)
  }

  /** A stream of bytes [start, end] (end inclusive; undefined = to the end) that follows the fill. */
  reader(start = 0, end?: number): Readable {
    return new FillReader(this, start, end)
  }

  /** Where the blob lives once committed. */
  get committedPath(): string {
    return this.store.path(this.digest)
  }

  /** True while readers can follow the temp file (false before headers, after failure, and once closed). */
  get followable(): boolean {
    return this.handle !== undefined && this.state !== 'failed'
  }

  acquire(): FileHandle {
    if (!this.handle) throw new Error('fill has no open file')
    this.readers++
    return this.handle
  }

  release(): void {
    this.readers--
    void this.closeWhenIdle()
  }

  private async closeWhenIdle(): Promise<void> {
    if (this.readers > 0 || this.state === 'starting' || this.state === 'streaming' || !this.handle) return
    const handle = this.handle
    this.handle = undefined
    await handle.close().catch(() => {})
  }

  private async run(): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    let res: UpstreamResponse | undefined
    try {
      res = await this.client.request({
        method: 'GET',
        path: `/v2/${this.repository}/blobs/${this.digest.value}`,
        repository: this.repository,
        signal,
        download: true,
      })
      if (res.status !== 200) throw await upstreamStatusError(res, 'blob')
      const length = headerValue(res.headers, 'content-length')
      this.size = length === undefined ? undefined : Number(length)
      const temp = await this.store.createTemp()
      this.handle = temp.handle
      this.tempPath = temp.path
      this.state = 'streaming'
      this.emit('headers')
      const hash = newHash(this.digest.algorithm)
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        hash.update(chunk)
        await this.handle.write(chunk)
        this.written += chunk.length
        if (this.size !== undefined && this.written > this.size) throw this.mismatch(`more bytes than Content-Length ${this.size}`)
        this.emit('progress')
      }
      if (this.size !== undefined && this.written !== this.size) {
        throw this.mismatch(`got ${this.written} bytes, Content-Length said ${this.size}`)
      }
      const actual = hash.digest('hex')
      if (actual !== this.digest.hex) throw this.mismatch(`content hashes to ${this.digest.algorithm}:${actual}`)
      await this.handle.sync()
      await this.store.commit(this.tempPath, this.digest)
      this.tempPath = undefined
      this.size = this.written
      this.listener.committed(this.digest.value, this.written)
      this.state = 'verified'
      this.emit('progress')
      this.listener.finished('verified')
    } catch (err) {
      if (res) discard(res.body) // e.g. the temp file could not be created: free the connection and the slot
      this.state = 'failed'
      this.error = signal.aborted && !(err instanceof OciError) ? new OciError('UNAVAILABLE', `blob download timed out after ${this.timeoutMs} ms`) : (err as Error)
      if (this.tempPath !== undefined) await unlink(this.tempPath).catch(() => {})
      this.emit('failed', this.error)
      this.emit('progress')
      this.listener.finished('failed')
      throw this.error
    } finally {
      await this.closeWhenIdle()
    }
  }

  private mismatch(reason: string): OciError {
    this.listener.mismatch(this.client.registry.namespace, this.digest.value, reason)
    return new OciError('DIGEST_INVALID', `upstream sent bad content for ${this.digest.value}: ${reason}`, { status: 502 })
  }
}

/** Reads a fill's temp file from its own offset, waiting for more bytes as they are written. */
class FillReader extends Readable {
  private position: number
  private readonly endExclusive: number | undefined
  private readonly handle: FileHandle
  private pumping = false

  constructor(
    private readonly fill: Fill,
    start: number,
    endInclusive: number | undefined,
  ) {
    super({ highWaterMark: readChunkBytes })
    this.position = start
    this.endExclusive = endInclusive === undefined ? undefined : endInclusive + 1
    this.handle = fill.acquire()
  }

  override _read(): void {
    void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (;;) {
        const fill = this.fill
        if (fill.state === 'failed') {
          this.destroy(fill.error)
          return
        }
        const available = Math.min(fill.readableBytes, this.endExclusive ?? Infinity)
        if (this.position < available) {
          const length = Math.min(readChunkBytes, available - this.position)
          const buffer = Buffer.allocUnsafe(length)
          const { bytesRead } = await this.handle.read(buffer, 0, length, this.position)
          if (this.destroyed) return
          this.position += bytesRead
          if (!this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))) return
          continue
        }
        const complete = this.endExclusive !== undefined ? this.position >= this.endExclusive : fill.state === 'verified'
        if (complete) {
          this.push(null)
          return
        }
        await once(fill, 'progress')
        if (this.destroyed) return
      }
    } catch (err) {
      this.destroy(err as Error)
    } finally {
      this.pumping = false
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.fill.release()
    callback(err)
  }
}
