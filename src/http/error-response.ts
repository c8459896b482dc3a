// The one place that renders errors: OCI error JSON before headers, a destroyed socket after.
import type { ServerResponse } from 'node:http'
import { OciError } from '../oci/errors.js'
import { TokenRefusedError } from '../upstream/token-cache.js'
import { UpstreamUnavailableError } from '../upstream/upstream-error.js'

export const apiVersionHeader = { 'docker-distribution-api-version': 'registry/2.0' } as const

export function toOciError(err: unknown): OciError {
  if (err instanceof OciError) return err
  if (err instanceof UpstreamUnavailableError) return new OciError('UNAVAILABLE', err.message)
  if (err instanceof TokenRefusedError) return new OciError('UNAUTHORIZED', err.message)
  return new OciError('UNAVAILABLE', 'internal error', { status: 500 })
}

export function sendError(res: ServerResponse, error: OciError, method: string): void {
  if (res.headersSent) {
    res.destroy(error) // mid-body: the client must see a broken transfer, never a short "complete" one
    return
  }
  const body = JSON.stringify(error.toJSON())
  res.writeHead(error.status, {
    ...apiVersionHeader,
    ...error.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  })
  res.end(method === 'HEAD' ? undefined : body)
}
