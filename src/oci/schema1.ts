// Docker's signed schema1 manifests (legacy; still produced by registries converting for old clients). Their
// digest is that of the JWS payload, the bytes without the signatures, which the libtrust "protected" header
// describes as a prefix of the body (formatLength) followed by a tail (formatTail).
import { createHash } from 'node:crypto'
import type { DigestAlgorithm } from './digest.js'

interface SignedSchema1 {
  signatures?: { protected?: unknown }[]
}

/** The digest of a signed schema1 manifest's payload, or undefined when the bytes are no such manifest. */
export function schema1PayloadDigest(bytes: Buffer, algorithm: DigestAlgorithm): string | undefined {
  try {
    const manifest = JSON.parse(bytes.toString('utf8')) as SignedSchema1
    const protectedHeader = manifest.signatures?.[0]?.protected
    if (typeof protectedHeader !== 'string') return undefined
    const format = JSON.parse(Buffer.from(protectedHeader, 'base64url').toString('utf8')) as { formatLength?: unknown; formatTail?: unknown }
    if (typeof format.formatLength !== 'number' || typeof format.formatTail !== 'string' || format.formatLength > bytes.length) return undefined
    const payload = Buffer.concat([bytes.subarray(0, format.formatLength), Buffer.from(format.formatTail, 'base64url')])
    return `${algorithm}:${createHash(algorithm).update(payload).digest('hex')}`
  } catch {
    return undefined
  }
}
