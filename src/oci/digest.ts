// Content digests: parsing, validation and the hash that verifies them.
import { createHash, type Hash } from 'node:crypto'
import { OciError } from './errors.js'

export type DigestAlgorithm = 'sha256' | 'sha512'

export interface Digest {
  readonly algorithm: DigestAlgorithm
  readonly hex: string
  /** The canonical form, `algorithm:hex`. */
  readonly value: string
}

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 }
const digestGrammar = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/

/** Parses a digest string; throws DIGEST_INVALID for anything Dockside cannot verify. */
export function parseDigest(text: string): Digest {
  const match = digestGrammar.exec(text)
  if (!match) throw new OciError('DIGEST_INVALID', `invalid digest: ${JSON.stringify(text)}`)
  const algorithm = match[1] as string
  const hex = match[2] as string
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm: ${algorithm}`)
  }
  if (hex.length !== hexLength[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new OciError('DIGEST_INVALID', `invalid ${algorithm} digest: ${JSON.stringify(text)}`)
  }
  return { algorithm, hex, value: text }
}

export function isDigest(reference: string): boolean {
  return reference.includes(':')
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm)
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}
