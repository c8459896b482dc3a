// One upstream download of one blob into a temp file, owned by the cache rather than by any request: it runs
// to the end (or its own timeout) even when every client hangs up. Readers follow the growing file; the last
// byte is withheld from them until the whole file is verified, so a bad download can never be taken as good.
//
// The newest chunks (up to tailBytes) are also kept in memory, as they came: readers close behind the download
// (a herd of clients asking for one new layer) send those very buffers, with no read from the file at all;
// a reader further behind reads the file through two buffers of its own. The tail is bounded per fill,
// whatever the number of readers.
//
// Disk full: when a write fails with ENOSPC, the fill stops writing and becomes a relay. The bytes already on
// disk stay readable through the open handle; later bytes stay in the in-memory tail just until every reader
// has taken them (the upstream is paused while more than relayBufferBytes wait). Nothing is committed, the
// clients still get their bytes (verified the same way), and the cache asks for an eviction.
import { EventEmitter, once } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import { unlink } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import { flushed } from './send-file.js'
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
  /** The disk filled up: this fill now only relays to the clients already reading it. */
  diskFull(digest: string, error: Error): void
  finished(outcome: 'verified' | 'relayed' | 'failed'): void
}

const readChunkBytes = 1 << 20
/** The in-memory tail kept for readers close behind the download. */
const tailBytes = 4 << 20
const relayBufferBytes = 16 << 20
const diskFullCodes = new Set(['ENOSPC', 'EDQUOT'])

export class Fill extends EventEmitter {
  state: FillState = 'starting'
  /** Expected length, from the upstream's Content-Length (undefined when it sent none). */
  size: number | undefined
  /** Bytes received from upstream so far (on disk, or in the relay buffer). */
  written = 0
  error: Error | undefined
  /** Set once the disk filled: bytes [0, diskBytes) are in the temp file, later ones only in memory. */
  diskBytes: number | undefined
  /** Settles when the upstream's headers are in (readers can answer) or the fill failed before that. */
  readonly headersReady: Promise<void>
  /** Settles when the blob is committed (or relayed), or rejects when the fill failed. */
  readonly done: Promise<void>
  private handle: FileHandle | undefined
  private tempPath: string | undefined
  /** Everyone following the fill, by read position (streams and senders alike). */
  private readonly readers = new Set<{ readonly position: number }>()
  /**
   * The newest chunks as received, covering bytes [tailBase, written). Trimmed from the front to tailBytes,
   * except (relay mode) chunks past diskBytes that some reader has yet to take.
   */
  private tail: Buffer[] = []
  private tailBase = 0

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

  /** Where the blob lives once committed. */
  get committedPath(): string {
    return this.store.path(this.digest)
  }

  /** True while new readers can join: after headers, before failure, while every byte is still at hand. */
  get followable(): boolean {
    return this.handle !== undefined && this.state !== 'failed' && (this.diskBytes === undefined || this.tailBase <= this.diskBytes)
  }

  attach(reader: { readonly position: number }): FileHandle {
    if (!this.handle) throw new Error('fill has no open file')
    this.readers.add(reader)
    return this.handle
  }

  detach(reader: { readonly position: number }): void {
    this.readers.delete(reader)
    this.consumed()
    void this.closeWhenIdle()
  }

  /**
   * Writes bytes [start, end] to `out` as they arrive (the tail's own buffers, or reads from the file through
   * two reused buffers, as in send-file.ts), and ends it; rejects when the fill fails or the client goes away
   * (the caller destroys the response).
   */
  async send(out: Writable, start = 0, endInclusive?: number): Promise<void> {
    const cursor = { position: start }
    const handle = this.attach(cursor)
    const endExclusive = endInclusive === undefined ? undefined : endInclusive + 1
    const bufferBytes = Math.max(1, Math.min(readChunkBytes, (endExclusive ?? this.size ?? readChunkBytes) - start))
    let buffers: Buffer[] | undefined // for reads from the file; a reader that keeps up with the tail needs none
    const inFlight: (Promise<void> | undefined)[] = [undefined, undefined]
    let turn = 0
    try {
      for (;;) {
        if (this.state === 'failed') throw this.error
        if (out.destroyed) throw new Error('client went away') // let go of the fill (and its relay) at once
        const available = Math.min(this.readableBytes, endExclusive ?? Infinity)
        if (cursor.position < available) {
          await inFlight[turn] // the buffer is ours again once its write was flushed
          let chunk: Buffer
          if (cursor.position >= this.tailBase) {
            chunk = this.fromTail(cursor.position, available - cursor.position) // held by the write, not reused
          } else {
            buffers ??= [Buffer.allocUnsafeSlow(bufferBytes), Buffer.allocUnsafeSlow(bufferBytes)]
            const buffer = buffers[turn] as Buffer
            const length = Math.min(bufferBytes, available - cursor.position, (this.diskBytes ?? Infinity) - cursor.position)
            const { bytesRead } = await handle.read(buffer, 0, length, cursor.position)
            if (bytesRead === 0) throw new Error(`temp file ends at ${cursor.position}, before the ${available} bytes it should hold`)
            chunk = buffer.subarray(0, bytesRead)
          }
          cursor.position += chunk.length
          this.consumed()
          const sent = flushed(out, chunk)
          sent.catch(() => {}) // observed when awaited; must not go unhandled meanwhile
          inFlight[turn] = sent
          turn ^= 1
          continue
        }
        const complete = endExclusive !== undefined ? cursor.position >= endExclusive : this.state === 'verified'
        if (complete) break
        await once(this, 'progress')
      }
      await Promise.all(inFlight)
      await new Promise<void>((resolve) => out.end(resolve))
    } finally {
      this.detach(cursor)
    }
  }

