// One hosts/<registry>.yaml file: an upstream registry and how to reach it.
import { readFileSync } from 'node:fs'
import type { RegistryConfig, RegistryCredentials } from './config.js'
import { ConfigError } from './config-error.js'
import { ConfigReader } from './reader.js'

const hostGrammar = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?$/

function readCredentials(source: string, r: ConfigReader, env: NodeJS.ProcessEnv): RegistryCredentials | undefined {
  const present = r.has('credentials')
  const c = r.child('credentials')
  const username = c.string('username')
  const usernameEnv = c.string('usernameEnv')
  const password = c.string('password')
  const passwordEnv = c.string('passwordEnv')
  const passwordFile = c.string('passwordFile')
  c.finish()
  if (!present) return undefined
  const fromEnv = (key: string, name: string): string => {
    const value = env[name]
    if (value === undefined || value === '') throw new ConfigError(source, key, name, 'the name of a set, non-empty environment variable')
    return value
  }
  const user = username ?? (usernameEnv !== undefined ? fromEnv('credentials.usernameEnv', usernameEnv) : undefined)
  let secret = password ?? (passwordEnv !== undefined ? fromEnv('credentials.passwordEnv', passwordEnv) : undefined)
  if (secret === undefined && passwordFile !== undefined) {
    try {
      secret = readFileSync(passwordFile, 'utf8').trim()
    } catch (err) {
      throw new ConfigError(source, 'credentials.passwordFile', passwordFile, `a readable file (${(err as Error).message})`)
    }
  }
  if (user === undefined) throw new ConfigError(source, 'credentials.username', undefined, 'username or usernameEnv')
  if (secret === undefined) throw new ConfigError(source, 'credentials.password', undefined, 'password, passwordEnv or passwordFile')
  return { username: user, password: secret }
}

export function readRegistry(source: string, value: unknown, env: NodeJS.ProcessEnv): RegistryConfig {
  const r = new ConfigReader(source, value)
  const namespace = r.string('namespace')
  if (namespace === undefined || !hostGrammar.test(namespace)) {
    throw new ConfigError(source, 'namespace', namespace, 'a registry host name such as "ghcr.io"')
  }
  const url = r.string('url')
  let parsed: URL | undefined
  try {
    parsed = url === undefined ? undefined : new URL(url)
  } catch {
    parsed = undefined
  }
  if (url === undefined || parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(source, 'url', url, 'an http(s) URL such as "https://ghcr.io"')
  }
  const aliases = r.stringList('aliases')
  for (const alias of aliases) {
    if (!hostGrammar.test(alias)) throw new ConfigError(source, 'aliases', alias, 'registry host names')
  }
  const registry: RegistryConfig = {
    namespace,
    aliases,
    url: url.replace(/\/+$/, ''),
    shortNamePrefix: r.string('shortNamePrefix'),
    manifestTtlMs: r.durationMs('manifestTtl'),
    credentials: readCredentials(source, r, env),
  }
  r.finish()
  return registry
}
