// WWW-Authenticate parsing (RFC 7235 auth-params), pure.

export interface AuthChallenge {
  readonly scheme: 'bearer' | 'basic'
  readonly params: Readonly<Record<string, string>>
}

/** Reads the first Bearer or Basic challenge of a WWW-Authenticate header; undefined when there is none. */
export function parseChallenge(header: string | string[] | undefined): AuthChallenge | undefined {
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header]
  for (const line of lines) {
    const match = /^\s*(bearer|basic)\b(.*)$/i.exec(line)
    if (!match) continue
    // Params run until something that is no `key=value` (e.g. ", Basic realm=..."): that is the next challenge.
    const params: Record<string, string> = {}
    const param = /\s*,?\s*([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/y
    const rest = match[2] as string
    for (let found = param.exec(rest); found; found = param.exec(rest)) {
      const [, key, quoted, bare] = found
      params[(key as string).toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '')
    }
    return { scheme: (match[1] as string).toLowerCase() as 'bearer' | 'basic', params }
  }
  return undefined
}