  /**
   * Up to `length` bytes from `position` (which must be in [tailBase, written)), out of the in-memory tail.
   * Searched from the newest chunk: that is where readers following the download are.
   */
  private fromTail(position: number, length: number): Buffer {
    let end = this.written
    for (let i = this.tail.length - 1; i >= 0; i--) {
      const chunk = this.tail[i] as Buffer
      const start = end - chunk.length
      if (position >= start) return chunk.subarray(position - start, Math.min(chunk.length, position - start + length))
      end = start
    }
    throw new Error(`byte ${position} is not in the tail [${this.tailBase}, ${this.written})`)
  }

  /**
   * Trims the tail (see `tail`). In relay mode it also drops what every reader has taken and lets a paused
   * upstream go on; only then are the readers' positions looked at (this runs after every chunk a reader sends).
   */
  consumed(): void {
    let slowest = 0
    if (this.diskBytes !== undefined) {
      slowest = this.written
      for (const reader of this.readers) slowest = Math.min(slowest, reader.position)
    }
    for (;;) {
      const first = this.tail[0]
      if (first === undefined) break
      const end = this.tailBase + first.length
      const onDisk = this.diskBytes === undefined || end <= this.diskBytes
      if (end > slowest && !(onDisk && this.written - this.tailBase > tailBytes)) break
      this.tail.shift()
      this.tailBase = end
    }
    if (this.diskBytes !== undefined) this.emit('consumed')
  }

  /** Relay mode: bytes held in memory only, because the disk could not take them. */
  private get relayBuffered(): number {
    return this.diskBytes === undefined ? 0 : this.written - Math.max(this.diskBytes, this.tailBase)
  }

  private async closeWhenIdle(): Promise<void> {
    if (this.readers.size > 0 || this.state === 'starting' || this.state === 'streaming' || !this.handle) return
    const handle = this.handle
    this.handle = undefined
    await handle.close().catch(() => {})
  }

  /**
   * Writes a chunk at its offset. A disk that fills mid-chunk takes part of it (a short write) before it
   * refuses more: what really reached the disk is where the relay starts.
   */
  private async storeChunk(chunk: Buffer): Promise<void> {
    let stored = 0
    while (this.diskBytes === undefined && stored < chunk.length) {
      try {
        const { bytesWritten } = await (this.handle as FileHandle).write(chunk, stored, chunk.length - stored, this.written + stored)
        if (bytesWritten === 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' })
        stored += bytesWritten
      } catch (err) {
        if (!diskFullCodes.has((err as NodeJS.ErrnoException).code ?? '')) throw err
        this.startRelay(err as Error, this.written + stored)
      }
    }
    if (stored < chunk.length && this.readers.size === 0) throw new OciError('UNAVAILABLE', 'disk full and no client waiting for this blob')
  }

  private startRelay(err: Error, bytesOnDisk: number): void {
    this.diskBytes = bytesOnDisk
    if (this.tempPath !== undefined) void unlink(this.tempPath).catch(() => {})
    this.tempPath = undefined
    this.listener.diskFull(this.digest.value, err)
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
        await this.storeChunk(chunk)
        this.tail.push(chunk)
        this.written += chunk.length
        this.consumed()
        if (this.size !== undefined && this.written > this.size) throw this.mismatch(`more bytes than Content-Length ${this.size}`)
        this.emit('progress')
        // A stalled reader holds everyone up here, but never past the fill's own timeout.
        while (this.relayBuffered > relayBufferBytes && this.readers.size > 0) await once(this, 'consumed', { signal })
      }
      if (this.size !== undefined && this.written !== this.size) {
        throw this.mismatch(`got ${this.written} bytes, Content-Length said ${this.size}`)
      }
      const actual = hash.digest('hex')
      if (actual !== this.digest.hex) throw this.mismatch(`content hashes to ${this.digest.algorithm}:${actual}`)
      if (this.diskBytes === undefined) {
        await (this.handle as FileHandle).sync()
        await this.store.commit(this.tempPath as string, this.digest)
        this.tempPath = undefined
        this.listener.committed(this.digest.value, this.written)
      }
      this.size = this.written
      this.state = 'verified'
      this.emit('progress')
      this.listener.finished(this.diskBytes === undefined ? 'verified' : 'relayed')
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
