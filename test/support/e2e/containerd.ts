// A containerd "node" of its own: root, state, socket and a minimal config under one folder, CRI and the
// other plugins a pull does not need turned off. Pulls go through `ctr --hosts-dir`, with hosts.toml files
// that name the real upstream as `server` and Dockside as a pull/resolve mirror (as on a Kubernetes node).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hostsToml } from '../../../src/commands/hosts.js'
import { run, startDaemon, type Daemon, type RunResult } from './process.js'

export interface ContainerdNode {
  readonly dir: string
  readonly address: string
  readonly snapshotter: string
  readonly daemon: Daemon
  ctr(args: string[]): Promise<RunResult>
  /** `ctr images pull --hosts-dir ...`, unpacking into the node's snapshotter. */
  pull(ref: string, opts: { hostsDir: string; platform?: string }): Promise<RunResult>
  /** Where `path` (e.g. "e2e/small.txt") is in the node's snapshots: one full path per snapshot that has it. */
  unpacked(path: string): string[]
  stop(): Promise<void>
}

const unneeded = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.internal.v1.opt',
  'io.containerd.internal.v1.tracing',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.runtime.v1.linux',
  'io.containerd.monitor.v1.cgroups',
]

/** Starts containerd in `dir` (which must be short: the socket path has a 108-byte limit). */
export async function startContainerd(dir: string): Promise<ContainerdNode> {
  mkdirSync(dir, { recursive: true })
  const address = join(dir, 'c.sock')
  const config = [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'root'))}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    `disabled_plugins = ${JSON.stringify(unneeded)}`,
    '[grpc]',
    `  address = ${JSON.stringify(address)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
    '[debug]',
    '  level = "info"',
    '',
  ].join('\n')
  const configPath = join(dir, 'config.toml')
  writeFileSync(configPath, config)
  const daemon = startDaemon(`containerd (${dir})`, 'containerd', ['--config', configPath])
  try {
    await daemon.waitFor(/containerd successfully booted/)
  } catch (err) {
    await daemon.stop()
    throw err
  }
  const ctr = (args: string[]): Promise<RunResult> => run('ctr', ['--address', address, '--namespace', 'e2e', ...args], { timeoutMs: 300_000 })
  // overlayfs where the kernel and the folder allow it, else the native (copying) snapshotter.
  const plugins = (await ctr(['plugins', 'ls'])).stdout.toString()
  const snapshotter = /io\.containerd\.snapshotter\.v1\s+overlayfs\s+\S+\s+ok/.test(plugins) ? 'overlayfs' : 'native'
  return {
    dir,
    address,
    snapshotter,
    daemon,
    ctr,
    pull(ref, { hostsDir, platform }) {
      return ctr(['images', 'pull', '--hosts-dir', hostsDir, '--snapshotter', snapshotter, ...(platform ? ['--platform', platform] : []), ref])
    },
    unpacked(path) {
      const snapshots = join(dir, 'root', `io.containerd.snapshotter.v1.${snapshotter}`, 'snapshots')
      if (!existsSync(snapshots)) return []
      const found: string[] = []
      for (const id of readdirSync(snapshots)) {
        for (const candidate of [join(snapshots, id, 'fs', path), join(snapshots, id, path)]) {
          if (existsSync(candidate)) found.push(candidate)
        }
      }
      return found
    },
    stop: () => daemon.stop(),
  }
}

/** Writes `<hostsDir>/<registry>/hosts.toml` with what `dockside hosts` writes: the upstream as server, Dockside as a pull/resolve mirror. */
export function writeHostsToml(hostsDir: string, registry: string, server: string, mirror: string): string {
  const folder = join(hostsDir, registry)
  mkdirSync(folder, { recursive: true })
  const text = hostsToml(mirror, server, registry)
  writeFileSync(join(folder, 'hosts.toml'), text)
  return text
}
