// The OCI error code table and the one error type the request path throws.

export type OciErrorCode =
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'BLOB_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'TAG_INVALID'
  | 'RANGE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNAVAILABLE'

const statusByCode: Record<OciErrorCode, number> = {
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  MANIFEST_INVALID: 502,
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  TAG_INVALID: 400,
  RANGE_INVALID: 416,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
}

export class OciError extends Error {
  readonly code: OciErrorCode
  readonly status: number
  readonly detail: unknown
  /** Extra response headers, e.g. Retry-After on TOOMANYREQUESTS. */
  readonly headers: Record<string, string>

  constructor(code: OciErrorCode, message: string, opts: { detail?: unknown; status?: number; headers?: Record<string, string> } = {}) {
    super(message)
    this.name = 'OciError'
    this.code = code
    this.status = opts.status ?? statusByCode[code]
    this.detail = opts.detail
    this.headers = opts.headers ?? {}
  }

  toJSON(): { errors: { code: OciErrorCode; message: string; detail?: unknown }[] } {
    const entry: { code: OciErrorCode; message: string; detail?: unknown } = { code: this.code, message: this.message }
    if (this.detail !== undefined) entry.detail = this.detail
    return { errors: [entry] }
  }
}
