// Turns an upstream's error answer into the OCI error Dockside gives its own client.
import { OciError, type OciErrorCode } from '../oci/errors.js'
import { discard, headerValue, type UpstreamResponse } from './registry-client.js'

const maxErrorBodyBytes = 64 * 1024

const notFoundCode: Record<'manifest' | 'blob' | 'tags' | 'referrers', OciErrorCode> = {
  manifest: 'MANIFEST_UNKNOWN',
  blob: 'BLOB_UNKNOWN',
  tags: 'NAME_UNKNOWN',
  referrers: 'MANIFEST_UNKNOWN',
}

async function readSmall(res: UpstreamResponse): Promise<string> {
  const chunks: Buffer[] = []
  let total = 0
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > maxErrorBodyBytes) break
      chunks.push(chunk)
    }
  } catch {
    // an error body that breaks off still leaves the status to go by
  } finally {
    discard(res.body)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Maps an upstream status (and its error body, when it is OCI error JSON) to an OciError; consumes the body. */
export async function upstreamStatusError(res: UpstreamResponse, kind: keyof typeof notFoundCode): Promise<OciError> {
  const text = await readSmall(res)
  let upstreamMessage: string | undefined
  let upstreamCode: string | undefined
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }
    const first = body.errors?.[0]
    if (typeof first?.code === 'string') upstreamCode = first.code
    if (typeof first?.message === 'string') upstreamMessage = first.message
  } catch {
    // not JSON: the status alone decides
  }
  const says = upstreamMessage ?? `upstream answered ${res.status}`
  switch (res.status) {
    case 404:
      return new OciError(upstreamCode === 'NAME_UNKNOWN' ? 'NAME_UNKNOWN' : notFoundCode[kind], says)
    case 401:
      return new OciError('UNAUTHORIZED', `upstream refused access: ${says}`)
    case 403:
      return new OciError('DENIED', `upstream denied access: ${says}`)
    case 429: {
      const retryAfter = headerValue(res.headers, 'retry-after')
      return new OciError('TOOMANYREQUESTS', `upstream rate limit reached: ${says}`, retryAfter ? { headers: { 'retry-after': retryAfter } } : {})
    }
    default:
      return new OciError('UNAVAILABLE', `upstream answered ${res.status}${upstreamMessage ? `: ${upstreamMessage}` : ''}`, {
        status: res.status >= 500 ? 503 : 502,
      })
  }
}
