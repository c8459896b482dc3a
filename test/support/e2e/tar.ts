// gzip'd tar layers, written in Node: ustar headers, regular files and folders, owned by root. A layer's
// digest is the sha256 of the gzip stream, its diff id the sha256 of the tar inside it (both computed while
// writing, so a 200 MB layer is never held in memory).
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { createGzip, constants } from 'node:zlib'

export interface TarFile {
  /** Path inside the layer, without a leading slash; a trailing slash makes a folder. */
  path: string
  content?: Buffer
}

/** One regular file whose content is generated chunk by chunk (the chunks must add up to `size`). */
export interface LargeFile {
  path: string
  size: number
  chunks: () => Iterable<Buffer>
}

export interface WrittenLayer {
  digest: string
  diffId: string
  size: number
}

const block = 512
const mtime = Date.UTC(2024, 0, 1) / 1000

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0'
}

export function tarHeader(path: string, size: number, folder: boolean): Buffer {
  const header = Buffer.alloc(block)
  if (Buffer.byteLength(path) > 100) throw new Error(`tar path too long for this writer: ${path}`)
  header.write(path, 0, 100, 'utf8')
  header.write(octal(folder ? 0o755 : 0o644, 8), 100, 'ascii')
  header.write(octal(0, 8), 108, 'ascii')
  header.write(octal(0, 8), 116, 'ascii')
  header.write(octal(size, 12), 124, 'ascii')
  header.write(octal(mtime, 12), 136, 'ascii')
  header.write('        ', 148, 'ascii')
  header.write(folder ? '5' : '0', 156, 'ascii')
  header.write('ustar\0', 257, 'ascii')
  header.write('00', 263, 'ascii')
  header.write('root', 265, 'ascii')
  header.write('root', 297, 'ascii')
  let sum = 0
  for (const byte of header) sum += byte
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  return header
}

/**
 * Writes a gzip'd tar to `path`. `files` are written in order; `large`, if given, adds one more regular file
 * whose content comes from the generator (chunks must add up to its size). Level 0 stores the deflate
 * blocks (still a real gzip stream), which keeps a 200 MB layer of random bytes quick to make.
 */
export async function writeLayer(
  path: string,
  files: TarFile[],
  opts: { level?: number; large?: LargeFile } = {},
): Promise<WrittenLayer> {
  const out = createWriteStream(path)
  const gzip = createGzip({ level: opts.level ?? constants.Z_DEFAULT_COMPRESSION, chunkSize: 1 << 20 })
  const compressed = createHash('sha256')
  const uncompressed = createHash('sha256')
  let size = 0
  gzip.on('data', (chunk: Buffer) => {
    compressed.update(chunk)
    size += chunk.length
    if (!out.write(chunk)) {
      gzip.pause()
      out.once('drain', () => gzip.resume())
    }
  })
  const ended = once(gzip, 'end')
  const write = async (data: Buffer): Promise<void> => {
    uncompressed.update(data)
    if (!gzip.write(data)) await once(gzip, 'drain')
  }
  const padding = (length: number): Buffer => Buffer.alloc((block - (length % block)) % block)
  for (const file of files) {
    const folder = file.path.endsWith('/')
    const content = file.content ?? Buffer.alloc(0)
    await write(tarHeader(file.path, folder ? 0 : content.length, folder))
    if (!folder && content.length > 0) {
      await write(content)
      await write(padding(content.length))
    }
  }
  if (opts.large) {
    await write(tarHeader(opts.large.path, opts.large.size, false))
    let written = 0
    for (const chunk of opts.large.chunks()) {
      written += chunk.length
      await write(chunk)
    }
    if (written !== opts.large.size) throw new Error(`large file: ${written} bytes generated, ${opts.large.size} declared`)
    await write(padding(written))
  }
  await write(Buffer.alloc(2 * block))
  gzip.end()
  await ended
  out.end()
  await once(out, 'close')
  return { digest: `sha256:${compressed.digest('hex')}`, diffId: `sha256:${uncompressed.digest('hex')}`, size }
}
