// Which upstream registry a request is for, and the repository name to ask it for.
import type { RegistryConfig } from '../config/config.js'
import { OciError } from '../oci/errors.js'
import { assertRepositoryName } from '../oci/reference.js'

export interface RegistryRoute {
  readonly registry: RegistryConfig
  /** The repository name as the upstream knows it (docker.io one-part names get "library/"). */
  readonly repository: string
}

/** A first path segment names a registry when it looks like a host: it has a dot or a port, or is localhost. */
function looksLikeHost(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment === 'localhost'
}

export class RegistryRouter {
  private readonly byName = new Map<string, RegistryConfig>()
  private readonly fallback: RegistryConfig

  constructor(registries: readonly RegistryConfig[], defaultNamespace: string) {
    for (const registry of registries) {
      for (const name of [registry.namespace, ...registry.aliases]) this.byName.set(name.toLowerCase(), registry)
    }
    const fallback = this.byName.get(defaultNamespace.toLowerCase())
    if (!fallback) throw new Error(`default registry ${defaultNamespace} is not configured`)
    this.fallback = fallback
  }

  get registries(): RegistryConfig[] {
    return [...new Set(this.byName.values())]
  }

  find(namespace: string): RegistryConfig | undefined {
    return this.byName.get(namespace.toLowerCase())
  }

  /**
   * Routes by containerd's `ns` parameter, else by a first path segment that names a configured registry,
   * else to the default registry. A registry that is not configured is refused: Dockside is no open proxy.
   */
  route(name: string, ns: string | null): RegistryRoute {
    let registry: RegistryConfig
    let repository = name
    if (ns !== null) {
      const found = this.find(ns)
      if (!found) throw notConfigured(ns)
      registry = found
    } else {
      const slash = name.indexOf('/')
      const first = slash === -1 ? '' : name.slice(0, slash)
      const found = first === '' ? undefined : this.find(first)
      if (found) {
        registry = found
        repository = name.slice(slash + 1)
      } else if (first !== '' && looksLikeHost(first)) {
        throw notConfigured(first)
      } else {
        registry = this.fallback
      }
    }
    if (registry.shortNamePrefix !== undefined && !repository.includes('/')) {
      repository = `${registry.shortNamePrefix}/${repository}`
    }
    assertRepositoryName(repository) // a regex with nested repetition: the registry API remembers routes it resolved
    return { registry, repository }
  }
}

function notConfigured(namespace: string): OciError {
  return new OciError('DENIED', `registry ${JSON.stringify(namespace)} is not configured on this mirror`, {
    detail: { registry: namespace },
  })
}
