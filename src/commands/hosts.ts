// `dockside hosts --mirror URL --out DIR`: containerd certs.d/<registry>/hosts.toml for every configured
// upstream, pulling and resolving through the mirror and falling back to the registry itself.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config/config.js'

export function hostsToml(mirror: string, server: string, namespace: string): string {
  return [
    `# Written by dockside hosts: pull ${namespace} through Dockside, falling back to the registry itself.`,
    `server = "${server}"`,
    '',
    `[host."${mirror}"]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n')
}

export function hostsCommand(config: Config, opts: { mirror: string; outDir: string }, out: NodeJS.WritableStream = process.stdout): string[] {
  const mirror = opts.mirror.replace(/\/+$/, '')
  const written: string[] = []
  for (const registry of config.registries) {
    for (const name of [registry.namespace, ...registry.aliases]) {
      const dir = join(opts.outDir, name)
      mkdirSync(dir, { recursive: true })
      const file = join(dir, 'hosts.toml')
      writeFileSync(file, hostsToml(mirror, registry.url, name))
      written.push(file)
    }
  }
  out.write(`wrote ${written.length} hosts.toml files under ${opts.outDir}; copy them to /etc/containerd/certs.d/ on each node\n`)
  return written
}
