// The reference for bench/manifest-hit.ts: a bare node:http server, run as its own process, that answers one
// path with fixed bytes and fixed headers and does nothing else: the ceiling for Node on this machine.
//
//   node --import tsx bench/bare-manifest-server.ts SPEC.json
//
// SPEC.json: { "path": "/v2/...", "bodyBase64": "...", "headers": { "content-type": "...", ... } }.
// Prints {"url":"http://127.0.0.1:PORT"} once listening on 127.0.0.1:0; stops on SIGTERM.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

interface Spec {
  path: string
  bodyBase64: string
  headers: Record<string, string>
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec
const body = Buffer.from(spec.bodyBase64, 'base64')
const headers = { ...spec.headers, 'content-length': String(body.length) }

const server = createServer((req, res) => {
  if (req.url !== spec.path || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-length': '0' }).end()
    return
  }
  res.writeHead(200, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
})
server.keepAliveTimeout = 65_000 // as Dockside's, so neither closes wrk's connections
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
