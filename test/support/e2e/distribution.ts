// The Distribution registry (docker-registry 2.8, the reference implementation) on a loopback port, its
// storage in a folder: either a token-protected upstream like Docker Hub, or a pull-through proxy of one.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { stringify } from 'yaml'
import { freePort, startDaemon, type Daemon } from './process.js'
import type { TokenServer } from './token-server.js'

export interface DistributionOptions {
  /** Folder for its config and storage. */
  dir: string
  /** Protect it with this token server (anonymous pull, push for the push account). */
  auth?: TokenServer
  /** Run it as a pull-through cache of this upstream URL (anonymous). */
  proxyRemoteUrl?: string
}

export interface Distribution {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string
  /** e.g. 127.0.0.1:40123 (for skopeo references) */
  readonly host: string
  readonly daemon: Daemon
  stop(): Promise<void>
}

export async function startDistribution(opts: DistributionOptions): Promise<Distribution> {
  mkdirSync(join(opts.dir, 'storage'), { recursive: true })
  const port = await freePort()
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(opts.dir, 'storage') },
      cache: { blobdescriptor: 'inmemory' },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
    health: { storagedriver: { enabled: false } },
  }
  if (opts.auth) {
    const bundle = join(opts.dir, 'token-issuer.pem')
    writeFileSync(bundle, opts.auth.certificatePem)
    config.auth = { token: { realm: opts.auth.realm, service: opts.auth.service, issuer: opts.auth.issuer, rootcertbundle: bundle } }
  }
  if (opts.proxyRemoteUrl !== undefined) config.proxy = { remoteurl: opts.proxyRemoteUrl }
  const configPath = join(opts.dir, 'config.yml')
  writeFileSync(configPath, stringify(config))
  const daemon = startDaemon(`docker-registry (${opts.proxyRemoteUrl === undefined ? 'upstream' : 'proxy'})`, 'docker-registry', ['serve', configPath])
  try {
    await daemon.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`))
  } catch (err) {
    await daemon.stop()
    throw err
  }
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, daemon, stop: () => daemon.stop() }
}
