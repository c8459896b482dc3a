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
