// The repository name and tag grammar of the OCI Distribution spec.
import { OciError } from './errors.js'

const nameGrammar = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
const tagGrammar = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
const maxNameLength = 255

export function assertRepositoryName(name: string): void {
  if (name.length > maxNameLength || !nameGrammar.test(name)) {
    throw new OciError('NAME_INVALID', `invalid repository name: ${JSON.stringify(name)}`)
  }
}

export function assertTag(tag: string): void {
  if (!tagGrammar.test(tag)) throw new OciError('TAG_INVALID', `invalid tag: ${JSON.stringify(tag)}`)
}

export interface ImageReference {
  /** The name as written, registry prefix included when there was one ("ghcr.io/owner/app", "alpine"). */
  readonly name: string
  readonly tag: string | undefined
  readonly digest: string | undefined
}

/** Splits "[registry/]name[:tag][@digest]"; a reference with neither tag nor digest means ":latest". */
export function parseImageReference(text: string): ImageReference {
  let rest = text.trim()
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    assertTag(tag)
  }
  if (rest === '') throw new OciError('NAME_INVALID', `invalid image reference: ${JSON.stringify(text)}`)
  return { name: rest, tag: tag ?? (digest === undefined ? 'latest' : undefined), digest }
}
