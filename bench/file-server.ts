// A child process for bench/hit-path-gc.ts: serves one file at / the way Dockside's hit path does, or with two
// reused buffers, optionally after importing other modules (Dockside's module graph changes how V8 collects).
//
//   FILE=... MODE=stream|reuse IMPORTS=undici,file:///.../dist/app.js node --trace-gc --import tsx bench/file-server.ts
//
// Prints {"url": ...} once listening on 127.0.0.1:0; stops on SIGTERM.
import { statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'

const file = process.env.FILE!
const mode = process.env.MODE ?? 'stream'
const size = statSync(file).size
const chunkBytes = 1 << 20 // as Dockside's hitReadBytes

for (const name of (process.env.IMPORTS ?? '').split(',').filter(Boolean)) await import(name)

const server = createServer((_req, res) => {
  void (async () => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    const handle = await open(file, 'r')
    if (mode === 'stream') {
      // Dockside's hit path: a FileHandle read stream (a fresh 1 MiB buffer per read) piped to the response.
      await pipeline(handle.createReadStream({ highWaterMark: chunkBytes }), res).catch(() => {})
      return
    }
    // Two buffers, reused: read into one while the other is being written; reuse only once written.
    const buffers = [Buffer.allocUnsafeSlow(chunkBytes), Buffer.allocUnsafeSlow(chunkBytes)]
    let written: Promise<void> = Promise.resolve()
    try {
      for (let position = 0, turn = 0; position < size; turn++) {
        const buffer = buffers[turn % 2]!
        const { bytesRead } = await handle.read(buffer, 0, chunkBytes, position)
        if (bytesRead === 0) break
        await written
        position += bytesRead
        const chunk = buffer.subarray(0, bytesRead)
        written = new Promise((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())))
      }
      await written
      res.end()
    } catch {
      res.destroy()
    } finally {
      await handle.close()
    }
  })()
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
