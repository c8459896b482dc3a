// A single byte range ("bytes=a-b", "bytes=a-", "bytes=-n") against a known length (pure).
import { OciError } from '../oci/errors.js'

export interface ByteRange {
  readonly start: number
  /** Inclusive. */
  readonly end: number
}

/**
 * The range to serve, or undefined for the whole body (no Range header, or one we do not honour such as
 * several ranges, which a server may answer with the full 200). Unsatisfiable ranges are a 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  let start: number
  let end: number
  if (match[1] === '') {
    const suffix = Number(match[2])
    start = Math.max(0, size - suffix)
    end = size - 1
    if (suffix === 0) throw unsatisfiable(size)
  } else {
    start = Number(match[1])
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
    if (match[2] !== '' && Number(match[2]) < start) return undefined // syntactically invalid: ignore
  }
  if (start >= size) throw unsatisfiable(size)
  return { start, end }
}

function unsatisfiable(size: number): OciError {
  return new OciError('RANGE_INVALID', `requested range not satisfiable (blob is ${size} bytes)`, {
    headers: { 'content-range': `bytes */${size}` },
  })
}
